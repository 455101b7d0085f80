/* The decoder graph of every supported architecture (llama, qwen2, phi3, gemma, gemma2 differ only by the
 * switches in engine/model/arch.h): records one step — a prefill chunk or one decode token — as op
 * dispatches into a caller's recording. Nothing is submitted here. */
#ifndef VKSLM_MODEL_GRAPH_H
#define VKSLM_MODEL_GRAPH_H

#include "engine/model/model.h"
#include "engine/ops/kv_cache.h"
#include "engine/ops/select.h"

/* Every device buffer a step works in, once: X(name). The struct below, freeing and counting bytes expand
 * this list. The output buffers (logits, top, top_scratch) hold max_out rows and grow on demand
 * (vkslm_step_bufs_reserve_out); the KV cache is one buffer per layer (kv_layer) holding every sequence's K
 * and V of that layer, so one dispatch writes or reads the caches of many sequences. */
#define VKSLM_STEP_BUFS(X)                                                                                     \
    X(ids)            /* I32 [max_tokens]: token ids */                                                      \
    X(pos)            /* I32 [max_tokens]: their positions */                                                \
    X(seq)            /* I32 [max_tokens]: their sequences (steps of several runs) */                        \
    X(out_ids)        /* I32 [2][max_tokens]: the rows whose logits are wanted, then those whose hidden states */ \
    X(x)              /* F32 [max_tokens][n_embd]: the residual stream */                                    \
    X(h)              /* F32 [max_tokens][max(n_embd, n_head*head_v)]: normed input / projections */          \
    X(q)              /* F32 [max_tokens][n_head*head_k] */                                                  \
    X(k)              /* F32 [max_tokens][n_head_kv*head_k] */                                               \
    X(v)              /* F32 [max_tokens][n_head_kv*head_v] */                                               \
    X(att)            /* F32 [max_tokens][n_head*head_v]: attention output */                                \
    X(qkv)            /* F32 [max_tokens][n_head*head_k + 2*n_head_kv*head_k]: fused projection */            \
    X(g)              /* F32 [max_tokens][n_ff]: gate, then the activation */                                \
    X(u)              /* F32 [max_tokens][2*n_ff]: up, gate|up, or the activation in 8 bits (ops/matmul.h) */ \
    X(x8)             /* the stream times the next norm's weights in 8 bits (ops/matmul.h: vkslm_x8_pairs rows) */ \
    X(att8)           /* att in 8 bits, the o product's input (the same rows)                                  */ \
    X(attn_scratch)   /* F32 split-key partials for attention (VKSLM_ATTN_DEFAULT_SPLITS splits per row) */ \
    X(logits)         /* F32 [max_out][n_vocab] */                                                           \
    X(top)            /* I32 ids [max_out][VKSLM_TOPK_MAX], then F32 values [max_out][VKSLM_TOPK_MAX] */    \
    X(top_scratch)    /* the top-k reduction's scratch for max_out rows */                                   \
    X(embd)           /* F32 [max_tokens][n_embd]: hidden states (after the output norm) of the embd rows */

/* The buffers of a step, sized for up to max_tokens tokens and max_out rows of logits (a session owns
 * them), and the KV caches of its n_seq sequences. */
typedef struct vkslm_step_bufs {
    uint32_t max_tokens, max_out, n_seq;
#define VKSLM_X_FIELD(name) vkslm_buf name;
    VKSLM_STEP_BUFS(VKSLM_X_FIELD)
#undef VKSLM_X_FIELD
    vkslm_buf *kv_layer; /* [n_layer] each [seq][K|V][kv_head][pos][head_dim] */
    vkslm_kv_layout kv;  /* of one sequence (kv.n_layer layers) */
    /* LoRA (engine/model/lora.h), set by the session before a step: each sequence's adapters ([n_seq], NULL:
     * none) and the scratch they need (reserved for the step by vkslm_lora_bufs_reserve); not owned */
    const struct vkslm_lora_sel *lora;
    struct vkslm_lora_bufs *lora_bufs;
} vkslm_step_bufs;

