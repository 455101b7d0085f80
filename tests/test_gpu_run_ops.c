/* The texel mat-vec's runs of blocks (shaders/matmul_vec.comp, RUN; engine/ops/matmul.c, run_ok): an invocation
 * fetches its rows' blocks of a unit once, as one run of texels, where the weights are in tiles of 32 rows. Only the
 * fetching changes, so every output must be bit for bit what the same product gives with VKSLM_DISABLE_RUNS:
 *   - each weight type with blocks of 18 to 34 bytes (Q4_0, IQ4_NL, Q4_1, Q5_0, Q5_1, Q8_0), x as floats, 1 and 8
 *     vectors, with a bias and the residual add;
 *   - the types taking x in 8 bits, so;
 *   - the gated activation's product (rows [gate | up]: two runs an invocation) writing its output in 8 bits too;
 *   - weights 2 bytes off 16 (no runs: the fallback).
 * 544 rows (17 tiles) give invocations of 8 rows or more (runs on lavapipe at any subgroup size) and a last
 * workgroup partly past the rows; 1024 rows give 16. The default context has runs (on a CPU device with texel
 * buffers; elsewhere both contexts take the same path and the comparisons still hold). Quick mode (sanitizers, qemu)
 * takes three cases: Q4_0 with 8 vectors, Q8_0 with one, the gated product with 8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/matmul.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

#define F32 VKSLM_TYPE_F32
#define I32 VKSLM_TYPE_I32

typedef struct run_case {
    uint32_t type;
    uint64_t k, n, m;
    int x8, glu;
    uint64_t pad; /* bytes before the weights in their buffer: 16 (runs), 2 (no runs: the blocks off 16 bytes) */
} run_case;

/* The product of the case on one context: d (n_out x m floats) and, with glu, its 8-bit output q */
static void product(vkslm_vk *vk, const run_case *rc, const uint8_t *w, const float *x, const int32_t *xq,
                    const float *g, const float *bias, const float *d0, float *d, int32_t *q, const char *what) {
    const uint64_t k = rc->k, n = rc->n, m = rc->m, n_out = rc->glu ? n / 2 : n;
    ot_tensor tw = ot_weights_at(vk, w, rc->type, k, n, 32, rc->pad);
    ot_tensor tx = rc->x8 ? ot_raw(vk, xq, vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4, I32, vkslm_x8_pair_ints(k),
                                   vkslm_x8_pairs(m), 16)
                          : ot_floats(vk, x, F32, k, m, 1, 16);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 16), tb = ot_floats(vk, bias, F32, n, 1, 1, 4);
    ot_tensor td = rc->glu ? ot_out(vk, F32, n_out, m, 1, 4) : ot_floats(vk, d0, F32, n, m, 1, 4);
    ot_tensor tq = ot_out(vk, I32, vkslm_x8_pair_ints(n_out), vkslm_x8_pairs(m), 1, 16);
    const vkslm_matmul_fuse f = rc->glu ? (vkslm_matmul_fuse){.norm = &tg.t, .eps = 1e-5f, .glu_out = 1, .x8_out = &tq.t}
                                        : (vkslm_matmul_fuse){.add = 1};
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_matmul_fused(c, &td.t, &tw.t, &tx.t, rc->glu ? NULL : &tb.t, &f, 0);
    CU_ASSERT_EQUAL_FATAL(ot_submit(c, st, what), VKSLM_OK);
    CU_ASSERT_FATAL(ot_read(vk, &td, d, n_out * m, what));
    if (rc->glu)
        CU_ASSERT_FATAL(ot_read(vk, &tq, q, vkslm_x8_pair_ints(n_out) * vkslm_x8_pairs(m), what));
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &tg), ot_free(vk, &tb), ot_free(vk, &td), ot_free(vk, &tq);
}

