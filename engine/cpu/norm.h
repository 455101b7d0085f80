/* Plain-C reference of RMSNorm (the oracle for engine/ops/norm.c: shaders/norm.comp). Rows of n f32
 * values; w (n values) may be NULL. Sums in double. */
#ifndef VKSLM_CPU_NORM_H
#define VKSLM_CPU_NORM_H
#include <stdint.h>

/* d = a / sqrt(mean(a^2) + eps) * w */
void vkslm_cpu_rms_norm(float *d, const float *a, const float *w, uint64_t n, uint64_t rows, float eps);
#endif
