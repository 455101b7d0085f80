/* Plain-C reference of attention (the test oracle for shaders/attention.comp), double accumulation.
 * q, out: [n_tokens][n_head][head_dim]; k, v: [n_head_kv][n_ctx][head_dim] (f32; an f16 cache is
 * converted first). Token i sits at position p0 + i and sees keys j <= p0 + i, and with window > 0 only
 * those with p0 + i - j < window. score = (q . k) * scale, then softcap * tanh(score / softcap) when
 * softcap > 0; out = softmax(scores) V. q head h reads kv head h / (n_head / n_head_kv). */
#ifndef VKSLM_CPU_ATTENTION_H
#define VKSLM_CPU_ATTENTION_H
#include <stdint.h>

#define VKSLM_CPU_ATTN_MAX_HEAD_DIM 1024u

typedef struct vkslm_cpu_attn_shape {
    uint32_t head_dim, n_head, n_head_kv, n_tokens, n_ctx, p0, window;
    float scale, softcap;
} vkslm_cpu_attn_shape;

/* Returns 0, or -1 when the shape is invalid (head_dim above the limit, n_head_kv not dividing n_head,
 * positions beyond n_ctx). */
int vkslm_cpu_attention(float *out, const float *q, const float *k, const float *v, const vkslm_cpu_attn_shape *s);
#endif
