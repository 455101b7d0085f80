#include "engine/cpu/get_rows.h"

#include "engine/util/error.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"

vkslm_status vkslm_cpu_get_rows(float *d, uint32_t type, const void *w, uint64_t k, uint64_t n_rows,
                                const int32_t *ids, uint64_t n_ids) {
    uint64_t rb = vkslm_type_row_bytes(type, k);
    if (rb == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "cpu get_rows: bad type %u or row length %llu", type,
                          (unsigned long long)k);
    for (uint64_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || (uint64_t)ids[i] >= n_rows)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "cpu get_rows: id %d outside %llu rows", ids[i],
                              (unsigned long long)n_rows);
        VKSLM_TRY(vkslm_dequantize_row(type, (const uint8_t *)w + (uint64_t)ids[i] * rb, d + i * k, k));
    }
    return VKSLM_OK;
}
