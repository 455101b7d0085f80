/* The weight product with its neighbours fused in (vkslm_op_matmul_fused, the texel mat-vec of CPU devices):
 * the RMS norm in its loads, the residual add in its stores, the gated activation with the add, or the norm with
 * the gated activation of its output (rows [gate | up] in, act(gate) * up out). Each against engine/cpu's
 * separate ops (norm, then product, then add or activation) on random weights of a few types, odd row counts,
 * offsets between poison, 1 to 11 vectors (one pass of the kernel and two); each vector's result bit for bit
 * what it gets alone; refused where the device has no texel mat-vec and for arguments that make no sense. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/act.h"
#include "engine/cpu/matmul.h"
#include "engine/cpu/norm.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

#define F32 VKSLM_TYPE_F32
#define F16 VKSLM_TYPE_F16
#define EPS 1e-5f

enum { NORM, ADD, GLU_ADD, NORM_GLU_OUT, MODES };
static const char *tname(uint32_t type) { return vkslm_type_info(type)->name; }
static const char *mode_name[MODES] = {"norm", "add", "glu+add", "norm+glu out"};
/* weight rows: NORM_GLU_OUT's are [gate (n) | up (n)] */
static uint64_t w_rows(uint32_t mode, uint64_t n) { return mode == NORM_GLU_OUT ? 2 * n : n; }

typedef struct fused_case {
    uint32_t type, mode;
    uint64_t k, n, m;
    int bias, gelu;
    uint64_t stride; /* norm modes: d's rows this many elements apart (0: n), the gaps left as they were */
} fused_case;

/* d (n x m) as the separate CPU ops compute it; d0: d before (ADD, GLU_ADD) */
static void reference(const fused_case *fc, const uint8_t *w, const float *x, const float *g, const float *bias,
                      const float *d0, float *d) {
    const uint64_t k = fc->k, n = fc->n, m = fc->m;
    float *a = malloc(k * m * 4);
    CU_ASSERT_FATAL(a != NULL);
    if (fc->mode == NORM || fc->mode == NORM_GLU_OUT)
        vkslm_cpu_rms_norm(a, x, g, k, m, EPS);
    else if (fc->mode == GLU_ADD)
        for (uint64_t v = 0; v < m; v++)
            if (fc->gelu)
                vkslm_cpu_geglu(a + v * k, x + v * 2 * k, NULL, k, 1);
            else
                vkslm_cpu_swiglu(a + v * k, x + v * 2 * k, NULL, k, 1);
    else
        memcpy(a, x, k * m * 4);
    if (fc->mode == NORM_GLU_OUT) { /* the rows [gate | up] of each vector, then act(gate) * up */
        float *gu = malloc(2 * n * m * 4);
        CU_ASSERT_FATAL(gu != NULL);
        CU_ASSERT_FATAL(vkslm_cpu_matmul(gu, fc->type, w, a, NULL, k, 2 * n, m) == VKSLM_OK);
        for (uint64_t v = 0; v < m; v++)
            if (fc->gelu)
                vkslm_cpu_geglu(d + v * n, gu + v * 2 * n, NULL, n, 1);
            else
                vkslm_cpu_swiglu(d + v * n, gu + v * 2 * n, NULL, n, 1);
        free(gu);
        free(a);
        return;
    }
    CU_ASSERT_FATAL(vkslm_cpu_matmul(d, fc->type, w, a, bias, k, n, m) == VKSLM_OK);
    if (fc->mode != NORM)
        for (uint64_t i = 0; i < n * m; i++)
            d[i] += d0[i];
    free(a);
}

