/* KV-cache write into F32 and F16 caches (16-bit storage and packed words) against engine/cpu/kv_cache.c:
 * rows land at the given positions of the documented layout, out-of-range positions are skipped, and
 * everything else (other layers, K vs V, other positions) keeps its poison. f32 must match exactly; f16
 * within one f16 rounding step of the reference's rounding. The fused RoPE variant (also with linear,
 * YaRN and LongRoPE scaling) is checked against engine/cpu/rope.c then the plain write, within 5e-5
 * absolute (+ one f16 step in f16): positions < 64 and inputs in [-3, 3] give f32 angles within ~1e-5
 * rad, so |error| <= 1e-5 * |x| * sqrt(2) * 1.2 (largest magnitude factor) ~ 5e-5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/cpu/kv_cache.h"
#include "engine/cpu/rope.h"
#include "engine/ops/kv_cache.h"
#include "tests/harness.h"
#include "tests/util_gpu.h"

/* The CPU reference's scaling for GPU rope parameters. */
static vkslm_rope_ext ext_of(const vkslm_rope_params *r) {
    vkslm_rope_ext e = {r->freq_scale > 0 ? r->freq_scale : 1.0f, r->ext_factor,
                        r->attn_factor != 0 ? r->attn_factor : 1.0f, r->corr_low, r->corr_high};
    return e;
}

/* Downloads the whole cache into out and counts the elements that differ from ref: NaN (poison) where ref
 * is NaN, else within one f16 step (f16 caches) plus `extra`. which (0 K, 1 V, 2 both) labels messages. */
static uint64_t compare_cache(vkslm_vk *vk, const vkslm_kv_layout *l, const vkslm_buf *bc, const float *ref,
                              float *out, float extra, uint32_t layer, uint32_t which) {
    uint64_t nc = vkslm_kv_bytes(l) / vkslm_kv_elem_bytes(l), bad = 0;
    test_download_floats(vk, bc, 0, out, nc, l->type);
    for (uint64_t i = 0; i < nc; i++) {
        float tol = (l->type == VKSLM_TYPE_F16 ? fabsf(ref[i]) / 1024 : 0.0f) + extra;
        int ok = isnan(ref[i]) ? isnan(out[i]) : fabsf(out[i] - ref[i]) <= tol;
        if (!ok && bad++ < 3)
            fprintf(stderr, "kv_write %s layer %u which %u: [%llu] got %g want %g\n",
                    l->type == VKSLM_TYPE_F16 ? "f16" : "f32", layer, which, (unsigned long long)i, out[i], ref[i]);
    }
    return bad;
}

/* Writes n_tokens rows into layer `layer`'s K or V and checks the whole cache. src rows are strided like
 * k inside a fused QKV output (n_q_heads of q first). Returns the number of mismatching elements. */
