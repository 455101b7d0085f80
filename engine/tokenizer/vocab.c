/* Loading a tokenizer from GGUF metadata (tokenizer.ggml.*): vocabulary, types, scores, merges,
 * special ids and flags; decoded pieces and the special-token table are prepared here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/tokenizer/unicode_data.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define MAX_VOCAB (1 << 24)
#define MAX_MERGES (1 << 24)

static vkslm_status oom(void) { return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory"); }

/* Optional integer key: leaves *out alone when the key is missing. */
static vkslm_status opt_i64(const vkslm_gguf *g, const char *key, int64_t *out) {
    int64_t i = vkslm_gguf_find_key(g, key);
    if (i < 0)
        return VKSLM_OK;
    if (vkslm_gguf_kv_i64(g, (uint64_t)i, out) != VKSLM_OK)
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: %s is not an integer", key);
    return VKSLM_OK;
}

static vkslm_status opt_bool(const vkslm_gguf *g, const char *key, int *out) {
    int64_t i = vkslm_gguf_find_key(g, key);
    if (i < 0)
        return VKSLM_OK;
    if (vkslm_gguf_kv_bool(g, (uint64_t)i, out) != VKSLM_OK)
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: %s is not a bool", key);
    return VKSLM_OK;
}

/* A special id from the metadata; ids outside the vocabulary are ignored with a warning. */
static vkslm_status opt_id(const vkslm_gguf *g, const vkslm_tokenizer *t, const char *key, int32_t *out) {
    int64_t v = *out;
    VKSLM_TRY(opt_i64(g, key, &v));
    if (v == 0xffffffffll) { /* -1 written as uint32: "none", as converters do */
        *out = -1;
        return VKSLM_OK;
    }
    if (v < -1 || v >= t->n_vocab) {
        vkslm_log(VKSLM_LOG_WARN, "tokenizer: %s = %lld is outside the vocabulary (%d tokens); ignored", key,
                  (long long)v, t->n_vocab);
        return VKSLM_OK;
    }
    *out = (int32_t)v;
    return VKSLM_OK;
}

/* Index of an array key with string elements and exactly `want` (0: any) entries, or -1 if absent. */
static vkslm_status find_array(const vkslm_gguf *g, const char *key, vkslm_gguf_vtype etype, int required,
                               int64_t *idx) {
    *idx = vkslm_gguf_find_key(g, key);
    if (*idx < 0)
        return required ? vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: %s missing", key) : VKSLM_OK;
    if (vkslm_gguf_kv_type(g, (uint64_t)*idx) != VKSLM_GGUF_ARRAY ||
        (etype == VKSLM_GGUF_STRING && vkslm_gguf_kv_arr_type(g, (uint64_t)*idx) != VKSLM_GGUF_STRING))
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: %s is not an array%s", key,
                          etype == VKSLM_GGUF_STRING ? " of strings" : "");
    return VKSLM_OK;
}

static vkslm_status load_types_scores(const vkslm_gguf *g, vkslm_tokenizer *t) {
    int64_t ti, si;
    VKSLM_TRY(find_array(g, "tokenizer.ggml.token_type", VKSLM_GGUF_INT32, 0, &ti));
    VKSLM_TRY(find_array(g, "tokenizer.ggml.scores", VKSLM_GGUF_FLOAT32, 0, &si));
    for (int32_t i = 0; i < t->n_vocab; i++)
        t->attr[i] = VKSLM_TOKATTR_NORMAL;
    if (ti >= 0) {
        if (vkslm_gguf_kv_arr_len(g, (uint64_t)ti) != (uint64_t)t->n_vocab)
            return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: token_type has %llu entries for %d tokens",
                              (unsigned long long)vkslm_gguf_kv_arr_len(g, (uint64_t)ti), t->n_vocab);
        static const uint8_t map[7] = {0, VKSLM_TOKATTR_NORMAL, VKSLM_TOKATTR_UNKNOWN, VKSLM_TOKATTR_CONTROL,
                                       VKSLM_TOKATTR_USER_DEFINED, VKSLM_TOKATTR_UNUSED, VKSLM_TOKATTR_BYTE};
        for (int32_t i = 0; i < t->n_vocab; i++) {
            int64_t ty;
            if (vkslm_gguf_arr_i64(g, (uint64_t)ti, (uint64_t)i, &ty) != VKSLM_OK)
                return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: token_type[%d] unreadable", i);
            t->attr[i] = ty >= 0 && ty < 7 ? map[ty] : 0;
        }
    }
    if (si >= 0) {
        if (vkslm_gguf_kv_arr_len(g, (uint64_t)si) != (uint64_t)t->n_vocab)
            return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: scores has %llu entries for %d tokens",
                              (unsigned long long)vkslm_gguf_kv_arr_len(g, (uint64_t)si), t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) {
            double s;
            if (vkslm_gguf_arr_f64(g, (uint64_t)si, (uint64_t)i, &s) != VKSLM_OK)
                return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: scores[%d] unreadable", i);
            t->scores[i] = (float)s;
        }
    }
    return VKSLM_OK;
}

