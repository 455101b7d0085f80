/* Internal: the per-type row kernels behind vkslm_dequantize_row / vkslm_quantize_row. Each takes a
 * count of whole blocks; src/dst of the quantized side may be unaligned (blocks are memcpy'd). */
#ifndef VKSLM_LOADERS_QUANT_IMPL_H
#define VKSLM_LOADERS_QUANT_IMPL_H
#include <stdint.h>

#include "engine/util/half.h"

/* A block scale as f16, saturated to the largest finite f16 (65504) instead of overflowing to inf,
 * which would decode as inf * 0 = NaN. */
static inline uint16_t vkslm_scale_to_f16(float v) {
    uint16_t h = vkslm_f32_to_f16(v);
    return (h & 0x7fffu) == 0x7c00u ? (uint16_t)((h & 0x8000u) | 0x7bffu) : h;
}

typedef void (*vkslm_dequant_fn)(const uint8_t *src, float *dst, uint64_t n_blocks);
typedef void (*vkslm_quant_fn)(const float *src, uint8_t *dst, uint64_t n_blocks);

/* loaders/dequant.c: plain and legacy types */
void vkslm_dequant_q4_0(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q4_1(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q5_0(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q5_1(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q8_0(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_iq4_nl(const uint8_t *src, float *dst, uint64_t n_blocks);

/* loaders/dequant_k.c: K-quants and IQ4_XS */
void vkslm_dequant_q2_k(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q3_k(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q4_k(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q5_k(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_q6_k(const uint8_t *src, float *dst, uint64_t n_blocks);
void vkslm_dequant_iq4_xs(const uint8_t *src, float *dst, uint64_t n_blocks);

/* loaders/quantize.c: legacy types */
void vkslm_quant_q4_0(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q4_1(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q5_0(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q5_1(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q8_0(const float *src, uint8_t *dst, uint64_t n_blocks);

/* loaders/quantize_k.c: K-quants */
void vkslm_quant_q4_k(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q5_k(const float *src, uint8_t *dst, uint64_t n_blocks);
void vkslm_quant_q6_k(const float *src, uint8_t *dst, uint64_t n_blocks);
#endif
