/* One hand-made malformed GGUF per rule of the parser, built in memory by a tiny writer; each must be
 * rejected with VKSLM_ERR_FORMAT and a message naming the problem. Also: value conversions and
 * hyperparameter errors on hand-made files. Needs no test data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/hparams.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf.h"
#include "tests/harness.h"

/* ---- a tiny GGUF writer ------------------------------------------------------------------------- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void w_u32(wbuf *b, uint32_t v) { w_bytes(b, &v, 4); }
static void w_u64(wbuf *b, uint64_t v) { w_bytes(b, &v, 8); }
static void w_strn(wbuf *b, const char *s, size_t n) {
    w_u64(b, n);
    w_bytes(b, s, n);
}
static void w_str(wbuf *b, const char *s) { w_strn(b, s, strlen(s)); }
static void w_header(wbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    w_bytes(b, "GGUF", 4);
    w_u32(b, version);
    w_u64(b, n_tensors);
    w_u64(b, n_kv);
}
static void w_kv_u32(wbuf *b, const char *key, uint32_t v) {
    w_str(b, key);
    w_u32(b, VKSLM_GGUF_UINT32);
    w_u32(b, v);
}
static void w_kv_str(wbuf *b, const char *key, const char *v) {
    w_str(b, key);
    w_u32(b, VKSLM_GGUF_STRING);
    w_str(b, v);
}

typedef struct tinfo {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t offset;
} tinfo;

static void w_tinfo(wbuf *b, const tinfo *t) {
    w_str(b, t->name);
    w_u32(b, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
        w_u64(b, t->ne[d]);
    w_u32(b, t->type);
    w_u64(b, t->offset);
}

/* A file with general.architecture = llama, an optional general.alignment, the given tensors and
 * enough zeroed data behind them; data_bytes overrides the data size when nonzero. */
static wbuf model_file(const tinfo *ts, int nt, uint32_t align_kv, uint64_t data_bytes) {
    wbuf b = {0};
    w_header(&b, 3, (uint64_t)nt, align_kv ? 2 : 1);
    w_kv_str(&b, "general.architecture", "llama");
    if (align_kv)
        w_kv_u32(&b, "general.alignment", align_kv);
    for (int i = 0; i < nt; i++)
        w_tinfo(&b, &ts[i]);
    uint32_t align = align_kv ? align_kv : 32;
    while (b.n % align)
        w_bytes(&b, "", 1);
    uint64_t end = 0;
    for (int i = 0; i < nt; i++) {
        uint64_t n = 1;
        for (uint32_t d = 0; d < ts[i].n_dims && d < 4; d++)
            n *= ts[i].ne[d];
        uint64_t sz = vkslm_type_row_bytes(ts[i].type, ts[i].ne[0]) * (n / ts[i].ne[0]);
        if (ts[i].offset + sz > end && sz < (1u << 20))
            end = ts[i].offset + sz;
    }
    if (data_bytes)
        end = data_bytes;
    for (uint64_t i = 0; i < end; i++)
        w_bytes(&b, "\x5a", 1);
    return b;
}

/* Expects the buffer to be rejected with VKSLM_ERR_FORMAT and `want` in the message; frees it. */
#define EXPECT_REJECT(buf, want) expect_reject(&(buf), (want), __LINE__)
static void expect_reject(wbuf *b, const char *want, int line) {
    vkslm_gguf *g = (vkslm_gguf *)&g; /* must come back NULL */
    vkslm_status st = vkslm_gguf_open_memory(b->p, b->n, &g);
    const char *msg = vkslm_last_error();
    if (st != VKSLM_ERR_FORMAT || !strstr(msg, want) || strncmp(msg, "gguf: ", 6) != 0)
        printf("\n  line %d: status %d, message '%s', wanted '%s'\n", line, st, msg, want);
    CU_ASSERT_EQUAL(st, VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, " at byte "));
    CU_ASSERT_PTR_NULL(g);
    if (st == VKSLM_OK)
        vkslm_gguf_close(g);
    free(b->p);
}

static const tinfo t_f32 = {"a.weight", 2, {32, 4, 1, 1}, VKSLM_TYPE_F32, 0};
static const tinfo t_q4 = {"b.weight", 2, {64, 2, 1, 1}, VKSLM_TYPE_Q4_0, 512};

