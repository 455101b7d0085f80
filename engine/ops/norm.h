/* RMS normalisation of f32 rows: a and d have ne {n, rows...}; w (optional, NULL) is f32 [n] and applies
 * to every row. d may be a itself. Rows are split across dispatches when they exceed the bindable range
 * or the workgroup count limit (one row must fit the range). */
#ifndef VKSLM_OPS_NORM_H
#define VKSLM_OPS_NORM_H

#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/norm.comp. */
typedef struct vkslm_norm_push {
    uint32_t n, a_off, d_off, w_off, r_off, flags;
    float eps;
    uint32_t pad;
} vkslm_norm_push;
_Static_assert(sizeof(vkslm_norm_push) == 32, "must match shaders/norm.comp");

/* d = a / sqrt(mean(a^2) + eps) (* w) */
vkslm_status vkslm_op_rms_norm(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *w,
                               float eps);
/* a += r (the residual add, written back), then d = rms_norm(a) (* w): two ops in one dispatch. r and
 * d have a's shape; d may be r. */
vkslm_status vkslm_op_rms_norm_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *r,
                                   const vkslm_tensor *w, float eps);
#endif
