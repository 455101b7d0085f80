/* Embedding lookup from a weight matrix of any supported type (engine/ops/op.h), dequantizing:
 *   w: ne[0] = K, ne[1] = N rows (plain F32/F16/BF16 rows of any length; other types K a multiple of 32
 *      and of the block size)
 *   ids: I32 (VKSLM_TYPE_I32), n ids, 4-byte aligned
 *   d: f32, ne[0] = K, ne[1] = n        d[i] = w[ids[i]]; an id outside [0, N) gives a row of zeros
 * Matrices larger than the bindable range are bound in row chunks (one dispatch each); plain matrices
 * whose rows are no multiple of 32 elements (tiny models) must fit one binding. */
#ifndef VKSLM_OPS_GET_ROWS_H
#define VKSLM_OPS_GET_ROWS_H
#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/get_rows.comp. */
typedef struct vkslm_get_rows_push {
    uint32_t units, row_bytes, w_off, r0;
    uint32_t rows, n_total, ids_off, n_ids;
    uint32_t d_off, tile, pad1, pad2;
} vkslm_get_rows_push;
_Static_assert(sizeof(vkslm_get_rows_push) == 48, "must match shaders/get_rows.comp");

vkslm_status vkslm_op_get_rows(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *ids);
#endif
