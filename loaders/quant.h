/* CPU conversion between float32 and the GGUF weight types (layouts in loaders/quant_blocks.h).
 * Rows are n elements long; n must be a multiple of the type's block size (32 or 256; 1 for plain
 * float types). Quantized data may sit at any byte offset (no alignment is assumed). */
#ifndef VKSLM_LOADERS_QUANT_H
#define VKSLM_LOADERS_QUANT_H
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

/* True when vkslm_dequantize_row / vkslm_quantize_row handle `type`. */
int vkslm_can_dequantize(uint32_t type);
int vkslm_can_quantize(uint32_t type);

/* Decodes n elements of `type` at src into dst. Handles F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS. VKSLM_ERR_INVALID_ARG when n is not a multiple of the
 * block size or a pointer is NULL (n > 0); VKSLM_ERR_UNSUPPORTED for another type. */
vkslm_status vkslm_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n);

/* Encodes n floats into vkslm_type_row_bytes(type, n) bytes at dst. Handles F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. Legacy types use round-to-nearest with the block's absolute
 * maximum (or range) as scale; K-quants search sub-block scales and mins by weighted least squares.
 * Errors as for vkslm_dequantize_row. Inputs must be finite. */
vkslm_status vkslm_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n);

/* Quantizes n_rows rows of n_per_row floats (rows contiguous in src) into contiguous rows at dst.
 * Returns the bytes written, or 0 on error (vkslm_last_error() says why). */
size_t vkslm_quantize_rows(uint32_t type, const float *src, void *dst, uint64_t n_rows, uint64_t n_per_row);
#endif
