/* Attention shaders (decode and prefill; GQA, sliding window, soft-capping, custom scale; f16 and f32 KV
 * caches; split keys with a combine pass) against engine/cpu/attention.c, on odd shapes, without 16-bit
 * storage and fp16, and with a KV cache and q far larger than a forced 1 MiB storage range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/attention.h"
#include "engine/ops/attention.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

/* NMSE bounds: all device arithmetic is f32 against a double reference on the same (f16-rounded)
 * inputs, so the error is f32 rounding in dot products, exp and sums over up to a few thousand keys. */
#define NMSE_BOUND 1e-9
#define NMSE_BOUND_SOFTCAP 1e-8 /* tanh adds its own rounding */

typedef struct attn_case {
    uint32_t D, n_head, n_head_kv, n_tokens, n_ctx, p0, window;
    float scale, softcap;
    uint32_t kv_type;
    uint32_t splits; /* scratch for this many key splits; 0: no scratch */
    uint32_t subgroups; /* vkslm_attn_params.subgroups */
} attn_case;

static double worst_nmse;
/* dispatches of the last case (counted when the context profiles) */
static uint32_t last_attn_dispatches, last_combine_dispatches;

static const char *type_name(uint32_t t) { return t == VKSLM_TYPE_F16 ? "f16" : "f32"; }

#define PAD 36 /* elements: a multiple of 4 whose byte count is no multiple of the offset alignment */
#define POISON 0x7fc07fc0u /* test_alloc_poisoned's word */

static vkslm_buf upload_padded(vkslm_vk *vk, const float *x, uint64_t n, uint32_t type) {
    float *p = malloc((n + 2 * PAD) * 4);
    CU_ASSERT_FATAL(p != NULL);
    for (uint64_t i = 0; i < n + 2 * PAD; i++)
        p[i] = i < PAD || i >= n + PAD ? NAN : x[i - PAD];
    vkslm_buf b = test_upload_floats(vk, p, n + 2 * PAD, type);
    free(p);
    return b;
}

/* Runs one case; returns its NMSE (INFINITY when the op fails or writes a non-finite value) and the op's
 * status in *status. */
