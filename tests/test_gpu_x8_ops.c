/* Products with x in 8 bits (engine/ops/matmul.h, vkslm_x8; the texel mat-vec of CPU devices, 4- to 6-bit weights):
 *   - taking x so: against engine/cpu's product of the same x (vkslm_cpu_quantize_x8, then dequantized), plain, with
 *     the residual add and a bias, with the norm fused (x holding x * g so, the mean of squares from x as floats), in
 *     GGUF's rows and in tiles of 32 rows, 1 to 11 vectors (pairs and an odd last vector, one pass and two); each
 *     vector's result bit for bit what it gets alone;
 *   - writing its output so (the gated activation's, and the residual stream times the next norm's weights):
 *     against vkslm_cpu_quantize_x8 of the floats the same dispatch stored;
 *   - refused for other weight types, without texel buffers, with VKSLM_DISABLE_X8, and for arguments that make
 *     no sense, the device still working after. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/matmul.h"
#include "engine/cpu/norm.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

#define F32 VKSLM_TYPE_F32
#define I32 VKSLM_TYPE_I32
#define Q4_0 VKSLM_TYPE_Q4_0
#define EPS 1e-5f

/* x (m rows of k) in 8 bits as a device tensor */
static ot_tensor x8_tensor(vkslm_vk *vk, const int32_t *q, uint64_t k, uint64_t m) {
    return ot_raw(vk, q, vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4, I32, vkslm_x8_pair_ints(k),
                  vkslm_x8_pairs(m), 16);
}

typedef struct in_case {
    uint32_t type;
    uint64_t k, n, m;
    uint32_t tile;
    int norm, add, bias;
} in_case;

/* Runs the product of vectors [v0, v0 + m) of xs (floats, k each; its 8 bits: of xs * g with the norm) into out */
static vkslm_status run_in(vkslm_vk *vk, const in_case *ic, const ot_tensor *tw, const float *xs, const float *g,
                           const ot_tensor *tg, const ot_tensor *tb, const float *d0, uint64_t v0, uint64_t m,
                           float *out, const char *what) {
    const uint64_t k = ic->k, n = ic->n;
    float *xg = malloc(k * m * 4);
    int32_t *q = malloc(vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4);
    CU_ASSERT_FATAL(xg && q);
    for (uint64_t i = 0; i < k * m; i++)
        xg[i] = xs[v0 * k + i] * (ic->norm ? g[i % k] : 1.0f);
    vkslm_cpu_quantize_x8(q, xg, k, m);
    ot_tensor tq = x8_tensor(vk, q, k, m), tx = ot_floats(vk, xs + v0 * k, F32, k, m, 1, 32);
    ot_tensor td = ic->add ? ot_floats(vk, d0 + v0 * n, F32, n, m, 1, 4) : ot_out(vk, F32, n, m, 1, 4);
    const vkslm_matmul_fuse f = {.norm = ic->norm ? &tg->t : NULL, .eps = EPS, .add = ic->add,
                                 .norm_x = ic->norm ? &tx.t : NULL};
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, &td.t, &tw->t, &tq.t, ic->bias ? &tb->t : NULL, &f, 0);
    if (ot_submit(c, st, what) == VKSLM_OK && !ot_read(vk, &td, out, n * m, what))
        st = VKSLM_ERR_DEVICE_LOST; /* poison touched: the caller only compares with OK */
    ot_free(vk, &tq), ot_free(vk, &tx), ot_free(vk, &td);
    free(xg), free(q);
    return st;
}

