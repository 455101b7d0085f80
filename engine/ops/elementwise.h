/* Elementwise ops on f32/f16 tensors: d = a + b, d = a * b (b broadcast over a: b's element count
 * divides a's and element i uses b[i % nb]), d = a * s, d = a (converting type), d = cap tanh(a / cap). Tensors of any size:
 * ops split work that exceeds the bindable storage range or the workgroup count limit. */
#ifndef VKSLM_OPS_ELEMENTWISE_H
#define VKSLM_OPS_ELEMENTWISE_H

#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/elementwise.comp. */
typedef struct vkslm_elementwise_push {
    uint32_t n, nb, a_off, b_off, d_off, b_phase;
    float scale;
    uint32_t pad;
} vkslm_elementwise_push;
_Static_assert(sizeof(vkslm_elementwise_push) == 32, "must match shaders/elementwise.comp");

vkslm_status vkslm_op_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b);
vkslm_status vkslm_op_mul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b);
vkslm_status vkslm_op_scale(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float s);
vkslm_status vkslm_op_copy(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a);
/* d = cap * tanh(a / cap) (logit soft-capping, gemma2); cap > 0 */
vkslm_status vkslm_op_softcap(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float cap);
#endif
