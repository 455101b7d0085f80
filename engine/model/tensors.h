/* The tensor table of a model: every weight an architecture's forward pass reads, found by its GGUF name
 * and checked for shape and type. Shapes are GGUF's: ne[0] is the input (contiguous) dimension, ne[1]
 * the output rows; "[in, out]" below. */
#ifndef VKSLM_MODEL_TENSORS_H
#define VKSLM_MODEL_TENSORS_H

#include "engine/model/hparams.h"
#include "loaders/gguf.h"

typedef const vkslm_gguf_tensor *vkslm_wt; /* NULL when absent */

typedef struct vkslm_layer_weights {
    vkslm_wt attn_norm;      /* [n_embd] */
    vkslm_wt wq, wk, wv;     /* [n_embd, n_head*head_k], [n_embd, n_head_kv*head_k], [n_embd, n_head_kv*head_v] */
    vkslm_wt wqkv;           /* phi3: [n_embd, n_head*head_k + n_head_kv*(head_k + head_v)]; then wq/wk/wv NULL */
    vkslm_wt bq, bk, bv;     /* qwen2: biases [n_head*head_k], [n_head_kv*head_k], [n_head_kv*head_v] */
    vkslm_wt wo;             /* [n_head*head_v, n_embd] */
    vkslm_wt attn_post_norm; /* gemma2: [n_embd] */
    vkslm_wt ffn_norm;       /* [n_embd] */
    vkslm_wt ffn_gate;       /* [n_embd, n_ff]; NULL when fused into ffn_up (phi3) */
    vkslm_wt ffn_up;         /* [n_embd, n_ff], or [n_embd, 2*n_ff] as gate|up when ffn_gate is NULL */
    vkslm_wt ffn_down;       /* [n_ff, n_embd] */
    vkslm_wt ffn_post_norm;  /* gemma2: [n_embd] */
} vkslm_layer_weights;

typedef struct vkslm_model_weights {
    vkslm_wt tok_embd;    /* [n_embd, n_vocab] */
    vkslm_wt output_norm; /* [n_embd] */
    vkslm_wt output;      /* [n_embd, n_vocab]; equals tok_embd when the embeddings are tied */
    int tied_output;      /* output.weight is absent: the embedding matrix is reused */
    vkslm_wt rope_freqs;  /* Llama 3.1: [n_rot / 2] frequency divisors, or NULL */
    vkslm_wt rope_long, rope_short; /* LongRoPE (Phi-3): [n_rot / 2] divisors beyond / within the original
                                     * context (rope_factors_long/short.weight), or NULL */
    uint32_t n_layer;
    vkslm_layer_weights *layers; /* [n_layer], malloc'd */
} vkslm_model_weights;

/* Finds and checks every tensor the architecture needs. VKSLM_ERR_UNSUPPORTED for an architecture or
 * weight type vkslm cannot run, VKSLM_ERR_FORMAT for a missing tensor or a wrong shape (the message names
 * the tensor). */
vkslm_status vkslm_model_weights_bind(const vkslm_gguf *g, const vkslm_hparams *hp, vkslm_model_weights *out);
void vkslm_model_weights_free(vkslm_model_weights *w);
#endif