static vkslm_status load_merges(const vkslm_gguf *g, vkslm_tokenizer *t) {
    int64_t mi;
    VKSLM_TRY(find_array(g, "tokenizer.ggml.merges", VKSLM_GGUF_STRING, 1, &mi));
    uint64_t n = vkslm_gguf_kv_arr_len(g, (uint64_t)mi);
    if (n > MAX_MERGES)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenizer: %llu merges (at most %d)", (unsigned long long)n, MAX_MERGES);
    char *buf = NULL;
    size_t cap = 0;
    vkslm_status st = VKSLM_OK;
    for (uint64_t j = 0; j < n && st == VKSLM_OK; j++) {
        vkslm_str m;
        if (vkslm_gguf_arr_str(g, (uint64_t)mi, j, &m) != VKSLM_OK) {
            st = vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: merges[%llu] unreadable", (unsigned long long)j);
            break;
        }
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp) {
            st = vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: merges[%llu] has no space", (unsigned long long)j);
            break;
        }
        size_t la = (size_t)(sp - m.ptr), lb = m.len - la - 1;
        if (la + lb > cap) {
            cap = (la + lb) * 2;
            char *nb = VKSLM_REALLOC(buf, cap);
            if (!nb) {
                st = oom();
                break;
            }
            buf = nb;
        }
        memcpy(buf, m.ptr, la);
        memcpy(buf + la, sp + 1, lb);
        int32_t a, b, r;
        if ((st = vkslm_strpool_intern(&t->pool, buf, la, &a)) != VKSLM_OK ||
            (st = vkslm_strpool_intern(&t->pool, buf + la, lb, &b)) != VKSLM_OK ||
            (st = vkslm_strpool_intern(&t->pool, buf, la + lb, &r)) != VKSLM_OK)
            break;
        st = vkslm_pairmap_put(&t->merges, a, b, (int32_t)j, r);
    }
    VKSLM_FREE(buf);
    return st;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The bytes each token stands for, computed once so that token_to_piece is a lookup. */
static vkslm_status build_pieces(vkslm_tokenizer *t) {
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        total += t->pool.len[i];
    t->pieces = VKSLM_MALLOC(total ? total : 1);
    if (!t->pieces)
        return oom();
    size_t at = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t n;
        const char *s = vkslm_strpool_str(&t->pool, i, &n);
        char *o = t->pieces + at;
        size_t len = 0;
        unsigned a = t->attr[i];
        if (a & (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_UNKNOWN | VKSLM_TOKATTR_USER_DEFINED)) {
            memcpy(o, s, n), len = n;
        } else if (a & VKSLM_TOKATTR_BYTE) {
            if (n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0)
                o[0] = (char)(hexval(s[3]) * 16 + hexval(s[4])), len = 1;
            else
                memcpy(o, s, n), len = n;
        } else if (a & VKSLM_TOKATTR_NORMAL) {
            if (t->model == VKSLM_TOK_BPE) {
                len = vkslm_bpe_decode_text(t, s, n, o);
            } else { /* "▁" (E2 96 81) -> ' ' */
                for (size_t k = 0; k < n; k++) {
                    if (k + 2 < n && (unsigned char)s[k] == 0xE2 && (unsigned char)s[k + 1] == 0x96 &&
                        (unsigned char)s[k + 2] == 0x81)
                        o[len++] = ' ', k += 2;
                    else
                        o[len++] = s[k];
                }
            }
        }
        t->piece_off[i] = (uint32_t)at;
        t->piece_len[i] = (uint32_t)len;
        at += len;
    }
    return VKSLM_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int contains_ci(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && (hay[i + k] | 0x20) == (needle[k] | 0x20))
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

