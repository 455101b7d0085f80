/* Matrix x vectors (shaders/matvec.comp) for every weight type against engine/cpu/matmul.c: odd row
 * counts, 1, 3 and 11 vectors, with and without bias, both strategies (row per lane, row per subgroup),
 * misaligned tensor offsets, a matrix split across a 1 MiB storage range, and with fp16 and 8/16-bit
 * storage forced off. Bound: NMSE < 1e-9 (weights decode exactly; only f32 summation order differs). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/ops/matvec.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_weights.h"

#define NMSE_BOUND 1e-9

typedef struct { vkslm_matvec_strategy strategy; uint32_t max_vec; } mv_ctx;

static vkslm_status run_matvec(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                               const vkslm_tensor *bias, const void *ctx) {
    const mv_ctx *mc = ctx;
    return vkslm_op_matvec_ex(c, d, w, x, bias, mc->strategy, mc->max_vec);
}

static double worst[VKSLM_TYPE_COUNT];

static void check(vkslm_vk *vk, const test_product_case *tc, vkslm_matvec_strategy s, uint32_t max_vec) {
    mv_ctx ctx = {s, max_vec};
    double e = test_product_nmse(vk, tc, run_matvec, &ctx);
    if (e > worst[tc->type])
        worst[tc->type] = e;
    if (!(e < NMSE_BOUND))
        fprintf(stderr, "  (strategy %d, max_vec %u)\n", (int)s, max_vec);
    CU_ASSERT(e < NMSE_BOUND);
}

/* K: a multiple of the block size that is no multiple of a larger power of two than needed */
static uint64_t row_len(uint32_t type, int which) {
    uint32_t be = vkslm_type_info(type)->block_elems;
    if (be == 256)
        return which ? 768 : 256;
    return which ? 32 * 37 : 32 * 5;
}

/* Per type: one vector with one strategy, three vectors with the other, and for every fifth type a
 * batch of 11 (passes of 8). Strategies alternate between types so both meet every decoder. (Pipelines
 * are compiled per (type, strategy, vectors): lavapipe compiles slowly, so the sweep stays lean.) */
static void sweep(vkslm_vk *vk, int reduced) {
    uint64_t salt = 100;
    for (int t = 0; t < test_n_weight_types; t++) {
        if (!test_weight_type_swept(t))
            continue;
        uint32_t type = test_weight_types[t];
        int plain = vkslm_type_info(type)->block_elems == 1;
        for (int cs = 0; cs < 3; cs++) {
            if ((reduced && cs != 1) || (cs == 2 && t % 5))
                continue;
            static const uint64_t rows[] = {67, 130, 29}, vecs[] = {1, 3, 11};
            test_product_case tc = {
                .type = type, .k = row_len(type, cs & 1), .n = rows[cs], .m = vecs[cs], .bias = cs != 0,
                .w_off = plain ? 4u * (uint64_t)cs : 2u * (uint64_t)cs, .x_off = 16u * (uint64_t)cs,
                .d_off = 4u * (uint64_t)cs, .salt = ++salt,
            };
            int strat = 1 + ((t + cs) & 1);
            check(vk, &tc, (vkslm_matvec_strategy)strat, 0);
        }
    }
}

static void print_worst(const char *what) {
    printf("worst NMSE (%s):", what);
    for (int t = 0; t < test_n_weight_types; t++) {
        printf(" %s %.2g", test_type_name(test_weight_types[t]), worst[test_weight_types[t]]);
        worst[test_weight_types[t]] = 0;
    }
    printf("\n");
}

static void test_matvec_all_types(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 0);
    print_worst("matvec");
    test_gpu_assert_clean(vk);
}

/* max_vec below the batch: vectors are processed in passes of max_vec */
static void test_matvec_small_passes(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    test_product_case tc = {.type = VKSLM_TYPE_Q4_K, .k = 512, .n = 45, .m = 7, .bias = 1, .salt = 7};
    check(vk, &tc, VKSLM_MATVEC_ROW_PER_LANE, 2);
    check(vk, &tc, VKSLM_MATVEC_ROW_PER_SUBGROUP, 3);
    tc.type = VKSLM_TYPE_Q5_0;
    check(vk, &tc, VKSLM_MATVEC_AUTO, 1);
    /* several blocks per row through the row-per-lane walk, whose decoders keep words between units */
    static const uint32_t seq_types[] = {VKSLM_TYPE_Q4_K, VKSLM_TYPE_Q5_K, VKSLM_TYPE_Q6_K};
    static const uint64_t seq_m[] = {1, 3, 1}; /* as in the sweep: the same pipelines, no new compiles */
    for (int i = 0; i < 3; i++) {
        test_product_case sc = {.type = seq_types[i], .k = 768, .n = 19, .m = seq_m[i], .w_off = 2,
                                .salt = 8 + (uint64_t)i};
        check(vk, &sc, VKSLM_MATVEC_ROW_PER_LANE, 0);
    }
    test_gpu_assert_clean(vk);
}

