/* Quantization of K-quant super-blocks (Q4_K, Q5_K, Q6_K).
 *
 * Each sub-block gets its scale (and min) from a small search: several candidate inverse scales around
 * levels/range are tried, each rounding gives quants L, and for those quants the weighted least-squares
 * scale (and min) is solved in closed form; the candidate with the smallest weighted squared error wins.
 * Weights are |x| + rms(super-block), which leans towards the large values without ignoring the small
 * ones. The sub-block scales are then themselves quantized (6 bits for Q4_K/Q5_K, 8 for Q6_K) against an
 * f16 super-scale, and the quants are recomputed with the scales as they will be decoded. */
#include <math.h>
#include <string.h>

#include "engine/util/half.h"
#include "loaders/quant_blocks.h"
#include "loaders/quant_impl.h"

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
/* Nearest integer, saturated far outside any quant range so huge inputs cannot overflow an int. */
static int round_int(float v) { return (int)lrintf(fmaxf(-1e9f, fminf(1e9f, v))); }

static void block_weights(const float *x, float *w) {
    double ss = 0;
    for (int i = 0; i < VKSLM_QK_K; i++)
        ss += (double)x[i] * x[i];
    float rms = (float)sqrt(ss / VKSLM_QK_K);
    for (int i = 0; i < VKSLM_QK_K; i++)
        w[i] = fabsf(x[i]) + rms;
}

/* ---- Q4_K / Q5_K: x = scale * q - min, q in 0..nmax ------------------------------------------- */

/* Finds scale >= 0 and min >= 0 (the value subtracted) for n elements; returns the scale. */
static float fit_scale_min(const float *x, const float *w, int n, int nmax, float *min_out) {
    float lo = x[0], hi = x[0];
    double sw = 0, swx = 0;
    for (int i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sw += w[i];
        swx += (double)w[i] * x[i];
    }
    if (lo > 0)
        lo = 0; /* the format's offset only subtracts: min >= 0 means the block's low end is <= 0 */
    if (hi == lo) {
        *min_out = -lo;
        return 0.0f;
    }
    float best_scale = (hi - lo) / (float)nmax, best_lo = lo;
    double best_err = INFINITY;
    for (int step = 0; step <= 20; step++) {
        float iscale = ((float)nmax - 1.0f + 0.1f * (float)step) / (hi - lo);
        double sl = 0, sll = 0, sxl = 0;
        int q[32];
        for (int i = 0; i < n; i++) {
            q[i] = clamp_int(round_int(iscale * (x[i] - lo)), 0, nmax);
            sl += w[i] * q[i];
            sll += (double)w[i] * q[i] * q[i];
            sxl += (double)w[i] * q[i] * x[i];
        }
        double det = sw * sll - sl * sl;
        if (det <= 0)
            continue;
        double scale = (sw * sxl - swx * sl) / det;
        double off = (sll * swx - sl * sxl) / det; /* x ~ scale * q + off */
        if (off > 0) {                             /* not representable: fix the offset at 0 */
            off = 0;
            scale = sll > 0 ? sxl / sll : 0;
        }
        double err = 0;
        for (int i = 0; i < n; i++) {
            double r = scale * q[i] + off - x[i];
            err += w[i] * r * r;
        }
        if (err < best_err) {
            best_err = err;
            best_scale = (float)scale;
            best_lo = (float)off;
        }
    }
    *min_out = -best_lo;
    return best_scale;
}

/* Quantizes one Q4_K/Q5_K super-block (nmax 15 or 31): fills d, dmin, the packed scales and q[256]. */
static void quant_k4_block(const float *x, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                           uint8_t scales[VKSLM_K_SCALE_BYTES], uint8_t q[VKSLM_QK_K]) {
    float w[VKSLM_QK_K], sub_scale[8], sub_min[8];
    block_weights(x, w);
    float max_scale = 0, max_min = 0;
    for (int s = 0; s < 8; s++) {
        sub_scale[s] = fit_scale_min(x + 32 * s, w + 32 * s, 32, nmax, &sub_min[s]);
        max_scale = sub_scale[s] > max_scale ? sub_scale[s] : max_scale;
        max_min = sub_min[s] > max_min ? sub_min[s] : max_min;
    }
    *d_out = vkslm_scale_to_f16(max_scale / 63.0f);
    *dmin_out = vkslm_scale_to_f16(max_min / 63.0f);
    float d = vkslm_f16_to_f32(*d_out), dmin = vkslm_f16_to_f32(*dmin_out);
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = (uint8_t)(d > 0 ? clamp_int(round_int(sub_scale[s] / d), 0, 63) : 0);
        mn[s] = (uint8_t)(dmin > 0 ? clamp_int(round_int(sub_min[s] / dmin), 0, 63) : 0);
    }
    for (int s = 0; s < 4; s++) {
        scales[s] = (uint8_t)(sc[s] | (sc[s + 4] >> 4) << 6);
        scales[s + 4] = (uint8_t)(mn[s] | (mn[s + 4] >> 4) << 6);
        scales[s + 8] = (uint8_t)((sc[s + 4] & 15) | (mn[s + 4] & 15) << 4);
    }
    for (int s = 0; s < 8; s++) {
        float scale = d * (float)sc[s], min = dmin * (float)mn[s];
        for (int l = 0; l < 32; l++) {
            int v = scale > 0 ? round_int((x[32 * s + l] + min) / scale) : 0;
            q[32 * s + l] = (uint8_t)clamp_int(v, 0, nmax);
        }
    }
}