/* w_in, x_in: the weights (n rows) and x (m vectors) to take, else random ones */
static void check_in(vkslm_vk *vk, const in_case *ic, uint64_t salt, const uint8_t *w_in, const float *x_in) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint64_t k = ic->k, n = ic->n, m = ic->m;
    uint8_t *w = test_random_weights(&r, ic->type, n, k);
    if (w_in)
        memcpy(w, w_in, vkslm_type_row_bytes(ic->type, k) * n);
    float *x = malloc(k * m * 4), *g = malloc(k * 4), *bias = malloc(n * 4), *d0 = malloc(n * m * 4);
    float *xd = malloc(k * m * 4), *ref = malloc(n * m * 4), *out = malloc(n * m * 4), *alone = malloc(n * 4);
    int32_t *q = malloc(vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4);
    CU_ASSERT_FATAL(w && x && g && bias && d0 && xd && ref && out && alone && q);
    test_random_floats(&r, x, k * m, -4.0f, 4.0f, F32);
    for (uint64_t v = 1; v < m; v += 3) /* vectors of very different scales */
        for (uint64_t i = 0; i < k; i++)
            x[v * k + i] *= v % 2 ? 100.0f : 0.01f;
    for (uint64_t i = 0; i < k; i += 7) /* and units of them (the scale is a unit's) */
        x[i] *= 50.0f;
    if (x_in)
        memcpy(x, x_in, k * m * 4);
    test_random_floats(&r, g, k, 0.5f, 1.5f, F32);
    test_random_floats(&r, bias, n, -1.0f, 1.0f, F32);
    test_random_floats(&r, d0, n * m, -3.0f, 3.0f, F32);
    /* the reference: engine/cpu's product of the 8-bit x (times g), then the norm's scale, bias and add */
    for (uint64_t i = 0; i < k * m; i++)
        xd[i] = x[i] * (ic->norm ? g[i % k] : 1.0f);
    vkslm_cpu_quantize_x8(q, xd, k, m);
    vkslm_cpu_dequantize_x8(xd, q, k, m);
    CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, ic->type, w, xd, NULL, k, n, m) == VKSLM_OK);
    for (uint64_t v = 0; v < m; v++) {
        double ss = 0.0;
        for (uint64_t i = 0; i < k; i++)
            ss += (double)x[v * k + i] * x[v * k + i];
        const double scale = ic->norm ? 1.0 / sqrt(ss / (double)k + EPS) : 1.0;
        for (uint64_t j = 0; j < n; j++)
            ref[v * n + j] = (float)(ref[v * n + j] * scale + (ic->bias ? bias[j] : 0.0f) + (ic->add ? d0[v * n + j] : 0.0f));
    }
    ot_tensor tw = ot_weights(vk, w, ic->type, k, n, ic->tile);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 48), tb = ot_floats(vk, bias, F32, n, 1, 1, 4);
    char what[128];
    snprintf(what, sizeof what, "x8 in %s%s%s%s k=%llu n=%llu m=%llu tile=%u", vkslm_type_info(ic->type)->name,
             ic->norm ? " norm" : "",
             ic->add ? " add" : "", ic->bias ? " bias" : "", (unsigned long long)k, (unsigned long long)n,
             (unsigned long long)m, ic->tile);
    CU_ASSERT_EQUAL(vkslm_op_matmul_x8_type(vk, &tw.t), 1);
    CU_ASSERT_EQUAL_FATAL(run_in(vk, ic, &tw, x, g, &tg, &tb, d0, 0, m, out, what), VKSLM_OK);
    ot_check("x8 in", test_nmse(out, ref, n * m), 1e-10, what);
    const uint64_t vs[2] = {0, m - 1}; /* the first and the last vector alone: the same bits as in the batch */
    for (int i = 0; i < (m > 1 ? 2 : 0); i++) {
        CU_ASSERT_EQUAL(run_in(vk, ic, &tw, x, g, &tg, &tb, d0, vs[i], 1, alone, what), VKSLM_OK);
        int same = memcmp(alone, out + vs[i] * n, n * 4) == 0;
        CU_ASSERT(same);
        if (!same)
            printf("\n  %s: vector %llu alone differs from the batch\n", what, (unsigned long long)vs[i]);
    }
    ot_free(vk, &tw), ot_free(vk, &tg), ot_free(vk, &tb);
    free(w), free(x), free(g), free(bias), free(d0), free(xd), free(ref), free(out), free(alone), free(q);
}

/* The gated activation's product (rows [gate | up], norm fused) and the residual add (times the next norm's weights
 * g2) writing their outputs in 8 bits too */