/* ---- the baseline is valid, so each rejection below is due to its one defect ------------------- */
static void test_baseline_valid(void) {
    tinfo ts[2] = {t_f32, t_q4};
    wbuf b = model_file(ts, 2, 0, 0);
    vkslm_gguf *g;
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_tensor_count(g), 2);
    CU_ASSERT_EQUAL(vkslm_gguf_tensor_at(g, 1)->size, 2 * 2 * 18);
    CU_ASSERT_EQUAL(vkslm_gguf_alignment(g), 32);
    vkslm_gguf_close(g);
    free(b.p);
    /* a known type vkslm cannot compute (Q8_K) parses, for `vkslm info`; the model loader rejects it */
    tinfo k = {"k.weight", 1, {256, 1, 1, 1}, VKSLM_TYPE_Q8_K, 0};
    b = model_file(&k, 1, 64, 0);
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_tensor_at(g, 0)->size, 292);
    CU_ASSERT_EQUAL(vkslm_gguf_alignment(g), 64);
    CU_ASSERT_EQUAL(vkslm_gguf_data_offset(g) % 64, 0);
    vkslm_gguf_close(g);
    free(b.p);
    /* GGUF v2 has the same layout */
    b = model_file(ts, 2, 0, 0);
    b.p[4] = 2;
    CU_ASSERT_EQUAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_version(g), 2);
    vkslm_gguf_close(g);
    free(b.p);
}

static void test_header_rules(void) {
    wbuf b = model_file(&t_f32, 1, 0, 0);
    memcpy(b.p, "GGUG", 4);
    EXPECT_REJECT(b, "bad magic");
    b = model_file(&t_f32, 1, 0, 0);
    b.p[4] = 1;
    EXPECT_REJECT(b, "version 1 is not supported");
    b = model_file(&t_f32, 1, 0, 0);
    b.p[4] = 4;
    EXPECT_REJECT(b, "unknown GGUF version 4");
    b = model_file(&t_f32, 1, 0, 0);
    b.p[4] = 0, b.p[7] = 3;
    EXPECT_REJECT(b, "big-endian");
    b = (wbuf){0};
    w_bytes(&b, "GGUF\x03\0\0\0\0\0", 10);
    EXPECT_REJECT(b, "truncated: tensor count needs 8 bytes but only 2 remain");
    b = (wbuf){0};
    EXPECT_REJECT(b, "truncated: magic");
    /* absurd counts: more records than the remaining bytes could hold */
    b = (wbuf){0};
    w_header(&b, 3, 0, (uint64_t)1 << 60);
    w_kv_u32(&b, "x", 1);
    EXPECT_REJECT(b, "kv count 1152921504606846976 cannot fit");
    b = (wbuf){0};
    w_header(&b, 3, (uint64_t)1 << 40, 1);
    w_kv_u32(&b, "x", 1);
    EXPECT_REJECT(b, "tensor count 1099511627776 cannot fit");
}

