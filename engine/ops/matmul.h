/* Weight products d = x * w^T (+ bias), w of any weight type: decode's mat-vec and the prefill matmul,
 * one op that picks its kernel.
 *   w: ne[0] = K (elements per row), ne[1] = N (rows); any supported weight type (engine/ops/op.h);
 *      plain F32/F16/BF16 rows of any length, other types K a multiple of 32 and of the block size
 *   x: f32, ne[0] = K, ne[1] = M (vectors/tokens), 16-byte aligned
 *   d: f32, ne[0] = N, ne[1] = M                     d[m][n] = sum_k w[n][k] * x[m][k] + bias[n]
 *   bias: NULL or f32 with N elements
 * Kernels:
 *   ROW_PER_LANE     shaders/matmul_vec.comp, each invocation whole rows, up to 8 vectors sharing every decoded
 *                    weight block (more in groups of 8, one dispatch); no shared memory, no barriers
 *   ROW_PER_SUBGROUP shaders/matmul_vec.comp, a subgroup per row reduced with subgroupAdd
 *   TILED            shaders/matmul.comp, 64 x 32 output tiles through shared memory
 *   (plain rows that are no multiple of 32 elements: shaders/matmul_plain.comp, a row per invocation)
 * AUTO, decided here from the device: up to 8 vectors ROW_PER_LANE on CPU devices (lavapipe) or without
 * subgroup arithmetic, ROW_PER_SUBGROUP elsewhere; more vectors ROW_PER_LANE on CPU devices, where a
 * workgroup barrier is expensive (measured on lavapipe: the register kernel 7.8 vs 4.2 GFLOP/s), TILED
 * elsewhere. Weights larger than the bindable range are split by rows, x and d by tokens. */
#ifndef VKSLM_OPS_MATMUL_H
#define VKSLM_OPS_MATMUL_H
#include "engine/ops/tensor.h"

typedef enum vkslm_matmul_kernel {
    VKSLM_MATMUL_AUTO = 0,
    VKSLM_MATMUL_ROW_PER_LANE = 1,
    VKSLM_MATMUL_ROW_PER_SUBGROUP = 2,
    VKSLM_MATMUL_TILED = 3,
} vkslm_matmul_kernel;

#define VKSLM_MATMUL_MAX_VEC 8 /* vectors one pass of the mat-vec kernel takes */

/* Push constants of shaders/matmul_vec.comp and shaders/matmul.comp (declared identically in both). */
typedef struct vkslm_product_push {
    uint32_t units, rows, row_bytes, w_off;
    uint32_t x_off, x_stride, n_vec, d_off;
    uint32_t d_stride, b_off, has_bias, pad;
    uint32_t g_off; /* matmul_vec.comp only (g_off, eps: the fusions below); matmul.comp stops at pad */
    float eps;
    uint32_t tile;  /* rows per tile of w (vkslm_tensor.tile; 1: row after row) */
    uint32_t fuse;  /* texel variants: 2 add (the norm is the spec constant NORM_ON; bit 1 unused) */
    uint32_t q_off, q_stride, r_first;       /* texel variants: x8_out (vkslm_matmul_fuse) */
    uint32_t xf_off, xf_stride, go_off, pad2, pad3; /* texel variants: norm_x, x8_g */
} vkslm_product_push;
_Static_assert(sizeof(vkslm_product_push) == 96, "must match shaders/matmul_vec.comp (matmul.comp reads the first 48 "
                                                 "bytes)");

/* Push constants of shaders/matmul_plain.comp. */
typedef struct vkslm_plain_push {
    uint32_t k, rows, w_half, row_halves, x_off, x_stride, n_vec, d_off, d_stride, b_off, has_bias, pad;
} vkslm_plain_push;
_Static_assert(sizeof(vkslm_plain_push) == 48, "must match shaders/matmul_plain.comp");

vkslm_status vkslm_op_matmul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias);
/* The same with a forced kernel and, for the mat-vec kernels, at most max_vec (1..8, 0: 8) vectors per pass
 * (tests and measurements). Plain rows take their own kernel whatever is asked. */
vkslm_status vkslm_op_matmul_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matmul_kernel kernel, uint32_t max_vec);
/* d = (act(gate) * up) w^T: the feed-forward's gated activation (act = SiLU, or GELU's tanh form when gelu;
 * the formulas of shaders/act.comp) fused into the down product's x loads, so no activation pass runs and no
 * intermediate rows are written. gu: f32 (2K, M), each row [gate (K) | up (K)], K a multiple of 4; w (K, N).
 * Only the texel mat-vec kernel (CPU devices with texel buffers) has it: vkslm_op_matmul_glu_fusable says
 * whether it takes this weight; elsewhere VKSLM_ERR_UNSUPPORTED. max_vec as for vkslm_op_matmul_ex. */
int vkslm_op_matmul_glu_fusable(vkslm_vk *vk, const vkslm_tensor *w);
vkslm_status vkslm_op_matmul_glu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *gu,
                                 int gelu, uint32_t max_vec);

