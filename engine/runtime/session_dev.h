/* A session on the device: its KV cache and step buffers, the position reached, and the recording it
 * reuses. One session is driven by one thread at a time; many sessions may share one model. */
#ifndef VKSLM_RUNTIME_SESSION_DEV_H
#define VKSLM_RUNTIME_SESSION_DEV_H

#include "engine/model/graph.h"

/* GPU time, bytes and flops per op kind, summed over steps (with a profiling context). */
#define VKSLM_PROFILE_MAX 24
typedef struct vkslm_profile {
    uint32_t n;
    struct {
        const char *label;
        double ms, bytes, flops;
        uint64_t dispatches;
    } op[VKSLM_PROFILE_MAX];
} vkslm_profile;

/* Adds to the entry of `label` (creating it; labels past VKSLM_PROFILE_MAX are dropped). */
void vkslm_profile_add(vkslm_profile *p, const char *label, double ms, double bytes, double flops,
                       uint64_t dispatches);

typedef struct vkslm_session_dev {
    const vkslm_model_dev *m;
    vkslm_vk *vk;
    vkslm_step_bufs b;
    vkslm_cmd *cmd;
    uint32_t n_past;    /* tokens in the KV cache */
    float *logits;      /* host copy of the last logits [n_vocab] */
    float *logits_all;  /* host copy for eval_all [max_batch][n_vocab], allocated on first use */
    int logits_valid;
    double gpu_ms;      /* GPU time of the last eval (with profiling) */
    double record_ms;   /* CPU time (this thread's) spent recording the last eval's steps, submits excluded */
    vkslm_profile profile; /* accumulated until reset (memset to 0) */
} vkslm_session_dev;

/* n_ctx: context length (<= the model's trained context); max_batch: tokens per prefill step. */
vkslm_status vkslm_session_dev_create(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_batch,
                                      uint32_t kv_type, vkslm_session_dev **out);
void vkslm_session_dev_free(vkslm_session_dev *s);
/* Feeds tokens after the cache (prefill in steps of max_batch, one submit each). out LOGITS reads the last
 * token's logits back into s->logits; ARGMAX reads back only their argmax into *argmax (no logits copy),
 * -1 when no logit is above -inf (all NaN or -inf), as vkslm_sampler_sample. */
vkslm_status vkslm_session_dev_eval(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_graph_out out,
                                    int32_t *argmax);
/* Feeds tokens like eval and hands the logits of every one of them to `fn`, one step (of up to
 * max_batch tokens) at a time: logits[i * n_vocab ..] belong to tokens[first + i]. */
typedef vkslm_status (*vkslm_dev_logits_fn)(const float *logits, uint32_t first, uint32_t n, void *user);
vkslm_status vkslm_session_dev_eval_all(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_dev_logits_fn fn,
                                        void *user);
/* Forgets positions >= pos (later tokens overwrite them). */
vkslm_status vkslm_session_dev_rewind(vkslm_session_dev *s, uint32_t pos);
#endif
