/* Plain-C reference of the elementwise ops (the oracle for engine/ops/elementwise.c: shaders/elementwise.comp). f32 in and
 * out; f16 tensors are converted with engine/util/half.h around these. */
#ifndef VKSLM_CPU_ELEMENTWISE_H
#define VKSLM_CPU_ELEMENTWISE_H
#include <stdint.h>

/* d[i] = a[i] + b[i % nb] for i < n */
void vkslm_cpu_add(float *d, const float *a, const float *b, uint64_t n, uint64_t nb);
/* d[i] = a[i] * s */
void vkslm_cpu_scale(float *d, const float *a, float s, uint64_t n);
/* d[i] = cap * tanh(a[i] / cap) */
void vkslm_cpu_softcap(float *d, const float *a, float cap, uint64_t n);
/* Rounds every value to f16 precision (what storing to an f16 tensor does). */
void vkslm_cpu_round_f16(float *x, uint64_t n);
void vkslm_cpu_f32_to_f16(uint16_t *d, const float *a, uint64_t n);
void vkslm_cpu_f16_to_f32(float *d, const uint16_t *a, uint64_t n);
#endif
