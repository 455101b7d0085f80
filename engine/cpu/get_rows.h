/* Plain-C reference of the embedding lookup (the oracle for engine/ops/get_rows.c: shaders/get_rows*.comp):
 * rows of any weight type dequantized with vkslm_dequantize_row. */
#ifndef VKSLM_CPU_GET_ROWS_H
#define VKSLM_CPU_GET_ROWS_H
#include <stdint.h>

#include "vkslm.h"

/* d[i][0..k) = row ids[i] of w (n_rows rows of k elements of `type`), dequantized; an id outside
 * [0, n_rows) is refused. */
vkslm_status vkslm_cpu_get_rows(float *d, uint32_t type, const void *w, uint64_t k, uint64_t n_rows,
                                const int32_t *ids, uint64_t n_ids);
#endif
