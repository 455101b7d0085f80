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

/* x in 8 bits (the layout of engine/ops/matmul.h: vkslm_x8_pair_ints(k) integers a pair of vectors): q gets the m
 * vectors of x (k elements each, a multiple of 32) as the shaders write them (shaders/matmul_vec.comp, quant_out:
 * dx = the unit's largest magnitude / 127, each element rounded to nearest even of x * (127 / largest), in f32). */
void vkslm_cpu_quantize_x8(int32_t *q, const float *x, uint64_t k, uint64_t m);
/* The m vectors that q holds, as floats (dx * the rounded value): what a product with x in 8 bits multiplies. */
void vkslm_cpu_dequantize_x8(float *x, const int32_t *q, uint64_t k, uint64_t m);
#endif