static uint64_t check_rope(vkslm_vk *vk, const vkslm_kv_layout *l, uint32_t layer, uint32_t which,
                           uint32_t n_tokens, uint32_t n_q_heads, const int32_t *pos, uint64_t salt,
                           const vkslm_rope_params *rope, int use_ff) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t row = (uint64_t)l->n_kv_head * l->head_dim, ts = row + (uint64_t)n_q_heads * l->head_dim;
    uint64_t ns = ts * n_tokens, nc = vkslm_kv_bytes(l) / vkslm_kv_elem_bytes(l);
    uint64_t part = vkslm_kv_part_bytes(l) / vkslm_kv_elem_bytes(l);
    float *src = malloc(ns * 4), *ref = malloc(nc * 4), *out = malloc(nc * 4), *roped = malloc(ns * 4);
    float ff[128];
    test_random_floats(&r, src, ns, -3.0f, 3.0f, VKSLM_TYPE_F32);
    for (int i = 0; i < 128; i++)
        ff[i] = vkslm_rng_range(&r, 1.0f, 4.0f);
    for (uint64_t i = 0; i < nc; i++)
        ref[i] = NAN;
    uint64_t q_off = (uint64_t)n_q_heads * l->head_dim; /* k follows the q heads in each token row */
    uint32_t n_rot = rope && rope->n_rot ? rope->n_rot : l->head_dim;
    for (uint64_t i = 0; i < ns; i++)
        roped[i] = src[i];
    if (rope) {
        vkslm_rope_ext e = ext_of(rope);
        vkslm_cpu_rope(roped + q_off, src + q_off, pos, use_ff ? ff : NULL, l->head_dim, l->n_kv_head, n_tokens,
                       n_rot, rope->mode == VKSLM_ROPE_NEOX, rope->theta_base, &e, ts, ts);
    }
    vkslm_cpu_kv_write(ref + part * (2 * layer + which), roped + q_off, pos, l->head_dim, l->n_ctx, l->n_kv_head,
                       n_tokens, ts, l->type == VKSLM_TYPE_F16);

    vkslm_buf bs = test_upload_floats(vk, src, ns, VKSLM_TYPE_F32), bp = test_upload_bytes(vk, pos, n_tokens * 4);
    vkslm_buf bc = test_alloc_poisoned(vk, vkslm_kv_bytes(l)), bf = test_upload_floats(vk, ff, 128, VKSLM_TYPE_F32);
    vkslm_tensor tf = vkslm_tensor_1d(&bf, 0, VKSLM_TYPE_F32, n_rot / 2);
    vkslm_tensor dst = vkslm_kv_tensor(l, &bc, 0, layer, which);
    vkslm_tensor ts_ = {&bs, q_off * 4, VKSLM_TYPE_F32, {l->head_dim, l->n_kv_head, n_tokens, 1}};
    vkslm_tensor tp = vkslm_tensor_1d(&bp, 0, VKSLM_TYPE_I32, n_tokens);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = rope ? vkslm_op_kv_write_rope(c, &dst, &ts_, &tp, ts, use_ff ? &tf : NULL, rope)
                           : vkslm_op_kv_write(c, &dst, &ts_, &tp, ts);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    uint64_t bad = compare_cache(vk, l, &bc, ref, out, rope ? 5e-5f : 0.0f, layer, which);
    vkslm_vk_free(vk, &bs);
    vkslm_vk_free(vk, &bp);
    vkslm_vk_free(vk, &bc);
    vkslm_vk_free(vk, &bf);
    free(src), free(ref), free(out), free(roped);
    return bad;
}

static uint64_t check(vkslm_vk *vk, const vkslm_kv_layout *l, uint32_t layer, uint32_t which, uint32_t n_tokens,
                      uint32_t n_q_heads, const int32_t *pos, uint64_t salt) {
    return check_rope(vk, l, layer, which, n_tokens, n_q_heads, pos, salt, NULL, 0);
}

/* K (roped) and V of one layer in one dispatch from fused QKV rows [q heads][k heads][v heads]: K's part
 * as the roped write, V's as the plain one; other layers keep their poison. */
static uint64_t check_kv_pair(vkslm_vk *vk, const vkslm_kv_layout *l, uint32_t layer, uint32_t n_tokens,
                              uint32_t n_q_heads, const int32_t *pos, uint64_t salt, const vkslm_rope_params *rope) {
    vkslm_rng r;
    test_rng(&r, salt);
    uint64_t hd = l->head_dim, kv = (uint64_t)l->n_kv_head * hd, ts = (uint64_t)n_q_heads * hd + 2 * kv;
    uint64_t ns = ts * n_tokens, nc = vkslm_kv_bytes(l) / vkslm_kv_elem_bytes(l);
    uint64_t part = vkslm_kv_part_bytes(l) / vkslm_kv_elem_bytes(l), q_off = (uint64_t)n_q_heads * hd;
    float *src = malloc(ns * 4), *roped = malloc(ns * 4), *ref = malloc(nc * 4), *out = malloc(nc * 4);
    test_random_floats(&r, src, ns, -3.0f, 3.0f, VKSLM_TYPE_F32);
    for (uint64_t i = 0; i < nc; i++)
        ref[i] = NAN;
    for (uint64_t i = 0; i < ns; i++)
        roped[i] = src[i];
    uint32_t n_rot = rope->n_rot ? rope->n_rot : l->head_dim;
    vkslm_rope_ext e = ext_of(rope);
    vkslm_cpu_rope(roped + q_off, src + q_off, pos, NULL, l->head_dim, l->n_kv_head, n_tokens, n_rot,
                   rope->mode == VKSLM_ROPE_NEOX, rope->theta_base, &e, ts, ts);
    vkslm_cpu_kv_write(ref + part * (2 * layer), roped + q_off, pos, l->head_dim, l->n_ctx, l->n_kv_head, n_tokens,
                       ts, l->type == VKSLM_TYPE_F16);
    vkslm_cpu_kv_write(ref + part * (2 * layer + 1), src + q_off + kv, pos, l->head_dim, l->n_ctx, l->n_kv_head,
                       n_tokens, ts, l->type == VKSLM_TYPE_F16);
    vkslm_buf bs = test_upload_floats(vk, src, ns, VKSLM_TYPE_F32), bp = test_upload_bytes(vk, pos, n_tokens * 4);
    vkslm_buf bc = test_alloc_poisoned(vk, vkslm_kv_bytes(l));
    vkslm_tensor dst = vkslm_kv_tensor(l, &bc, 0, layer, VKSLM_KV_K);
    vkslm_tensor tsrc = {&bs, q_off * 4, VKSLM_TYPE_F32, {l->head_dim, 2 * l->n_kv_head, n_tokens, 1}};
    vkslm_tensor tp = vkslm_tensor_1d(&bp, 0, VKSLM_TYPE_I32, n_tokens);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    vkslm_status st = vkslm_op_kv_write_rope_kv(c, &dst, &tsrc, &tp, ts, NULL, rope);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    vkslm_cmd_destroy(c);
    uint64_t bad = compare_cache(vk, l, &bc, ref, out, 5e-5f, layer, 2);
    vkslm_vk_free(vk, &bs);
    vkslm_vk_free(vk, &bp);
    vkslm_vk_free(vk, &bc);
    free(src), free(roped), free(ref), free(out);
    return bad;
}

