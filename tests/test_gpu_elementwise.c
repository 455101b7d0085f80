/* Elementwise shaders (add, mul, scale, copy/convert; f32 and f16) against engine/cpu/, on odd sizes,
 * with and without 16-bit storage, and on tensors far larger than a forced small storage range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/elementwise.h"
#include "engine/ops/elementwise.h"
#include "engine/util/half.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

typedef enum { OP_ADD, OP_MUL, OP_SCALE, OP_COPY, OP_SOFTCAP } op_kind;
static const char *op_names[] = {"add", "mul", "scale", "copy", "softcap"};

static void fill_random(vkslm_rng *r, float *x, uint64_t n, uint32_t type) {
    test_random_floats(r, x, n, -4.0f, 4.0f, type);
}

/* Runs one op on the device and compares with the reference; returns the number of mismatches. f32
 * output must match exactly; f16 output within one f16 rounding step (the device may round f32->f16
 * differently at ties). */
static uint64_t check_op(vkslm_vk *vk, op_kind op, uint32_t ta, uint32_t td, uint64_t n, uint64_t nb, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    int has_b = op == OP_ADD || op == OP_MUL;
    float *a = malloc(n * 4), *b = malloc((has_b ? nb : 1) * 4), *ref = malloc(n * 4), *out = malloc(n * 4);
    fill_random(&r, a, n, ta);
    if (has_b)
        fill_random(&r, b, nb, ta);
    float s = 0.37f;
    switch (op) {
    case OP_ADD: vkslm_cpu_add(ref, a, b, n, nb); break;
    case OP_MUL: vkslm_cpu_mul(ref, a, b, n, nb); break;
    case OP_SCALE: vkslm_cpu_scale(ref, a, s, n); break;
    case OP_COPY: memcpy(ref, a, n * 4); break;
    case OP_SOFTCAP: vkslm_cpu_softcap(ref, a, 1.7f, n); break;
    }
    if (td == VKSLM_TYPE_F16)
        vkslm_cpu_round_f16(ref, n);

    vkslm_buf ba = test_upload_floats(vk, a, n, ta), bb = {0};
    if (has_b)
        bb = test_upload_floats(vk, b, nb, ta);
    uint64_t dbytes = n * (td == VKSLM_TYPE_F16 ? 2 : 4);
    vkslm_buf bd = test_alloc_poisoned(vk, dbytes);

    vkslm_tensor ta_ = vkslm_tensor_1d(&ba, 0, ta, n), tb = vkslm_tensor_1d(&bb, 0, ta, nb),
                 td_ = vkslm_tensor_1d(&bd, 0, td, n);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = VKSLM_OK;
    switch (op) {
    case OP_ADD: st = vkslm_op_add(c, &td_, &ta_, &tb); break;
    case OP_MUL: st = vkslm_op_mul(c, &td_, &ta_, &tb); break;
    case OP_SCALE: st = vkslm_op_scale(c, &td_, &ta_, s); break;
    case OP_COPY: st = vkslm_op_copy(c, &td_, &ta_); break;
    case OP_SOFTCAP: st = vkslm_op_softcap(c, &td_, &ta_, 1.7f); break;
    }
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, 0, out, n, td);

    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        float tol = td == VKSLM_TYPE_F16 ? fabsf(ref[i]) * (1.0f / 1024.0f) + 1e-7f : 0.0f;
        if (op == OP_SOFTCAP) /* tanh through exp: a few ulp from the double reference */
            tol += 4e-6f * (fabsf(ref[i]) + 1.0f);
        if (!(fabsf(out[i] - ref[i]) <= tol)) {
            if (bad < 3)
                fprintf(stderr, "%s %s->%s n=%llu nb=%llu: [%llu] got %g want %g\n", op_names[op],
                        ta == VKSLM_TYPE_F16 ? "f16" : "f32", td == VKSLM_TYPE_F16 ? "f16" : "f32",
                        (unsigned long long)n, (unsigned long long)nb, (unsigned long long)i, out[i], ref[i]);
            bad++;
        }
    }
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &bb);
    vkslm_vk_free(vk, &bd);
    free(a);
    free(b);
    free(ref);
    free(out);
    return bad;
}

