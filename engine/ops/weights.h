/* Shared by the weight-reading ops (matvec, matmul, get_rows): which weight types the shaders decode, the
 * variant name of a type, and binding a range of weight rows as raw words (shaders/quant_blocks.glsl). */
#ifndef VKSLM_OPS_WEIGHTS_H
#define VKSLM_OPS_WEIGHTS_H
#include "engine/ops/tensor.h"

/* True when the weight kernels decode `type` (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS). */
int vkslm_weights_supported(uint32_t type);

/* Writes "<op>_<type>" (lower case, e.g. "matvec_q4_k") into buf. */
void vkslm_weights_variant(char *buf, size_t cap, const char *op, uint32_t type);

/* Checks a weight matrix w (ne[0] = K elements per row, ne[1] = rows): a supported type, K a multiple of
 * 32 and of the block size, an offset the word reader can use. Sets *row_bytes. */
vkslm_status vkslm_weights_check(const char *op, const vkslm_tensor *w, uint64_t *row_bytes);

/* Binds rows [r0, r0 + n) of w (row_bytes each) as words; *skip_bytes is the byte offset of row r0 inside
 * the binding. */
vkslm_status vkslm_weights_bind_rows(vkslm_vk *vk, const vkslm_tensor *w, uint64_t row_bytes, uint64_t r0,
                                     uint64_t n, vkslm_binding *out, uint32_t *skip_bytes);

/* How many rows of row_bytes fit in one binding (at least 1 or VKSLM_ERR_LIMIT via *n == 0). */
uint64_t vkslm_weights_rows_per_binding(const vkslm_vk *vk, uint64_t row_bytes);

/* The shape of d = x * w^T (+ bias): see engine/ops/matvec.h for the tensor conventions. */
typedef struct vkslm_product_shape {
    uint64_t k, n, m;     /* K (reduction), N (weight rows), M (vectors/tokens) */
    uint64_t row_bytes;   /* bytes of one weight row */
} vkslm_product_shape;
/* Checks the operands of a weight product (w any weight type; x, d, bias f32; x 16-byte aligned). */
vkslm_status vkslm_weights_check_product(const char *op, const vkslm_tensor *d, const vkslm_tensor *w,
                                         const vkslm_tensor *x, const vkslm_tensor *bias, vkslm_product_shape *s);

/* Push constants of shaders/matvec.comp and shaders/matmul.comp (declared identically in both). */
typedef struct vkslm_product_push {
    uint32_t units, rows, row_bytes, w_off;
    uint32_t x_off, x_stride, n_vec, d_off;
    uint32_t d_stride, b_off, has_bias, pad;
} vkslm_product_push;
_Static_assert(sizeof(vkslm_product_push) == 48, "must match shaders/matvec.comp and matmul.comp");

/* Records a product with pipeline p (bindings: weights, x, d, bias) in chunks: tokens so that x and d fit
 * the bindable range, weight rows so that they fit it too; a workgroup covers rows_per_wg rows and
 * toks_per_wg tokens (group counts x and y). */
vkslm_status vkslm_weights_record_product(vkslm_cmd *c, const vkslm_pipeline *p, const vkslm_tensor *d,
                                          const vkslm_tensor *w, const vkslm_tensor *x, const vkslm_tensor *bias,
                                          const vkslm_product_shape *s, uint32_t rows_per_wg, uint32_t toks_per_wg,
                                          const char *label);
#endif