static void sweep(vkslm_vk *vk) {
    static const int32_t pos[] = {0, 36, 7, 8, 40, -1, 35};
    static const uint32_t types[] = {VKSLM_TYPE_F32, VKSLM_TYPE_F16};
    for (int t = 0; t < 2; t++) {
        vkslm_kv_layout l = {3, 3, 37, 64, types[t]};
        CU_ASSERT_EQUAL(check(vk, &l, 1, VKSLM_KV_V, 7, 4, pos, 1), 0);
        CU_ASSERT_EQUAL(check(vk, &l, 0, VKSLM_KV_K, 1, 0, pos + 1, 2), 0);
        CU_ASSERT_EQUAL(check(vk, &l, 2, VKSLM_KV_K, 4, 2, pos + 2, 3), 0);
        vkslm_kv_layout l2 = {1, 1, 5, 2, types[t]}; /* head_dim 2 */
        CU_ASSERT_EQUAL(check(vk, &l2, 0, VKSLM_KV_V, 2, 1, pos + 2, 4), 0);
        /* rope fused: normal and neox, full and partial n_rot, with and without freq factors */
        vkslm_rope_params norm = {.mode = VKSLM_ROPE_NORMAL, .theta_base = 500000.0f};
        vkslm_rope_params neox = {.mode = VKSLM_ROPE_NEOX, .theta_base = 1000000.0f};
        vkslm_rope_params part = {.mode = VKSLM_ROPE_NEOX, .n_rot = 24, .theta_base = 10000.0f};
        vkslm_rope_params part_n = {.mode = VKSLM_ROPE_NORMAL, .n_rot = 40, .theta_base = 10000.0f};
        /* scaled: linear factor 2; YaRN factor 4 (ramp over pairs 0..9, mscale 1 + 0.1 ln 4); LongRoPE's
         * attention factor (with the divisors) */
        vkslm_rope_params lin = {.mode = VKSLM_ROPE_NORMAL, .theta_base = 10000.0f, .freq_scale = 0.5f};
        vkslm_rope_params yarn = {.mode = VKSLM_ROPE_NEOX, .theta_base = 1000000.0f, .freq_scale = 0.25f,
                                  .ext_factor = 1.0f, .attn_factor = 1.1386294f, .corr_high = 9.0f};
        vkslm_rope_params lrope = {.mode = VKSLM_ROPE_NEOX, .n_rot = 48, .theta_base = 10000.0f, .attn_factor = 1.19f};
        CU_ASSERT_EQUAL(check_rope(vk, &l, 1, VKSLM_KV_K, 7, 4, pos, 5, &norm, 1), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 2, VKSLM_KV_K, 7, 0, pos, 6, &neox, 0), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 0, VKSLM_KV_K, 5, 2, pos + 1, 7, &part, 1), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 0, VKSLM_KV_K, 5, 2, pos + 1, 8, &part_n, 0), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 1, VKSLM_KV_K, 7, 4, pos, 11, &lin, 0), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 2, VKSLM_KV_K, 7, 2, pos, 12, &yarn, 0), 0);
        CU_ASSERT_EQUAL(check_rope(vk, &l, 0, VKSLM_KV_K, 5, 0, pos + 1, 13, &lrope, 1), 0);
        /* k and v together, k roped (fused QKV rows) */
        CU_ASSERT_EQUAL(check_kv_pair(vk, &l, 1, 7, 4, pos, 9, &norm), 0);
        CU_ASSERT_EQUAL(check_kv_pair(vk, &l, 2, 3, 6, pos + 2, 10, &part), 0);
        CU_ASSERT_EQUAL(check_kv_pair(vk, &l, 0, 7, 4, pos, 14, &yarn), 0);
    }
}

