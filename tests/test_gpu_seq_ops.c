/* The many-sequence forms of the KV write and of attention (one dispatch for the decode tokens of a batch)
 * against engine/cpu, token by token over each token's own sequence. The caches of several sequences sit in
 * one buffer as a session's layer buffer holds them ([seq][K|V][kv_head][pos][head_dim], engine/model/graph.h),
 * framed by poison; every cache position that no token may see holds NaN, so reading one (another sequence's,
 * a later position, one outside the window) shows in the output. Runs on a context that profiles, to count
 * the dispatches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/attention.h"
#include "engine/cpu/kv_cache.h"
#include "engine/cpu/matmul.h"
#include "engine/cpu/rope.h"
#include "engine/ops/attention.h"
#include "engine/ops/kv_cache.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

#define F16 VKSLM_TYPE_F16
#define F32 VKSLM_TYPE_F32
#define MAX_TOK 16

typedef struct seq_case {
    uint32_t D, n_head, n_head_kv, n_seq, n_ctx, n_tok;
    uint32_t window;
    float scale, softcap;
    uint32_t splits; /* scratch for this many key splits (0: none) */
} seq_case;

/* Each token's sequence (distinct, in a scrambled order, some sequences without a token) and position. */
static void tokens_of(const seq_case *sc, vkslm_rng *r, int32_t *seq, int32_t *pos) {
    for (uint32_t i = 0; i < sc->n_tok; i++) {
        seq[i] = (int32_t)((i * 7u + 3u) % sc->n_seq); /* 7: prime to every case's count */
        pos[i] = (int32_t)(vkslm_rng_u64(r) % sc->n_ctx);
    }
    pos[0] = (int32_t)sc->n_ctx - 1; /* the last position, and the first */
    if (sc->n_tok > 1)
        pos[1] = 0;
}

