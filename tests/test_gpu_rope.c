/* RoPE (normal and NeoX, partial rotary dims, frequency factors, theta bases, strided token rows, in
 * place, linear/YaRN/LongRoPE-style scaling) against engine/cpu/rope.c, which computes angles in double.
 * Bounds: NMSE < 1e-10 for positions < 64; < 1e-6 for positions up to 32767, where the f32 angle
 * pos * base^(-2p/n_rot) alone carries an absolute error near 0.5 ulp(pos) ~ 2e-3 rad (any f32 RoPE,
 * llama.cpp's included, has it). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/cpu/rope.h"
#include "engine/ops/rope.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

#define NMSE_SMALL_POS 1e-10
#define NMSE_LARGE_POS 1e-6

static double worst_small, worst_large;

typedef struct {
    uint32_t hd, nh, nt, n_rot;
    int neox, ff, extra_heads, in_place;
    float base;
    int scaling; /* index into scalings[] */
} rope_case;

/* none; linear factor 2; YaRN factor 4 (qwen2-yarn4's numbers: corr dims 0..9, mscale 1 + 0.1 ln 4);
 * a LongRoPE-style magnitude (attention factor 1.19); YaRN with a partial ramp weight */
static const vkslm_rope_ext scalings[] = {
    {1.0f, 0.0f, 1.0f, 0.0f, 0.0f},   {0.5f, 0.0f, 1.0f, 0.0f, 0.0f},   {0.25f, 1.0f, 1.1386294f, 0.0f, 9.0f},
    {1.0f, 0.0f, 1.1902f, 0.0f, 0.0f}, {0.125f, 0.5f, 1.2f, 3.0f, 20.0f},
};

static void check(vkslm_vk *vk, const rope_case *k, int32_t max_pos, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t row = (uint64_t)k->nh * k->hd, as = row + (uint64_t)k->extra_heads * k->hd;
    uint64_t ds = k->in_place ? as : row;
    uint64_t na = as * k->nt, nd = ds * k->nt;
    float *a = malloc(na * 4), *ff = malloc(k->hd * 2 + 4), *ref = malloc(nd * 4), *out = malloc(nd * 4);
    int32_t *pos = malloc(k->nt * 4);
    test_random_floats(&r, a, na, -2.0f, 2.0f, VKSLM_TYPE_F32);
    for (uint32_t i = 0; i < k->n_rot / 2; i++)
        ff[i] = vkslm_rng_range(&r, 1.0f, 8.0f);
    for (uint32_t t = 0; t < k->nt; t++)
        pos[t] = t == 0 ? 0 : (int32_t)(vkslm_rng_u64(&r) % (uint64_t)(max_pos + 1));
    for (uint64_t i = 0; i < nd; i++)
        ref[i] = k->in_place ? a[i] : 0.0f;
    const vkslm_rope_ext *x = &scalings[k->scaling];
    vkslm_cpu_rope(ref, a, pos, k->ff ? ff : NULL, k->hd, k->nh, k->nt, k->n_rot, k->neox, k->base, x, as, ds);

    vkslm_buf ba = test_upload_floats(vk, a, na, VKSLM_TYPE_F32);
    vkslm_buf bp = test_upload_bytes(vk, pos, k->nt * 4), bf = test_upload_floats(vk, ff, k->n_rot / 2 + 1, 0);
    vkslm_buf bd = k->in_place ? ba : test_alloc_poisoned(vk, nd * 4);
    vkslm_tensor ta = {&ba, 0, VKSLM_TYPE_F32, {k->hd, k->nh, k->nt, 1}};
    vkslm_tensor td = {&bd, 0, VKSLM_TYPE_F32, {k->hd, k->nh, k->nt, 1}};
    vkslm_tensor tp = vkslm_tensor_1d(&bp, 0, VKSLM_TYPE_I32, k->nt);
    vkslm_tensor tf = vkslm_tensor_1d(&bf, 0, VKSLM_TYPE_F32, k->n_rot / 2);
    vkslm_rope_params prm = {.mode = k->neox ? VKSLM_ROPE_NEOX : VKSLM_ROPE_NORMAL, .n_rot = k->n_rot,
                             .theta_base = k->base, .freq_scale = x->freq_scale, .a_token_stride = as,
                             .d_token_stride = ds, .ext_factor = x->ext_factor, .attn_factor = x->attn_factor,
                             .corr_low = x->corr_low, .corr_high = x->corr_high};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = vkslm_op_rope(c, &td, &ta, &tp, k->ff ? &tf : NULL, &prm);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    test_download_floats(vk, &bd, 0, out, nd, VKSLM_TYPE_F32);
    /* compare only the rows rope wrote (in place, the extra heads must stay as they were) */
    double e = test_nmse(out, ref, nd);
    double bound = max_pos < 64 ? NMSE_SMALL_POS : NMSE_LARGE_POS;
    double *worst = max_pos < 64 ? &worst_small : &worst_large;
    if (e > *worst)
        *worst = e;
    if (!(e < bound))
        fprintf(stderr, "rope hd=%u nh=%u nt=%u n_rot=%u neox=%d ff=%d scaling=%d max_pos=%d: NMSE %g\n", k->hd, k->nh,
                k->nt, k->n_rot, k->neox, k->ff, k->scaling, max_pos, e);
    CU_ASSERT(e < bound);
    vkslm_vk_free(vk, &ba);
    vkslm_vk_free(vk, &bp);
    vkslm_vk_free(vk, &bf);
    if (!k->in_place)
        vkslm_vk_free(vk, &bd);
    free(a), free(ff), free(ref), free(out), free(pos);
}

