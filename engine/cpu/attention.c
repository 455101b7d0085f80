#include "engine/cpu/attention.h"

#include <math.h>

static double score(const float *q, const float *k, uint32_t n, double scale, double softcap) {
    double acc = 0.0;
    for (uint32_t d = 0; d < n; d++)
        acc += (double)q[d] * (double)k[d];
    acc *= scale;
    if (softcap > 0.0)
        acc = softcap * tanh(acc / softcap);
    return acc;
}

int vkslm_cpu_attention(float *out, const float *q, const float *k, const float *v, const vkslm_cpu_attn_shape *s) {
    const uint32_t D = s->head_dim;
    if (D == 0 || D > VKSLM_CPU_ATTN_MAX_HEAD_DIM || s->n_head_kv == 0 || s->n_head % s->n_head_kv ||
        (uint64_t)s->p0 + s->n_tokens > s->n_ctx)
        return -1;
    const uint32_t group = s->n_head / s->n_head_kv;
    const double scale = s->scale > 0.0f ? s->scale : 1.0 / sqrt((double)D);
    double acc[VKSLM_CPU_ATTN_MAX_HEAD_DIM];
    for (uint32_t t = 0; t < s->n_tokens; t++) {
        const uint32_t p = s->p0 + t;
        const uint32_t lo = s->window && p + 1u > s->window ? p + 1u - s->window : 0u;
        for (uint32_t h = 0; h < s->n_head; h++) {
            const float *qh = q + ((uint64_t)t * s->n_head + h) * D;
            const uint64_t kvh = (uint64_t)(h / group) * s->n_ctx * D;
            double mx = -INFINITY;
            for (uint32_t j = lo; j <= p; j++) {
                double sc = score(qh, k + kvh + (uint64_t)j * D, D, scale, s->softcap);
                mx = sc > mx ? sc : mx;
            }
            double sum = 0.0;
            for (uint32_t d = 0; d < D; d++)
                acc[d] = 0.0;
            for (uint32_t j = lo; j <= p; j++) {
                double w = exp(score(qh, k + kvh + (uint64_t)j * D, D, scale, s->softcap) - mx);
                const float *vj = v + kvh + (uint64_t)j * D;
                sum += w;
                for (uint32_t d = 0; d < D; d++)
                    acc[d] += w * vj[d];
            }
            float *o = out + ((uint64_t)t * s->n_head + h) * D;
            for (uint32_t d = 0; d < D; d++)
                o[d] = (float)(acc[d] / sum);
        }
    }
    return 0;
}
