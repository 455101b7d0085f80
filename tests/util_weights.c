#include "tests/util_weights.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/half.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "tests/harness.h"

const uint32_t test_weight_types[] = {
    VKSLM_TYPE_F32,  VKSLM_TYPE_F16,  VKSLM_TYPE_BF16, VKSLM_TYPE_Q4_0, VKSLM_TYPE_Q4_1,
    VKSLM_TYPE_Q5_0, VKSLM_TYPE_Q5_1, VKSLM_TYPE_Q8_0, VKSLM_TYPE_Q2_K, VKSLM_TYPE_Q3_K,
    VKSLM_TYPE_Q4_K, VKSLM_TYPE_Q5_K, VKSLM_TYPE_Q6_K, VKSLM_TYPE_IQ4_NL, VKSLM_TYPE_IQ4_XS,
};
const int test_n_weight_types = (int)(sizeof test_weight_types / sizeof *test_weight_types);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif

int test_quick(void) {
#ifdef TEST_SANITIZED
    return 1;
#else
    const char *e = getenv("VKSLM_TEST_QUICK");
    return e && *e && *e != '0';
#endif
}

int test_weight_type_swept(int t) {
    if (!test_quick())
        return 1;
    uint32_t type = test_weight_types[t];
    return type == VKSLM_TYPE_F16 || type == VKSLM_TYPE_Q4_0 || type == VKSLM_TYPE_Q8_0 || type == VKSLM_TYPE_Q4_K ||
           type == VKSLM_TYPE_Q6_K;
}

uint64_t test_row_bytes(uint32_t type, uint64_t k) { return vkslm_type_row_bytes(type, k); }
const char *test_type_name(uint32_t type) { return vkslm_type_info(type)->name; }

/* a random f16 scale in [lo, hi) stored little-endian at p */
static void put_scale(vkslm_rng *r, uint8_t *p, float lo, float hi) {
    uint16_t h = vkslm_f32_to_f16(vkslm_rng_range(r, lo, hi));
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

uint8_t *test_random_weights(vkslm_rng *r, uint32_t type, uint64_t n_rows, uint64_t k) {
    uint64_t rb = vkslm_type_row_bytes(type, k), bytes = rb * n_rows;
    uint8_t *w = calloc(bytes + 4, 1);
    CU_ASSERT_FATAL(w != NULL && rb != 0);
    if (vkslm_can_quantize(type)) {
        float *f = malloc(k * n_rows * sizeof *f);
        CU_ASSERT_FATAL(f != NULL);
        for (uint64_t i = 0; i < k * n_rows; i++)
            f[i] = vkslm_rng_range(r, -1.0f, 1.0f);
        CU_ASSERT_FATAL(vkslm_quantize_rows(type, f, w, n_rows, k) == bytes);
        free(f);
        return w;
    }
    for (uint64_t i = 0; i < bytes; i++)
        w[i] = (uint8_t)(vkslm_rng_u64(r) >> 56);
    const vkslm_type_traits *t = vkslm_type_info(type);
    for (uint64_t b = 0; b < bytes / t->block_bytes; b++) {
        uint8_t *blk = w + b * t->block_bytes;
        switch (type) {
        case VKSLM_TYPE_Q2_K: put_scale(r, blk + 80, 0.002f, 0.02f); put_scale(r, blk + 82, 0.002f, 0.02f); break;
        case VKSLM_TYPE_Q3_K: put_scale(r, blk + 108, 0.001f, 0.01f); break;
        case VKSLM_TYPE_IQ4_NL: put_scale(r, blk, 0.002f, 0.01f); break;
        case VKSLM_TYPE_IQ4_XS: put_scale(r, blk, 0.0002f, 0.001f); break;
        default: CU_FAIL_FATAL("no random block recipe for this type");
        }
    }
    return w;
}

#include <stdio.h>

#include "engine/cpu/matmul.h"
#include "tests/util_gpu.h"

double test_product_nmse(vkslm_vk *vk, const test_product_case *tc, test_product_fn fn, const void *ctx) {
    vkslm_rng r;
    test_rng(&r, tc->salt);
    uint64_t k = tc->k, n = tc->n, m = tc->m, rb = vkslm_type_row_bytes(tc->type, k);
    uint8_t *w = test_random_weights(&r, tc->type, n, k);
    float *x = malloc(k * m * 4), *bias = malloc(n * 4), *ref = malloc(n * m * 4), *out = malloc(n * m * 4);
    CU_ASSERT_FATAL(x && bias && ref && out);
    for (uint64_t i = 0; i < k * m; i++)
        x[i] = vkslm_rng_range(&r, -1.0f, 1.0f);
    for (uint64_t i = 0; i < n; i++)
        bias[i] = vkslm_rng_range(&r, -1.0f, 1.0f);
    CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, tc->type, w, x, tc->bias ? bias : NULL, k, n, m) == VKSLM_OK);

    /* buffers with the tensors at the requested offsets */
    vkslm_buf bw, bx, bb, bd;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, (tc->w_off + rb * n + 4 + 3) & ~3ull, &bw) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_fill(vk, &bw, 0, bw.size & ~3ull, 0xdeadbeefu) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &bw, tc->w_off, w, rb * n) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, tc->x_off + k * m * 4, &bx) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &bx, tc->x_off, x, k * m * 4) == VKSLM_OK);
    bb = test_upload_floats(vk, bias, n, VKSLM_TYPE_F32);
    bd = test_alloc_poisoned(vk, tc->d_off + n * m * 4 + 64);

    vkslm_tensor tw = {&bw, tc->w_off, tc->type, {k, n, 1, 1}};
    vkslm_tensor tx = {&bx, tc->x_off, VKSLM_TYPE_F32, {k, m, 1, 1}};
    vkslm_tensor td = {&bd, tc->d_off, VKSLM_TYPE_F32, {n, m, 1, 1}};
    vkslm_tensor tb = vkslm_tensor_1d(&bb, 0, VKSLM_TYPE_F32, n);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    double nmse = 1e30;
    vkslm_status st = fn(c, &td, &tw, &tx, tc->bias ? &tb : NULL, ctx);
    if (st != VKSLM_OK)
        fprintf(stderr, "op failed: %s\n", vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    if (st == VKSLM_OK) {
        test_download_floats(vk, &bd, tc->d_off, out, n * m, VKSLM_TYPE_F32);
        nmse = test_nmse(out, ref, n * m);
        /* the poison after d must survive: nothing written past the output */
        float after[16];
        test_download_floats(vk, &bd, tc->d_off + n * m * 4, after, 16, VKSLM_TYPE_F32);
        for (int i = 0; i < 16; i++)
            if (after[i] == after[i])
                nmse = 1e30;
    }
    if (!(nmse < 1e-6))
        fprintf(stderr, "%s k=%llu n=%llu m=%llu bias=%d: nmse %g\n", test_type_name(tc->type),
                (unsigned long long)k, (unsigned long long)n, (unsigned long long)m, tc->bias, nmse);
    vkslm_vk_free(vk, &bw);
    vkslm_vk_free(vk, &bx);
    vkslm_vk_free(vk, &bb);
    vkslm_vk_free(vk, &bd);
    free(w);
    free(x);
    free(bias);
    free(ref);
    free(out);
    return nmse;
}