static void test_metadata_rules(void) {
    wbuf b = {0};
    w_header(&b, 3, 0, 1);
    w_u64(&b, 1000); /* key length past the end */
    w_bytes(&b, "abcdefghijklmnopqrstuvwxyz", 26);
    EXPECT_REJECT(b, "key length 1000 runs past the end");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "s");
    w_u32(&b, VKSLM_GGUF_STRING);
    w_u64(&b, UINT64_MAX); /* string value length */
    EXPECT_REJECT(b, "string value length 18446744073709551615 runs past the end");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "arr");
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u32(&b, VKSLM_GGUF_UINT32);
    w_u64(&b, (uint64_t)1 << 62); /* count * 4 would overflow */
    w_u32(&b, 7);
    EXPECT_REJECT(b, "array of 4611686018427387904 elements of 4 bytes runs past the end");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "tokens");
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u32(&b, VKSLM_GGUF_STRING);
    w_u64(&b, 1000000);
    w_str(&b, "a");
    EXPECT_REJECT(b, "array of 1000000 strings cannot fit");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "tokens");
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u32(&b, VKSLM_GGUF_STRING);
    w_u64(&b, 2);
    w_str(&b, "a");
    w_u64(&b, 99); /* second element's length runs past the end */
    w_bytes(&b, "bcdefghi", 8);
    EXPECT_REJECT(b, "string element length 99 runs past the end");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "nested");
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u64(&b, 0);
    EXPECT_REJECT(b, "arrays of arrays are not supported");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "weird");
    w_u32(&b, 13);
    w_u64(&b, 0);
    EXPECT_REJECT(b, "unknown value type 13");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_str(&b, "flag");
    w_u32(&b, VKSLM_GGUF_BOOL);
    w_bytes(&b, "\x02\0\0\0\0\0\0\0\0\0\0\0", 12);
    EXPECT_REJECT(b, "bool value 2 is neither 0 nor 1");

    b = (wbuf){0};
    w_header(&b, 3, 0, 2);
    w_kv_u32(&b, "general.x", 1);
    w_kv_u32(&b, "general.x", 2);
    EXPECT_REJECT(b, "kv #1 'general.x' at byte 49: duplicate key (first defined by kv #0)");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_kv_u32(&b, "", 1);
    EXPECT_REJECT(b, "empty key");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_strn(&b, "a\0b", 3);
    w_u32(&b, VKSLM_GGUF_UINT8);
    w_bytes(&b, "\x01\0\0\0\0\0\0\0\0\0\0\0", 12);
    EXPECT_REJECT(b, "key contains a NUL byte");

    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_kv_u32(&b, "general.alignment", 48);
    EXPECT_REJECT(b, "alignment 48 is not a nonzero power of two");
    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_kv_u32(&b, "general.alignment", 0);
    EXPECT_REJECT(b, "alignment 0 is not a nonzero power of two");
    b = (wbuf){0};
    w_header(&b, 3, 0, 1);
    w_kv_str(&b, "general.alignment", "32");
    EXPECT_REJECT(b, "alignment must be an unsigned integer");
}

static void test_tensor_rules(void) {
    tinfo t = t_f32;
    t.n_dims = 5;
    wbuf b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "tensor 'a.weight' (#0) at byte 85: 5 dims (1 to 4 allowed)");
    t.n_dims = 0;
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "0 dims");

    t = t_f32;
    t.ne[1] = 0;
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "dim 1 is zero");

    t = (tinfo){"big", 3, {(uint64_t)1 << 32, (uint64_t)1 << 32, 4, 1}, VKSLM_TYPE_F32, 0};
    b = model_file(&t, 1, 0, 64);
    EXPECT_REJECT(b, "tensor 'big' (#0) at byte ");
    t = (tinfo){"big", 3, {(uint64_t)1 << 32, (uint64_t)1 << 32, 4, 1}, VKSLM_TYPE_F32, 0};
    b = model_file(&t, 1, 0, 64);
    EXPECT_REJECT(b, "dims product overflows");
    t = (tinfo){"huge", 1, {UINT64_MAX, 1, 1, 1}, VKSLM_TYPE_F32, 0};
    b = model_file(&t, 1, 0, 64);
    EXPECT_REJECT(b, "dim 0 (18446744073709551615) is too large");
    t = (tinfo){"bytes", 2, {(uint64_t)1 << 61, 2, 1, 1}, VKSLM_TYPE_F32, 0};
    b = model_file(&t, 1, 0, 64);
    EXPECT_REJECT(b, "byte size overflows");

    t = t_f32;
    t.type = 4; /* removed Q4_2: no such type */
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "unknown tensor type 4");
    t.type = 99;
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "unknown tensor type 99");

    t = t_q4;
    t.ne[0] = 48;
    t.offset = 0;
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "row of 48 elements is not a multiple of the Q4_0 block size 32");

    t = t_f32;
    t.offset = 1024; /* 512 bytes of data after the header */
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "data of 512 bytes at offset 1024 lies outside the file");
    t.offset = (uint64_t)-32; /* offset + size overflows */
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "lies outside the file");

    t = t_f32;
    t.offset = 16;
    b = model_file(&t, 1, 0, 1024);
    EXPECT_REJECT(b, "data offset 16 is not a multiple of the alignment 32");
    b = model_file(&t, 1, 16, 1024); /* fine with general.alignment 16 */
    vkslm_gguf *g;
    CU_ASSERT_EQUAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    vkslm_gguf_close(g);
    free(b.p);

    tinfo two[2] = {t_f32, t_q4};
    two[1].offset = 256; /* a.weight covers [0, 512) */
    b = model_file(two, 2, 0, 1024);
    EXPECT_REJECT(b, "tensor 'b.weight' (#1) at byte ");
    b = model_file(two, 2, 0, 1024);
    EXPECT_REJECT(b, "data overlaps tensor 'a.weight' (#0)");

    two[1] = t_f32;
    two[1].offset = 512;
    b = model_file(two, 2, 0, 0);
    EXPECT_REJECT(b, "duplicate tensor name (first defined by tensor #0)");

    t = t_f32;
    t.name = "";
    b = model_file(&t, 1, 0, 512);
    EXPECT_REJECT(b, "empty tensor name");

    /* the tensor infos themselves truncated, and the data section missing */
    b = model_file(&t_f32, 1, 0, 0);
    b.n = 70;
    EXPECT_REJECT(b, "truncated");
    b = model_file(&t_f32, 1, 0, 0);
    b.n = 120; /* tensor info complete (ends at byte 117), padding to 128 cut */
    EXPECT_REJECT(b, "data section");
}

