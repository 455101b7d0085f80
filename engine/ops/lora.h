/* LoRA's scatter-add (shaders/lora_scatter_add.comp): the scaled product of an adapter, computed for the
 * gathered rows of the tokens that use it, added back into their rows of a projection's output:
 *   t:      f32, ne[0] = cols, ne[1] = rows          the adapter's product B (A x) of the gathered rows
 *   ids:    I32, rows ids                            the output row of each gathered row
 *   scales: f32, rows values                         each row's user scale
 *   d:      f32, ne[0] = the projection's width, ne[1] = its rows; the slice [col, col + cols) of each row
 *           receives  d[ids[r]][col + c] += mul * scales[r] * t[r][c]
 * d is bound whole (rows are addressed through ids), so it must fit one binding. */
#ifndef VKSLM_OPS_LORA_H
#define VKSLM_OPS_LORA_H
#include "engine/ops/tensor.h"

/* Push constants, declared identically in shaders/lora_scatter_add.comp. */
typedef struct vkslm_lora_push {
    uint32_t rows, cols, t_off, t_stride;
    uint32_t ids_off, sc_off, d_off, d_stride;
    uint32_t col0;
    float mul;
    uint32_t pad0, pad1;
} vkslm_lora_push;
_Static_assert(sizeof(vkslm_lora_push) == 48, "must match shaders/lora_scatter_add.comp");

vkslm_status vkslm_op_lora_scatter_add(vkslm_cmd *c, const vkslm_tensor *d, uint64_t col, const vkslm_tensor *t,
                                       const vkslm_tensor *ids, const vkslm_tensor *scales, float mul);
#endif
