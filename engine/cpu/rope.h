/* Plain-C reference of RoPE (the oracle for shaders/rope.glsl), angles in double. Pair p < n_rot/2 at
 * position pos has the angle (llama.cpp's rope_yarn)
 *   extrap = pos * base^(-2p/n_rot) / ff[p]          (ff: per-pair frequency divisors, may be NULL)
 *   interp = freq_scale * extrap
 *   theta  = interp * (1 - mix) + extrap * mix,  mix = ext_factor * ramp(p)
 *   ramp(p) = 1 - clamp((p - corr_low) / max(0.001, corr_high - corr_low), 0, 1)
 * and rotates by (cos theta, sin theta) * attn_factor. ext NULL: freq_scale 1, no ramp, attn_factor 1.
 * neox pairs elements (p, p + n_rot/2), normal pairs (2p, 2p + 1); elements from n_rot on pass through.
 * a and d are [n_tokens][n_heads][head_dim] with rows of a_tstride / d_tstride elements per token. */
#ifndef VKSLM_CPU_ROPE_H
#define VKSLM_CPU_ROPE_H
#include <stdint.h>

/* How a model scales RoPE angles and magnitudes (engine/model/rope_scaling.h derives it from the GGUF). */
typedef struct vkslm_rope_ext {
    float freq_scale;           /* 1/factor of linear and YaRN scaling; 1: none */
    float ext_factor;           /* YaRN: weight of the extrapolation ramp; 0: none */
    float attn_factor;          /* magnitude of cos/sin (YaRN's mscale, LongRoPE's attention factor); 1: none */
    float corr_low, corr_high;  /* YaRN: pairs up to corr_low extrapolate, from corr_high on interpolate */
} vkslm_rope_ext;

void vkslm_cpu_rope(float *d, const float *a, const int32_t *pos, const float *ff, uint32_t head_dim,
                    uint32_t n_heads, uint32_t n_tokens, uint32_t n_rot, int neox, float theta_base,
                    const vkslm_rope_ext *ext, uint64_t a_tstride, uint64_t d_tstride);

/* YaRN's correction range (ggml_rope_yarn_corr_dims, in float as ggml computes it): the pairs whose
 * wavelength turns fewer than beta_fast times (low) and beta_slow times (high) in n_ctx_orig tokens,
 * clamped to [0, n_rot - 1]: dims[0] = max(0, floor(d(beta_fast))), dims[1] = min(n_rot - 1,
 * ceil(d(beta_slow))), d(b) = n_rot * ln(n_ctx_orig / (2 pi b)) / (2 ln base). */
void vkslm_rope_yarn_corr_dims(uint32_t n_rot, uint32_t n_ctx_orig, float theta_base, float beta_fast,
                               float beta_slow, float dims[2]);
#endif