static void sweep(vkslm_vk *vk) {
    static const uint64_t sizes[] = {1, 2, 3, 7, 255, 256, 257, 1001, 4099, 65537};
    static const uint32_t types[] = {VKSLM_TYPE_F32, VKSLM_TYPE_F16};
    uint64_t salt = 0;
    for (int op = 0; op < 5; op++)
        for (int ia = 0; ia < 2; ia++)
            for (int id = 0; id < 2; id++)
                for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                    uint64_t n = sizes[k];
                    uint64_t nbs[3] = {n, 1, 0};
                    /* a broadcast period that divides n and is neither 1 nor n, when one exists */
                    for (uint64_t d = 2; d < n && !nbs[2]; d++)
                        if (n % d == 0 && d > n / 64)
                            nbs[2] = d;
                    for (int j = 0; j < 3; j++) {
                        if (!nbs[j] || ((op == OP_SCALE || op == OP_COPY || op == OP_SOFTCAP) && j > 0))
                            continue;
                        CU_ASSERT_EQUAL(check_op(vk, (op_kind)op, types[ia], types[id], n, nbs[j], ++salt), 0);
                    }
                }
}

static void test_elementwise_all_types(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    sweep(vk);
    test_gpu_assert_clean(vk);
}

static void test_elementwise_without_16bit_storage(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_FALSE(vkslm_vk_get_enabled(vk)->storage16);
    sweep(vk);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* A 1 MiB bindable range; tensors of 12+ MB split into many dispatches and still match exactly. */
static void test_elementwise_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", "VKSLM_STAGING_BYTES=65536", "VKSLM_DISABLE_UMA=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_EQUAL(vkslm_vk_max_range(vk), 1048576);
    uint64_t n = 1001 * 3143; /* 3146143 elements: 12.6 MB of f32 */
    CU_ASSERT_EQUAL(check_op(vk, OP_ADD, VKSLM_TYPE_F32, VKSLM_TYPE_F32, n, n, 1), 0);      /* b split too */
    CU_ASSERT_EQUAL(check_op(vk, OP_MUL, VKSLM_TYPE_F32, VKSLM_TYPE_F32, n, 1001, 2), 0);
    CU_ASSERT_EQUAL(check_op(vk, OP_COPY, VKSLM_TYPE_F32, VKSLM_TYPE_F16, n, 1, 3), 0);
    CU_ASSERT_EQUAL(check_op(vk, OP_SCALE, VKSLM_TYPE_F16, VKSLM_TYPE_F32, n, 1, 4), 0);
    /* a broadcast operand larger than the range: chunks must not wrap around it */
    uint64_t nb = 300001, n2 = nb * 3;
    CU_ASSERT_EQUAL(check_op(vk, OP_ADD, VKSLM_TYPE_F32, VKSLM_TYPE_F32, n2, nb, 5), 0);
    /* binding more than the range is refused, not silently truncated */
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 2u << 20, &b) == VKSLM_OK);
    vkslm_binding bind;
    uint64_t skip;
    CU_ASSERT_EQUAL(vkslm_vk_bind(vk, &b, 0, 2u << 20, 0, &bind, &skip), VKSLM_ERR_LIMIT);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_elementwise_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 4096, &b) == VKSLM_OK);
    vkslm_tensor a = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_F32, 100), bb = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_F32, 7),
                 d = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_F32, 99), q = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_Q4_0, 64);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_add(c, &a, &a, &bb), VKSLM_ERR_INVALID_ARG); /* 7 does not divide 100 */
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "divide"));
    CU_ASSERT_EQUAL(vkslm_op_copy(c, &d, &a), VKSLM_ERR_INVALID_ARG);    /* size mismatch */
    CU_ASSERT_EQUAL(vkslm_op_copy(c, &q, &q), VKSLM_ERR_UNSUPPORTED);    /* quantized */
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);                 /* nothing recorded: still fine */
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"elementwise ops, every type pair, odd sizes, broadcast", test_elementwise_all_types},
        {"elementwise ops without 16-bit storage (packed f16)", test_elementwise_without_16bit_storage},
        {"elementwise ops on tensors far larger than a 1 MiB storage range", test_elementwise_small_storage_range},
        {"elementwise ops reject bad arguments", test_elementwise_bad_args},
        {NULL, NULL},
    };
    return test_run_suite("gpu_elementwise", tests);
}
