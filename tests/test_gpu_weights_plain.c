/* Plain float weights whose rows are not a multiple of 32 elements (tiny models): mat-vec, the prefill
 * path and get_rows against engine/cpu/matmul.c, for F32, F16 and BF16, odd shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/matmul.h"
#include "engine/ops/get_rows.h"
#include "engine/ops/matmul.h"
#include "engine/ops/matvec.h"
#include "loaders/quant.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

static void check(vkslm_vk *vk, uint32_t type, uint64_t K, uint64_t N, uint64_t M, int with_bias, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t row_bytes = vkslm_type_row_bytes(type, K);
    float *wf = malloc(K * N * 4), *x = malloc(K * M * 4), *b = malloc(N * 4), *ref = malloc(N * M * 4),
          *out = malloc(N * M * 4);
    unsigned char *w = malloc(row_bytes * N + 4);
    test_random_floats(&r, wf, K * N, -1, 1, VKSLM_TYPE_F32);
    test_random_floats(&r, x, K * M, -1, 1, VKSLM_TYPE_F32);
    test_random_floats(&r, b, N, -1, 1, VKSLM_TYPE_F32);
    CU_ASSERT_FATAL(vkslm_quantize_row(type, wf, w, K * N) == VKSLM_OK); /* rows are contiguous: one long row */
    CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, type, w, x, with_bias ? b : NULL, K, N, M) == VKSLM_OK);
    vkslm_buf bw = test_upload_bytes(vk, w, row_bytes * N), bx = test_upload_floats(vk, x, K * M, VKSLM_TYPE_F32);
    vkslm_buf bb = test_upload_floats(vk, b, N, VKSLM_TYPE_F32), bd = test_alloc_poisoned(vk, N * M * 4);
    vkslm_tensor tw = {&bw, 0, type, {K, N, 1, 1}}, tx = {&bx, 0, VKSLM_TYPE_F32, {K, M, 1, 1}};
    vkslm_tensor tb = vkslm_tensor_1d(&bb, 0, VKSLM_TYPE_F32, N), td = {&bd, 0, VKSLM_TYPE_F32, {N, M, 1, 1}};
    for (int path = 0; path < 2; path++) {
        vkslm_cmd *c;
        CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
        vkslm_status st = path ? vkslm_op_matmul(c, &td, &tw, &tx, with_bias ? &tb : NULL)
                               : vkslm_op_matvec(c, &td, &tw, &tx, with_bias ? &tb : NULL);
        if (st != VKSLM_OK)
            fprintf(stderr, "%s\n", vkslm_last_error());
        CU_ASSERT_FATAL(st == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
        vkslm_cmd_destroy(c);
        test_download_floats(vk, &bd, 0, out, N * M, VKSLM_TYPE_F32);
        double e = test_nmse(out, ref, N * M);
        if (e > 1e-10)
            fprintf(stderr, "type %u K %llu N %llu M %llu: NMSE %.3e\n", type, (unsigned long long)K,
                    (unsigned long long)N, (unsigned long long)M, e);
        CU_ASSERT(e <= 1e-10);
    }
    /* get_rows of a few ids, one out of range (a zero row) */
    int32_t ids[5] = {0, (int32_t)N - 1, (int32_t)(N / 2), (int32_t)N + 3, 1 % (int32_t)N};
    float *rows = malloc(5 * K * 4), *rref = malloc(5 * K * 4);
    int32_t valid[3] = {ids[0], ids[1], ids[2]};
    CU_ASSERT_FATAL(vkslm_cpu_get_rows(rref, type, w, K, N, valid, 3) == VKSLM_OK);
    vkslm_buf bi = test_upload_bytes(vk, ids, sizeof ids), bg = test_alloc_poisoned(vk, 5 * K * 4);
    vkslm_tensor ti = {&bi, 0, VKSLM_TYPE_I32, {5, 1, 1, 1}}, tg = {&bg, 0, VKSLM_TYPE_F32, {K, 5, 1, 1}};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_op_get_rows(c, &tg, &tw, &ti) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bg, 0, rows, 5 * K, VKSLM_TYPE_F32);
    CU_ASSERT_EQUAL(memcmp(rows, rref, 3 * K * 4), 0);
    for (uint64_t k = 0; k < K; k++)
        CU_ASSERT_EQUAL(rows[3 * K + k], 0.0f);
    vkslm_buf *all[] = {&bw, &bx, &bb, &bd, &bi, &bg};
    for (int i = 0; i < 6; i++)
        vkslm_vk_free(vk, all[i]);
    free(wf);
    free(x);
    free(b);
    free(ref);
    free(out);
    free(w);
    free(rows);
    free(rref);
}

static void test_plain_rows(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    static const uint32_t types[] = {VKSLM_TYPE_F32, VKSLM_TYPE_F16, VKSLM_TYPE_BF16};
    static const uint64_t shapes[][3] = {{8, 37, 1}, {172, 64, 3}, {36, 5, 9}, {12, 1001, 2}, {4, 3, 17}};
    uint64_t salt = 0;
    for (int t = 0; t < 3; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            check(vk, types[t], shapes[s][0], shapes[s][1], shapes[s][2], (int)(s % 2), ++salt);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"plain F32/F16/BF16 rows not a multiple of 32: matvec, matmul, get_rows", test_plain_rows},
        {NULL, NULL},
    };
    return test_run_suite("gpu_weights_plain", tests);
}
