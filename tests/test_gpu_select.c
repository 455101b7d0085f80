/* Softmax (NMSE < 1e-10 against a double reference), argmax and top-k (exact ids and values) against
 * engine/cpu/select.c: odd row lengths up to a 151936-entry vocabulary, several rows, many ties, NaN,
 * and rows split by a small forced storage range. Prints the device time of argmax/top-k on one
 * vocabulary row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/select.h"
#include "engine/ops/select.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

#define NMSE_BOUND 1e-10

static double worst;

static void check_softmax(vkslm_vk *vk, uint64_t n, uint64_t rows, float scale, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t N = n * rows;
    float *a = malloc(N * 4), *ref = malloc(N * 4), *out = malloc(N * 4);
    test_random_floats(&r, a, N, -20.0f, 20.0f, VKSLM_TYPE_F32);
    vkslm_cpu_softmax(ref, a, n, rows, scale);
    vkslm_buf ba = test_upload_floats(vk, a, N, VKSLM_TYPE_F32), bd = test_alloc_poisoned(vk, N * 4);
    vkslm_tensor ta = {&ba, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}}, td = {&bd, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_op_softmax(c, &td, &ta, scale) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, 0, out, N, VKSLM_TYPE_F32);
    double e = test_nmse(out, ref, N);
    if (e > worst)
        worst = e;
    if (!(e < NMSE_BOUND))
        fprintf(stderr, "softmax n=%llu rows=%llu: NMSE %g\n", (unsigned long long)n, (unsigned long long)rows, e);
    CU_ASSERT(e < NMSE_BOUND);
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &bd);
    free(a), free(ref), free(out);
}

/* ties: values on a coarse grid (many equal); returns mismatches. k == 0: argmax. Device ms of the
 * selection into *ms when the context profiles. */
static uint64_t check_topk(vkslm_vk *vk, uint64_t n, uint64_t rows, uint32_t k, int ties, uint64_t salt, double *ms) {
    vkslm_rng r;
    test_rng(&r, salt);
    int argmax = k == 0;
    uint32_t kk = argmax ? 1 : k;
    uint64_t N = n * rows;
    float *a = malloc(N * 4), *vref = malloc(rows * kk * 4), *vout = malloc(rows * kk * 4);
    int32_t *iref = malloc(rows * kk * 4), *iout = malloc(rows * kk * 4);
    test_random_floats(&r, a, N, -30.0f, 30.0f, VKSLM_TYPE_F32);
    for (uint64_t i = 0; i < N; i++) {
        if (ties)
            a[i] = floorf(a[i] / 4.0f);
        if (vkslm_rng_u64(&r) % 997 == 0)
            a[i] = NAN;
    }
    vkslm_cpu_topk(iref, vref, a, n, rows, kk);
    vkslm_buf ba = test_upload_floats(vk, a, N, VKSLM_TYPE_F32);
    vkslm_buf bi = test_alloc_poisoned(vk, rows * kk * 4), bv = test_alloc_poisoned(vk, rows * kk * 4), bs;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, vkslm_op_topk_scratch_bytes(n, rows, kk), &bs) == VKSLM_OK);
    vkslm_tensor ta = {&ba, 0, VKSLM_TYPE_F32, {n, rows, 1, 1}};
    vkslm_tensor ti = {&bi, 0, VKSLM_TYPE_I32, {kk, rows, 1, 1}}, tv = {&bv, 0, VKSLM_TYPE_F32, {kk, rows, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = argmax ? vkslm_op_argmax(c, &ti, &ta, &bs) : vkslm_op_topk(c, &ti, &tv, &ta, k, &bs);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    if (ms) {
        const vkslm_timing *t;
        uint32_t nt = vkslm_cmd_timings(c, &t);
        *ms = 0;
        for (uint32_t i = 0; i < nt; i++)
            *ms += t[i].gpu_ms;
    }
    vkslm_cmd_destroy(c);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &bi, 0, iout, rows * kk * 4) == VKSLM_OK);
    if (!argmax)
        test_download_floats(vk, &bv, 0, vout, rows * kk, VKSLM_TYPE_F32);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < rows * kk; i++)
        if (iout[i] != iref[i] || (!argmax && memcmp(&vout[i], &vref[i], 4))) {
            if (bad++ < 3)
                fprintf(stderr, "%s n=%llu rows=%llu k=%u ties=%d: [%llu] got %d (%g) want %d (%g)\n",
                        argmax ? "argmax" : "topk", (unsigned long long)n, (unsigned long long)rows, kk, ties,
                        (unsigned long long)i, iout[i], argmax ? 0.0 : vout[i], iref[i], vref[i]);
        }
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &bi);
    vkslm_vk_free(vk, &bv);
    vkslm_vk_free(vk, &bs);
    free(a), free(vref), free(vout), free(iref), free(iout);
    return bad;
}