/* Runs the fused op on vectors [v0, v0 + m) of x (and d0) into out; returns its status. */
static vkslm_status run(vkslm_vk *vk, const fused_case *fc, const ot_tensor *tw, const float *x, const ot_tensor *tg,
                        const ot_tensor *tb, const float *d0, uint64_t v0, uint64_t m, float *out, const char *what) {
    const uint64_t xk = fc->mode == GLU_ADD ? 2 * fc->k : fc->k, n = fc->n;
    ot_tensor tx = ot_floats(vk, x + v0 * xk, F32, xk, m, 1, 32);
    const int norm = fc->mode == NORM || fc->mode == NORM_GLU_OUT;
    const uint64_t ds = norm && fc->stride ? fc->stride : n;
    ot_tensor td = norm ? ot_out(vk, F32, ds, m, 1, 4) : ot_floats(vk, d0 + v0 * n, F32, n, m, 1, 4);
    vkslm_tensor dv = td.t; /* n of each row's ds elements */
    dv.ne[0] = n;
    const vkslm_matmul_fuse f = {
        .norm = norm ? &tg->t : NULL, .eps = EPS, .add = !norm,
        .glu = fc->mode == GLU_ADD ? (fc->gelu ? 2u : 1u) : 0u,
        .glu_out = fc->mode == NORM_GLU_OUT ? (fc->gelu ? 2u : 1u) : 0u,
        .d_stride = ds != n ? ds : 0,
    };
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, &dv, &tw->t, &tx.t, fc->bias ? &tb->t : NULL, &f, 0);
    vkslm_status sub = ot_submit(c, st, what);
    float *full = malloc(ds * m * 4);
    CU_ASSERT_FATAL(full != NULL);
    if (st == VKSLM_OK && (sub != VKSLM_OK || !ot_read(vk, &td, full, ds * m, what)))
        st = VKSLM_ERR_DEVICE_LOST; /* any failure: the caller only compares with OK */
    uint64_t touched = 0; /* gap elements not poison any more */
    for (uint64_t v = 0; st == VKSLM_OK && v < m; v++) {
        memcpy(out + v * n, full + v * ds, n * 4);
        for (uint64_t i = n; i < ds; i++) {
            uint32_t bits;
            memcpy(&bits, &full[v * ds + i], 4);
            touched += bits != OT_POISON;
        }
    }
    CU_ASSERT_EQUAL(touched, 0);
    free(full);
    ot_free(vk, &tx), ot_free(vk, &td);
    return st;
}