/* ---- value conversions ------------------------------------------------------------------------- */
static void test_value_conversions(void) {
    wbuf b = {0};
    w_header(&b, 3, 0, 5);
    w_str(&b, "neg");
    w_u32(&b, VKSLM_GGUF_INT32);
    w_u32(&b, (uint32_t)-7);
    w_str(&b, "big");
    w_u32(&b, VKSLM_GGUF_UINT64);
    w_u64(&b, UINT64_MAX);
    w_str(&b, "f");
    w_u32(&b, VKSLM_GGUF_FLOAT32);
    float f = 0.5f;
    w_bytes(&b, &f, 4);
    w_str(&b, "i16s");
    w_u32(&b, VKSLM_GGUF_ARRAY);
    w_u32(&b, VKSLM_GGUF_INT16);
    w_u64(&b, 3);
    int16_t v[3] = {-1, 2, 32767};
    w_bytes(&b, v, sizeof v);
    w_str(&b, "yes");
    w_u32(&b, VKSLM_GGUF_BOOL);
    w_bytes(&b, "\x01", 1);
    vkslm_gguf *g;
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    uint64_t u;
    int64_t i;
    double d;
    int yes;
    CU_ASSERT_EQUAL(vkslm_gguf_kv_i64(g, 0, &i), VKSLM_OK);
    CU_ASSERT_EQUAL(i, -7);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_u64(g, 0, &u), VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "'neg': value does not fit"));
    CU_ASSERT_EQUAL(vkslm_gguf_kv_u64(g, 1, &u), VKSLM_OK);
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_i64(g, 1, &i), VKSLM_ERR_FORMAT);
    uint32_t u32;
    CU_ASSERT_EQUAL(vkslm_gguf_get_u32(g, "big", &u32), VKSLM_ERR_FORMAT);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_u64(g, 2, &u), VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "'f' has type float32, expected an integer"));
    CU_ASSERT_EQUAL(vkslm_gguf_kv_f64(g, 2, &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d, 0.5);
    float ff;
    CU_ASSERT_EQUAL(vkslm_gguf_get_f32(g, "neg", &ff), VKSLM_OK); /* integers convert to floats */
    CU_ASSERT_EQUAL(ff, -7.0f);
    CU_ASSERT_EQUAL(vkslm_gguf_arr_i64(g, 3, 0, &i), VKSLM_OK);
    CU_ASSERT_EQUAL(i, -1);
    CU_ASSERT_EQUAL(vkslm_gguf_arr_i64(g, 3, 2, &i), VKSLM_OK);
    CU_ASSERT_EQUAL(i, 32767);
    CU_ASSERT_EQUAL(vkslm_gguf_arr_i64(g, 3, 3, &i), VKSLM_ERR_INVALID_ARG);
    vkslm_str s;
    CU_ASSERT_EQUAL(vkslm_gguf_arr_str(g, 3, 0, &s), VKSLM_ERR_FORMAT);
    CU_ASSERT_EQUAL(vkslm_gguf_get_bool(g, "yes", &yes), VKSLM_OK);
    CU_ASSERT_EQUAL(yes, 1);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_str(g, 4, &s), VKSLM_ERR_FORMAT);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_u64(g, 5, &u), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_gguf_find_key(g, "nope"), -1);
    vkslm_gguf_close(g);
    free(b.p);
}

