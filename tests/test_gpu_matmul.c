/* Matrix x matrix for prefill (shaders/matmul.comp tiled through shared memory, and the register-tiled
 * matvec kernel) for every weight type against engine/cpu/matmul.c: token and row counts that are no
 * multiples of the 64 x 32 tile or of 8, K no multiple of 64, bias, misaligned offsets, a matrix split
 * across a 1 MiB storage range, and with fp16 and 8/16-bit storage forced off. Bound: NMSE < 1e-9. */
#include <stdio.h>

#include "engine/ops/matmul.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_weights.h"

#define NMSE_BOUND 1e-9

static vkslm_status run_matmul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                               const vkslm_tensor *bias, const void *ctx) {
    return vkslm_op_matmul_ex(c, d, w, x, bias, *(const vkslm_matmul_kernel *)ctx);
}

static double worst[2];

static void check_bound(vkslm_vk *vk, const test_product_case *tc, vkslm_matmul_kernel kernel, double bound) {
    double e = test_product_nmse(vk, tc, run_matmul, &kernel);
    int ki = kernel == VKSLM_MATMUL_TILED ? 0 : 1;
    if (e > worst[ki] && bound == NMSE_BOUND)
        worst[ki] = e;
    if (!(e < bound))
        fprintf(stderr, "  (kernel %d: NMSE %g)\n", (int)kernel, e);
    CU_ASSERT(e < bound);
}

static void check(vkslm_vk *vk, const test_product_case *tc, vkslm_matmul_kernel kernel) {
    check_bound(vk, tc, kernel, NMSE_BOUND);
}

static void sweep(vkslm_vk *vk, int reduced) {
    uint64_t salt = 500;
    for (int t = 0; t < test_n_weight_types; t++) {
        if (!test_weight_type_swept(t))
            continue;
        uint32_t type = test_weight_types[t];
        uint32_t be = vkslm_type_info(type)->block_elems;
        int plain = be == 1;
        /* tiled: 2 x 2 tiles, both partial (rows 64+27, tokens 32+7) */
        test_product_case a = {.type = type, .k = be == 256 ? 512 : 32 * 9, .n = 91, .m = 39, .bias = 1,
                               .w_off = plain ? 4 : 2, .x_off = 16, .d_off = 4, .salt = ++salt};
        check(vk, &a, VKSLM_MATMUL_TILED);
        if (reduced || t % 3)
            continue;
        /* register kernel (every third type: it is the matvec kernel, which test_gpu_matvec covers for
         * every type): 8 tokens per pass, 19 = 8 + 8 + 3 */
        test_product_case b = {.type = type, .k = be == 256 ? 256 : 32 * 3, .n = 45, .m = 19, .bias = 0,
                               .salt = ++salt};
        check(vk, &b, VKSLM_MATMUL_REGISTER);
    }
}

static void test_matmul_all_types(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 0);
    printf("worst NMSE (matmul): tiled %.2g, register %.2g\n", worst[0], worst[1]);
    /* a single token and a single row through the tiled kernel */
    /* (the NMSE of one output is its squared relative error: a sum of 64 products that cancels to a small
     * value lifts it over 1e-9 with an absolute error of 1e-7, so this case gets 1e-6) */
    test_product_case one = {.type = VKSLM_TYPE_Q4_0, .k = 64, .n = 1, .m = 1, .bias = 1, .salt = 9};
    check_bound(vk, &one, VKSLM_MATMUL_TILED, 1e-6);
    test_gpu_assert_clean(vk);
}

static void test_matmul_without_optional_features(void) {
    const char *env[] = {"VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* 1 MiB range: weights split by rows, and 300 tokens of x (1.2 MB) split by tokens */
static void test_matmul_split_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    test_product_case a = {.type = VKSLM_TYPE_Q8_0, .k = 1024, .n = 1931, .m = 37, .bias = 1, .w_off = 2,
                           .x_off = 16, .d_off = 4, .salt = 61};
    CU_ASSERT(test_row_bytes(a.type, a.k) * a.n > 1048576);
    check(vk, &a, VKSLM_MATMUL_TILED);
    check(vk, &a, VKSLM_MATMUL_REGISTER);
    test_product_case b = {.type = VKSLM_TYPE_Q4_K, .k = 1024, .n = 70, .m = 300, .salt = 62};
    CU_ASSERT(b.k * b.m * 4 > 1048576);
    check(vk, &b, VKSLM_MATMUL_TILED);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"matmul: every weight type, partial tiles, both kernels", test_matmul_all_types},
        {"matmul without fp16 and 8/16-bit storage", test_matmul_without_optional_features},
        {"matmul: weights and tokens split across a 1 MiB storage range", test_matmul_split_storage_range},
        {NULL, NULL},
    };
    return test_run_suite("gpu_matmul", tests);
}
