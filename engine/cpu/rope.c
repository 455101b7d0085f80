#include "engine/cpu/rope.h"

#include <math.h>

void vkslm_cpu_rope(float *d, const float *a, const int32_t *pos, const float *ff, uint32_t head_dim,
                    uint32_t n_heads, uint32_t n_tokens, uint32_t n_rot, int neox, float theta_base,
                    const vkslm_rope_ext *ext, uint64_t a_tstride, uint64_t d_tstride) {
    const vkslm_rope_ext none = {1.0f, 0.0f, 1.0f, 0.0f, 0.0f};
    if (!ext)
        ext = &none;
    uint32_t half_rot = n_rot / 2;
    for (uint32_t t = 0; t < n_tokens; t++)
        for (uint32_t h = 0; h < n_heads; h++) {
            const float *x = a + t * a_tstride + (uint64_t)h * head_dim;
            float *y = d + t * d_tstride + (uint64_t)h * head_dim;
            for (uint32_t i = n_rot; i < head_dim; i++)
                y[i] = x[i];
            for (uint32_t p = 0; p < half_rot; p++) {
                double extrap = pos[t] * pow(theta_base, -2.0 * p / n_rot);
                if (ff)
                    extrap /= ff[p];
                double theta = extrap * ext->freq_scale;
                if (ext->ext_factor != 0.0f) {
                    double span = fmax(0.001, (double)ext->corr_high - ext->corr_low);
                    double ramp = 1.0 - fmin(1.0, fmax(0.0, (p - (double)ext->corr_low) / span));
                    double mix = ramp * ext->ext_factor;
                    theta = theta * (1.0 - mix) + extrap * mix;
                }
                uint32_t i0 = neox ? p : 2 * p, i1 = neox ? p + half_rot : 2 * p + 1;
                double c = cos(theta) * ext->attn_factor, s = sin(theta) * ext->attn_factor, x0 = x[i0], x1 = x[i1];
                y[i0] = (float)(x0 * c - x1 * s);
                y[i1] = (float)(x0 * s + x1 * c);
            }
        }
}

static float corr_dim(uint32_t n_rot, uint32_t n_ctx_orig, float turns, float base) {
    const float pi = 3.14159265358979323846f;
    return (float)n_rot * logf((float)n_ctx_orig / (turns * 2.0f * pi)) / (2.0f * logf(base));
}

void vkslm_rope_yarn_corr_dims(uint32_t n_rot, uint32_t n_ctx_orig, float theta_base, float beta_fast,
                               float beta_slow, float dims[2]) {
    float lo = floorf(corr_dim(n_rot, n_ctx_orig, beta_fast, theta_base));
    float hi = ceilf(corr_dim(n_rot, n_ctx_orig, beta_slow, theta_base));
    dims[0] = lo > 0.0f ? lo : 0.0f;
    dims[1] = hi < (float)n_rot - 1.0f ? hi : (float)n_rot - 1.0f;
}