static double run_case(vkslm_vk *vk, const attn_case *tc, uint64_t salt, vkslm_status *status) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint32_t D = tc->D;
    uint64_t nq = (uint64_t)tc->n_tokens * tc->n_head * D;
    uint64_t nkv = (uint64_t)tc->n_head_kv * tc->n_ctx * D;
    float *q = malloc(nq * 4), *k = malloc(nkv * 4), *v = malloc(nkv * 4), *ref = malloc(nq * 4),
          *out = malloc(nq * 4);
    CU_ASSERT_FATAL(q && k && v && ref && out);
    test_random_floats(&r, q, nq, -2.0f, 2.0f, VKSLM_TYPE_F32);
    test_random_floats(&r, k, nkv, -1.0f, 1.0f, tc->kv_type);
    test_random_floats(&r, v, nkv, -1.0f, 1.0f, tc->kv_type);
    /* cache positions no token may see hold NaN: reading one of them poisons the output */
    uint32_t kv_end = tc->p0 + tc->n_tokens;
    uint32_t lo = tc->window && tc->p0 + 1 > tc->window ? tc->p0 + 1 - tc->window : 0;
    for (uint32_t h = 0; h < tc->n_head_kv; h++)
        for (uint32_t j = 0; j < tc->n_ctx; j++)
            if (j < lo || j >= kv_end)
                for (uint32_t d = 0; d < D; d++) {
                    k[((uint64_t)h * tc->n_ctx + j) * D + d] = NAN;
                    v[((uint64_t)h * tc->n_ctx + j) * D + d] = NAN;
                }
    vkslm_cpu_attn_shape shape = {D, tc->n_head, tc->n_head_kv, tc->n_tokens, tc->n_ctx, tc->p0, tc->window,
                                  tc->scale, tc->softcap};
    CU_ASSERT_FATAL(vkslm_cpu_attention(ref, q, k, v, &shape) == 0);

    /* every tensor sits PAD elements into its buffer, after and before NaN (inputs) or poison (out) */
    vkslm_buf bq = upload_padded(vk, q, nq, VKSLM_TYPE_F32);
    vkslm_buf bk = upload_padded(vk, k, nkv, tc->kv_type);
    vkslm_buf bv = upload_padded(vk, v, nkv, tc->kv_type);
    vkslm_buf bo = test_alloc_poisoned(vk, (nq + 2 * PAD) * 4);
    uint64_t sbytes = vkslm_attn_scratch_bytes(tc->n_tokens, tc->n_head, D, tc->splits);
    vkslm_buf bs = {0};
    if (sbytes)
        bs = test_alloc_poisoned(vk, sbytes);
    uint64_t kv_pad = PAD * (tc->kv_type == VKSLM_TYPE_F16 ? 2 : 4);
    vkslm_tensor tq = {&bq, PAD * 4, VKSLM_TYPE_F32, {D, tc->n_head, tc->n_tokens, 1}};
    vkslm_tensor to = {&bo, PAD * 4, VKSLM_TYPE_F32, {D, tc->n_head, tc->n_tokens, 1}};
    vkslm_tensor tk = {&bk, kv_pad, tc->kv_type, {D, tc->n_ctx, tc->n_head_kv, 1}};
    vkslm_tensor tv = {&bv, kv_pad, tc->kv_type, {D, tc->n_ctx, tc->n_head_kv, 1}};
    vkslm_tensor ts = vkslm_tensor_1d(&bs, 0, VKSLM_TYPE_F32, sbytes / 4);
    vkslm_attn_params params = {tc->p0, tc->scale, tc->softcap, tc->window, tc->subgroups};

    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = vkslm_op_attention(c, &to, &tq, &tk, &tv, sbytes ? &ts : NULL, &params);
    *status = st;
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    const vkslm_timing *tm;
    uint32_t n_tm = vkslm_cmd_timings(c, &tm);
    last_attn_dispatches = last_combine_dispatches = 0;
    for (uint32_t i = 0; i < n_tm; i++) {
        last_attn_dispatches += strcmp(tm[i].label, "attention") == 0;
        last_combine_dispatches += strcmp(tm[i].label, "attention combine") == 0;
    }
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bo, PAD * 4, out, nq, VKSLM_TYPE_F32);
    uint32_t edge[PAD];
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &bo, 0, edge, sizeof edge) == VKSLM_OK);
    for (int i = 0; i < PAD; i++)
        CU_ASSERT_EQUAL(edge[i], POISON);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, &bo, (PAD + nq) * 4, edge, sizeof edge) == VKSLM_OK);
    for (int i = 0; i < PAD; i++)
        CU_ASSERT_EQUAL(edge[i], POISON);

    double nmse = st == VKSLM_OK ? test_nmse(out, ref, nq) : INFINITY;
    for (uint64_t i = 0; i < nq; i++)
        if (!isfinite(out[i])) {
            nmse = INFINITY;
            break;
        }
    double bound = tc->softcap > 0.0f ? NMSE_BOUND_SOFTCAP : NMSE_BOUND;
    if (st == VKSLM_OK && !(nmse <= bound))
        fprintf(stderr,
                "FAIL attention D=%u heads=%u/%u tokens=%u p0=%u ctx=%u window=%u scale=%g softcap=%g %s splits=%u: "
                "nmse %g > %g\n",
                D, tc->n_head, tc->n_head_kv, tc->n_tokens, tc->p0, tc->n_ctx, tc->window, tc->scale, tc->softcap,
                type_name(tc->kv_type), tc->splits, nmse, bound);
    if (st == VKSLM_OK && nmse > worst_nmse)
        worst_nmse = nmse;
    vkslm_vk_free(vk, &bq);
    vkslm_vk_free(vk, &bk);
    vkslm_vk_free(vk, &bv);
    vkslm_vk_free(vk, &bo);
    if (sbytes)
        vkslm_vk_free(vk, &bs);
    free(q);
    free(k);
    free(v);
    free(ref);
    free(out);
    return nmse;
}

