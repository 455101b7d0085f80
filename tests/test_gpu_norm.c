/* RMSNorm and LayerNorm shaders against engine/cpu/norm.c: odd row lengths and row counts, with and
 * without weight and bias, in place, and rows split by a small forced storage range.
 * Bound: NMSE < 1e-10 (f32 throughout; only the summation order differs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/norm.h"
#include "engine/ops/norm.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

#define NMSE_BOUND 1e-10

static double worst;

/* mode: 0 rms, 1 rms*w, 2 layer, 3 layer*w, 4 layer*w+b, 5 layer+b */
static void check(vkslm_vk *vk, int mode, uint64_t n, uint64_t rows, int in_place, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t N = n * rows;
    float *a = malloc(N * 4), *w = malloc(n * 4), *b = malloc(n * 4), *ref = malloc(N * 4), *out = malloc(N * 4);
    test_random_floats(&r, a, N, -3.0f, 5.0f, VKSLM_TYPE_F32); /* mean != 0 */
    test_random_floats(&r, w, n, -2.0f, 2.0f, VKSLM_TYPE_F32);
    test_random_floats(&r, b, n, -1.0f, 1.0f, VKSLM_TYPE_F32);
    int layer = mode >= 2, use_w = mode == 1 || mode == 3 || mode == 4, use_b = mode >= 4;
    float eps = 1e-5f;
    if (layer)
        vkslm_cpu_layer_norm(ref, a, use_w ? w : NULL, use_b ? b : NULL, n, rows, eps);
    else
        vkslm_cpu_rms_norm(ref, a, use_w ? w : NULL, n, rows, eps);

    /* a sits 4 bytes into its buffer, so bindings need the skip */
    vkslm_buf ba;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, N * 4 + 4, &ba) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &ba, 4, a, N * 4) == VKSLM_OK);
    vkslm_buf bw = test_upload_floats(vk, w, n, VKSLM_TYPE_F32), bb = test_upload_floats(vk, b, n, VKSLM_TYPE_F32);
    vkslm_buf bd = in_place ? ba : test_alloc_poisoned(vk, N * 4);
    vkslm_tensor ta = {&ba, 4, VKSLM_TYPE_F32, {n, rows, 1, 1}};
    vkslm_tensor td = {&bd, in_place ? 4 : 0, VKSLM_TYPE_F32, {n, rows, 1, 1}};
    vkslm_tensor tw = vkslm_tensor_1d(&bw, 0, VKSLM_TYPE_F32, n), tb = vkslm_tensor_1d(&bb, 0, VKSLM_TYPE_F32, n);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = layer ? vkslm_op_layer_norm(c, &td, &ta, use_w ? &tw : NULL, use_b ? &tb : NULL, eps)
                            : vkslm_op_rms_norm(c, &td, &ta, use_w ? &tw : NULL, eps);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, in_place ? 4 : 0, out, N, VKSLM_TYPE_F32);
    double e = test_nmse(out, ref, N);
    if (e > worst)
        worst = e;
    if (!(e < NMSE_BOUND))
        fprintf(stderr, "norm mode %d n=%llu rows=%llu in_place=%d: NMSE %g\n", mode, (unsigned long long)n,
                (unsigned long long)rows, in_place, e);
    CU_ASSERT(e < NMSE_BOUND);
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &bw);
    vkslm_vk_free(vk, &bb);
    if (!in_place)
        vkslm_vk_free(vk, &bd);
    free(a), free(w), free(b), free(ref), free(out);
}

