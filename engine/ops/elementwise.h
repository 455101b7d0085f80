/* Elementwise ops on f32/f16 tensors (d and a of one element count, any shapes; types may differ):
 *   d = a + b        b broadcast over a: b's element count divides a's and element i uses b[i % nb]
 *   d = a * s
 *   d = cap * tanh(a / cap)   (logit soft-capping, gemma2; cap > 0)
 * Tensors of any size: work that exceeds the bindable storage range or the workgroup count limit is split
 * (a broadcast b larger than the range is split with a, period by period). */
#ifndef VKSLM_OPS_ELEMENTWISE_H
#define VKSLM_OPS_ELEMENTWISE_H

#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/elementwise.comp. */
typedef struct vkslm_elementwise_push {
    uint32_t reps, nb, a_off, b_off, d_off, pad0; /* a dispatch covers reps periods of nb elements */
    float scale;
    uint32_t pad1;
} vkslm_elementwise_push;
_Static_assert(sizeof(vkslm_elementwise_push) == 32, "must match shaders/elementwise.comp");

vkslm_status vkslm_op_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b);
vkslm_status vkslm_op_scale(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float s);
vkslm_status vkslm_op_softcap(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float cap);
#endif
