/* Dequantization: the row entry point, plain float types and the legacy 32-element blocks.
 * K-quants and IQ4_XS are in dequant_k.c. Layouts: loaders/quant_blocks.h. */
#include <stdint.h>
#include <string.h>

#include "engine/util/error.h"
#include "engine/util/half.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "loaders/quant_blocks.h"
#include "loaders/quant_impl.h"

/* ---- legacy blocks ----------------------------------------------------------------------------- */

void vkslm_dequant_q4_0(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_q4_0 b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)((b.qs[j] & 15) - 8);
            dst[j + 16] = d * (float)((b.qs[j] >> 4) - 8);
        }
    }
}

void vkslm_dequant_q4_1(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_q4_1 b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d), m = vkslm_f16_to_f32(b.m);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)(b.qs[j] & 15) + m;
            dst[j + 16] = d * (float)(b.qs[j] >> 4) + m;
        }
    }
}

/* The 32 fifth bits of a Q5 block as one integer (bit j belongs to element j). */
static uint32_t q5_high_bits(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void vkslm_dequant_q5_0(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_q5_0 b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        uint32_t qh = q5_high_bits(b.qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b.qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b.qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * (float)(lo - 16);
            dst[j + 16] = d * (float)(hi - 16);
        }
    }
}

void vkslm_dequant_q5_1(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_q5_1 b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d), m = vkslm_f16_to_f32(b.m);
        uint32_t qh = q5_high_bits(b.qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b.qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b.qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * (float)lo + m;
            dst[j + 16] = d * (float)hi + m;
        }
    }
}

void vkslm_dequant_q8_0(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_q8_0 b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        for (int j = 0; j < 32; j++)
            dst[j] = d * (float)b.qs[j];
    }
}

void vkslm_dequant_iq4_nl(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += 32) {
        vkslm_block_iq4_nl b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)vkslm_kvalues_iq4nl[b.qs[j] & 15];
            dst[j + 16] = d * (float)vkslm_kvalues_iq4nl[b.qs[j] >> 4];
        }
    }
}

/* ---- plain types ------------------------------------------------------------------------------- */

static void dequant_f16(const uint8_t *src, float *dst, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = vkslm_f16_to_f32(h);
    }
}

static void dequant_bf16(const uint8_t *src, float *dst, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = vkslm_bf16_to_f32(h);
    }
}

/* ---- entry point ------------------------------------------------------------------------------- */

static vkslm_dequant_fn block_dequantizer(uint32_t type) {
    switch (type) {
    case VKSLM_TYPE_Q4_0: return vkslm_dequant_q4_0;
    case VKSLM_TYPE_Q4_1: return vkslm_dequant_q4_1;
    case VKSLM_TYPE_Q5_0: return vkslm_dequant_q5_0;
    case VKSLM_TYPE_Q5_1: return vkslm_dequant_q5_1;
    case VKSLM_TYPE_Q8_0: return vkslm_dequant_q8_0;
    case VKSLM_TYPE_IQ4_NL: return vkslm_dequant_iq4_nl;
    case VKSLM_TYPE_Q2_K: return vkslm_dequant_q2_k;
    case VKSLM_TYPE_Q3_K: return vkslm_dequant_q3_k;
    case VKSLM_TYPE_Q4_K: return vkslm_dequant_q4_k;
    case VKSLM_TYPE_Q5_K: return vkslm_dequant_q5_k;
    case VKSLM_TYPE_Q6_K: return vkslm_dequant_q6_k;
    case VKSLM_TYPE_IQ4_XS: return vkslm_dequant_iq4_xs;
    default: return NULL;
    }
}

int vkslm_can_dequantize(uint32_t type) {
    return type == VKSLM_TYPE_F32 || type == VKSLM_TYPE_F16 || type == VKSLM_TYPE_BF16 ||
           block_dequantizer(type) != NULL;
}

vkslm_status vkslm_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    if (!t || !vkslm_can_dequantize(type))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "dequantize: unsupported tensor type %u (%s)", type,
                          t ? t->name : "unknown");
    if (n % t->block_elems != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG,
                          "dequantize %s: %llu elements is not a multiple of the block size %u", t->name,
                          (unsigned long long)n, t->block_elems);
    if (n == 0)
        return VKSLM_OK;
    if (!src || !dst)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "dequantize %s: NULL buffer", t->name);
    if (n > SIZE_MAX / sizeof(float))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "dequantize %s: %llu elements overflow a buffer size",
                          t->name, (unsigned long long)n);
    const uint8_t *s = src;
    switch (type) {
    case VKSLM_TYPE_F32: memmove(dst, s, n * sizeof(float)); break;
    case VKSLM_TYPE_F16: dequant_f16(s, dst, n); break;
    case VKSLM_TYPE_BF16: dequant_bf16(s, dst, n); break;
    default: block_dequantizer(type)(s, dst, n / t->block_elems); break;
    }
    return VKSLM_OK;
}