static void check_out(vkslm_vk *vk, uint64_t k, uint64_t n_out, uint64_t m, int glu, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint64_t rows = glu ? 2 * n_out : n_out, qints = vkslm_x8_pair_ints(n_out) * vkslm_x8_pairs(m);
    uint8_t *w = test_random_weights(&r, Q4_0, rows, k);
    float *x = malloc(k * m * 4), *g = malloc(k * 4), *g2 = malloc(n_out * 4), *d0 = malloc(n_out * m * 4);
    float *d = malloc(n_out * m * 4);
    int32_t *q = malloc(qints * 4);
    CU_ASSERT_FATAL(w && x && g && g2 && d0 && d && q);
    test_random_floats(&r, x, k * m, -2.0f, 2.0f, F32);
    test_random_floats(&r, g, k, 0.5f, 1.5f, F32);
    test_random_floats(&r, g2, n_out, -1.5f, 1.5f, F32);
    test_random_floats(&r, d0, n_out * m, -3.0f, 3.0f, F32);
    ot_tensor tw = ot_weights(vk, w, Q4_0, k, rows, 32), tx = ot_floats(vk, x, F32, k, m, 1, 16);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 16), tg2 = ot_floats(vk, g2, F32, n_out, 1, 1, 32);
    ot_tensor td = glu ? ot_out(vk, F32, n_out, m, 1, 4) : ot_floats(vk, d0, F32, n_out, m, 1, 4);
    ot_tensor tq = ot_out(vk, I32, vkslm_x8_pair_ints(n_out), vkslm_x8_pairs(m), 1, 16);
    const vkslm_matmul_fuse f = glu ? (vkslm_matmul_fuse){.norm = &tg.t, .eps = EPS, .glu_out = 1, .x8_out = &tq.t}
                                    : (vkslm_matmul_fuse){.add = 1, .x8_out = &tq.t, .x8_g = &tg2.t};
    char what[96];
    snprintf(what, sizeof what, "x8 out %s k=%llu n=%llu m=%llu", glu ? "glu" : "add", (unsigned long long)k,
             (unsigned long long)n_out, (unsigned long long)m);
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, &td.t, &tw.t, &tx.t, NULL, &f, 0);
    CU_ASSERT_EQUAL_FATAL(ot_submit(c, st, what), VKSLM_OK);
    CU_ASSERT_FATAL(ot_read(vk, &td, d, n_out * m, what));
    CU_ASSERT_FATAL(ot_read(vk, &tq, q, qints, what));
    ot_check_x8(q, d, glu ? NULL : g2, n_out, m, what);
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &tg), ot_free(vk, &tg2), ot_free(vk, &td), ot_free(vk, &tq);
    free(w), free(x), free(g), free(g2), free(d0), free(d), free(q);
}

static void test_x8_in(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    if (!vkslm_vk_get_enabled(vk)->x8_products) /* a GPU: nothing takes x in 8 bits (refusals: below) */
        return;
    printf("(subgroup size %u) ", vkslm_vk_get_caps(vk)->subgroup_size);
    static const uint32_t types[] = {Q4_0, VKSLM_TYPE_Q4_K, VKSLM_TYPE_Q5_0, VKSLM_TYPE_Q4_1, VKSLM_TYPE_Q5_1, VKSLM_TYPE_Q6_K};
    static const uint64_t ms[] = {1, 11, 2, 8, 5};
    const size_t nt = test_quick() ? 3 : sizeof types / sizeof *types, nm = test_quick() ? 2 : sizeof ms / sizeof *ms;
    uint64_t salt = 1;
    for (size_t t = 0; t < nt; t++)
        for (size_t mi = 0; mi < nm; mi++)
            for (int mode = 0; mode < 3; mode++) {
                const int k256 = vkslm_type_info(types[t])->block_elems == 256;
                in_case ic = {.type = types[t], .k = k256 ? (mode == 2 ? 512 : 256) : mode == 2 ? 576 : 96,
                              .n = mi % 2 ? 37 : 64, .m = ms[mi], .tile = mode ? 32 : 1, .norm = mode == 1,
                              .add = mode == 2, .bias = mode == 0};
                if (ic.tile > 1)
                    ic.n = 96;
                check_in(vk, &ic, salt++, NULL, NULL);
            }
    ot_report();
    test_gpu_assert_clean(vk);
}

/* The largest sums a unit's integers hold: every quant of a row at its least centred value (-8, -16 for 5-bit
 * quants, -32 for 6-bit ones; d = 1, m = 0, Q6_K's scales 1), or at its greatest, against x at 127 in one vector of each pair and -127 in the other (the
 * low half's sign carries into the high one), and at 127 in both: an overflow of a half would miss the reference */