/* every rows-per-invocation count (lavapipe picks 4 or 2; GPUs 1 or 2), strategies alternating */
static void test_matvec_rows_per_invocation(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    static const char *const rpl[] = {"1", "2", "3", "4"};
    static const uint32_t types[] = {VKSLM_TYPE_Q6_K, VKSLM_TYPE_Q4_0, VKSLM_TYPE_F16, VKSLM_TYPE_Q5_K};
    for (int i = 0; i < 4; i++) {
        setenv("VKSLM_MATVEC_RPL", rpl[i], 1);
        test_product_case tc = {.type = types[i], .k = 512, .n = 23, .m = 1 + (uint64_t)i, .bias = i & 1,
                                .w_off = 2 * (uint64_t)(i & 1) + 4 * (uint64_t)(types[i] == VKSLM_TYPE_F16),
                                .salt = 20 + (uint64_t)i};
        check(vk, &tc, (vkslm_matvec_strategy)(1 + (i & 1)), 0);
    }
    unsetenv("VKSLM_MATVEC_RPL");
    test_gpu_assert_clean(vk);
}

static void test_matvec_without_optional_features(void) {
    const char *env[] = {"VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    const vkslm_vk_enabled *en = vkslm_vk_get_enabled(vk);
    CU_ASSERT(!en->fp16 && !en->storage16 && !en->storage8);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* 1 MiB bindable range: weights of 1.6-2.6 MB split by rows; x and d still fit */
static void test_matvec_split_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    static const uint32_t types[] = {VKSLM_TYPE_Q8_0, VKSLM_TYPE_F32, VKSLM_TYPE_Q6_K, VKSLM_TYPE_Q4_0};
    for (int i = 0; i < 4; i++) {
        test_product_case tc = {.type = types[i], .k = 1024, .n = 1931, .m = 1 + 2 * (uint64_t)i, .bias = i & 1,
                                .w_off = 2 + 2 * (uint64_t)(i == 1), .x_off = 32, .d_off = 8, .salt = 50 + (uint64_t)i};
        CU_ASSERT(test_row_bytes(tc.type, tc.k) * tc.n > 1048576);
        check(vk, &tc, (vkslm_matvec_strategy)(1 + i % 2), 0);
    }
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_matvec_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 1 << 16, &b) == VKSLM_OK);
    vkslm_tensor w = {&b, 0, VKSLM_TYPE_Q4_0, {64, 4, 1, 1}}, x = {&b, 0, VKSLM_TYPE_F32, {64, 1, 1, 1}},
                 d = {&b, 4096, VKSLM_TYPE_F32, {4, 1, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_tensor t = w;
    t.ne[0] = 48; /* not a multiple of 32 */
    CU_ASSERT_EQUAL(vkslm_op_matvec(c, &d, &t, &x, NULL), VKSLM_ERR_INVALID_ARG);
    t = w;
    t.type = VKSLM_TYPE_IQ2_XS;
    CU_ASSERT_EQUAL(vkslm_op_matvec(c, &d, &t, &x, NULL), VKSLM_ERR_UNSUPPORTED);
    t = x;
    t.offset = 4; /* x must be 16-byte aligned */
    CU_ASSERT_EQUAL(vkslm_op_matvec(c, &d, &w, &t, NULL), VKSLM_ERR_INVALID_ARG);
    t = d;
    t.ne[0] = 5;
    CU_ASSERT_EQUAL(vkslm_op_matvec(c, &t, &w, &x, NULL), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"matvec: every weight type, odd shapes, 1-11 vectors, bias, both strategies", test_matvec_all_types},
        {"matvec: vectors in passes smaller than the batch", test_matvec_small_passes},
        {"matvec: 1, 2, 3 and 4 rows per invocation", test_matvec_rows_per_invocation},
        {"matvec without fp16 and 8/16-bit storage", test_matvec_without_optional_features},
        {"matvec: weights split across a 1 MiB storage range", test_matvec_split_storage_range},
        {"matvec rejects bad arguments", test_matvec_bad_args},
        {NULL, NULL},
    };
    return test_run_suite("gpu_matvec", tests);
}
