#include "engine/cpu/matmul.h"

#include <stdlib.h>

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