static void sweep(vkslm_vk *vk, int reduced) {
    static const uint64_t ns[] = {1, 5, 1000, 1025, 4099, 151936};
    static const uint32_t ks[] = {0, 1, 8, 40, 64};
    uint64_t salt = 0;
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        uint64_t rows = ns[i] > 5000 ? 2 : 3;
        check_softmax(vk, ns[i], rows, i & 1 ? 0.125f : 1.0f, ++salt);
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
            if (ks[j] > ns[i] || (reduced && (i + j) % 2))
                continue;
            for (int ties = 0; ties < 2; ties++)
                CU_ASSERT_EQUAL(check_topk(vk, ns[i], rows, ks[j], ties, ++salt, NULL), 0);
        }
    }
}

static void test_select_shapes(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    worst = 0;
    sweep(vk, 0);
    printf("softmax: worst NMSE %.3g (bound %g); argmax/top-k exact\n", worst, NMSE_BOUND);
    test_gpu_assert_clean(vk);
}

static void test_select_no_f16(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* Against a 256 KiB range, a 151936-entry row (593 KiB) splits into column chunks; 6 rows of 60001 split
 * into row chunks; softmax over 40 rows of 10007 splits too. */
static void test_select_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=262144", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_EQUAL(check_topk(vk, 151936, 2, 0, 0, 401, NULL), 0);
    CU_ASSERT_EQUAL(check_topk(vk, 151936, 1, 64, 1, 402, NULL), 0);
    CU_ASSERT_EQUAL(check_topk(vk, 60001, 6, 0, 1, 403, NULL), 0);
    CU_ASSERT_EQUAL(check_topk(vk, 60001, 6, 17, 0, 404, NULL), 0);
    check_softmax(vk, 10007, 40, 1.0f, 405);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_select_timing(void) {
    vkslm_vk *vk = test_gpu_open_env(NULL, 1);
    TEST_REQUIRE_GPU(vk);
    double ms_argmax = 0, ms_top40 = 0, ms_top64 = 0;
    for (int warm = 0; warm < 2; warm++) { /* the first run includes lavapipe's shader compilation */
        CU_ASSERT_EQUAL(check_topk(vk, 151936, 1, 0, 0, 501, &ms_argmax), 0);
        CU_ASSERT_EQUAL(check_topk(vk, 151936, 1, 40, 0, 502, &ms_top40), 0);
        CU_ASSERT_EQUAL(check_topk(vk, 151936, 1, 64, 0, 503, &ms_top64), 0);
    }
    printf("vocab 151936, one row: argmax %.3f ms, top-40 %.3f ms, top-64 %.3f ms (device time)\n", ms_argmax,
           ms_top40, ms_top64);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_select_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 4096, &b) == VKSLM_OK);
    vkslm_tensor a = {&b, 0, VKSLM_TYPE_F32, {100, 2, 1, 1}}, ids = {&b, 0, VKSLM_TYPE_I32, {65, 2, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_topk(c, &ids, NULL, &a, 65, &b), VKSLM_ERR_INVALID_ARG); /* k > 64 */
    CU_ASSERT_EQUAL(vkslm_op_topk(c, &ids, NULL, &a, 0, &b), VKSLM_ERR_INVALID_ARG);
    vkslm_buf tiny = b;
    tiny.size = 16;
    CU_ASSERT_EQUAL(vkslm_op_argmax(c, &ids, &a, &tiny), VKSLM_ERR_INVALID_ARG); /* scratch too small */
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"softmax, argmax, top-k: odd lengths up to 151936, ties, NaN", test_select_shapes},
        {"softmax/argmax/top-k with fp16 and 8/16-bit storage off", test_select_no_f16},
        {"argmax/top-k/softmax split by a 256 KiB storage range", test_select_small_storage_range},
        {"argmax/top-k device time on a 151936 vocabulary", test_select_timing},
        {"top-k/argmax reject bad arguments", test_select_bad_args},
        {NULL, NULL},
    };
    return test_run_suite("gpu_select", tests);
}