static vkslm_status build_specials(const vkslm_gguf *g, vkslm_tokenizer *t) {
    const unsigned kinds = VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_USER_DEFINED | VKSLM_TOKATTR_UNKNOWN;
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        n += (t->attr[i] & kinds) && t->pool.len[i] > 0;
    t->specials = VKSLM_MALLOC((size_t)(n ? n : 1) * sizeof *t->specials);
    if (!t->specials)
        return oom();
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->attr[i] & kinds) && t->pool.len[i] > 0)
            t->specials[t->n_specials++] = i;
    /* longest first, then by id (llama.cpp sorts by length only; ties in its order are unspecified) */
    uint64_t *keys = VKSLM_MALLOC((size_t)(n ? n : 1) * sizeof *keys);
    if (!keys)
        return oom();
    for (int32_t i = 0; i < n; i++)
        keys[i] = (uint64_t)(UINT32_MAX - t->pool.len[t->specials[i]]) << 32 | (uint32_t)t->specials[i];
    qsort(keys, (size_t)n, sizeof *keys, cmp_u64);
    for (int32_t i = 0; i < n; i++)
        t->specials[i] = (int32_t)(uint32_t)keys[i];
    VKSLM_FREE(keys);
    /* Phi-3 strips the whitespace to the right of its special tokens (as llama.cpp does, by name). */
    int64_t ni = vkslm_gguf_find_key(g, "general.name");
    vkslm_str name = {"", 0};
    if (ni >= 0 && vkslm_gguf_kv_str(g, (uint64_t)ni, &name) != VKSLM_OK)
        name.len = 0;
    if (contains_ci(name.ptr, name.len, "phi-3") || contains_ci(name.ptr, name.len, "phi3")) {
        for (int32_t i = 0; i < t->n_specials; i++)
            t->attr[t->specials[i]] |= VKSLM_TOKATTR_RSTRIP;
        static const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (int k = 0; k < 3; k++) {
            int32_t id = vkslm_strpool_find(&t->pool, keep[k], strlen(keep[k]));
            if (id >= 0 && id < t->n_vocab)
                t->attr[id] &= (uint8_t)~VKSLM_TOKATTR_RSTRIP;
        }
    }
    /* one entry per distinct text (the first in priority order wins, as in llama.cpp's scan) */
    int32_t kept = 0;
    for (int32_t i = 0; i < t->n_specials; i++) {
        int32_t id = t->specials[i], k;
        size_t len;
        const char *s = vkslm_strpool_str(&t->pool, id, &len);
        if (vkslm_strpool_find(&t->special_pool, s, len) >= 0)
            continue;
        VKSLM_TRY(vkslm_strpool_push(&t->special_pool, s, len, &k));
        t->specials[kept++] = id;
        t->special_lead[(unsigned char)s[0]] |= (t->attr[id] & VKSLM_TOKATTR_USER_DEFINED) ? 3 : 2;
    }
    t->n_specials = kept;
    t->special_lens = VKSLM_MALLOC((size_t)(kept ? kept : 1) * sizeof *t->special_lens);
    if (!t->special_lens)
        return oom();
    for (int32_t i = 0; i < kept; i++) { /* specials are sorted by length: keep each length once */
        uint32_t len = t->pool.len[t->specials[i]];
        if (t->n_special_lens == 0 || t->special_lens[t->n_special_lens - 1] != len)
            t->special_lens[t->n_special_lens++] = len;
    }
    return VKSLM_OK;
}

