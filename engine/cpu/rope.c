#include "engine/cpu/rope.h"

#include <math.h>

void vkslm_cpu_rope(float *d, const float *a, const int32_t *pos, const float *ff, uint32_t head_dim,
                    uint32_t n_heads, uint32_t n_tokens, uint32_t n_rot, int neox, float theta_base,
                    float freq_scale, uint64_t a_tstride, uint64_t d_tstride) {
    uint32_t half_rot = n_rot / 2;
    for (uint32_t t = 0; t < n_tokens; t++)
        for (uint32_t h = 0; h < n_heads; h++) {
            const float *x = a + t * a_tstride + (uint64_t)h * head_dim;
            float *y = d + t * d_tstride + (uint64_t)h * head_dim;
            for (uint32_t i = n_rot; i < head_dim; i++)
                y[i] = x[i];
            for (uint32_t p = 0; p < half_rot; p++) {
                double theta = pos[t] * pow(theta_base, -2.0 * p / n_rot) * freq_scale;
                if (ff)
                    theta /= ff[p];
                uint32_t i0 = neox ? p : 2 * p, i1 = neox ? p + half_rot : 2 * p + 1;
                double c = cos(theta), s = sin(theta), x0 = x[i0], x1 = x[i1];
                y[i0] = (float)(x0 * c - x1 * s);
                y[i1] = (float)(x0 * s + x1 * c);
            }
        }
}