static void test_x8_extreme(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    if (!vkslm_vk_get_enabled(vk)->x8_products)
        return;
    static const uint32_t types[] = {Q4_0, VKSLM_TYPE_Q4_1, VKSLM_TYPE_Q5_0, VKSLM_TYPE_Q5_1, VKSLM_TYPE_Q6_K};
    const uint64_t k = 256, n = 64, m = 4;
    float *x = malloc(k * m * 4);
    CU_ASSERT_FATAL(x != NULL);
    for (uint64_t i = 0; i < k * m; i++)
        x[i] = i / k == 1 ? -3.0f : 3.0f;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const uint32_t type = types[t], bb = vkslm_type_info(type)->block_bytes;
        const uint32_t head = type == VKSLM_TYPE_Q4_1 || type == VKSLM_TYPE_Q5_1 ? 4 : 2; /* d (and m) */
        const uint64_t rb = vkslm_type_row_bytes(type, k);
        uint8_t *w = calloc(rb * n, 1);
        CU_ASSERT_FATAL(w != NULL);
        for (uint64_t r = 0; r < n; r++)
            for (uint64_t b = 0; b < k / vkslm_type_info(type)->block_elems; b++) {
                uint8_t *blk = w + r * rb + b * bb;
                /* every quant (and high bit) 0, or all ones */
                if (type == VKSLM_TYPE_Q6_K) { /* ql, qh, then 16 int8 scales and d */
                    memset(blk, r % 2 ? 0xff : 0x00, 192);
                    memset(blk + 192, 1, 16);
                    blk[208] = 0x00, blk[209] = 0x3c;
                } else {
                    blk[0] = 0x00, blk[1] = 0x3c; /* d = 1 (f16) */
                    memset(blk + head, r % 2 ? 0xff : 0x00, bb - head);
                }
            }
        for (uint32_t tile = 1; tile <= 32; tile += 31) {
            in_case ic = {.type = type, .k = k, .n = n, .m = m, .tile = tile};
            check_in(vk, &ic, 900 + t, w, x);
        }
        free(w);
    }
    free(x);
    ot_report();
    test_gpu_assert_clean(vk);
}

static void test_x8_out(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    if (!vkslm_vk_get_enabled(vk)->x8_products)
        return;
    static const uint64_t ms[] = {1, 11, 8, 3};
    const size_t nm = test_quick() ? 2 : sizeof ms / sizeof *ms;
    for (size_t mi = 0; mi < nm; mi++) {
        check_out(vk, 96, 64, ms[mi], 1, 100 + mi);
        check_out(vk, 64, 160, ms[mi], 0, 200 + mi);
    }
    test_gpu_assert_clean(vk);
}

/* One refused product: not OK, and nothing recorded that fails the submit */
static void refuse(vkslm_vk *vk, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                   const vkslm_matmul_fuse *f, uint32_t max_vec, const char *why) {
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, d, w, x, NULL, f, max_vec);
    CU_ASSERT_NOT_EQUAL(st, VKSLM_OK);
    if (st == VKSLM_OK)
        printf("\n  accepted: %s\n", why);
    ot_submit(c, VKSLM_ERR_INVALID_ARG, why);
}