static void find_eog(vkslm_tokenizer *t) {
    static const char *eot_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                      "<|endoftext|>", "<EOT>",      "_<EOT>",  "<|end_of_text|>"};
    t->n_eog = 0;
    if (t->eos >= 0)
        t->eog[t->n_eog++] = t->eos;
    if (t->eot >= 0 && t->eot != t->eos)
        t->eog[t->n_eog++] = t->eot;
    for (size_t k = 0; k < sizeof eot_texts / sizeof eot_texts[0]; k++) {
        int32_t id = vkslm_strpool_find(&t->pool, eot_texts[k], strlen(eot_texts[k]));
        if (id < 0 || id >= t->n_vocab || !(t->attr[id] & (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_USER_DEFINED)))
            continue;
        if (t->eot < 0 && k < 7)
            t->eot = id;
        int dup = 0;
        for (int i = 0; i < t->n_eog; i++)
            dup |= t->eog[i] == id;
        if (!dup && t->n_eog < VKSLM_TOK_MAX_EOG)
            t->eog[t->n_eog++] = id;
    }
}

/* True when no token that merging can produce has a "▁" right after a character other than "▁". */
static int spm_words_independent(const vkslm_tokenizer *t) {
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (t->attr[i] & (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_UNKNOWN | VKSLM_TOKATTR_BYTE))
            continue;
        size_t n;
        const unsigned char *s = (const unsigned char *)vkslm_strpool_str(&t->pool, i, &n);
        for (size_t k = 1; k + 3 <= n; k++) {
            if (s[k] == 0xE2 && s[k + 1] == 0x96 && s[k + 2] == 0x81 &&
                !(k >= 3 && s[k - 3] == 0xE2 && s[k - 2] == 0x96 && s[k - 1] == 0x81))
                return 0;
        }
    }
    return 1;
}

