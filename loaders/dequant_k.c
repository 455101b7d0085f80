/* Dequantization of the 256-element super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS.
 * Each loop walks elements in row order; the index arithmetic follows the comments in quant_blocks.h. */
#include <string.h>

#include "engine/util/half.h"
#include "loaders/quant_blocks.h"
#include "loaders/quant_impl.h"

void vkslm_dequant_q2_k(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_q2_k b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d), dmin = vkslm_f16_to_f32(b.dmin);
        for (int e = 0; e < VKSLM_QK_K; e++) {
            int s = e / 16, h = e / 128, c = (e % 128) / 32, l = e % 32;
            int q = (b.qs[32 * h + l] >> (2 * c)) & 3;
            float scale = d * (float)(b.scales[s] & 15), min = dmin * (float)(b.scales[s] >> 4);
            dst[e] = scale * (float)q - min;
        }
    }
}

void vkslm_dequant_q3_k(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_q3_k b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        float scale[16];
        for (int s = 0; s < 16; s++)
            scale[s] = d * (float)((int)vkslm_q3k_scale(b.scales, s) - 32);
        for (int e = 0; e < VKSLM_QK_K; e++) {
            int h = e / 128, c = (e % 128) / 32, l = e % 32;
            int low = (b.qs[32 * h + l] >> (2 * c)) & 3;
            int high = (b.hmask[l] >> (4 * h + c)) & 1;
            dst[e] = scale[e / 16] * (float)(low - (high ? 0 : 4));
        }
    }
}

/* Q4_K and Q5_K share the scale/min packing; high_bits is NULL for Q4_K. */
static void dequant_k4(uint16_t d16, uint16_t dmin16, const uint8_t *scales, const uint8_t *qh,
                       const uint8_t *qs, float *dst) {
    float d = vkslm_f16_to_f32(d16), dmin = vkslm_f16_to_f32(dmin16);
    for (int s = 0; s < 8; s++) {
        uint8_t sc, mn;
        vkslm_k4_scale_min(scales, s, &sc, &mn);
        float scale = d * (float)sc, min = dmin * (float)mn;
        int p = s / 2, k = s % 2;
        for (int l = 0; l < 32; l++) {
            int q = k ? qs[32 * p + l] >> 4 : qs[32 * p + l] & 15;
            if (qh)
                q |= ((qh[l] >> s) & 1) << 4;
            dst[32 * s + l] = scale * (float)q - min;
        }
    }
}

void vkslm_dequant_q4_k(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_q4_k b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        dequant_k4(b.d, b.dmin, b.scales, NULL, b.qs, dst);
    }
}

void vkslm_dequant_q5_k(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_q5_k b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        dequant_k4(b.d, b.dmin, b.scales, b.qh, b.qs, dst);
    }
}

void vkslm_dequant_q6_k(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_q6_k b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        for (int e = 0; e < VKSLM_QK_K; e++) {
            int h = e / 128, c = (e % 128) / 32, l = e % 32;
            uint8_t lo_byte = b.ql[64 * h + 32 * (c & 1) + l];
            int low = c < 2 ? lo_byte & 15 : lo_byte >> 4;
            int high = (b.qh[32 * h + l] >> (2 * c)) & 3;
            int q = (low | high << 4) - 32;
            dst[e] = d * (float)b.scales[e / 16] * (float)q;
        }
    }
}

void vkslm_dequant_iq4_xs(const uint8_t *src, float *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, dst += VKSLM_QK_K) {
        vkslm_block_iq4_xs b;
        memcpy(&b, src + i * sizeof b, sizeof b);
        float d = vkslm_f16_to_f32(b.d);
        for (int s = 0; s < 8; s++) {
            int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 15) | ((b.scales_h >> (2 * s)) & 3) << 4;
            float scale = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                uint8_t q = b.qs[16 * s + j];
                dst[32 * s + j] = scale * (float)vkslm_kvalues_iq4nl[q & 15];
                dst[32 * s + 16 + j] = scale * (float)vkslm_kvalues_iq4nl[q >> 4];
            }
        }
    }
}
