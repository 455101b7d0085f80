/* Plain-C reference of the weight products (the oracle for engine/ops/matmul.c: shaders/matmul*.comp):
 * weights of any type are dequantized row by row with vkslm_dequantize_row, products accumulate in
 * double. Layouts as in engine/ops/matmul.h. */
#ifndef VKSLM_CPU_MATMUL_H
#define VKSLM_CPU_MATMUL_H
#include <stdint.h>

#include "vkslm.h"

/* d[m][n] = sum_k w[n][k] * x[m][k] (+ bias[n] when bias is not NULL); w holds n_rows rows of k elements
 * of `type` (vkslm_type_row_bytes(type, k) bytes each). */
vkslm_status vkslm_cpu_matmul(float *d, uint32_t type, const void *w, const float *x, const float *bias,
                              uint64_t k, uint64_t n_rows, uint64_t m);
#endif
