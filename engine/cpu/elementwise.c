#include "engine/cpu/elementwise.h"

#include <math.h>

#include "engine/util/half.h"

void vkslm_cpu_add(float *d, const float *a, const float *b, uint64_t n, uint64_t nb) {
    for (uint64_t i = 0, j = 0; i < n; i++, j = j + 1 == nb ? 0 : j + 1)
        d[i] = a[i] + b[j];
}

void vkslm_cpu_scale(float *d, const float *a, float s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = a[i] * s;
}

void vkslm_cpu_round_f16(float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        x[i] = vkslm_f16_to_f32(vkslm_f32_to_f16(x[i]));
}

void vkslm_cpu_f32_to_f16(uint16_t *d, const float *a, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = vkslm_f32_to_f16(a[i]);
}

void vkslm_cpu_f16_to_f32(float *d, const uint16_t *a, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = vkslm_f16_to_f32(a[i]);
}

void vkslm_cpu_softcap(float *d, const float *a, float cap, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        d[i] = (float)(cap * tanh((double)a[i] / cap));
}