/* What the texel mat-vec kernel fuses into a product (vkslm_op_matmul_glu_fusable says where it runs; elsewhere
 * VKSLM_ERR_UNSUPPORTED), each one dispatch fewer:
 *   norm: x read as the RMS norm of its rows times norm (f32, K elements): x * norm / sqrt(mean(x^2) + eps),
 *         the mean over each row of x (engine/cpu/norm.c's formula; the sums' order differs);
 *   add:  d += the product (d is the residual stream; each element read and written by one invocation);
 *   glu:  0, or as vkslm_op_matmul_glu (1 SwiGLU, 2 GeGLU); not with norm;
 *   glu_out: 0, or 1 SwiGLU / 2 GeGLU of the output: w's rows are [gate (N) | up (N)] and d (N, M) gets
 *         act(x gate^T) * (x up^T), the activation computed once per element (vkslm_op_matmul_glu_out_fusable
 *         says where); with norm, not with glu, add or a bias.
 *   d_stride: 0, or the elements between consecutive rows of d (at least d's N): d's rows land inside wider rows,
 *         e.g. q, k and v of different types into the rows of a fused projection's output.
 *   x8_out: NULL, or an x8 tensor (below) that also gets d's rows (with glu_out the activation) in 8 bits: the
 *         input of a product whose weight vkslm_op_matmul_x8_type takes (d's N a multiple of 32); with x8_g (f32,
 *         N elements, 16-byte aligned) d's rows times x8_g: the input of a product with that norm fused;
 *   norm_x: with norm and x in 8 bits (x holding norm's input times norm's weights so), that input as floats (f32
 *         rows of K, 16-byte aligned) for each row's mean of squares.
 * A row's result never depends on the other rows of x (a batch gets bit for bit what each row gets alone). */
typedef struct vkslm_matmul_fuse {
    const vkslm_tensor *norm;
    float eps;
    int add;
    uint32_t glu, glu_out;
    uint64_t d_stride;
    const vkslm_tensor *x8_out, *x8_g, *norm_x;
} vkslm_matmul_fuse;

/* x in 8 bits (texel kernel): rows of K elements, a multiple of 32, stored as pairs of vectors. An I32 tensor of
 * ne[0] = vkslm_x8_pair_ints(K) and ne[1] = pairs, 16-byte aligned; pair p holds vectors 2p and 2p + 1 (an odd
 * last vector: 0 in its pair's second place), unit g (elements 32g .. 32g + 31) in 36 integers:
 *   [e]      x[2p][32g + e] / dx[2p] + 65536 * x[2p + 1][32g + e] / dx[2p + 1], each rounded to -127..127 (e < 32)
 *   [32, 33] the bits of dx[2p], dx[2p + 1] (f32): the unit's largest magnitude / 127
 *   [34, 35] 0
 * As vkslm_cpu_quantize_x8 (engine/cpu/matmul.h) writes it. A product takes such an x (an I32 tensor as x) where
 * vkslm_op_matmul_x8_type says; each vector's unit is then summed in integers (exactly) and scaled by its dx:
 * a product's row still never depends on the other vectors. Not with glu; with norm see norm_x above. */
static inline uint64_t vkslm_x8_pair_ints(uint64_t k) { return k / 32 * 36; }
static inline uint64_t vkslm_x8_pairs(uint64_t m) { return (m + 1) / 2; }
/* q (I32 {vkslm_x8_pair_ints(K), vkslm_x8_pairs(m)}) = the rows of x (F32 {K, m}, K a multiple of 32, 16-byte
 * aligned) in 8 bits: what vkslm_cpu_quantize_x8 writes, rounded as the products that write 8 bits round (the same
 * bits for the same floats on a device), for a product taking x so where no producer writes it. With g (F32, K or
 * more, 16-byte aligned; NULL: none) each row is multiplied by g first, as a producer's x8_g. */
vkslm_status vkslm_op_quantize_x8(vkslm_cmd *c, const vkslm_tensor *q, const vkslm_tensor *x, const vkslm_tensor *g);
/* Whether products with weight w take x in 8 bits on this device (Q4_0, Q4_1, Q4_K, Q5_0, Q5_1 and Q6_K weights in
 * the texel kernel; not with VKSLM_DISABLE_X8). */
int vkslm_op_matmul_x8_type(vkslm_vk *vk, const vkslm_tensor *w);
/* Whether the texel kernel takes w (rows [gate | up], the up rows starting a tile) with glu_out. */
int vkslm_op_matmul_glu_out_fusable(vkslm_vk *vk, const vkslm_tensor *w);
/* Whether the texel kernel takes w with norm's weights fused (f32, w's K elements, 16-byte aligned: texels). */
int vkslm_op_matmul_norm_fusable(vkslm_vk *vk, const vkslm_tensor *w, const vkslm_tensor *norm);
vkslm_status vkslm_op_matmul_fused(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                   const vkslm_tensor *bias, const vkslm_matmul_fuse *f, uint32_t max_vec);
#endif