static void bad_args(vkslm_vk *vk) {
    const uint64_t k = 64, n = 64, m = 6;
    vkslm_rng r;
    test_rng(&r, 900);
    uint8_t *w = test_random_weights(&r, Q4_0, n, k), *w8 = test_random_weights(&r, VKSLM_TYPE_Q8_0, n, k);
    float x[64 * 6] = {0}, g[64];
    int32_t q[2 * 36 * 3] = {0};
    for (int i = 0; i < 64; i++)
        g[i] = 1.0f;
    CU_ASSERT_FATAL(w && w8);
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(Q4_0, k) * n, Q4_0, k, n, 2);
    ot_tensor tw8 = ot_raw(vk, w8, test_row_bytes(VKSLM_TYPE_Q8_0, k) * n, VKSLM_TYPE_Q8_0, k, n, 2);
    ot_tensor tx = ot_floats(vk, x, F32, k, m, 1, 16), td = ot_out(vk, F32, n, m, 1, 4);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 16), tq = x8_tensor(vk, q, k, m);
    ot_tensor tq_short = x8_tensor(vk, q, k, m - 2), tq_out = ot_out(vk, I32, vkslm_x8_pair_ints(n), 3, 1, 16);
    ot_tensor td_odd = ot_out(vk, F32, 40, m, 1, 4), tq_odd = ot_out(vk, I32, 45, 3, 1, 16);
    ot_tensor tw40 = ot_raw(vk, w, test_row_bytes(Q4_0, k) * 40, Q4_0, k, 40, 2);
    const vkslm_matmul_fuse none = {0}, norm_no_x = {.norm = &tg.t, .eps = EPS}, glu = {.glu = 1};
    const vkslm_matmul_fuse norm_x_alone = {.norm_x = &tx.t}, g_alone = {.x8_g = &tg.t}, out8 = {.x8_out = &tq_out.t};
    const vkslm_matmul_fuse out8_odd = {.x8_out = &tq_odd.t};
    if (vkslm_vk_get_enabled(vk)->x8_products) {
        refuse(vk, &td.t, &tw8.t, &tq.t, &none, 0, "x in 8 bits for Q8_0 weights");
        refuse(vk, &td.t, &tw.t, &tq_short.t, &none, 0, "x in 8 bits of too few pairs");
        refuse(vk, &td.t, &tw.t, &tq.t, &norm_no_x, 0, "x in 8 bits with the norm and no floats for its mean");
        refuse(vk, &td.t, &tw.t, &tq.t, &glu, 0, "x in 8 bits with the gated activation");
        refuse(vk, &td.t, &tw.t, &tx.t, &norm_x_alone, 0, "the norm's floats without x in 8 bits");
        refuse(vk, &td.t, &tw.t, &tx.t, &g_alone, 0, "the output's weights without the output in 8 bits");
        refuse(vk, &td.t, &tw.t, &tq.t, &none, 3, "x in 8 bits in groups of 3 vectors (pairs split)");
        refuse(vk, &td_odd.t, &tw40.t, &tx.t, &out8_odd, 0, "the output in 8 bits of 40 rows (no multiple of 32)");
        refuse(vk, &td.t, &tw.t, &tx.t, &out8, 3, "the output in 8 bits in groups of 3 vectors");
    } else { /* nothing takes or writes 8 bits here */
        CU_ASSERT_EQUAL(vkslm_op_matmul_x8_type(vk, &tw.t), 0);
        refuse(vk, &td.t, &tw.t, &tq.t, &none, 0, "x in 8 bits on a device without it");
        refuse(vk, &td.t, &tw.t, &tx.t, &out8, 0, "the output in 8 bits on a device without it");
    }
    /* still working: a plain product */
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL(ot_submit(c, vkslm_op_matmul(c, &td.t, &tw.t, &tx.t, NULL), "product after refusals"), VKSLM_OK);
    ot_free(vk, &tw), ot_free(vk, &tw8), ot_free(vk, &tx), ot_free(vk, &td), ot_free(vk, &tg);
    ot_free(vk, &tq), ot_free(vk, &tq_short), ot_free(vk, &tq_out), ot_free(vk, &td_odd), ot_free(vk, &tq_odd), ot_free(vk, &tw40);
    free(w), free(w8);
    test_gpu_assert_clean(vk);
}

static void test_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    bad_args(vk);
}

/* Without texel buffers, or with VKSLM_DISABLE_X8, no product takes or writes 8 bits */
static void test_refused_elsewhere(void) {
    static const char *envs[2][2] = {{"VKSLM_DISABLE_TEXEL=1", NULL}, {"VKSLM_DISABLE_X8=1", NULL}};
    for (int i = 0; i < 2; i++) {
        vkslm_vk *vk = test_gpu_open_env(envs[i], 0);
        TEST_REQUIRE_GPU(vk);
        CU_ASSERT_EQUAL(vkslm_vk_get_enabled(vk)->x8_products, 0);
        bad_args(vk);
        vkslm_vk_close(vk);
    }
}

/* vkslm_op_quantize_x8 against vkslm_cpu_quantize_x8 (as a device rounds: ot_check_x8), units of zeros included,
 * with and without rows times g; and its refusals */