static void check_attention(vkslm_vk *vk, const seq_case *sc, uint32_t type, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint32_t D = sc->D, NH = sc->n_head, NKV = sc->n_head_kv, T = sc->n_tok;
    const uint64_t part = (uint64_t)NKV * sc->n_ctx * D, stride = 2 * part, nkv = stride * sc->n_seq;
    const uint64_t nq = (uint64_t)T * NH * D;
    int32_t seq[MAX_TOK], pos[MAX_TOK];
    CU_ASSERT_FATAL(T <= MAX_TOK && T <= sc->n_seq);
    tokens_of(sc, &r, seq, pos);
    float *cache = malloc(nkv * 4), *q = malloc(nq * 4), *ref = malloc(nq * 4), *out = malloc(nq * 4);
    CU_ASSERT_FATAL(cache && q && ref && out);
    test_random_floats(&r, cache, nkv, -1.0f, 1.0f, type);
    test_random_floats(&r, q, nq, -2.0f, 2.0f, F32);
    /* what no token sees is NaN: sequences without a token, positions past a token's or before its window */
    for (uint32_t s = 0; s < sc->n_seq; s++) {
        int32_t p = -1;
        for (uint32_t i = 0; i < T; i++)
            if (seq[i] == (int32_t)s)
                p = pos[i];
        uint32_t lo = p >= 0 && sc->window && (uint32_t)p + 1 > sc->window ? (uint32_t)p + 1 - sc->window : 0;
        for (uint32_t w = 0; w < 2; w++)
            for (uint32_t h = 0; h < NKV; h++)
                for (uint32_t j = 0; j < sc->n_ctx; j++)
                    if ((int32_t)j > p || j < lo)
                        for (uint32_t d = 0; d < D; d++)
                            cache[s * stride + w * part + ((uint64_t)h * sc->n_ctx + j) * D + d] = NAN;
    }
    for (uint32_t i = 0; i < T; i++) {
        vkslm_cpu_attn_shape shape = {D, NH, NKV, 1, sc->n_ctx, (uint32_t)pos[i], sc->window, sc->scale, sc->softcap};
        const float *k = cache + (uint64_t)seq[i] * stride;
        CU_ASSERT_FATAL(vkslm_cpu_attention(ref + (uint64_t)i * NH * D, q + (uint64_t)i * NH * D, k, k + part,
                                            &shape) == 0);
    }
    ot_tensor tc = ot_floats(vk, cache, type, nkv, 1, 1, 24 * (type == F16 ? 2 : 4));
    ot_tensor tq = ot_floats(vk, q, F32, D, NH, T, 48);
    ot_tensor tp = ot_raw(vk, pos, T * 4, VKSLM_TYPE_I32, T, 1, 12);
    ot_tensor ts = ot_raw(vk, seq, T * 4, VKSLM_TYPE_I32, T, 1, 20);
    ot_tensor to = ot_out(vk, F32, D, NH, T, 32);
    uint64_t sbytes = vkslm_attn_scratch_bytes(T, NH, D, sc->splits);
    ot_tensor tsc = ot_out(vk, F32, sbytes / 4 + 1, 1, 1, 0);
    vkslm_tensor k0 = tc.t, v0 = tc.t;
    k0.ne[0] = v0.ne[0] = D, k0.ne[1] = v0.ne[1] = sc->n_ctx, k0.ne[2] = v0.ne[2] = NKV;
    v0.offset += part * (type == F16 ? 2 : 4);
    int32_t max_pos = 0;
    for (uint32_t i = 0; i < T; i++)
        max_pos = pos[i] > max_pos ? pos[i] : max_pos;
    vkslm_attn_seqs seqs = {&tp.t, &ts.t, sc->n_seq, (uint32_t)max_pos, stride};
    vkslm_attn_params params = {0, sc->scale, sc->softcap, sc->window, 0};
    char what[160];
    snprintf(what, sizeof what, "D=%u heads=%u/%u seqs=%u tokens=%u ctx=%u window=%u softcap=%g %s splits=%u", D, NH,
             NKV, sc->n_seq, T, sc->n_ctx, sc->window, sc->softcap, type == F16 ? "f16" : "f32", sc->splits);
    CU_ASSERT_EQUAL(vkslm_attn_seqs_ok(vk, D, NH / NKV, NKV, sc->n_ctx, type == F16 ? 2 : 4, sc->n_seq,
                                       stride * (type == F16 ? 2 : 4)), 1);
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_attention_seqs(c, &to.t, &tq.t, &k0, &v0, sbytes ? &tsc.t : NULL, &params, &seqs);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    double e = st == VKSLM_OK ? ot_read_nmse(vk, &to, out, ref, nq, what) : INFINITY;
    ot_check("attention (sequences)", e, sc->softcap > 0 ? 1e-8 : 1e-9, what);
    uint32_t na = ot_dispatches("attention"), ncomb = ot_dispatches("attention combine");
    printf("  %s: %u attention dispatch(es), %u combine\n", what, na, ncomb);
    CU_ASSERT_EQUAL(na, 1); /* every token in one dispatch */
    if (!sc->splits)
        CU_ASSERT_EQUAL(ncomb, 0);

    /* each token alone (vkslm_op_attention over its own sequence's cache, with the scratch a lone decode
     * step has) gives the very same bits: batched and lone decoding agree */
    float *alone = malloc(nq * 4);
    CU_ASSERT_FATAL(alone != NULL);
    ot_tensor ta = ot_out(vk, F32, D, NH, T, 32);
    uint64_t sb1 = vkslm_attn_scratch_bytes(1, NH, D, sc->splits);
    ot_tensor ts1 = ot_out(vk, F32, sb1 / 4 + 1, T, 1, 0);
    c = ot_begin(vk);
    st = VKSLM_OK;
    for (uint32_t i = 0; i < T && st == VKSLM_OK; i++) {
        vkslm_tensor k = k0, v = v0, qi = tq.t, oi = ta.t, si = ts1.t;
        k.offset += (uint64_t)seq[i] * stride * (type == F16 ? 2 : 4), v.offset = k.offset + part * (type == F16 ? 2 : 4);
        qi.offset += (uint64_t)i * NH * D * 4, oi.offset += (uint64_t)i * NH * D * 4, qi.ne[2] = oi.ne[2] = 1;
        si.offset += (uint64_t)i * (sb1 / 4 + 1) * 4, si.ne[0] = sb1 / 4, si.ne[1] = 1;
        vkslm_attn_params p1 = params;
        p1.p0 = (uint32_t)pos[i];
        st = vkslm_op_attention(c, &oi, &qi, &k, &v, sb1 ? &si : NULL, &p1);
    }
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    if (st == VKSLM_OK && ot_read(vk, &ta, alone, nq, what)) {
        uint64_t differ = 0;
        for (uint64_t i = 0; i < nq; i++)
            differ += memcmp(&alone[i], &out[i], 4) != 0;
        if (differ)
            printf("  %s: %llu of %llu values differ from each token alone\n", what, (unsigned long long)differ,
                   (unsigned long long)nq);
        CU_ASSERT_EQUAL(differ, 0);
    }
    ot_free(vk, &ta), ot_free(vk, &ts1);
    free(alone);
    ot_free(vk, &tc), ot_free(vk, &tq), ot_free(vk, &tp), ot_free(vk, &ts), ot_free(vk, &to), ot_free(vk, &tsc);
    free(cache), free(q), free(ref), free(out);
}

static vkslm_vk *open_profiling(void) {
    const char *env[] = {NULL};
    return test_gpu_open_env(env, 1);
}

