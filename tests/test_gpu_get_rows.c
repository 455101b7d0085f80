/* Embedding lookup (shaders/get_rows.comp) from every weight type against engine/cpu/matmul.c: random
 * ids with repeats and out-of-range ids (zero rows), odd counts, misaligned weight offsets, a matrix
 * split across a 1 MiB storage range, and with fp16 and 8/16-bit storage forced off. Bound: NMSE < 1e-12
 * (the decoders reproduce the CPU's values up to fused multiply-add rounding). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/cpu/matmul.h"
#include "engine/ops/get_rows.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"
#include "tests/util_weights.h"

#define NMSE_BOUND 1e-12

static double worst;

static void check(vkslm_vk *vk, uint32_t type, uint64_t k, uint64_t n_rows, uint64_t n_ids, uint64_t w_off,
                  uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t rb = test_row_bytes(type, k);
    uint8_t *w = test_random_weights(&r, type, n_rows, k);
    int32_t *ids = malloc(n_ids * 4);
    float *ref = malloc(n_ids * k * 4), *out = malloc(n_ids * k * 4);
    CU_ASSERT_FATAL(ids && ref && out);
    for (uint64_t i = 0; i < n_ids; i++) {
        ids[i] = (int32_t)(vkslm_rng_u64(&r) % n_rows);
        if (i == 2)
            ids[i] = -1;
        if (i == 5)
            ids[i] = (int32_t)n_rows; /* one past the end */
        if (i == 3 || i == n_ids - 1)
            ids[i] = (int32_t)n_rows - 1;
        if (ids[i] < 0 || (uint64_t)ids[i] >= n_rows) {
            for (uint64_t j = 0; j < k; j++)
                ref[i * k + j] = 0.0f;
        } else {
            CU_ASSERT_FATAL(vkslm_cpu_get_rows(ref + i * k, type, w, k, n_rows, &ids[i], 1) == VKSLM_OK);
        }
    }
    vkslm_buf bw, bi = test_upload_bytes(vk, ids, n_ids * 4), bd = test_alloc_poisoned(vk, n_ids * k * 4 + 64);
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, (w_off + rb * n_rows + 4 + 3) & ~3ull, &bw) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &bw, w_off, w, rb * n_rows) == VKSLM_OK);
    vkslm_tensor tw = {&bw, w_off, type, {k, n_rows, 1, 1}};
    vkslm_tensor ti = vkslm_tensor_1d(&bi, 0, VKSLM_TYPE_I32, n_ids);
    vkslm_tensor td = {&bd, 0, VKSLM_TYPE_F32, {k, n_ids, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = vkslm_op_get_rows(c, &td, &tw, &ti);
    if (st != VKSLM_OK)
        fprintf(stderr, "get_rows: %s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, 0, out, n_ids * k, VKSLM_TYPE_F32);
    double e = test_nmse(out, ref, n_ids * k);
    float after[16];
    test_download_floats(vk, &bd, n_ids * k * 4, after, 16, VKSLM_TYPE_F32);
    for (int i = 0; i < 16; i++)
        if (after[i] == after[i])
            e = 1e30; /* wrote past the output */
    if (!(e < NMSE_BOUND))
        fprintf(stderr, "get_rows %s k=%llu rows=%llu ids=%llu: nmse %g\n", test_type_name(type),
                (unsigned long long)k, (unsigned long long)n_rows, (unsigned long long)n_ids, e);
    CU_ASSERT(e < NMSE_BOUND);
    if (e > worst)
        worst = e;
    vkslm_vk_free(vk, &bw);
    vkslm_vk_free(vk, &bi);
    vkslm_vk_free(vk, &bd);
    free(w);
    free(ids);
    free(ref);
    free(out);
}

static void sweep(vkslm_vk *vk, int reduced) {
    uint64_t salt = 300;
    for (int t = 0; t < test_n_weight_types; t++) {
        if (!test_weight_type_swept(t))
            continue;
        uint32_t type = test_weight_types[t];
        uint32_t be = vkslm_type_info(type)->block_elems;
        uint64_t align = be == 1 ? 4 : 2;
        check(vk, type, be == 256 ? 768 : 32 * 7, 37, 13, align, ++salt);
        if (!reduced)
            check(vk, type, be == 256 ? 256 : 32 * 3, 5, 9, 0, ++salt);
    }
}

static void test_get_rows_all_types(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    worst = 0;
    sweep(vk, 0);
    printf("worst NMSE (get_rows): %.2g\n", worst);
    test_gpu_assert_clean(vk);
}

static void test_get_rows_without_optional_features(void) {
    const char *env[] = {"VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_get_rows_split_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT(test_row_bytes(VKSLM_TYPE_Q8_0, 1024) * 1931 > 1048576);
    check(vk, VKSLM_TYPE_Q8_0, 1024, 1931, 41, 2, 77);
    check(vk, VKSLM_TYPE_Q4_K, 2048, 1000, 29, 0, 78);
    /* more ids than one output binding holds: 300 rows of 1024 floats = 1.2 MB */
    check(vk, VKSLM_TYPE_F16, 1024, 600, 300, 4, 79);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"get_rows: every weight type, repeats and out-of-range ids", test_get_rows_all_types},
        {"get_rows without fp16 and 8/16-bit storage", test_get_rows_without_optional_features},
        {"get_rows: matrix and output split across a 1 MiB storage range", test_get_rows_split_storage_range},
        {NULL, NULL},
    };
    return test_run_suite("gpu_get_rows", tests);
}