static void test_quantize(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    static const uint64_t ks[] = {64, 576}, ms[] = {1, 3, 8, 11};
    uint64_t salt = 40;
    for (size_t ki = test_quick() ? 1 : 0; ki < 2; ki++) /* quick mode (sanitizers, qemu): 576 x 3 and x 11 */
        for (size_t mi = 0; mi < 4; mi++) {
            if (test_quick() && mi % 2 == 0)
                continue;
            const uint64_t k = ks[ki], m = ms[mi], ints = vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m);
            vkslm_rng r;
            test_rng(&r, salt++);
            float *x = malloc(k * m * 4), *g = malloc(k * 4);
            int32_t *q = malloc(ints * 4);
            CU_ASSERT_FATAL(x && q && g);
            test_random_floats(&r, x, k * m, -3.0f, 3.0f, F32);
            test_random_floats(&r, g, k, -1.5f, 1.5f, F32);
            const int with_g = mi % 2 == 1;
            for (uint64_t e = 0; e < 32; e++) /* the last vector's second unit: zeros (scale 0) */
                x[(m - 1) * k + 32 + e] = 0.0f;
            ot_tensor tx = ot_floats(vk, x, F32, k, m, 1, 16), tg = ot_floats(vk, g, F32, k, 1, 1, 32);
            ot_tensor tq = ot_out(vk, I32, vkslm_x8_pair_ints(k), vkslm_x8_pairs(m), 1, 16);
            char what[64];
            snprintf(what, sizeof what, "quantize_x8 k=%llu m=%llu%s", (unsigned long long)k, (unsigned long long)m,
                     with_g ? " times g" : "");
            vkslm_cmd *c = ot_begin(vk);
            vkslm_status st = vkslm_op_quantize_x8(c, &tq.t, &tx.t, with_g ? &tg.t : NULL);
            CU_ASSERT_EQUAL_FATAL(ot_submit(c, st, what), VKSLM_OK);
            CU_ASSERT_FATAL(ot_read(vk, &tq, q, ints, what));
            ot_check_x8(q, x, with_g ? g : NULL, k, m, what);
            ot_free(vk, &tx), ot_free(vk, &tq), ot_free(vk, &tg);
            free(x), free(q), free(g);
        }
    /* refusals: rows of 40 elements, a q of the wrong shape, x not on 16 bytes, a bad g */
    float x[80] = {0};
    ot_tensor t40 = ot_floats(vk, x, F32, 40, 2, 1, 16), t64 = ot_floats(vk, x, F32, 64, 1, 1, 16);
    ot_tensor tq = ot_out(vk, I32, vkslm_x8_pair_ints(64), 2, 1, 16), tq40 = ot_out(vk, I32, 45, 1, 1, 16);
    ot_tensor todd = ot_floats(vk, x, F32, 64, 1, 1, 16), t32 = ot_floats(vk, x, F32, 32, 1, 1, 16);
    vkslm_tensor odd = todd.t;
    odd.offset += 4;
    vkslm_tensor q1 = tq.t;
    q1.ne[1] = 1;
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &tq40.t, &t40.t, NULL), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &tq.t, &t64.t, NULL), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &q1, &odd, NULL), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &q1, &t64.t, &t32.t), VKSLM_ERR_INVALID_ARG); /* g of 32 floats */
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &q1, &t64.t, &odd), VKSLM_ERR_INVALID_ARG);   /* g not on 16 bytes */
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &q1, &t64.t, &tq.t), VKSLM_ERR_UNSUPPORTED);  /* g not F32 */
    CU_ASSERT_EQUAL(vkslm_op_quantize_x8(c, &q1, &t64.t, NULL), VKSLM_OK);
    CU_ASSERT_EQUAL(ot_submit(c, VKSLM_OK, "quantize_x8 refusals"), VKSLM_OK);
    ot_free(vk, &t40), ot_free(vk, &t64), ot_free(vk, &tq), ot_free(vk, &tq40), ot_free(vk, &todd), ot_free(vk, &t32);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"products taking x in 8 bits, against engine/cpu", test_x8_in},
        {"the greatest sums of 4-, 5- and 6-bit quants in 8-bit products", test_x8_extreme},
        {"products writing their output in 8 bits, against engine/cpu's quantization", test_x8_out},
        {"f32 rows in 8 bits (quantize_x8), against engine/cpu", test_quantize},
        {"bad 8-bit arguments refused", test_bad_args},
        {"nothing in 8 bits without texel buffers or with VKSLM_DISABLE_X8", test_refused_elsewhere},
        {NULL, NULL},
    };
    return test_run_suite("gpu_x8_ops", tests);
}