static void check(vkslm_vk *runs, vkslm_vk *none, const run_case *rc, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint64_t k = rc->k, n = rc->n, m = rc->m, n_out = rc->glu ? n / 2 : n;
    const uint64_t qints = vkslm_x8_pair_ints(n_out) * vkslm_x8_pairs(m);
    uint8_t *w = test_random_weights(&r, rc->type, n, k);
    float *x = malloc(k * m * 4), *g = malloc(k * 4), *bias = malloc(n * 4), *d0 = malloc(n * m * 4);
    float *a = malloc(n * m * 4), *b = malloc(n * m * 4);
    int32_t *xq = malloc(vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4), *qa = calloc(qints, 4), *qb = calloc(qints, 4);
    CU_ASSERT_FATAL(w && x && g && bias && d0 && a && b && xq && qa && qb);
    test_random_floats(&r, x, k * m, -3.0f, 3.0f, F32);
    test_random_floats(&r, g, k, 0.5f, 1.5f, F32);
    test_random_floats(&r, bias, n, -1.0f, 1.0f, F32);
    test_random_floats(&r, d0, n * m, -2.0f, 2.0f, F32);
    vkslm_cpu_quantize_x8(xq, x, k, m);
    char what[128];
    snprintf(what, sizeof what, "%s k=%llu n=%llu m=%llu pad=%llu%s%s", vkslm_type_info(rc->type)->name,
             (unsigned long long)k, (unsigned long long)n, (unsigned long long)m, (unsigned long long)rc->pad,
             rc->x8 ? " x8" : "", rc->glu ? " glu" : "");
    product(runs, rc, w, x, xq, g, bias, d0, a, qa, what);
    product(none, rc, w, x, xq, g, bias, d0, b, qb, what);
    int same = memcmp(a, b, n_out * m * 4) == 0 && memcmp(qa, qb, qints * 4) == 0;
    CU_ASSERT(same);
    if (!same)
        printf("\n  %s: outputs with runs differ from those without\n", what);
    /* and the product is a product: against engine/cpu (floats only, where the reference is plain) */
    if (!rc->x8 && !rc->glu) {
        float *ref = malloc(n * m * 4);
        CU_ASSERT_FATAL(ref && vkslm_cpu_matmul(ref, rc->type, w, x, NULL, k, n, m) == VKSLM_OK);
        for (uint64_t v = 0; v < m; v++)
            for (uint64_t j = 0; j < n; j++)
                ref[v * n + j] += bias[j] + d0[v * n + j];
        ot_check("runs", test_nmse(a, ref, n * m), 1e-10, what);
        free(ref);
    }
    free(w), free(x), free(g), free(bias), free(d0), free(a), free(b), free(xq), free(qa), free(qb);
}

static void test_runs(void) {
    vkslm_vk *runs = test_gpu();
    TEST_REQUIRE_GPU(runs);
    static const char *env[2] = {"VKSLM_DISABLE_RUNS=1", NULL};
    vkslm_vk *none = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(none);
    CU_ASSERT_EQUAL(vkslm_vk_get_enabled(none)->weight_runs, 0);
    CU_ASSERT_EQUAL(vkslm_vk_get_enabled(runs)->weight_runs, vkslm_vk_get_enabled(runs)->texel_buffers);
    static const uint32_t types[] = {VKSLM_TYPE_Q4_0, VKSLM_TYPE_Q8_0, VKSLM_TYPE_Q5_0,
                                     VKSLM_TYPE_IQ4_NL, VKSLM_TYPE_Q4_1, VKSLM_TYPE_Q5_1};
    const int x8 = vkslm_vk_get_enabled(runs)->x8_products;
    uint64_t salt = 70;
    if (test_quick()) { /* sanitizers, qemu (where each pipeline compiles for seconds): Q4_0 and Q8_0, one case each */
        run_case a = {.type = VKSLM_TYPE_Q4_0, .k = 96, .n = 1024, .m = 8, .x8 = x8, .pad = 16};
        run_case b = {.type = VKSLM_TYPE_Q8_0, .k = 96, .n = 544, .m = 1, .pad = 16};
        check(runs, none, &a, salt++);
        check(runs, none, &b, salt++);
    }
    for (size_t t = 0; t < (test_quick() ? 0 : 6); t++)
        for (int x = 0; x < 2; x++) {
            if (x && (!x8 || types[t] == VKSLM_TYPE_Q8_0 || types[t] == VKSLM_TYPE_IQ4_NL)) /* (no 8-bit products) */
                continue;
            run_case one = {.type = types[t], .k = 96, .n = 544, .m = 1, .x8 = x, .pad = 16};
            run_case eight = {.type = types[t], .k = 96, .n = 1024, .m = 8, .x8 = x, .pad = 16};
            check(runs, none, &one, salt++);
            check(runs, none, &eight, salt++);
        }
    if (x8)
        for (uint64_t m = test_quick() ? 8 : 1; m <= 8; m += 7) {
            run_case rc = {.type = VKSLM_TYPE_Q4_0, .k = 64, .n = 2 * 544, .m = m, .glu = 1, .pad = 16};
            check(runs, none, &rc, salt++);
        }
    run_case off = {.type = VKSLM_TYPE_Q4_0, .k = 96, .n = 544, .m = 2, .pad = 2};
    if (!test_quick())
        check(runs, none, &off, salt++);
    vkslm_vk_close(none);
    test_gpu_assert_clean(runs);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"runs of blocks: outputs bit for bit those without", test_runs},
        {NULL, NULL},
    };
    return test_run_suite("gpu_run_ops", tests);
}
