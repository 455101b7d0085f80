/* Rotary position embedding on f32 q or k (the math: shaders/rope.glsl, engine/cpu/rope.h): a and d have
 * ne {head_dim, n_heads, n_tokens} (token rows may be strided, e.g. q inside a fused QKV output); positions
 * is I32 [n_tokens]; freq_factors (NULL or F32 [n_rot/2]: Llama 3.1's rope_freqs, LongRoPE's long or short
 * factors) divide each pair's angle. d may be a itself. */
#ifndef VKSLM_OPS_ROPE_H
#define VKSLM_OPS_ROPE_H

#include "engine/ops/tensor.h"

typedef enum vkslm_rope_mode {
    VKSLM_ROPE_NORMAL = 0, /* pairs (2p, 2p+1): llama */
    VKSLM_ROPE_NEOX = 2    /* pairs (p, p + n_rot/2): qwen2, phi3, gemma (ggml's mode number) */
} vkslm_rope_mode;

typedef struct vkslm_rope_params {
    uint32_t mode;      /* vkslm_rope_mode */
    uint32_t n_rot;     /* rotated dimensions, even, <= head_dim; 0: head_dim */
    float theta_base;   /* 0: 10000 */
    float freq_scale;   /* 1 / linear or YaRN factor; 0: 1 */
    uint64_t a_token_stride, d_token_stride; /* elements between tokens; 0: n_heads * head_dim */
    /* scaling beyond freq_scale, as vkslm_rope_ext (engine/cpu/rope.h) defines it */
    float ext_factor;   /* YaRN ramp weight; 0: none */
    float attn_factor;  /* magnitude of cos and sin; 0: 1 */
    float corr_low, corr_high; /* YaRN correction dims */
} vkslm_rope_params;

/* The rotation's push constants, declared identically as RopeArgs in shaders/rope.glsl and embedded in the
 * push constants of every shader that rotates (rope.comp, kv_cache.comp). */
typedef struct vkslm_rope_args {
    uint32_t n_rot, flags, f_off; /* flags 1: frequency divisors bound at f_off */
    float theta_log2, freq_scale, ext_factor, attn_factor, corr_low, corr_high;
} vkslm_rope_args;
_Static_assert(sizeof(vkslm_rope_args) == 36, "must match RopeArgs in shaders/rope.glsl");

/* The args for params (defaults filled in) and n_rot rotated dims; flags and f_off are left 0. */
vkslm_rope_args vkslm_rope_args_of(const vkslm_rope_params *params, uint32_t n_rot);

/* Push constants, declared identically in shaders/rope.comp. */
typedef struct vkslm_rope_push {
    uint32_t head_dim, n_heads, n_tokens;
    uint32_t a_off, d_off, p_off;
    uint32_t a_tstride, d_tstride;
    vkslm_rope_args rope;
} vkslm_rope_push;
_Static_assert(sizeof(vkslm_rope_push) == 68, "must match shaders/rope.comp");

vkslm_status vkslm_op_rope(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *positions,
                           const vkslm_tensor *freq_factors, const vkslm_rope_params *params);
#endif