static void test_attention_seqs(void) {
    vkslm_vk *vk = open_profiling();
    TEST_REQUIRE_GPU(vk);
    static const seq_case cases[] = {
        {64, 9, 3, 8, 100, 8, 0, 0, 0, 16},          /* smollm2's heads, 8 decode tokens */
        {64, 9, 3, 5, 37, 3, 0, 0, 0, 0},            /* sequences without a token */
        {64, 14, 2, 4, 50, 4, 0, 0, 0, 16},          /* 7 q heads per kv head (qwen2.5-0.5b) */
        {96, 4, 4, 3, 29, 3, 0, 0.2f, 0, 0},         /* one q head per kv head (phi3) */
        {128, 8, 4, 6, 90, 6, 17, 0.0625f, 30.0f, 8}, /* window and soft-capping (gemma2) */
        {128, 2, 1, 3, 700, 3, 0, 0, 0, 16},         /* 6 query rows: keys split on every device */
        {80, 4, 2, 2, 300, 2, 64, 0, 0, 16},         /* split and windowed */
        {20, 4, 2, 3, 33, 3, 0, 0, 0, 0},            /* rows of 5 vec4: f16 keys start mid-texel every other one */
    };
    static const uint32_t types[2] = {F16, F32};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int t = 0; t < 2; t++)
            check_attention(vk, &cases[i], types[t], i * 10 + (uint64_t)t + 1);
    ot_report();
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* K (roped, neox or not) and V of every token into its own sequence, in one dispatch: the whole buffer
 * against the CPU writes, every other element untouched (poison). fused 0: K then V (two dispatches), 1: K and
 * V in one, 2: q roped into its own tensor too (vkslm_op_qkv_write), with the sequences or (3) without (every
 * token into sequence 0... as one run of a step: then the ids are not read). */
static void check_write(vkslm_vk *vk, uint32_t type, int neox, int fused, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    enum { T = 7 };
    const uint32_t HD = 64, NKV = 3, NQ = 9, n_ctx = 41, n_seq = 6;
    const uint64_t part = (uint64_t)NKV * n_ctx * HD, stride = 2 * part + 8, n = stride * n_seq; /* a gap between */
    const uint64_t kv = (uint64_t)NKV * HD, ts = NQ * HD + 2 * kv; /* rows as in a fused QKV output */
    int32_t seq[T], pos[T];
    static const int32_t seq_of[T] = {4, 0, 5, 2, 9, 1, -1}; /* 9 and -1: no such sequence, skipped */
    for (uint32_t i = 0; i < T; i++) {
        seq[i] = fused == 3 ? 3 : seq_of[i]; /* one run: sequence 3's view, whatever the ids say */
        pos[i] = (int32_t)((i * 13u + 40u) % n_ctx);
    }
    float *src = malloc(ts * T * 4), *roped = malloc(ts * T * 4), *ref = malloc(n * 4), *out = malloc(n * 4);
    CU_ASSERT_FATAL(src && roped && ref && out);
    test_random_floats(&r, src, ts * T, -3.0f, 3.0f, F32);
    memcpy(roped, src, ts * T * 4);
    vkslm_rope_params rope = {.mode = neox ? VKSLM_ROPE_NEOX : VKSLM_ROPE_NORMAL, .n_rot = HD, .theta_base = 10000.0f,
                              .freq_scale = 1.0f, .attn_factor = 1.0f};
    vkslm_rope_ext none = {1.0f, 0.0f, 1.0f, 0.0f, 0.0f};
    vkslm_cpu_rope(roped, src, pos, NULL, HD, NQ + NKV, T, HD, neox, 10000.0f, &none, ts, ts); /* q and k heads */
    for (uint64_t i = 0; i < n; i++)
        ref[i] = NAN;
    for (uint32_t i = 0; i < T; i++) {
        if (seq[i] < 0 || (uint32_t)seq[i] >= n_seq)
            continue;
        float *dst = ref + (uint64_t)seq[i] * stride;
        vkslm_cpu_kv_write(dst, roped + i * ts + NQ * HD, pos + i, HD, n_ctx, NKV, 1, ts, type == F16);
        vkslm_cpu_kv_write(dst + part, src + i * ts + NQ * HD + kv, pos + i, HD, n_ctx, NKV, 1, ts, type == F16);
    }
    ot_tensor tsrc = ot_floats(vk, src, F32, ts * T, 1, 1, 4);
    ot_tensor tp = ot_raw(vk, pos, T * 4, VKSLM_TYPE_I32, T, 1, 8);
    ot_tensor tq = ot_raw(vk, seq, T * 4, VKSLM_TYPE_I32, T, 1, 4);
    ot_tensor cache = ot_out(vk, type, n, 1, 1, 16), tqd = ot_out(vk, F32, HD, NQ, T, 8);
    vkslm_tensor k0 = cache.t, v0 = cache.t;
    k0.ne[0] = v0.ne[0] = HD, k0.ne[1] = v0.ne[1] = n_ctx, k0.ne[2] = v0.ne[2] = NKV;
    v0.offset += part * (type == F16 ? 2 : 4);
    vkslm_kv_seqs seqs = {&tq.t, n_seq, stride};
    vkslm_tensor k3 = k0; /* one run: sequence 3's view */
    k3.offset += 3 * stride * (type == F16 ? 2 : 4);
    char what[96];
    static const char *how[4] = {"K then V", "K and V in one", "q, K and V in one", "q, K and V of one run"};
    snprintf(what, sizeof what, "%s %s %s", type == F16 ? "f16" : "f32", neox ? "neox" : "normal", how[fused]);
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st;
    if (fused >= 2) {
        vkslm_tensor s = {tsrc.buf, tsrc.t.offset, F32, {HD, NQ + 2 * NKV, T, 1}};
        st = vkslm_op_qkv_write(c, &tqd.t, fused == 2 ? &k0 : &k3, &s, &tp.t, ts, NULL, &rope,
                                fused == 2 ? &seqs : NULL);
    } else if (fused) {
        vkslm_tensor s = {tsrc.buf, tsrc.t.offset + NQ * HD * 4, F32, {HD, 2 * NKV, T, 1}};
        st = vkslm_op_kv_write_seqs(c, &k0, &s, &tp.t, ts, NULL, &rope, 1, &seqs);
    } else {
        vkslm_tensor sk = {tsrc.buf, tsrc.t.offset + NQ * HD * 4, F32, {HD, NKV, T, 1}};
        vkslm_tensor sv = {tsrc.buf, tsrc.t.offset + (NQ * HD + kv) * 4, F32, {HD, NKV, T, 1}};
        st = vkslm_op_kv_write_seqs(c, &k0, &sk, &tp.t, ts, NULL, &rope, 0, &seqs);
        if (st == VKSLM_OK)
            st = vkslm_op_kv_write_seqs(c, &v0, &sv, &tp.t, ts, NULL, NULL, 0, &seqs);
    }
    CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
    CU_ASSERT_EQUAL(ot_dispatches("kv_write"), fused ? 1u : 2u);
    if (fused >= 2) { /* q: every token's roped q heads */
        float *qo = malloc((uint64_t)HD * NQ * T * 4);
        CU_ASSERT_FATAL(qo != NULL);
        uint64_t qbad = HD * NQ * T;
        if (ot_read(vk, &tqd, qo, HD * NQ * T, what)) {
            qbad = 0;
            for (uint32_t i = 0; i < T; i++)
                for (uint64_t e = 0; e < (uint64_t)HD * NQ; e++)
                    qbad += !(fabsf(qo[i * HD * NQ + e] - roped[i * ts + e]) <= 5e-5f);
        }
        printf("  qkv_write %s: %llu q values wrong\n", what, (unsigned long long)qbad);
        CU_ASSERT_EQUAL(qbad, 0);
        free(qo);
    }
    uint64_t bad = n, written = 0;
    if (ot_read(vk, &cache, out, n, what)) {
        bad = 0;
        for (uint64_t i = 0; i < n; i++) {
            float tol = isnan(ref[i]) ? 0.0f : (type == F16 ? fabsf(ref[i]) / 1024 : 0.0f) + 5e-5f;
            int ok = isnan(ref[i]) ? isnan(out[i]) : fabsf(out[i] - ref[i]) <= tol;
            written += !isnan(ref[i]);
            if (!ok && bad++ < 4)
                fprintf(stderr, "kv_write (sequences) %s: [%llu] got %g want %g\n", what, (unsigned long long)i,
                        out[i], ref[i]);
        }
    }
    printf("  kv_write (sequences) %s: %llu elements written, %llu wrong\n", what, (unsigned long long)written,
           (unsigned long long)bad);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(written, (fused == 3 ? 7ull : 5ull) * 2 * NKV * HD); /* tokens of real sequences, K and V */
    ot_free(vk, &tsrc), ot_free(vk, &tp), ot_free(vk, &tq), ot_free(vk, &cache), ot_free(vk, &tqd);
    free(src), free(roped), free(ref), free(out);
}

