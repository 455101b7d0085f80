/* Plain-C reference of the row norms (the oracle for shaders/norm.comp). Rows of n f32 values; w and b
 * (n values each) may be NULL. Sums in double. */
#ifndef VKSLM_CPU_NORM_H
#define VKSLM_CPU_NORM_H
#include <stdint.h>

/* d = a / sqrt(mean(a^2) + eps) * w */
void vkslm_cpu_rms_norm(float *d, const float *a, const float *w, uint64_t n, uint64_t rows, float eps);
/* d = (a - mean) / sqrt(mean((a - mean)^2) + eps) * w + b */
void vkslm_cpu_layer_norm(float *d, const float *a, const float *w, const float *b, uint64_t n, uint64_t rows,
                          float eps);
#endif