static void check_case(vkslm_vk *vk, const attn_case *tc, uint64_t salt) {
    vkslm_status st;
    double nmse = run_case(vk, tc, salt, &st);
    if (st != VKSLM_OK)
        fprintf(stderr, "attention: %s\n", vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    CU_ASSERT_TRUE(nmse <= (tc->softcap > 0.0f ? NMSE_BOUND_SOFTCAP : NMSE_BOUND));
}

/* decode: one token at position n_kv - 1 */
static attn_case decode(uint32_t D, uint32_t nh, uint32_t nkv, uint32_t n_kv, uint32_t window, float scale,
                        float softcap, uint32_t type, uint32_t splits) {
    attn_case c = {D, nh, nkv, 1, n_kv + 5, n_kv - 1, window, scale, softcap, type, splits, 0};
    return c;
}

static attn_case prefill(uint32_t D, uint32_t nh, uint32_t nkv, uint32_t n_tokens, uint32_t p0, uint32_t window,
                         float scale, float softcap, uint32_t type, uint32_t splits) {
    attn_case c = {D, nh, nkv, n_tokens, p0 + n_tokens + 3, p0, window, scale, softcap, type, splits, 0};
    return c;
}

static void decode_sweep(vkslm_vk *vk, int reduced, uint32_t subgroups) {
    static const uint32_t types[] = {VKSLM_TYPE_F16, VKSLM_TYPE_F32};
    uint64_t salt = 100;
    for (int ti = 0; ti < 2; ti++) {
        uint32_t ty = types[ti];
        attn_case cases[] = {
            decode(64, 6, 2, 1, 0, 0, 0, ty, 8),            /* a single key */
            decode(128, 6, 3, 777, 0, 0, 0, ty, 32),        /* GQA 2, split keys */
            decode(128, 6, 3, 777, 0, 0, 0, ty, 0),         /* same, no scratch: one workgroup per row tile */
            decode(80, 4, 4, 301, 0, 0.2f, 0, ty, 32),      /* odd-ish head_dim, no GQA, custom scale */
            decode(64, 6, 2, 1001, 129, 0, 0, ty, 32),      /* sliding window */
            decode(256, 8, 4, 513, 0, 0.0625f, 50.0f, ty, 32), /* gemma2-like: head_dim 256, soft-cap */
            decode(96, 12, 1, 200, 0, 0, 0, ty, 4),         /* 12 q heads on one kv head, few splits */
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            if (reduced && i % 2)
                continue;
            cases[i].subgroups = subgroups;
            check_case(vk, &cases[i], ++salt);
        }
    }
}

static void prefill_sweep(vkslm_vk *vk, int reduced, uint32_t subgroups) {
    static const uint32_t types[] = {VKSLM_TYPE_F16, VKSLM_TYPE_F32};
    uint64_t salt = 200;
    for (int ti = 0; ti < 2; ti++) {
        uint32_t ty = types[ti];
        attn_case cases[] = {
            prefill(64, 6, 2, 37, 0, 0, 0, 0, ty, 0),          /* first chunk of a prompt */
            prefill(128, 6, 3, 19, 100, 0, 0, 0, ty, 8),       /* a later chunk, split keys */
            prefill(96, 5, 1, 50, 13, 31, 0, 0, ty, 0),        /* sliding window, 5 q heads on 1 kv head */
            prefill(256, 4, 2, 9, 200, 0, 0.0625f, 30.0f, ty, 16), /* soft-cap, head_dim 256 */
            prefill(80, 3, 3, 1, 0, 0, 0.3f, 0, ty, 0),        /* one token at position 0 */
            prefill(64, 6, 3, 65, 40, 17, 0, 20.0f, ty, 4),    /* window and soft-cap together */
            prefill(128, 4, 2, 11, 30, 1, 0, 0, ty, 4),        /* window 1: each token sees itself only */
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            if (reduced && i % 2)
                continue;
            cases[i].subgroups = subgroups;
            check_case(vk, &cases[i], ++salt);
        }
    }
}

static void test_attention_decode(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    decode_sweep(vk, 0, 0);
    test_gpu_assert_clean(vk);
}

static void test_attention_prefill(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    prefill_sweep(vk, 0, 0);
    test_gpu_assert_clean(vk);
}

/* Workgroups of several subgroups: each walks part of the keys; their states merge after a barrier. */
static void test_attention_multi_subgroup(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    decode_sweep(vk, 1, 4);
    prefill_sweep(vk, 1, 3);
    test_gpu_assert_clean(vk);
}

static void test_attention_without_16bit(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_FALSE(vkslm_vk_get_enabled(vk)->storage16);
    CU_ASSERT_FALSE(vkslm_vk_get_enabled(vk)->fp16);
    decode_sweep(vk, 1, 0);
    prefill_sweep(vk, 1, 0);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* A 1 MiB bindable range: a cache of several MiB per kv head is bound in key pieces (each its own
 * split), and a prefill whose q/out exceed the range runs in token chunks. */
static void test_attention_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", "VKSLM_DISABLE_UMA=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 1);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_EQUAL(vkslm_vk_max_range(vk), 1048576);
    /* f32, head_dim 128: 512 bytes per key, 2 MiB of K per kv head at 4100 keys: per kv head, key pieces
     * of at most 2047 keys, so at least 3 pieces per head, and a combine pass */
    attn_case big = decode(128, 4, 2, 4100, 0, 0, 0, VKSLM_TYPE_F32, 16);
    check_case(vk, &big, 1);
    CU_ASSERT(last_attn_dispatches >= 6);
    CU_ASSERT(last_combine_dispatches >= 1);
    attn_case big16 = decode(128, 4, 2, 4100, 0, 0, 0, VKSLM_TYPE_F16, 16);
    check_case(vk, &big16, 2);
    CU_ASSERT(last_attn_dispatches >= 4);
    attn_case pre = prefill(128, 4, 2, 7, 4093, 0, 0, 0, VKSLM_TYPE_F32, 16);
    check_case(vk, &pre, 3);
    CU_ASSERT(last_attn_dispatches >= 6);
    /* 70 tokens x 64 heads x 64 dims: q and out of 1.1 MiB each, so two token chunks */
    attn_case many = prefill(64, 64, 4, 70, 0, 0, 0, 0, VKSLM_TYPE_F16, 0);
    check_case(vk, &many, 4);
    CU_ASSERT_EQUAL(last_attn_dispatches, 2);
    CU_ASSERT_EQUAL(last_combine_dispatches, 0);
    /* sliding window over a long cache: only the window's pieces are bound */
    attn_case win = decode(128, 4, 2, 4100, 300, 0, 0, VKSLM_TYPE_F32, 16);
    check_case(vk, &win, 6);

    /* without scratch, a key range that cannot be bound at once is refused, not truncated */
    attn_case none = big;
    none.splits = 0;
    vkslm_status st;
    run_case(vk, &none, 5, &st);
    CU_ASSERT_EQUAL(st, VKSLM_ERR_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "split"));
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_attention_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 1 << 20, &b) == VKSLM_OK);
    vkslm_tensor q = {&b, 0, VKSLM_TYPE_F32, {64, 6, 1, 1}};
    vkslm_tensor k = {&b, 0, VKSLM_TYPE_F16, {64, 100, 4, 1}};
    vkslm_tensor kq = {&b, 0, VKSLM_TYPE_Q4_0, {64, 100, 2, 1}};
    vkslm_tensor k2 = {&b, 0, VKSLM_TYPE_F16, {64, 100, 2, 1}};
    vkslm_tensor big = {&b, 0, VKSLM_TYPE_F32, {512, 2, 1, 1}};
    vkslm_tensor bigk = {&b, 0, VKSLM_TYPE_F32, {512, 10, 2, 1}};
    vkslm_attn_params p = {99, 0, 0, 0, 0};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &q, &q, &k, &k, NULL, &p), VKSLM_ERR_INVALID_ARG); /* 4 !| 6 */
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "divide"));
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &q, &q, &kq, &kq, NULL, &p), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &q, &q, &k2, &k, NULL, &p), VKSLM_ERR_INVALID_ARG); /* v != k */
    p.p0 = 100; /* position 100 in a cache of 100 */
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &q, &q, &k2, &k2, NULL, &p), VKSLM_ERR_INVALID_ARG);
    p.p0 = 0;
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &big, &big, &bigk, &bigk, NULL, &p), VKSLM_ERR_UNSUPPORTED);
    p.softcap = -1.0f;
    CU_ASSERT_EQUAL(vkslm_op_attention(c, &q, &q, &k2, &k2, NULL, &p), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

static void test_attention_report(void) {
    printf("\n  worst attention NMSE of this run: %.3g (bounds %g, %g with soft-cap)\n", worst_nmse, NMSE_BOUND,
           NMSE_BOUND_SOFTCAP);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"attention decode: GQA, window, soft-cap, scale, f16/f32 cache, split keys", test_attention_decode},
        {"attention prefill: causal, GQA, window, soft-cap, odd token counts", test_attention_prefill},
        {"attention with several subgroups per workgroup", test_attention_multi_subgroup},
        {"attention without 16-bit storage and fp16 (packed f16 cache)", test_attention_without_16bit},
        {"attention with a KV cache and q larger than a 1 MiB storage range", test_attention_small_storage_range},
        {"attention rejects bad arguments", test_attention_bad_args},
        {"attention worst NMSE", test_attention_report},
        {NULL, NULL},
    };
    return test_run_suite("gpu_attention", tests);
}
