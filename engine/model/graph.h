/* The decoder graph of every supported architecture (llama, qwen2, phi3, gemma, gemma2 differ only by the
 * switches in engine/model/arch.h): records one step — a prefill chunk or one decode token — as op
 * dispatches into a caller's recording. Nothing is submitted here. */
#ifndef VKSLM_MODEL_GRAPH_H
#define VKSLM_MODEL_GRAPH_H

#include "engine/model/model.h"
#include "engine/ops/kv_cache.h"

/* Every device buffer a step works in, once: X(name). The struct below, freeing and counting bytes expand
 * this list. */
#define VKSLM_STEP_BUFS(X)                                                                                     \
    X(ids)            /* I32 [max_tokens]: token ids */                                                      \
    X(pos)            /* I32 [max_tokens]: their positions */                                                \
    X(x)              /* F32 [max_tokens][n_embd]: the residual stream */                                    \
    X(h)              /* F32 [max_tokens][max(n_embd, n_head*head_v)]: normed input / projections */          \
    X(q)              /* F32 [max_tokens][n_head*head_k] */                                                  \
    X(k)              /* F32 [max_tokens][n_head_kv*head_k] */                                               \
    X(v)              /* F32 [max_tokens][n_head_kv*head_v] */                                               \
    X(att)            /* F32 [max_tokens][n_head*head_v]: attention output */                                \
    X(qkv)            /* F32 [max_tokens][n_head*head_k + 2*n_head_kv*head_k]: fused projection */            \
    X(g)              /* F32 [max_tokens][n_ff]: gate, then the activation */                                \
    X(u)              /* F32 [max_tokens][2*n_ff]: up, or gate|up */                                         \
    X(last)           /* F32 [n_embd]: the final norm of the last token */                                   \
    X(logits)         /* F32 [n_vocab] */                                                                    \
    X(attn_scratch)   /* F32 split-key partials for attention (VKSLM_ATTN_DEFAULT_SPLITS splits) */          \
    X(argmax)         /* I32 id then F32 value of the largest logit */                                       \
    X(argmax_scratch) /* the argmax reduction's scratch */                                                   \
    X(logits_all)     /* F32 [max_tokens][n_vocab], allocated on first use (scoring, perplexity) */          \
    X(kv_cache)       /* [layer][K|V][kv_head][pos][head_dim] (layout kv) */

/* The buffers of a step, sized for up to max_tokens tokens (a session owns them). */
typedef struct vkslm_step_bufs {
    uint32_t max_tokens;
#define VKSLM_X_FIELD(name) vkslm_buf name;
    VKSLM_STEP_BUFS(VKSLM_X_FIELD)
#undef VKSLM_X_FIELD
    vkslm_kv_layout kv;
} vkslm_step_bufs;

/* Allocates the buffers for a model, a context of n_ctx tokens and steps of up to max_tokens. */
vkslm_status vkslm_step_bufs_alloc(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_tokens,
                                   uint32_t kv_type, vkslm_step_bufs *b);
void vkslm_step_bufs_free(vkslm_vk *vk, vkslm_step_bufs *b);
/* Device bytes the buffers occupy (the logits of every token included once allocated). */
uint64_t vkslm_step_bufs_bytes(const vkslm_step_bufs *b);

typedef enum vkslm_graph_out {
    VKSLM_GRAPH_NONE = 0,   /* only fill the KV cache (a prefill chunk before the last) */
    VKSLM_GRAPH_LOGITS = 1, /* the last token's logits into b->logits */
    VKSLM_GRAPH_ARGMAX = 2, /* logits, and their argmax into b->argmax (greedy decoding without a readback) */
    VKSLM_GRAPH_ALL = 3     /* the logits of every token of the step into b->logits_all */
} vkslm_graph_out;

/* Records the step for tokens[0..n) at positions p0.. (n <= max_tokens, p0 + n <= n_ctx). */
vkslm_status vkslm_graph_record(vkslm_cmd *c, const vkslm_model_dev *m, vkslm_step_bufs *b, const int32_t *tokens,
                                uint32_t n, uint32_t p0, vkslm_graph_out out);

/* Resolves the pipelines of a decode step and of a prefill chunk of max_tokens (at a context of n_ctx,
 * at most the model's) before any session exists: both steps are recorded into a dry recording
 * (vkslm_cmd_create_dry) over placeholder buffers sized as a session's, so every op resolves its kernels
 * and nothing else happens. Model loading calls it; steps of other shapes resolve theirs on first use. */
vkslm_status vkslm_graph_resolve(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_tokens);
#endif