/* Low nibbles of a Q4_K/Q5_K block: qs[32p + l] = q[64p + l] | q[64p + 32 + l] << 4. */
static void pack_k4_nibbles(const uint8_t q[VKSLM_QK_K], uint8_t qs[128]) {
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++)
            qs[32 * p + l] = (uint8_t)((q[64 * p + l] & 15) | (q[64 * p + 32 + l] & 15) << 4);
}

void vkslm_quant_q4_k(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += VKSLM_QK_K) {
        vkslm_block_q4_k b;
        uint8_t q[VKSLM_QK_K];
        uint16_t d, dmin;
        quant_k4_block(src, 15, &d, &dmin, b.scales, q);
        b.d = d;
        b.dmin = dmin;
        pack_k4_nibbles(q, b.qs);
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

void vkslm_quant_q5_k(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += VKSLM_QK_K) {
        vkslm_block_q5_k b;
        uint8_t q[VKSLM_QK_K];
        uint16_t d, dmin;
        quant_k4_block(src, 31, &d, &dmin, b.scales, q);
        b.d = d;
        b.dmin = dmin;
        pack_k4_nibbles(q, b.qs);
        memset(b.qh, 0, sizeof b.qh);
        for (int e = 0; e < VKSLM_QK_K; e++)
            b.qh[e % 32] |= (uint8_t)(((q[e] >> 4) & 1) << (e / 32));
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}

/* ---- Q6_K: x = scale * q, q in -32..31 --------------------------------------------------------- */

/* Best symmetric scale for 16 elements: the largest-magnitude element goes to about -32 (the wider
 * side); candidates stretch that by -0.9..+0.9 levels. Returns the scale (0 for an all-zero block). */
static float fit_scale_sym(const float *x, const float *w, int n) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax == 0)
        return 0.0f;
    float best_scale = max / -32.0f;
    double best = -1; /* maximise sxl^2 / sll, i.e. minimise the error at the optimal scale */
    for (int step = -9; step <= 9; step++) {
        float iscale = -(32.0f + 0.1f * (float)step) / max;
        double sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_int(iscale * x[i]), -32, 31);
            sxl += (double)w[i] * x[i] * l;
            sll += (double)w[i] * l * l;
        }
        if (sll > 0 && sxl * sxl / sll > best) {
            best = sxl * sxl / sll;
            best_scale = (float)(sxl / sll);
        }
    }
    return best_scale;
}

void vkslm_quant_q6_k(const float *src, uint8_t *dst, uint64_t n_blocks) {
    for (uint64_t i = 0; i < n_blocks; i++, src += VKSLM_QK_K) {
        vkslm_block_q6_k b;
        float w[VKSLM_QK_K], sub_scale[16];
        block_weights(src, w);
        float max_scale = 0, amax_scale = 0;
        for (int s = 0; s < 16; s++) {
            sub_scale[s] = fit_scale_sym(src + 16 * s, w + 16 * s, 16);
            if (fabsf(sub_scale[s]) > amax_scale) {
                amax_scale = fabsf(sub_scale[s]);
                max_scale = sub_scale[s];
            }
        }
        /* the largest scale maps to -128 (int8's wider side); d carries the sign */
        b.d = vkslm_scale_to_f16(max_scale / -128.0f);
        float d = vkslm_f16_to_f32(b.d);
        uint8_t q[VKSLM_QK_K];
        for (int s = 0; s < 16; s++) {
            b.scales[s] = (int8_t)(d != 0 ? clamp_int(round_int(sub_scale[s] / d), -128, 127) : 0);
            float scale = d * (float)b.scales[s];
            for (int l = 0; l < 16; l++) {
                int v = scale != 0 ? round_int(src[16 * s + l] / scale) : 0;
                q[16 * s + l] = (uint8_t)(clamp_int(v, -32, 31) + 32);
            }
        }
        memset(b.ql, 0, sizeof b.ql);
        memset(b.qh, 0, sizeof b.qh);
        for (int e = 0; e < VKSLM_QK_K; e++) {
            int h = e / 128, c = (e % 128) / 32, l = e % 32;
            int at = 64 * h + 32 * (c & 1) + l;
            b.ql[at] |= (uint8_t)(c < 2 ? q[e] & 15 : (q[e] & 15) << 4);
            b.qh[32 * h + l] |= (uint8_t)((q[e] >> 4) << (2 * c));
        }
        memcpy(dst + i * sizeof b, &b, sizeof b);
    }
}