static void check_case(vkslm_vk *vk, const fused_case *fc, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint64_t k = fc->k, n = fc->n, m = fc->m, xk = fc->mode == GLU_ADD ? 2 * k : k;
    uint8_t *w = test_random_weights(&r, fc->type, w_rows(fc->mode, n), k);
    float *x = malloc(xk * m * 4), *g = malloc(k * 4), *bias = malloc(n * 4), *d0 = malloc(n * m * 4);
    float *ref = malloc(n * m * 4), *out = malloc(n * m * 4), *alone = malloc(n * 4);
    CU_ASSERT_FATAL(w && x && g && bias && d0 && ref && out && alone);
    test_random_floats(&r, x, xk * m, -4.0f, 4.0f, F32);
    for (uint64_t v = 1; v < m; v += 3) /* rows of very different scales: the norm is per row */
        for (uint64_t i = 0; i < xk; i++)
            x[v * xk + i] *= v % 2 ? 100.0f : 0.01f;
    test_random_floats(&r, g, k, 0.5f, 1.5f, F32);
    test_random_floats(&r, bias, n, -1.0f, 1.0f, F32);
    test_random_floats(&r, d0, n * m, -3.0f, 3.0f, F32);
    reference(fc, w, x, g, fc->bias ? bias : NULL, d0, ref);

    uint64_t w_off = vkslm_type_info(fc->type)->block_elems == 1 ? 4 : 2;
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(fc->type, k) * w_rows(fc->mode, n), fc->type, k, w_rows(fc->mode, n),
                          w_off);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 48), tb = ot_floats(vk, bias, F32, n, 1, 1, 4);
    char what[128];
    snprintf(what, sizeof what, "%s %s%s%s k=%llu n=%llu m=%llu stride=%llu", tname(fc->type), mode_name[fc->mode],
             fc->mode == GLU_ADD || fc->mode == NORM_GLU_OUT ? (fc->gelu ? " gelu" : " silu") : "",
             fc->bias ? " bias" : "", (unsigned long long)k, (unsigned long long)n, (unsigned long long)m,
             (unsigned long long)fc->stride);
    vkslm_status st = run(vk, fc, &tw, x, &tg, &tb, d0, 0, m, out, what);
    if (!vkslm_op_matmul_glu_fusable(vk, &tw.t)) { /* refused, never computed another way */
        CU_ASSERT_EQUAL(st, VKSLM_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, &tg.t), 0);
        CU_ASSERT_EQUAL(vkslm_op_matmul_glu_out_fusable(vk, &tw.t), 0);
    } else {
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, &tg.t), 1);
        CU_ASSERT_EQUAL(vkslm_op_matmul_glu_out_fusable(vk, &tw.t), w_rows(fc->mode, n) % 2 == 0);
        CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
        ot_check(mode_name[fc->mode], test_nmse(out, ref, n * m), 1e-9, what);
        /* the first and the last vector alone: the same bits as in the batch */
        const uint64_t vs[2] = {0, m - 1};
        for (int i = 0; i < (m > 1 ? 2 : 0); i++) {
            CU_ASSERT_EQUAL(run(vk, fc, &tw, x, &tg, &tb, d0, vs[i], 1, alone, what), VKSLM_OK);
            int same = memcmp(alone, out + vs[i] * n, n * 4) == 0;
            CU_ASSERT(same);
            if (!same)
                printf("\n  %s: vector %llu alone differs from the batch\n", what, (unsigned long long)vs[i]);
        }
    }
    ot_free(vk, &tw), ot_free(vk, &tg), ot_free(vk, &tb);
    free(w), free(x), free(g), free(bias), free(d0), free(ref), free(out), free(alone);
}

/* Quick mode (sanitizers, arm64 under qemu: every new pipeline compiles slowly there): two types, 1 and 11
 * vectors. */
static void run_all(vkslm_vk *vk, uint64_t salt) {
    static const uint32_t types[] = {VKSLM_TYPE_Q4_0, VKSLM_TYPE_Q4_K, VKSLM_TYPE_Q8_0, VKSLM_TYPE_F16};
    static const uint64_t ms[] = {1, 11, 3, 8};
    const size_t nt = test_quick() ? 2 : sizeof types / sizeof *types, nm = test_quick() ? 2 : sizeof ms / sizeof *ms;
    for (size_t t = 0; t < nt; t++)
        for (uint32_t mode = 0; mode < MODES; mode++)
            for (size_t mi = 0; mi < nm; mi++) {
                fused_case fc = {
                    .type = types[t], .mode = mode, .m = ms[mi], .n = mi % 2 ? 37 : 70,
                    .k = vkslm_type_info(types[t])->block_elems == 256 ? 256 : 96,
                    .bias = mode == NORM && mi % 2 == 0, .gelu = mi % 2 || (mode == NORM_GLU_OUT && mi == 2),
                    /* rows inside wider rows (q, k, v into a fused projection's) */
                    .stride = mi % 2 && (mode == NORM || mode == NORM_GLU_OUT) ? (mi % 2 ? 37 : 70) + 3 : 0,
                };
                check_case(vk, &fc, salt++);
            }
}

static void test_fused_products(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    printf("(subgroup size %u) ", vkslm_vk_get_caps(vk)->subgroup_size);
    run_all(vk, 1);
    ot_report();
}