/* ---- hyperparameter errors --------------------------------------------------------------------- */
static wbuf llama_hparams_file(const char *skip, const char *as_string) {
    static const char *keys[] = {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                                 "llama.attention.head_count", "llama.context_length"};
    static const uint32_t vals[] = {2, 64, 128, 4, 256};
    wbuf b = {0};
    uint64_t n_kv = 2 + 5 - (skip ? 1 : 0);
    w_header(&b, 3, 1, n_kv);
    w_kv_str(&b, "general.architecture", "llama");
    for (int k = 0; k < 5; k++) {
        if (skip && strcmp(keys[k], skip) == 0)
            continue;
        if (as_string && strcmp(keys[k], as_string) == 0)
            w_kv_str(&b, keys[k], "64");
        else
            w_kv_u32(&b, keys[k], vals[k]);
    }
    w_str(&b, "llama.attention.layer_norm_rms_epsilon");
    w_u32(&b, VKSLM_GGUF_FLOAT32);
    float eps = 1e-5f;
    w_bytes(&b, &eps, 4);
    w_tinfo(&b, &t_f32);
    while (b.n % 32)
        w_bytes(&b, "", 1);
    for (int i = 0; i < 512; i++)
        w_bytes(&b, "", 1);
    return b;
}

static void test_hparams_errors(void) {
    vkslm_gguf *g;
    vkslm_hparams hp;
    wbuf b = llama_hparams_file(NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_hparams_load(g, &hp), VKSLM_OK);
    CU_ASSERT_EQUAL(hp.arch, VKSLM_ARCH_LLAMA);
    CU_ASSERT_EQUAL(hp.n_head_kv, 4);     /* default: n_head */
    CU_ASSERT_EQUAL(hp.n_embd_head_k, 16); /* default: n_embd / n_head */
    CU_ASSERT_EQUAL(hp.n_rot, 16);
    CU_ASSERT_EQUAL(hp.rope_freq_base, 10000.0f);
    CU_ASSERT_EQUAL(hp.rope_scaling, VKSLM_ROPE_SCALING_NONE);
    CU_ASSERT_EQUAL(hp.n_vocab, 0);
    CU_ASSERT_EQUAL(hp.bos_id, -1);
    vkslm_gguf_close(g);
    free(b.p);

    b = llama_hparams_file("llama.feed_forward_length", NULL);
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_hparams_load(g, &hp), VKSLM_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(vkslm_last_error(), "hparams: required key 'llama.feed_forward_length' is missing");
    vkslm_gguf_close(g);
    free(b.p);

    b = llama_hparams_file(NULL, "llama.embedding_length");
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_hparams_load(g, &hp), VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "'llama.embedding_length' has type string, expected an integer"));
    vkslm_gguf_close(g);
    free(b.p);

    /* no tensors (vocab-only): the same missing key is no error */
    b = llama_hparams_file("llama.feed_forward_length", NULL);
    memset(b.p + 8, 0, 8); /* tensor count 0 */
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(b.p, b.n, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_hparams_load(g, &hp), VKSLM_OK);
    CU_ASSERT_EQUAL(hp.n_layer, 2);
    CU_ASSERT_EQUAL(hp.n_ff, 0);
    vkslm_gguf_close(g);
    free(b.p);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"the writer's baseline files are valid", test_baseline_valid},
        {"header rules", test_header_rules},
        {"metadata rules", test_metadata_rules},
        {"tensor rules", test_tensor_rules},
        {"value conversions", test_value_conversions},
        {"hyperparameter errors", test_hparams_errors},
        {NULL, NULL},
    };
    return test_run_suite("gguf_malformed", tests);
}
