/* The public handles behind vkslm.h's models and sessions. */
#ifndef VKSLM_RUNTIME_API_INTERNAL_H
#define VKSLM_RUNTIME_API_INTERNAL_H

#include <stdatomic.h>

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
    _Atomic(struct vkslm_gvocab *) gvocab; /* grammars' trie of the token texts (grammar.h), built on first use */
};

/* What vkslm_generate runs on (engine/runtime/generate.c): sequence 0 of a session, or a scheduler's
 * sequence (engine/runtime/scheduler.c). It owns the last generation's results. */
typedef struct vkslm_gen vkslm_gen;
struct vkslm_gen {
    const vkslm_model *model;
    int32_t *prompt_ids, *gen_ids;
    size_t prompt_cap, gen_cap;
    char *text;
    size_t text_len, text_cap;
    int32_t pending;        /* the last generated token, fed at the start of the next feed */
    int has_pending;
    size_t n_cached;        /* prompt tokens the last generate found in the cache (set by feed) */
    /* Feeds the pending token (if any), then ids[0..n) (n may be 0 when a token is pending); out says what
     * to read back of the last one (argmax into *argmax, or logits for `logits`). */
    vkslm_status (*feed)(vkslm_gen *g, const int32_t *ids, uint32_t n, vkslm_graph_out out, int32_t *argmax);
    const float *(*logits)(vkslm_gen *g); /* the last fed token's logits (after a LOGITS feed), or NULL */
    uint32_t (*n_past)(const vkslm_gen *g); /* tokens held, the pending one included */
    uint32_t n_ctx;
    vkslm_token_logprobs *lp; /* [lp_cap] the generated tokens' log-probabilities (params.logprobs) */
    size_t lp_cap;
};
/* Generates from g->prompt_ids[0..n_prompt) (fed after what g holds). */
vkslm_status vkslm_gen_run(vkslm_gen *g, size_t n_prompt, const vkslm_generate_params *params,
                           vkslm_generate_result *result);
void vkslm_gen_free_buffers(vkslm_gen *g);
/* The log-softmax of logits[0..n_vocab) (NaN as -inf) at token, and its n_top (at most
 * VKSLM_MAX_TOP_LOGPROBS) best tokens, into *out (engine/runtime/logprobs.c). */
void vkslm_logprobs_fill(const float *logits, uint32_t n_vocab, int32_t token, int32_t n_top,
                         vkslm_token_logprobs *out);
/* The prompt into g->prompt_ids: tokenized (BOS only when g holds nothing yet), or copied from ids (checked
 * against the vocabulary; ids may be g->prompt_ids itself). */
vkslm_status vkslm_gen_tokenize(vkslm_gen *g, const char *prompt, const vkslm_generate_params *p, size_t *n);
vkslm_status vkslm_gen_set_prompt(vkslm_gen *g, const int32_t *ids, size_t n);

struct vkslm_session {
    vkslm_gen gen;          /* first: generate's view of sequence 0 */
    vkslm_model *model;
    vkslm_session_dev *dev;
    /* the last vkslm_decode's outputs (engine/runtime/decode.c) */
    struct vkslm_decode_out {
        int32_t *row_of;      /* [n_entries] output index of each entry, or -1 */
        int32_t *entry_of;    /* [n_out] the entry of each output (batch order) */
        int32_t *embd_of;     /* [n_entries] index of each entry's hidden state in embd, or -1 */
        float *embd;          /* [n_embd][model n_embd] hidden states (after the output norm) */
        float *logits;        /* [n_out][n_vocab] when has_logits */
        int32_t *top_ids;     /* [n_out][k] */
        float *top_vals;
        uint32_t n_entries, n_out, k, n_embd;
        size_t entries_cap, logits_cap, top_cap, embd_cap; /* elements */
        int has_logits;
    } out;
    vkslm_batch *feed;      /* the batch that eval and generate feed sequence 0 through */
    /* decode's scratch: entries grouped by sequence */
    int32_t *order, *tokens;
    uint32_t *rows;
    vkslm_graph_run *runs;
    size_t scratch_cap;
};

/* Checks lora[0..n) and scales (loaded on m, at most VKSLM_LORA_MAX_PER_SEQ, none twice, finite scales)
 * and fills *out (engine/runtime/lora_api.c). */
vkslm_status vkslm_lora_select(const vkslm_model *m, vkslm_lora *const *lora, const float *scales, size_t n,
                               vkslm_lora_sel *out);

/* vkslm_model_load onto an open context (one more holder of it), or onto a new one when vk is NULL. */
vkslm_status vkslm_model_load_on(vkslm_vk *vk, const char *path, const vkslm_model_params *params, vkslm_model **out);

/* Feeds the pending token (if any) and ids; out/argmax as vkslm_session_dev_eval. n may be 0 when a
 * token is pending. */
vkslm_status vkslm_session_feed(vkslm_session *s, const int32_t *ids, uint32_t n, vkslm_graph_out out,
                                int32_t *argmax);
/* vkslm_decode and vkslm_decode_top in one: the top k (0: none) and/or the logits of the output rows. */
vkslm_status vkslm_decode_ex(vkslm_session *s, const vkslm_batch *b, uint32_t k, int logits);
/* Forgets the last decode's outputs (the cache they came from changed). */
void vkslm_decode_forget(vkslm_session *s);
uint32_t vkslm_batch_capacity(const vkslm_batch *b);
/* vkslm_batch_add, and whether the entry's final hidden state (after the output norm, before the output
 * projection: n_embd floats) is wanted from the next decode (vkslm_embd_ith). */
vkslm_status vkslm_batch_add_embd(vkslm_batch *b, int32_t token, uint32_t pos, int32_t seq, bool logits, bool embd);
/* The hidden state of entry i (batch order, i >= 0) of the last decode, or NULL when it asked for none. */
const float *vkslm_embd_ith(vkslm_session *s, int32_t i);
/* Embeddings (engine/runtime/embed.c): checks an input of n ids against the model and a context of n_ctx,
 * and resolves *pooling (DEFAULT becomes the model's); errors name `call`. */
vkslm_status vkslm_embd_check(const vkslm_model *m, const int32_t *ids, size_t n, uint32_t n_ctx,
                              vkslm_pooling *pooling, const char *call);
/* out = sum / rows, L2-normalised (zeros when the mean is zero). */
void vkslm_embd_finish(const double *sum, uint32_t rows, uint32_t n_embd, float *out);
#endif
