#include "engine/cpu/matmul.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/error.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"

vkslm_status vkslm_cpu_matmul(float *d, uint32_t type, const void *w, const float *x, const float *bias,
                              uint64_t k, uint64_t n_rows, uint64_t m) {
    uint64_t rb = vkslm_type_row_bytes(type, k);
    if (rb == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "cpu matmul: bad type %u or row length %llu", type,
                          (unsigned long long)k);
    float *row = malloc(k * sizeof *row);
    if (!row)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "cpu matmul: out of memory");
    for (uint64_t n = 0; n < n_rows; n++) {
        vkslm_status st = vkslm_dequantize_row(type, (const uint8_t *)w + n * rb, row, k);
        if (st != VKSLM_OK) {
            free(row);
            return st;
        }
        for (uint64_t j = 0; j < m; j++) {
            const float *xj = x + j * k;
            double acc = bias ? bias[n] : 0.0;
            for (uint64_t i = 0; i < k; i++)
                acc += (double)row[i] * xj[i];
            d[j * n_rows + n] = (float)acc;
        }
    }
    free(row);
    return VKSLM_OK;
}

void vkslm_cpu_quantize_x8(int32_t *q, const float *x, uint64_t k, uint64_t m) {
    const uint64_t units = k / 32, row = units * 36;
    memset(q, 0, (m + 1) / 2 * row * sizeof *q);
    for (uint64_t v = 0; v < m; v++)
        for (uint64_t g = 0; g < units; g++) {
            const float *xu = x + v * k + g * 32;
            int32_t *qu = q + v / 2 * row + g * 36;
            float a = 0.0f;
            for (int e = 0; e < 32; e++)
                a = fmaxf(a, fabsf(xu[e]));
            float dx = a / 127.0f, inv = a > 0.0f ? 127.0f / a : 0.0f;
            for (int e = 0; e < 32; e++) {
                int32_t r = (int32_t)nearbyintf(xu[e] * inv);
                qu[e] = (int32_t)((uint32_t)qu[e] + (v % 2 ? (uint32_t)r << 16 : (uint32_t)r));
            }
            memcpy(&qu[32 + v % 2], &dx, sizeof dx);
        }
}

void vkslm_cpu_dequantize_x8(float *x, const int32_t *q, uint64_t k, uint64_t m) {
    const uint64_t units = k / 32, row = units * 36;
    for (uint64_t v = 0; v < m; v++)
        for (uint64_t g = 0; g < units; g++) {
            const int32_t *qu = q + v / 2 * row + g * 36;
            float dx;
            memcpy(&dx, &qu[32 + v % 2], sizeof dx);
            for (int e = 0; e < 32; e++) {
                int32_t lo = (int32_t)(int16_t)(uint16_t)((uint32_t)qu[e] & 0xffffu);
                int32_t val = v % 2 ? (int32_t)(((int64_t)qu[e] - lo) / 65536) : lo;
                x[v * k + g * 32 + e] = dx * (float)val;
            }
        }
}
