/* The public handles behind vkslm.h's models and sessions. */
#ifndef VKSLM_RUNTIME_API_INTERNAL_H
#define VKSLM_RUNTIME_API_INTERNAL_H

#include "engine/runtime/sampler.h"
#include "engine/runtime/session_dev.h"
#include "engine/tokenizer/tokenizer.h"

struct vkslm_model {
    vkslm_vk *vk;           /* owned; NULL for a vocabulary-only model */
    vkslm_model_dev *dev;   /* weights on the device; owns the GGUF mapping. NULL for a vocabulary-only model */
    vkslm_gguf *vocab_gguf; /* vocabulary-only: the mapped file (the chat template is a view into it); else NULL */
    vkslm_tokenizer *tok;
    char arch[32];
    uint32_t n_vocab, n_ctx_train; /* the file's token count and trained context (0 when absent) */
    vkslm_str chat_template; /* tokenizer.chat_template in the mapped file (ptr NULL when absent) */
};

struct vkslm_session {
    vkslm_model *model;
    vkslm_session_dev *dev;
    int32_t pending;        /* the last generated token, fed at the start of the next eval or generate */
    int has_pending;
    /* the last vkslm_generate's results, owned here */
    int32_t *prompt_ids, *gen_ids;
    size_t prompt_cap, gen_cap;
    char *text;
    size_t text_len, text_cap;
};

/* vkslm_model_load onto an open context (one more holder of it), or onto a new one when vk is NULL. */
vkslm_status vkslm_model_load_on(vkslm_vk *vk, const char *path, const vkslm_model_params *params, vkslm_model **out);

/* Feeds the pending token (if any) and ids; out/argmax as vkslm_session_dev_eval. n may be 0 when a
 * token is pending. */
vkslm_status vkslm_session_feed(vkslm_session *s, const int32_t *ids, uint32_t n, vkslm_graph_out out,
                                int32_t *argmax);
#endif