static const rope_case cases[] = {
    {64, 4, 7, 64, 0, 0, 0, 0, 10000.0f, 0},      /* llama-style */
    {64, 4, 7, 64, 1, 0, 0, 0, 1000000.0f, 0},    /* qwen2-style */
    {128, 3, 5, 128, 0, 1, 0, 0, 500000.0f, 0},   /* llama 3.1 rope_freqs */
    {128, 3, 5, 96, 1, 1, 0, 1, 10000.0f, 0},     /* partial, neox, factors, in place */
    {80, 2, 13, 32, 1, 0, 2, 0, 10000.0f, 0},     /* partial, strided (q of a fused qkv) */
    {80, 2, 13, 32, 0, 0, 1, 1, 10000.0f, 0},     /* partial, normal, strided, in place */
    {6, 1, 1, 2, 0, 0, 0, 0, 10000.0f, 0},
    {256, 1, 33, 256, 1, 0, 0, 0, 10000.0f, 0},   /* gemma head_dim */
    {64, 4, 7, 64, 0, 0, 0, 0, 10000.0f, 1},      /* linear scaling */
    {64, 4, 9, 64, 1, 0, 2, 0, 1000000.0f, 2},    /* YaRN, strided */
    {64, 2, 9, 64, 1, 1, 2, 0, 10000.0f, 3},      /* LongRoPE: factors and attention factor, strided */
    {96, 3, 5, 64, 0, 1, 0, 1, 10000.0f, 4},      /* partial YaRN with factors, normal, in place */
};

static void sweep(vkslm_vk *vk, int reduced) {
    uint64_t salt = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (reduced && i % 2)
            continue;
        check(vk, &cases[i], 63, ++salt);
        check(vk, &cases[i], 32767, ++salt);
    }
}

static void test_rope_shapes(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    worst_small = worst_large = 0;
    sweep(vk, 0);
    printf("rope: worst NMSE %.3g for positions < 64 (bound %g), %.3g up to 32767 (bound %g)\n", worst_small,
           NMSE_SMALL_POS, worst_large, NMSE_LARGE_POS);
    test_gpu_assert_clean(vk);
}

static void test_rope_no_f16(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    sweep(vk, 1);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* 700 tokens x 14 heads x 64 (2.5 MB) against a 1 MiB range: tokens split across dispatches. */
static void test_rope_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    rope_case k = {64, 14, 700, 64, 1, 0, 2, 0, 1000000.0f, 2};
    check(vk, &k, 4095, 301);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_rope_bad_args(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 4096, &b) == VKSLM_OK);
    vkslm_tensor a = {&b, 0, VKSLM_TYPE_F32, {64, 2, 4, 1}}, odd = {&b, 0, VKSLM_TYPE_F32, {63, 2, 4, 1}};
    vkslm_tensor pos = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 4), pos3 = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 3);
    vkslm_rope_params prm = {.mode = VKSLM_ROPE_NORMAL}, big = {.mode = VKSLM_ROPE_NEOX, .n_rot = 66};
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &odd, &odd, &pos, NULL, &prm), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &a, &a, &pos, NULL, &big), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_rope(c, &a, &a, &pos3, NULL, &prm), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"rope normal/neox, partial dims, freq factors, strides, in place, linear/YaRN/LongRoPE", test_rope_shapes},
        {"rope with fp16 and 8/16-bit storage off", test_rope_no_f16},
        {"rope over tokens split by a 1 MiB storage range", test_rope_small_storage_range},
        {"rope rejects bad arguments", test_rope_bad_args},
        {NULL, NULL},
    };
    return test_run_suite("gpu_rope", tests);
}