static vkslm_status load(const vkslm_gguf *g, vkslm_tokenizer *t) {
    vkslm_str model;
    if (vkslm_gguf_get_str(g, "tokenizer.ggml.model", &model) != VKSLM_OK)
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: tokenizer.ggml.model missing");
    if (vkslm_str_eq(model, "llama"))
        t->model = VKSLM_TOK_SPM;
    else if (vkslm_str_eq(model, "gpt2"))
        t->model = VKSLM_TOK_BPE;
    else if (vkslm_str_eq(model, "bert"))
        t->model = VKSLM_TOK_WPM;
    else
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "tokenizer: model '%.*s' not supported (llama, gpt2, bert are)",
                          (int)(model.len > 64 ? 64 : model.len), model.ptr);
    int64_t pi = vkslm_gguf_find_key(g, "tokenizer.ggml.pre");
    vkslm_str pre = {"", 0};
    if (pi >= 0 && vkslm_gguf_kv_str(g, (uint64_t)pi, &pre) != VKSLM_OK)
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: tokenizer.ggml.pre is not a string");
    if (pre.len >= sizeof t->pre)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer name too long");
    memcpy(t->pre, pre.ptr, pre.len);
    t->pre[pre.len] = '\0';

    int64_t ki;
    VKSLM_TRY(find_array(g, "tokenizer.ggml.tokens", VKSLM_GGUF_STRING, 1, &ki));
    uint64_t n = vkslm_gguf_kv_arr_len(g, (uint64_t)ki);
    if (n == 0 || n > MAX_VOCAB)
        return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: %llu tokens (1..%d expected)", (unsigned long long)n, MAX_VOCAB);
    t->n_vocab = (int32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        vkslm_str s;
        int32_t id;
        if (vkslm_gguf_arr_str(g, (uint64_t)ki, i, &s) != VKSLM_OK)
            return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: tokens[%llu] unreadable", (unsigned long long)i);
        VKSLM_TRY(vkslm_strpool_push(&t->pool, s.ptr, s.len, &id));
        if (s.len > t->max_token_len)
            t->max_token_len = s.len;
    }
    t->scores = VKSLM_CALLOC(n, sizeof *t->scores);
    t->attr = VKSLM_CALLOC(n, 1);
    t->piece_off = VKSLM_MALLOC(n * sizeof *t->piece_off);
    t->piece_len = VKSLM_MALLOC(n * sizeof *t->piece_len);
    if (!t->scores || !t->attr || !t->piece_off || !t->piece_len)
        return oom();
    VKSLM_TRY(load_types_scores(g, t));

    t->bos = t->eos = t->eot = t->unk = t->sep = t->pad = t->cls = t->mask = -1;
    if (t->model == VKSLM_TOK_SPM) {
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_bos = 1, t->add_space_prefix = 1;
    } else if (t->model == VKSLM_TOK_WPM) {
        t->cls = 101, t->unk = 100, t->sep = 102, t->pad = 0, t->mask = 103;
        t->add_bos = 1, t->add_sep = 1;
    } else {
        VKSLM_TRY(vkslm_pretok_create(t->pre, &t->pretok));
        t->ignore_merges = vkslm_pretok_ignores_merges(t->pretok);
        t->add_bos = vkslm_pretok_adds_bos(t->pretok);
        vkslm_bpe_init_bytes(t);
    }
    for (int32_t *id = &t->bos; id <= &t->mask; id++) /* defaults that do not fit this vocabulary */
        if (*id >= t->n_vocab)
            *id = -1;
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.bos_token_id", &t->bos));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.eos_token_id", &t->eos));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.eot_token_id", &t->eot));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.unknown_token_id", &t->unk));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.seperator_token_id", &t->sep));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.padding_token_id", &t->pad));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.cls_token_id", &t->cls));
    VKSLM_TRY(opt_id(g, t, "tokenizer.ggml.mask_token_id", &t->mask));
    VKSLM_TRY(opt_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos));
    VKSLM_TRY(opt_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos));
    VKSLM_TRY(opt_bool(g, "tokenizer.ggml.add_sep_token", &t->add_sep));
    VKSLM_TRY(opt_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix));
    if (t->model == VKSLM_TOK_WPM && t->cls >= 0)
        t->bos = t->cls;

    if (t->model == VKSLM_TOK_BPE) {
        VKSLM_TRY(load_merges(g, t));
        for (int b = 0; b < 256; b++)
            t->byte_tok[b] = vkslm_strpool_find(&t->pool, t->byte_chr[b], t->byte_chr_len[b]);
    } else {
        for (int b = 0; b < 256; b++) {
            char hex[8];
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            int32_t id = vkslm_strpool_find(&t->pool, hex, 6);
            if (id < 0) {
                char c = (char)b;
                id = vkslm_strpool_find(&t->pool, &c, 1);
            }
            t->byte_tok[b] = id >= 0 ? id : t->unk;
        }
    }
    if (t->model == VKSLM_TOK_SPM)
        t->spm_word_split = spm_words_independent(t);
    VKSLM_TRY(build_pieces(t));
    VKSLM_TRY(build_specials(g, t));
    find_eog(t);
    return VKSLM_OK;
}

vkslm_status vkslm_tokenizer_load(const vkslm_gguf *g, vkslm_tokenizer **out) {
    if (!g || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "tokenizer_load: NULL argument");
    *out = NULL;
    vkslm_tokenizer *t = VKSLM_CALLOC(1, sizeof *t);
    if (!t)
        return oom();
    vkslm_status st = load(g, t);
    if (st != VKSLM_OK) {
        vkslm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return VKSLM_OK;
}

void vkslm_tokenizer_free(vkslm_tokenizer *t) {
    if (!t)
        return;
    vkslm_strpool_free(&t->pool);
    vkslm_pairmap_free(&t->merges);
    vkslm_pretok_free(t->pretok);
    VKSLM_FREE(t->scores);
    VKSLM_FREE(t->attr);
    VKSLM_FREE(t->pieces);
    VKSLM_FREE(t->piece_off);
    VKSLM_FREE(t->piece_len);
    VKSLM_FREE(t->specials);
    VKSLM_FREE(t->special_lens);
    vkslm_strpool_free(&t->special_pool);
    VKSLM_FREE(t);
}