/* Without texel buffers every fusion is refused (the graph then records the separate ops). */
static void test_refused_without_texels(void) {
    const char *env[] = {"VKSLM_DISABLE_TEXEL=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    fused_case fc = {.type = VKSLM_TYPE_Q4_0, .mode = NORM, .k = 64, .n = 5, .m = 2};
    for (fc.mode = 0; fc.mode < MODES; fc.mode++)
        check_case(vk, &fc, 500 + fc.mode);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* Arguments the fused op refuses, with the device still working after. */
static void test_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    const uint64_t k = 64, n = 8;
    vkslm_rng r;
    test_rng(&r, 900);
    uint8_t *w = test_random_weights(&r, VKSLM_TYPE_Q4_0, n, k);
    float x[64 * 2] = {0}, g[64];
    for (int i = 0; i < 64; i++)
        g[i] = 1.0f;
    CU_ASSERT_FATAL(w != NULL);
    ot_tensor tw = ot_raw(vk, w, test_row_bytes(VKSLM_TYPE_Q4_0, k) * n, VKSLM_TYPE_Q4_0, k, n, 2);
    ot_tensor tx = ot_floats(vk, x, F32, k, 2, 1, 16), td = ot_out(vk, F32, n, 2, 1, 4);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 16), tg_short = ot_floats(vk, g, F32, k / 2, 1, 1, 16);
    ot_tensor tg_half = ot_floats(vk, g, F16, k, 1, 1, 16), tg_odd = ot_floats(vk, g, F32, k, 1, 1, 20);
    if (vkslm_op_matmul_glu_fusable(vk, &tw.t)) {
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, &tg_short.t), 0);
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, &tg_half.t), 0);
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, &tg_odd.t), 0); /* no texel start */
        CU_ASSERT_EQUAL(vkslm_op_matmul_norm_fusable(vk, &tw.t, NULL), 0);
        const struct {
            vkslm_matmul_fuse f;
            const char *why;
        } bad[] = {
            {{.norm = &tg.t, .eps = 1e-5f, .glu = 1}, "norm with the gated activation"},
            {{.glu = 3}, "gated activation 3"},
            {{.norm = &tg.t, .eps = -1.0f}, "negative epsilon"},
            {{.norm = &tg.t, .eps = NAN}, "NaN epsilon"},
            {{.norm = &tg_short.t, .eps = 1e-5f}, "norm weights shorter than a row"},
            {{.norm = &tg_half.t, .eps = 1e-5f}, "f16 norm weights"},
            {{.glu_out = 3}, "gated output 3"},
            {{.glu_out = 1, .add = 1}, "gated output with the add"},
            {{.glu_out = 1, .glu = 1}, "gated output with the gated input"},
            {{.glu_out = 1}, "gated output into a d of the weight's rows (not half)"},
            {{.add = 1, .d_stride = 1}, "rows of d closer than its row length"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            vkslm_cmd *c = ot_begin(vk);
            vkslm_status st = vkslm_op_matmul_fused(c, &td.t, &tw.t, &tx.t, NULL, &bad[i].f, 0);
            CU_ASSERT_NOT_EQUAL(st, VKSLM_OK);
            if (st == VKSLM_OK)
                printf("\n  accepted: %s\n", bad[i].why);
            ot_submit(c, VKSLM_ERR_INVALID_ARG, bad[i].why);
        }
    }
    /* still working: a plain fused add */
    const vkslm_matmul_fuse add = {.add = 1};
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, &td.t, &tw.t, &tx.t, NULL, &add, 0);
    CU_ASSERT_EQUAL(ot_submit(c, st, "add after refusals"),
                    vkslm_op_matmul_glu_fusable(vk, &tw.t) ? VKSLM_OK : VKSLM_ERR_UNSUPPORTED);
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &td), ot_free(vk, &tg), ot_free(vk, &tg_short);
    ot_free(vk, &tg_half), ot_free(vk, &tg_odd);
    free(w);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"products with the norm, the residual add and the gated activation fused, against engine/cpu",
         test_fused_products},
        {"every fusion refused without texel buffers", test_refused_without_texels},
        {"bad fusion arguments refused", test_bad_args},
        {NULL, NULL},
    };
    return test_run_suite("gpu_fused_ops", tests);
}
