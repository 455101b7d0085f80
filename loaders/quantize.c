/* Quantization: the row entry points, plain float types and the legacy 32-element blocks
 * (round to nearest with the block's absolute maximum or range as scale). K-quants: quantize_k.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/util/error.h"
#include "engine/util/half.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "loaders/quant_blocks.h"
#include "loaders/quant_impl.h"

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
/* Nearest integer (ties to even), saturated far outside any quant range. */
static int round_int(float v) { return (int)lrintf(fmaxf(-1e9f, fminf(1e9f, v))); }

/* The element of largest magnitude, with its sign (0 for an all-zero block). */
static float signed_absmax(const float *x, int n) {
    float best = 0.0f, amax = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            best = x[j];
        }
    return best;
}

/* Symmetric blocks (Q4_0, Q5_0): the largest-magnitude element maps to -2^(bits-1), the level with the
 * wider side, so d = max / -half. Quants are computed with the stored (f16-rounded) scale. */
static uint16_t quant_symmetric(const float *x, int half, uint8_t q[32]) {
    float max = signed_absmax(x, 32);
    uint16_t d16 = vkslm_scale_to_f16(max / (float)-half);
    float d = vkslm_f16_to_f32(d16);
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)clamp_int(round_int(x[j] * id) + half, 0, 2 * half - 1);
    return d16;
}

/* Asymmetric blocks (Q4_1, Q5_1): x = d * q + m with m the block minimum, d = range / levels. */
static void quant_affine(const float *x, int levels, uint8_t q[32], uint16_t *d_out, uint16_t *m_out) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; j++) {
        min = x[j] < min ? x[j] : min;
        max = x[j] > max ? x[j] : max;
    }
    *d_out = vkslm_scale_to_f16((max - min) / (float)levels);
    *m_out = vkslm_scale_to_f16(min);
    float d = vkslm_f16_to_f32(*d_out), m = vkslm_f16_to_f32(*m_out);
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)clamp_int(round_int((x[j] - m) * id), 0, levels);
}

static void pack_nibbles(const uint8_t q[32], uint8_t qs[16]) {
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
}

static void pack_fifth_bits(const uint8_t q[32], uint8_t qh[4]) {
    uint32_t bits = 0;
    for (int j = 0; j < 32; j++)
        bits |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(bits >> (8 * k));
}

void vkslm_quant_q4_0(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += 32) {
        vkslm_block_q4_0 b;
        uint8_t q[32];
        b.d = quant_symmetric(src, 8, q);
        pack_nibbles(q, b.qs);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

void vkslm_quant_q5_0(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += 32) {
        vkslm_block_q5_0 b;
        uint8_t q[32];
        b.d = quant_symmetric(src, 16, q);
        pack_nibbles(q, b.qs);
        pack_fifth_bits(q, b.qh);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

void vkslm_quant_q4_1(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += 32) {
        vkslm_block_q4_1 b;
        uint8_t q[32];
        uint16_t d, m;
        quant_affine(src, 15, q, &d, &m);
        b.d = d;
        b.m = m;
        pack_nibbles(q, b.qs);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

void vkslm_quant_q5_1(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += 32) {
        vkslm_block_q5_1 b;
        uint8_t q[32];
        uint16_t d, m;
        quant_affine(src, 31, q, &d, &m);
        b.d = d;
        b.m = m;
        pack_nibbles(q, b.qs);
        pack_fifth_bits(q, b.qh);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

void vkslm_quant_q8_0(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += 32) {
        vkslm_block_q8_0 b;
        float amax = fabsf(signed_absmax(src, 32));
        b.d = vkslm_scale_to_f16(amax / 127.0f);
        float d = vkslm_f16_to_f32(b.d);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++)
            b.qs[j] = (int8_t)clamp_int(round_int(src[j] * id), -127, 127);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

/* ---- entry points ------------------------------------------------------------------------------ */

static vkslm_quant_fn block_quantizer(uint32_t type) {
    switch (type) {
    case VKSLM_TYPE_Q4_0: return vkslm_quant_q4_0;
    case VKSLM_TYPE_Q4_1: return vkslm_quant_q4_1;
    case VKSLM_TYPE_Q5_0: return vkslm_quant_q5_0;
    case VKSLM_TYPE_Q5_1: return vkslm_quant_q5_1;
    case VKSLM_TYPE_Q8_0: return vkslm_quant_q8_0;
    case VKSLM_TYPE_Q4_K: return vkslm_quant_q4_k;
    case VKSLM_TYPE_Q5_K: return vkslm_quant_q5_k;
    case VKSLM_TYPE_Q6_K: return vkslm_quant_q6_k;
    default: return NULL;
    }
}

int vkslm_can_quantize(uint32_t type) {
    return type == VKSLM_TYPE_F32 || type == VKSLM_TYPE_F16 || type == VKSLM_TYPE_BF16 ||
           block_quantizer(type) != NULL;
}

vkslm_status vkslm_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    if (!t || !vkslm_can_quantize(type))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "quantize: no quantizer for tensor type %u (%s)", type,
                          t ? t->name : "unknown");
    if (n % t->block_elems != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG,
                          "quantize %s: %llu elements is not a multiple of the block size %u", t->name,
                          (unsigned long long)n, t->block_elems);
    if (n == 0)
        return VKSLM_OK;
    if (!src || !dst)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize %s: NULL buffer", t->name);
    if (n > SIZE_MAX / sizeof(float))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize %s: %llu elements overflow a buffer size", t->name,
                          (unsigned long long)n);
    uint8_t *d = dst;
    switch (type) {
    case VKSLM_TYPE_F32: memmove(d, src, n * sizeof(float)); break;
    case VKSLM_TYPE_F16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = vkslm_f32_to_f16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        break;
    case VKSLM_TYPE_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = vkslm_f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        break;
    default: block_quantizer(type)(src, d, n / t->block_elems); break;
    }
    return VKSLM_OK;
}

size_t vkslm_quantize_rows(uint32_t type, const float *src, void *dst, uint64_t n_rows, uint64_t n_per_row) {
    uint64_t row_bytes = vkslm_type_row_bytes(type, n_per_row);
    if (n_per_row == 0 || row_bytes == 0) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize rows: row length %llu does not fit type %u",
                   (unsigned long long)n_per_row, type);
        return 0;
    }
    if (n_rows > SIZE_MAX / row_bytes) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "quantize rows: %llu rows of %llu bytes overflow",
                   (unsigned long long)n_rows, (unsigned long long)row_bytes);
        return 0;
    }
    for (uint64_t r = 0; r < n_rows; r++)
        if (vkslm_quantize_row(type, src + r * n_per_row, (uint8_t *)dst + r * row_bytes, n_per_row) != VKSLM_OK)
            return 0;
    return (size_t)(n_rows * row_bytes);
}
