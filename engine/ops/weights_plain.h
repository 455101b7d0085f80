/* Weight products and row gathers for plain float weights (F32/F16/BF16) whose rows are not a multiple
 * of 32 elements (shaders/plain_rows.comp): the blocked kernels need whole 32-element units, tiny models
 * (stories260K's 172-wide FFN, 8-wide embeddings) do not have them. Shapes as engine/ops/matvec.h and
 * engine/ops/get_rows.h. */
#ifndef VKSLM_OPS_WEIGHTS_PLAIN_H
#define VKSLM_OPS_WEIGHTS_PLAIN_H
#include "engine/ops/tensor.h"

typedef struct vkslm_plain_push {
    uint32_t k, rows, w_half, row_halves, x_off, x_stride, n_vec, d_off, d_stride, b_off, has_bias, pad;
} vkslm_plain_push;
_Static_assert(sizeof(vkslm_plain_push) == 48, "must match shaders/plain_rows.comp");

/* True when w is a plain float matrix whose rows the blocked kernels cannot take. */
int vkslm_weights_need_plain(const vkslm_tensor *w);
vkslm_status vkslm_op_matvec_plain(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                   const vkslm_tensor *bias);
vkslm_status vkslm_op_get_rows_plain(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w,
                                     const vkslm_tensor *ids);
#endif