/* a += r, d = rms_norm(a) * w in one dispatch; d is r itself when d_is_r. */
static void check_add(vkslm_vk *vk, uint64_t n, uint64_t rows, int d_is_r, uint64_t salt) {
    vkslm_rng rng;
    test_rng(&rng, salt);
    uint64_t N = n * rows;
    float *a = malloc(N * 4), *r = malloc(N * 4), *w = malloc(n * 4), *sum = malloc(N * 4), *ref = malloc(N * 4),
          *out = malloc(N * 4);
    test_random_floats(&rng, a, N, -3.0f, 5.0f, VKSLM_TYPE_F32);
    test_random_floats(&rng, r, N, -2.0f, 2.0f, VKSLM_TYPE_F32);
    test_random_floats(&rng, w, n, -2.0f, 2.0f, VKSLM_TYPE_F32);
    for (uint64_t i = 0; i < N; i++)
        sum[i] = a[i] + r[i];
    vkslm_cpu_rms_norm(ref, sum, w, n, rows, 1e-6f);
    vkslm_buf ba = test_upload_floats(vk, a, N, VKSLM_TYPE_F32), br = test_upload_floats(vk, r, N, VKSLM_TYPE_F32);
    vkslm_buf bw = test_upload_floats(vk, w, n, VKSLM_TYPE_F32);
    vkslm_buf bd = d_is_r ? br : test_alloc_poisoned(vk, N * 4);
    vkslm_tensor ta = {&ba, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}}, tr = {&br, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}};
    vkslm_tensor td = {&bd, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}}, tw = vkslm_tensor_1d(&bw, 0, VKSLM_TYPE_F32, n);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_op_rms_norm_add(c, &td, &ta, &tr, &tw, 1e-6f) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, 0, out, N, VKSLM_TYPE_F32);
    double e = test_nmse(out, ref, N);
    if (e > worst)
        worst = e;
    CU_ASSERT(e < NMSE_BOUND);
    test_download_floats(vk, &ba, 0, out, N, VKSLM_TYPE_F32);
    CU_ASSERT_EQUAL(memcmp(out, sum, N * 4), 0); /* the residual stream, exactly */
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &br);
    vkslm_vk_free(vk, &bw);
    if (!d_is_r)
        vkslm_vk_free(vk, &bd);
    free(a), free(r), free(w), free(sum), free(ref), free(out);
}

static void test_rms_norm_add(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    static const uint64_t ns[] = {1, 7, 576, 4099};
    static const uint64_t rowss[] = {1, 5, 33};
    uint64_t salt = 900;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++)
            check_add(vk, ns[i], rowss[j], (int)((i + j) & 1), ++salt);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm_add(NULL, NULL, NULL, NULL, NULL, 0), VKSLM_ERR_INVALID_ARG);
    test_gpu_assert_clean(vk);
}

static void sweep(vkslm_vk *vk, int reduced) {
    static const uint64_t ns[] = {1, 7, 96, 895, 2048, 4099};
    static const uint64_t rowss[] = {1, 3, 37};
    uint64_t salt = 0;
    for (int mode = 0; mode < 6; mode++)
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
            for (size_t j = 0; j < sizeof rowss / sizeof *rowss; j++) {
                if (reduced && (i + j + mode) % 3)
                    continue;
                check(vk, mode, ns[i], rowss[j], (int)((i + j) & 1), ++salt);
            }
}

static void test_norm_shapes(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    worst = 0;
    sweep(vk, 0);
    printf("norm: worst NMSE %.3g (bound %g)\n", worst, NMSE_BOUND);
    test_gpu_assert_clean(vk);
}

static void test_norm_no_f16(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* 300 rows of 4099 floats (4.9 MB) against a 1 MiB range: several dispatches. */
static void test_norm_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    check(vk, 1, 4099, 300, 0, 101);
    check(vk, 4, 4099, 300, 1, 102);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_norm_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 4096, &b) == VKSLM_OK);
    vkslm_tensor a = {&b, 0, VKSLM_TYPE_F32, {64, 4, 1, 1}}, d = {&b, 0, VKSLM_TYPE_F32, {64, 3, 1, 1}};
    vkslm_tensor w = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_F32, 32), h = {&b, 0, VKSLM_TYPE_F16, {64, 4, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &d, &a, NULL, 1e-5f), VKSLM_ERR_INVALID_ARG);   /* d too small */
    CU_ASSERT_EQUAL(vkslm_op_rms_norm(c, &a, &a, &w, 1e-5f), VKSLM_ERR_INVALID_ARG);     /* w too short */
    CU_ASSERT_EQUAL(vkslm_op_layer_norm(c, &h, &h, NULL, NULL, 1e-5f), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"rms/layer norm, odd shapes, weight and bias, in place", test_norm_shapes},
        {"norms with fp16 and 8/16-bit storage off", test_norm_no_f16},
        {"norms over rows split by a 1 MiB storage range", test_norm_small_storage_range},
        {"norms reject bad arguments", test_norm_bad_args},
        {"residual add fused into RMSNorm (d may be the residual)", test_rms_norm_add},
        {NULL, NULL},
    };
    return test_run_suite("gpu_norm", tests);
}
