/* Gated activations over f32 rows: d = act(gate) * up, act = silu (SwiGLU) or gelu in its tanh form
 * (GeGLU), with d, gate, up of ne {n_ff, rows...}; with up == NULL, gate is one fused tensor of ne
 * {2 * n_ff, rows...} whose rows hold [gate | up] (phi3, and every model's fused gate|up projection).
 * d may be gate. Rows are split across dispatches by the bindable range and the workgroup count limit. */
#ifndef VKSLM_OPS_ACT_H
#define VKSLM_OPS_ACT_H

#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/act.comp. */
typedef struct vkslm_act_push {
    uint32_t n, rows, g_off, u_off, d_off, g_stride, u_stride, d_stride;
} vkslm_act_push;
_Static_assert(sizeof(vkslm_act_push) == 32, "must match shaders/act.comp");

vkslm_status vkslm_op_swiglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up);
vkslm_status vkslm_op_geglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up);
#endif
