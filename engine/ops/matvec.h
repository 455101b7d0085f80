/* Matrix x vectors with weights of any type (engine/ops/weights.h): decode's mat-vec, and the
 * register-tiled matmul that needs no shared memory (what CPU devices such as lavapipe prefer).
 *   w: ne[0] = K (elements per row), ne[1] = N (rows); any supported weight type
 *   x: f32, ne[0] = K, ne[1] = M (vectors/tokens), 16-byte aligned offset
 *   d: f32, ne[0] = N, ne[1] = M                     d[m][n] = sum_k w[n][k] * x[m][k] + bias[n]
 *   bias: NULL or f32 with N elements
 * Up to 8 vectors share each decoded weight block in one pass; more are handled in groups of 8 (still
 * one dispatch). Weights larger than the bindable range are split by rows into several dispatches. */
#ifndef VKSLM_OPS_MATVEC_H
#define VKSLM_OPS_MATVEC_H
#include "engine/ops/tensor.h"

/* Push constants: vkslm_product_push in engine/ops/weights.h. */
typedef enum vkslm_matvec_strategy {
    VKSLM_MATVEC_AUTO = 0,             /* the faster one for the device: row per lane on CPUs */
    VKSLM_MATVEC_ROW_PER_LANE = 1,     /* each invocation one whole row; no reduction */
    VKSLM_MATVEC_ROW_PER_SUBGROUP = 2, /* a subgroup per row, subgroupAdd reduction */
} vkslm_matvec_strategy;

#define VKSLM_MATVEC_MAX_VEC 8

vkslm_status vkslm_op_matvec(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias);
/* The same with a forced strategy and at most max_vec (1..8) vectors per pass (0: 8). */
vkslm_status vkslm_op_matvec_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matvec_strategy strategy, uint32_t max_vec);
#endif
