/* Matrix x matrix (prefill) with weights of any supported type: d = x * w^T (+ bias), tensors as in
 * engine/ops/matvec.h (w: K x N any weight type; x: f32 K x M, 16-byte aligned; d: f32 N x M), any M and N,
 * K a multiple of 32 and of the block size. Two kernels:
 *   TILED: shaders/matmul.comp, 64 x 32 output tiles through shared memory (GPUs)
 *   REGISTER: shaders/matvec.comp with 8 tokens per invocation, no shared memory and no barriers (CPU
 *   devices such as lavapipe, where a workgroup barrier is expensive) */
#ifndef VKSLM_OPS_MATMUL_H
#define VKSLM_OPS_MATMUL_H
#include "engine/ops/tensor.h"

typedef enum vkslm_matmul_kernel {
    VKSLM_MATMUL_AUTO = 0,     /* REGISTER on CPU devices, TILED elsewhere */
    VKSLM_MATMUL_TILED = 1,
    VKSLM_MATMUL_REGISTER = 2,
} vkslm_matmul_kernel;

vkslm_status vkslm_op_matmul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias);
vkslm_status vkslm_op_matmul_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matmul_kernel kernel);
#endif
