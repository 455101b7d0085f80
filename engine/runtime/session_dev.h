/* A session on the device: its KV cache and step buffers, the position reached, and the recording it
 * reuses. One session is driven by one thread at a time; many sessions may share one model. */
#ifndef VKSLM_RUNTIME_SESSION_DEV_H
#define VKSLM_RUNTIME_SESSION_DEV_H

#include "engine/model/graph.h"
#include "engine/model/lora.h"

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
    uint32_t n_seq;
    uint32_t *seq_len;  /* [n_seq] positions each sequence holds (0 .. len - 1) */
    float *logits;      /* host copy of the last step's output rows [n_rows][n_vocab] */
    int32_t *top_ids;   /* host copy of their top k [n_rows][top_k] */
    float *top_vals;
    uint32_t host_rows; /* rows the host copies hold */
    float *embd;        /* host copy of the last step's hidden-state rows [n_embd_rows][n_embd] */
    uint32_t embd_host_rows, n_embd_rows;
    uint32_t n_rows, top_k; /* of the last step */
    double gpu_ms;      /* GPU time of the last eval (with profiling) */
    double record_ms;   /* CPU time (this thread's) spent recording the last eval's steps, submits excluded */
    vkslm_profile profile; /* accumulated until reset (memset to 0) */
    vkslm_lora_sel *lora;  /* [n_seq] each sequence's adapters (vkslm_session_dev_set_lora) */
    uint32_t n_lora_seqs;  /* sequences that select at least one adapter */
    vkslm_lora_bufs lora_bufs;
} vkslm_session_dev;

/* What an eval of sequence 0 hands back. */
typedef enum vkslm_graph_out {
    VKSLM_GRAPH_NONE = 0,   /* only fill the KV cache (a prefill chunk before the last) */
    VKSLM_GRAPH_LOGITS = 1, /* the last token's logits into s->logits */
    VKSLM_GRAPH_ARGMAX = 2, /* only their argmax (greedy decoding without a logits readback) */
} vkslm_graph_out;

/* n_ctx: context length per sequence (<= the model's trained context); n_seq: sequences (KV slots);
 * max_batch: tokens per step. */
vkslm_status vkslm_session_dev_create_seq(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t n_seq,
                                          uint32_t max_batch, uint32_t kv_type, vkslm_session_dev **out);
/* One sequence. */
vkslm_status vkslm_session_dev_create(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_batch,
                                      uint32_t kv_type, vkslm_session_dev **out);
void vkslm_session_dev_free(vkslm_session_dev *s);
/* Runs one step (st->n <= max_batch; positions and sequences already checked by the caller or by the
 * graph) and reads back its output rows: their logits into s->logits when `logits`, their top st->top_k
 * into s->top_ids/top_vals, and the hidden states of its embd rows into s->embd. Sequence lengths become
 * the end of each run. */
vkslm_status vkslm_session_dev_step(vkslm_session_dev *s, const vkslm_graph_step *st, int logits);
/* Feeds tokens after sequence 0's cache (prefill in steps of max_batch, one submit each). out LOGITS reads
 * the last token's logits back into s->logits; ARGMAX reads back only their argmax into *argmax (no logits
 * copy), -1 when no logit is above -inf (all NaN or -inf), as the sampler gives. */
vkslm_status vkslm_session_dev_eval(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_graph_out out,
                                    int32_t *argmax);
/* Feeds tokens like eval and hands the logits of every one of them to `fn`, one step (of up to
 * max_batch tokens) at a time: logits[i * n_vocab ..] belong to tokens[first + i]. */
typedef vkslm_status (*vkslm_dev_logits_fn)(const float *logits, uint32_t first, uint32_t n, void *user);
vkslm_status vkslm_session_dev_eval_all(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_dev_logits_fn fn,
                                        void *user);
/* Sequence seq's adapters from now on (n = 0: none; at most VKSLM_LORA_MAX_PER_SEQ, each of them loaded
 * on this session's model, none twice). The adapters must stay loaded while a sequence selects them. */
vkslm_status vkslm_session_dev_set_lora(vkslm_session_dev *s, uint32_t seq, const vkslm_lora_dev *const *lora,
                                        const float *scales, uint32_t n);
/* Device bytes of the session's buffers, adapter scratch included. */
uint64_t vkslm_session_dev_bytes(const vkslm_session_dev *s);
/* Forgets sequence 0's positions >= pos (later tokens overwrite them). */
vkslm_status vkslm_session_dev_rewind(vkslm_session_dev *s, uint32_t pos);
/* Copies positions [p0, p1) of sequence src's cache into dst's (one submit). */
vkslm_status vkslm_session_dev_copy(vkslm_session_dev *s, uint32_t src, uint32_t dst, uint32_t p0, uint32_t p1);
#endif