static void test_kv_write_seqs(void) {
    vkslm_vk *vk = open_profiling();
    TEST_REQUIRE_GPU(vk);
    uint64_t salt = 100;
    for (int t = 0; t < 2; t++)
        for (int neox = 0; neox < 2; neox++)
            for (int fused = 0; fused < 4; fused++)
                check_write(vk, t ? F32 : F16, neox, fused, salt++);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* The fused decode attention (vkslm_op_attention_qkv: q and k roped, the tokens' own k and v into their caches
 * and attention over them in one dispatch) against what it replaces, vkslm_op_qkv_write then
 * vkslm_op_attention_seqs: the output and the whole cache buffer bit for bit. And against engine/cpu: rope, the
 * cache write (rounded to f16 where the cache is), then attention over each token's sequence. */
typedef struct fused_case {
    uint32_t D, n_head, n_head_kv, n_seq, n_ctx, n_tok, n_rot, window;
    float softcap, ext_factor; /* ext_factor != 0: YaRN (freq_scale 1/4) */
    int ff;                    /* frequency divisors */
    uint32_t splits;
} fused_case;

/* Sequence 0's K and V in the caches tc holds (each sequence's K heads, then its V heads), as the ops take them */
static void cache_views(const ot_tensor *tc, const fused_case *fc, uint32_t es, vkslm_tensor *k0, vkslm_tensor *v0) {
    *k0 = *v0 = tc->t;
    k0->ne[0] = v0->ne[0] = fc->D, k0->ne[1] = v0->ne[1] = fc->n_ctx, k0->ne[2] = v0->ne[2] = fc->n_head_kv;
    v0->offset += (uint64_t)fc->n_head_kv * fc->n_ctx * fc->D * es;
}

/* The fused decode attention with out in 8 bits (vkslm_attn_qkv_x8): the same cache as the F32 run (cache2), its
 * output (out2) in 8 bits (ot_check_x8) where that run split no token's keys (x8 never does), and the values
 * dequantized against engine/cpu's (ref) within 8 bits' error. */
static void check_fused_x8(vkslm_vk *vk, const fused_case *fc, uint32_t type, const vkslm_tensor *qkv,
                           const float *cache, const float *cache2, const float *out2, const float *ref,
                           const vkslm_attn_params *params, const vkslm_attn_seqs *aseqs, const vkslm_tensor *ff,
                           const vkslm_rope_params *rope, const vkslm_tensor *scratch, const char *what) {
    const uint32_t D = fc->D, NH = fc->n_head, NKV = fc->n_head_kv, T = fc->n_tok, es = type == F16 ? 2 : 4;
    const uint64_t part = (uint64_t)NKV * fc->n_ctx * D, n = (2 * part + 8) * fc->n_seq, K = (uint64_t)NH * D;
    const uint64_t ints = vkslm_x8_pair_ints(K) * vkslm_x8_pairs(T);
    int32_t *q8 = malloc(ints * 4);
    float *deq = malloc(K * T * 4), *c3 = malloc(n * 4);
    CU_ASSERT_FATAL(q8 && deq && c3);
    ot_tensor tc = ot_floats(vk, cache, type, n, 1, 1, 24 * es);
    ot_tensor t8 = ot_out(vk, VKSLM_TYPE_I32, vkslm_x8_pair_ints(K), vkslm_x8_pairs(T), 1, 16);
    vkslm_tensor k0, v0;
    cache_views(&tc, fc, es, &k0, &v0);
    char w8[240];
    snprintf(w8, sizeof w8, "%s, out in 8 bits", what);
    const int split = ot_dispatches("attention combine") > 0; /* (the F32 run, just before) */
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = vkslm_op_attention_qkv(c, &t8.t, qkv, &k0, &v0, scratch, params, aseqs, ff, rope);
    CU_ASSERT_EQUAL_FATAL(ot_submit(c, st, w8), VKSLM_OK);
    CU_ASSERT_EQUAL(ot_dispatches("attention_qkv"), 1u);
    CU_ASSERT_EQUAL(ot_dispatches("attention combine"), 0u);
    CU_ASSERT_FATAL(ot_read(vk, &t8, q8, ints, w8) && ot_read(vk, &tc, c3, n, w8));
    CU_ASSERT_EQUAL(memcmp(c3, cache2, n * 4), 0);
    if (!split) /* the same sums: the F32 output rounded as a device rounds (division to 2.5 ulp) */
        ot_check_x8(q8, out2, NULL, K, T, w8);
    vkslm_cpu_dequantize_x8(deq, q8, K, T);
    ot_check("attention from qkv rows, out in 8 bits", test_nmse(deq, ref, K * T), 1e-4, w8);
    ot_free(vk, &tc), ot_free(vk, &t8);
    free(q8), free(deq), free(c3);
}

static void check_fused(vkslm_vk *vk, const fused_case *fc, uint32_t type, int neox, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    const uint32_t D = fc->D, NH = fc->n_head, NKV = fc->n_head_kv, T = fc->n_tok, es = type == F16 ? 2 : 4;
    const uint64_t part = (uint64_t)NKV * fc->n_ctx * D, stride = 2 * part + 8, n = stride * fc->n_seq;
    const uint64_t row = (uint64_t)(NH + 2 * NKV) * D, nq = (uint64_t)T * NH * D;
    int32_t seq[MAX_TOK], pos[MAX_TOK];
    CU_ASSERT_FATAL(T <= MAX_TOK && T <= fc->n_seq);
    seq_case sc = {D, NH, NKV, fc->n_seq, fc->n_ctx, T, fc->window, 0, fc->softcap, fc->splits};
    tokens_of(&sc, &r, seq, pos);
    float *cache = malloc(n * 4), *src = malloc(row * T * 4), *roped = malloc(row * T * 4), *ff = malloc(D * 2);
    float *ref = malloc(nq * 4), *out = malloc(nq * 4), *out2 = malloc(nq * 4), *c1 = malloc(n * 4), *c2 = malloc(n * 4);
    CU_ASSERT_FATAL(cache && src && roped && ff && ref && out && out2 && c1 && c2);
    test_random_floats(&r, cache, n, -1.0f, 1.0f, type);
    test_random_floats(&r, src, row * T, -2.0f, 2.0f, F32);
    test_random_floats(&r, ff, D / 2, 1.0f, 4.0f, F32);
    /* the positions a token may not see hold NaN (its own is written by the op) */
    for (uint32_t i = 0; i < T; i++)
        for (uint32_t w = 0; w < 2; w++)
            for (uint32_t h = 0; h < NKV; h++)
                for (uint32_t j = (uint32_t)pos[i]; j < fc->n_ctx; j++)
                    for (uint32_t d = 0; d < D; d++)
                        cache[seq[i] * stride + w * part + ((uint64_t)h * fc->n_ctx + j) * D + d] = NAN;
    const uint32_t n_rot = fc->n_rot ? fc->n_rot : D;
    vkslm_rope_params rope = {.mode = neox ? VKSLM_ROPE_NEOX : VKSLM_ROPE_NORMAL, .n_rot = n_rot, .theta_base = 10000.0f,
                              .freq_scale = fc->ext_factor ? 0.25f : 1.0f, .ext_factor = fc->ext_factor,
                              .attn_factor = fc->ext_factor ? 1.1f : 1.0f, .corr_low = 3.0f, .corr_high = 20.0f};
    vkslm_rope_ext ext = {rope.freq_scale, rope.ext_factor, rope.attn_factor, rope.corr_low, rope.corr_high};

    /* engine/cpu: q and k heads roped, each token's k and v into its cache, attention */
    memcpy(roped, src, row * T * 4);
    vkslm_cpu_rope(roped, src, pos, fc->ff ? ff : NULL, D, NH + NKV, T, n_rot, neox, 10000.0f, &ext, row, row);
    float *cpu_cache = malloc(n * 4);
    CU_ASSERT_FATAL(cpu_cache != NULL);
    memcpy(cpu_cache, cache, n * 4);
    for (uint32_t i = 0; i < T; i++) {
        float *dst = cpu_cache + (uint64_t)seq[i] * stride;
        vkslm_cpu_kv_write(dst, roped + i * row + NH * D, pos + i, D, fc->n_ctx, NKV, 1, row, type == F16);
        vkslm_cpu_kv_write(dst + part, src + i * row + (NH + NKV) * D, pos + i, D, fc->n_ctx, NKV, 1, row, type == F16);
    }
    /* (the attention itself after the dispatches below, over the cache they wrote: a key the device ropes and
     * rounds to f16 one step from engine/cpu's would move the output past the bound; the cache is checked against
     * engine/cpu's on its own, below) */

    int32_t max_pos = 0;
    for (uint32_t i = 0; i < T; i++)
        max_pos = pos[i] > max_pos ? pos[i] : max_pos;
    ot_tensor tsrc = ot_floats(vk, src, F32, row * T, 1, 1, 16);
    ot_tensor tff = ot_floats(vk, ff, F32, D / 2, 1, 1, 12);
    ot_tensor tp = ot_raw(vk, pos, T * 4, VKSLM_TYPE_I32, T, 1, 12);
    ot_tensor ts = ot_raw(vk, seq, T * 4, VKSLM_TYPE_I32, T, 1, 20);
    ot_tensor tqd = ot_out(vk, F32, D, NH, T, 32);
    uint64_t sbytes = vkslm_attn_scratch_bytes(T, NH, D, fc->splits);
    ot_tensor tsc = ot_out(vk, F32, sbytes / 4 + 1, 1, 1, 0);
    vkslm_tensor qkv = {tsrc.buf, tsrc.t.offset, F32, {D, NH + 2 * NKV, T, 1}};
    vkslm_attn_params params = {0, 0, fc->softcap, fc->window, 0};
    vkslm_attn_seqs aseqs = {&tp.t, &ts.t, fc->n_seq, (uint32_t)max_pos, stride};
    vkslm_kv_seqs kseqs = {&ts.t, fc->n_seq, stride};
    char what[200];
    snprintf(what, sizeof what, "D=%u heads=%u/%u seqs=%u tokens=%u ctx=%u n_rot=%u window=%u softcap=%g yarn=%g ff=%d "
             "%s %s splits=%u", D, NH, NKV, fc->n_seq, T, fc->n_ctx, n_rot, fc->window, fc->softcap, fc->ext_factor,
             fc->ff, type == F16 ? "f16" : "f32", neox ? "neox" : "normal", fc->splits);
    CU_ASSERT_EQUAL(vkslm_attn_qkv_fusable(vk, D, NH / NKV, n_rot), 1);
    float *outs[2] = {out, out2}, *caches[2] = {c1, c2};
    for (int fused = 0; fused < 2; fused++) {
        ot_tensor tc = ot_floats(vk, cache, type, n, 1, 1, 24 * es), to = ot_out(vk, F32, D, NH, T, 32);
        vkslm_tensor k0, v0;
        cache_views(&tc, fc, es, &k0, &v0);
        vkslm_cmd *c = ot_begin(vk);
        vkslm_status st;
        if (fused) {
            st = vkslm_op_attention_qkv(c, &to.t, &qkv, &k0, &v0, sbytes ? &tsc.t : NULL, &params, &aseqs,
                                        fc->ff ? &tff.t : NULL, &rope);
        } else {
            st = vkslm_op_qkv_write(c, &tqd.t, &k0, &qkv, &tp.t, row, fc->ff ? &tff.t : NULL, &rope, &kseqs);
            if (st == VKSLM_OK)
                st = vkslm_op_attention_seqs(c, &to.t, &tqd.t, &k0, &v0, sbytes ? &tsc.t : NULL, &params, &aseqs);
        }
        CU_ASSERT_EQUAL(ot_submit(c, st, what), VKSLM_OK);
        CU_ASSERT_EQUAL(ot_dispatches("kv_write"), fused ? 0u : 1u);
        CU_ASSERT_EQUAL(ot_dispatches(fused ? "attention_qkv" : "attention"), 1u);
        if (fc->n_ctx > 600) /* the token's own key in the last of several key splits */
            CU_ASSERT(ot_dispatches("attention combine") == 1u);
        if (st != VKSLM_OK || !ot_read(vk, &to, outs[fused], nq, what))
            outs[fused][0] = NAN;
        if (!ot_read(vk, &tc, caches[fused], n, what))
            CU_FAIL("cache readback");
        ot_free(vk, &tc), ot_free(vk, &to);
    }
    /* engine/cpu's attention over the cache the two dispatches wrote (the q rows of the reference are strided:
     * vkslm_cpu_attention reads NH * D of them, contiguous in a row) */
    for (uint32_t i = 0; i < T; i++) {
        vkslm_cpu_attn_shape shape = {D, NH, NKV, 1, fc->n_ctx, (uint32_t)pos[i], fc->window, 0, fc->softcap};
        const float *k = c1 + (uint64_t)seq[i] * stride;
        CU_ASSERT_FATAL(vkslm_cpu_attention(ref + (uint64_t)i * NH * D, roped + (uint64_t)i * row, k, k + part,
                                            &shape) == 0);
    }
    for (int fused = 0; fused < 2; fused++) {
        double e = test_nmse(outs[fused], ref, nq);
        for (uint64_t i = 0; i < nq; i++)
            if (!isfinite(outs[fused][i]))
                e = INFINITY;
        ot_check(fused ? "attention from qkv rows" : "qkv write + attention", e, fc->softcap > 0 ? 1e-8 : 1e-9, what);
    }
    /* (not in quick mode: under qemu each of these pipelines compiles for about 40 s; the arm64 stage still runs
     * them through the random Q4_0 model's greedy tokens against x86-64's) */
    if (vkslm_attn_qkv_x8(vk, D) && !test_quick())
        check_fused_x8(vk, fc, type, &qkv, cache, c2, out2, ref, &params, &aseqs, fc->ff ? &tff.t : NULL, &rope,
                       sbytes ? &tsc.t : NULL, what);
    uint64_t differ = 0, cdiffer = 0, cwrong = 0;
    for (uint64_t i = 0; i < nq; i++)
        differ += memcmp(&out[i], &out2[i], 4) != 0;
    for (uint64_t i = 0; i < n; i++) {
        cdiffer += memcmp(&c1[i], &c2[i], 4) != 0;
        float want = cpu_cache[i];
        /* rope's cos and sin on the device against the CPU's, as check_write allows, with the f32 rounding of
         * angles up to n_ctx radians (and one f16 step) */
        float tol = (type == F16 ? fabsf(want) / 1024 : 0.0f) + 5e-5f + 4e-7f * (float)fc->n_ctx;
        int wrong = isnan(want) ? !isnan(c2[i]) : !(fabsf(c2[i] - want) <= tol);
        if (wrong && cwrong < 4)
            fprintf(stderr, "  cache [%llu]: fused %g, two dispatches %g, engine/cpu %g (was %g)\n", (unsigned long long)i,
                    c2[i], c1[i], want, cache[i]);
        cwrong += wrong;
    }
    printf("  fused %s: %llu output values and %llu cache elements differ from the two dispatches, %llu cache "
           "elements from engine/cpu\n", what, (unsigned long long)differ, (unsigned long long)cdiffer,
           (unsigned long long)cwrong);
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT_EQUAL(cdiffer, 0);
    CU_ASSERT_EQUAL(cwrong, 0);
    ot_free(vk, &tsrc), ot_free(vk, &tff), ot_free(vk, &tp), ot_free(vk, &ts), ot_free(vk, &tqd), ot_free(vk, &tsc);
    free(cache), free(src), free(roped), free(ff), free(ref), free(out), free(out2), free(c1), free(c2), free(cpu_cache);
}

static void test_attention_qkv(void) {
    vkslm_vk *vk = open_profiling();
    TEST_REQUIRE_GPU(vk);
    /* only CPU devices with texel buffers and one subgroup size run it (lavapipe, as CI's default pass has it);
     * elsewhere (GPUs, device profiles) every call below is refused as unsupported */
    const int fusable = vkslm_attn_qkv_fusable(vk, 64, 3, 0);
    if (!fusable)
        printf("(no fused attention on this device: its refusal is checked) ");
    static const fused_case cases[] = {
        {64, 9, 3, 8, 100, 8, 0, 0, 0, 0, 0, 16},          /* smollm2's heads, 8 decode tokens */
        {64, 9, 3, 3, 45, 1, 0, 0, 0, 0, 1, 16},           /* one token (a lone decode step), divisors */
        {64, 14, 2, 4, 50, 4, 0, 0, 0, 0, 0, 16},          /* 7 q heads per kv head (qwen2.5-0.5b) */
        {96, 4, 4, 3, 29, 3, 32, 0, 0, 0.5f, 0, 0},        /* phi3-like: one q head per kv head, partial rotation, YaRN */
        {64, 8, 4, 5, 90, 5, 0, 17, 30.0f, 0, 0, 8},       /* window and soft-capping */
        {64, 2, 1, 3, 700, 3, 0, 0, 0, 0, 1, 16},          /* 2 query rows: keys split */
    };
    static const uint32_t types[2] = {F16, F32};
    uint64_t salt = 500;
    /* quick mode (sanitizers, arm64 under qemu, where every pipeline compiles slowly): 8 tokens, f16 and normal
     * rope; keys split, f32 and divisors */
    for (size_t i = 0; fusable && i < sizeof cases / sizeof *cases; i++)
        for (int t = 0; t < 2; t++)
            if (!test_quick() || (i == 0 && t == 0) || (i == 5 && t == 1))
                check_fused(vk, &cases[i], types[t], (int)((i + t) & 1), salt++);
    ot_report();

    /* refusals: no rope, rows of the wrong shape, a rope mode it lacks, v before k */
    uint32_t D = 64, NH = 9, NKV = 3, n_ctx = 16;
    ot_tensor tc = ot_out(vk, F16, D, n_ctx, 2 * NKV, 0), tsrc = ot_out(vk, F32, (NH + 2 * NKV) * D, 1, 1, 0);
    const int32_t zero = 0; /* position 0 of sequence 0 */
    ot_tensor to = ot_out(vk, F32, D, NH, 1, 0), tp = ot_raw(vk, &zero, 4, VKSLM_TYPE_I32, 1, 1, 0);
    vkslm_tensor k0 = tc.t, v0 = tc.t;
    k0.ne[2] = v0.ne[2] = NKV;
    v0.offset += (uint64_t)NKV * n_ctx * D * 2;
    vkslm_tensor qkv = {tsrc.buf, tsrc.t.offset, F32, {D, NH + 2 * NKV, 1, 1}}, bad = qkv;
    bad.ne[1] = NH + NKV;
    vkslm_attn_params params = {0};
    vkslm_attn_seqs aseqs = {&tp.t, &tp.t, 1, 0, 2ull * NKV * n_ctx * D};
    vkslm_rope_params rope = {.mode = VKSLM_ROPE_NORMAL}, glm = {.mode = 1}, rot20 = {.mode = VKSLM_ROPE_NEOX, .n_rot = 20};
    CU_ASSERT_EQUAL(vkslm_attn_qkv_fusable(vk, 64, 3, 20), 0); /* a partner texel needs n_rot a multiple of 8 */
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, NULL),
                    VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &bad, &k0, &v0, NULL, &params, &aseqs, NULL, &rope),
                    VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, &glm),
                    VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &qkv, &v0, &k0, NULL, &params, &aseqs, NULL, &rope),
                    VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, &rot20),
                    VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &to.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, &rope),
                    fusable ? VKSLM_OK : VKSLM_ERR_UNSUPPORTED);
    /* out in 8 bits: one pair's row for one token, not two */
    ot_tensor t8 = ot_out(vk, VKSLM_TYPE_I32, vkslm_x8_pair_ints((uint64_t)NH * D), 2, 1, 0);
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &t8.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, &rope),
                    fusable ? VKSLM_ERR_INVALID_ARG : VKSLM_ERR_UNSUPPORTED);
    t8.t.ne[1] = 1;
    CU_ASSERT_EQUAL(vkslm_op_attention_qkv(c, &t8.t, &qkv, &k0, &v0, NULL, &params, &aseqs, NULL, &rope),
                    fusable ? VKSLM_OK : VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(ot_submit(c, VKSLM_OK, "refusals"), VKSLM_OK);
    ot_free(vk, &tc), ot_free(vk, &tsrc), ot_free(vk, &to), ot_free(vk, &tp), ot_free(vk, &t8);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* What the graph asks before it records one dispatch for many sequences: refused where the caches do not
 * fit one binding (the 1 MiB range of VKSLM_MAX_STORAGE_RANGE) or a kv head's q heads do not fit one
 * workgroup. */
static void test_limits(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=1048576", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    uint64_t stride = 2ull * 2 * 100 * 64 * 2; /* 2 kv heads, 100 positions, f16 */
    CU_ASSERT_EQUAL(vkslm_attn_seqs_ok(vk, 64, 3, 2, 100, 2, 8, stride), 1);
    CU_ASSERT_EQUAL(vkslm_attn_seqs_ok(vk, 64, 3, 2, 100, 2, 64, stride), 0); /* 3.3 MB */
    CU_ASSERT_EQUAL(vkslm_attn_seqs_ok(vk, 64, 64, 1, 100, 2, 8, stride), 0); /* 64 q heads per kv head */
    CU_ASSERT_EQUAL(vkslm_kv_seqs_fit(vk, 8, stride, stride), 1);
    CU_ASSERT_EQUAL(vkslm_kv_seqs_fit(vk, 64, stride, stride), 0);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"attention over many sequences' caches in one dispatch", test_attention_seqs},
        {"KV writes into many sequences' caches in one dispatch, q roped beside them", test_kv_write_seqs},
        {"decode attention from the fused projection's rows, as the KV write and attention give it", test_attention_qkv},
        {"many-sequence dispatches refused past the binding and workgroup limits", test_limits},
        {NULL, NULL},
    };
    return test_run_suite("gpu_seq_ops", tests);
}