/* Allocates the buffers for a model, n_seq sequences of n_ctx tokens, steps of up to max_tokens and
 * logits of max_out rows. */
vkslm_status vkslm_step_bufs_alloc(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t n_seq,
                                   uint32_t max_tokens, uint32_t max_out, uint32_t kv_type, vkslm_step_bufs *b);
void vkslm_step_bufs_free(vkslm_vk *vk, vkslm_step_bufs *b);
/* Grows the output buffers to hold `rows` rows (no change when they do already). */
vkslm_status vkslm_step_bufs_reserve_out(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_step_bufs *b, uint32_t rows);
/* Device bytes the buffers occupy. */
uint64_t vkslm_step_bufs_bytes(const vkslm_step_bufs *b);
/* Sequence seq's K or V (which) of one layer: ne {head_dim, n_ctx, n_kv_head}. */
static inline vkslm_tensor vkslm_step_kv(const vkslm_step_bufs *b, uint32_t layer, uint32_t seq, uint32_t which) {
    return vkslm_kv_tensor(&b->kv, &b->kv_layer[layer], 2u * seq * vkslm_kv_part_bytes(&b->kv), 0, which);
}
/* Elements between two sequences' caches in a layer's buffer. */
static inline uint64_t vkslm_step_kv_seq_stride(const vkslm_step_bufs *b) {
    return 2u * vkslm_kv_part_bytes(&b->kv) / vkslm_kv_elem_bytes(&b->kv);
}
/* Byte offset of the top values in b->top. */
static inline uint64_t vkslm_step_top_values_offset(const vkslm_step_bufs *b) {
    return (uint64_t)b->max_out * VKSLM_TOPK_MAX * 4u;
}

/* A run of n consecutive rows of a step (from row `first`) that belong to sequence seq, at positions
 * p0 .. p0 + n - 1. */
typedef struct vkslm_graph_run {
    uint32_t seq, first, n, p0;
} vkslm_graph_run;

/* One step: tokens grouped in runs of one sequence each (the runs cover rows 0 .. n - 1 in order), the
 * rows whose logits are computed (ascending, at most b->max_out) into b->logits row by row, and the rows
 * whose final hidden states (the output norm's result, the lm_head's input: n_embd floats) go into b->embd
 * row by row (ascending; a row may be in both lists). */
typedef struct vkslm_graph_step {
    const int32_t *tokens;
    uint32_t n;
    const vkslm_graph_run *runs;
    uint32_t n_runs;
    const uint32_t *out_rows;
    uint32_t n_out;
    uint32_t top_k; /* 0: logits only; 1..VKSLM_TOPK_MAX: also each out row's top k into b->top */
    const uint32_t *embd_rows;
    uint32_t n_embd;
} vkslm_graph_step;

/* Records the step (n <= max_tokens, every position < n_ctx). Weight products take all rows at once;
 * the KV writes and attention go run by run into each run's sequence. */
vkslm_status vkslm_graph_record(vkslm_cmd *c, const vkslm_model_dev *m, vkslm_step_bufs *b, const vkslm_graph_step *st);

/* Resolves the pipelines of a decode step and of a prefill chunk of max_tokens (at a context of n_ctx,
 * at most the model's) before any session exists: both steps are recorded into a dry recording
 * (vkslm_cmd_create_dry) over placeholder buffers sized as a session's, so every op resolves its kernels
 * and nothing else happens. Model loading calls it; steps of other shapes resolve theirs on first use. */
vkslm_status vkslm_graph_resolve(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_tokens);
/* Resolves, into a dry recording over a session's own buffers b, the pipelines of decode steps of k_lo .. k_hi
 * sequences (a token each; at most b's sequences and output rows): the batched kernels differ by the number
 * of vectors, so that a server's first batched steps do not stop to compile. */
vkslm_status vkslm_graph_resolve_batches(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_step_bufs *b, uint32_t k_lo,
                                        uint32_t k_hi);
#endif