static void test_kv_write(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    sweep(vk);
    test_gpu_assert_clean(vk);
}

static void test_kv_write_no_16bit(void) {
    const char *env[] = {"VKSLM_DISABLE_16BIT=1", "VKSLM_DISABLE_F16=1", "VKSLM_DISABLE_8BIT=1", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    CU_ASSERT_FALSE(vkslm_vk_get_enabled(vk)->storage16);
    sweep(vk);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* Layers of 2 x 4 MB and 300 tokens of strided rows against a 1 MiB range: heads and tokens split. */
static void test_kv_write_small_storage_range(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    int32_t pos[300];
    for (int i = 0; i < 300; i++)
        pos[i] = (i * 7) % 2047 + 1;
    vkslm_kv_layout l = {2, 8, 2048, 128, VKSLM_TYPE_F16};
    CU_ASSERT_EQUAL(check(vk, &l, 1, VKSLM_KV_K, 300, 14, pos, 5), 0);
    vkslm_kv_layout l32 = {1, 8, 1000, 128, VKSLM_TYPE_F32};
    for (int i = 0; i < 300; i++)
        pos[i] = 999 - i * 3;
    CU_ASSERT_EQUAL(check(vk, &l32, 0, VKSLM_KV_V, 300, 14, pos, 6), 0);
    /* one head's cache larger than the range is refused */
    vkslm_kv_layout huge = {1, 1, 8192, 128, VKSLM_TYPE_F32};
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, vkslm_kv_bytes(&huge), &b) == VKSLM_OK);
    vkslm_tensor dst = vkslm_kv_tensor(&huge, &b, 0, 0, VKSLM_KV_K);
    vkslm_tensor src = {&b, 0, VKSLM_TYPE_F32, {128, 1, 1, 1}}, tp = vkslm_tensor_1d(&b, 0, VKSLM_TYPE_I32, 1);
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_op_kv_write(c, &dst, &src, &tp, 0), VKSLM_ERR_LIMIT);
    CU_ASSERT_EQUAL(vkslm_cmd_submit_wait(c), VKSLM_OK);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &b);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

static void test_kv_layout(void) {
    vkslm_kv_layout l = {4, 2, 100, 64, VKSLM_TYPE_F16};
    CU_ASSERT_EQUAL(vkslm_kv_part_bytes(&l), 2 * 100 * 64 * 2);
    CU_ASSERT_EQUAL(vkslm_kv_bytes(&l), 8 * vkslm_kv_part_bytes(&l));
    /* (layer 3, V, head 1, pos 99) is the last row */
    CU_ASSERT_EQUAL(vkslm_kv_row_offset(&l, 3, VKSLM_KV_V, 1, 99) + 64 * 2, vkslm_kv_bytes(&l));
    CU_ASSERT_EQUAL(vkslm_kv_row_offset(&l, 0, VKSLM_KV_K, 1, 0), 100 * 64 * 2);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"kv cache layout offsets", test_kv_layout},
        {"kv write into f32/f16 caches at given positions, strided src", test_kv_write},
        {"kv write without 16-bit storage (packed f16)", test_kv_write_no_16bit},
        {"kv write split by a 1 MiB storage range", test_kv_write_small_storage_range},
        {NULL, NULL},
    };
    return test_run_suite("gpu_kv_cache", tests);
}
