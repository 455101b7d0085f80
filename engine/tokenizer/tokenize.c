/* vkslm_tokenize: special tokens are cut out of the text first (llama.cpp's partition: longest token
 * first, leftmost occurrences, optional whitespace stripping), then each plain-text fragment goes to
 * the vocabulary's encoder; BOS/EOS (CLS/SEP) are added where the vocabulary asks for them.
 * vkslm_tokenize_ranges restricts where control tokens may be cut out (a chat template's own text, not
 * what a user wrote); the rest of the pipeline is the same. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

vkslm_status vkslm_idvec_push(vkslm_idvec *v, int32_t id) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *p = VKSLM_REALLOC(v->v, cap * sizeof *p);
        if (!p)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return VKSLM_OK;
}

typedef struct fragment {
    size_t off, len;
    int32_t token; /* >= 0: a special token; -1: text[off, off+len) */
} fragment;

typedef struct frag_list {
    fragment *f;
    size_t n, cap;
} frag_list;

static vkslm_status frag_push(frag_list *l, fragment f) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fragment *p = VKSLM_REALLOC(l->f, cap * sizeof *p);
        if (!p)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
        l->f = p;
        l->cap = cap;
    }
    l->f[l->n++] = f;
    return VKSLM_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

enum { COVER_FREE = 0, COVER_TOKEN = 1, COVER_STRIPPED = 2, COVER_START = 3 };

/* Splits text into special-token and plain-text fragments. A token of higher priority (longer) claims
 * its occurrences first; a lower one only matches text that is still free, leftmost first. With ok
 * (not NULL), a token other than a user-defined one matches only inside one of ok[0..n_ok). */
static vkslm_status partition(const vkslm_tokenizer *t, const char *text, size_t len, int parse_special,
                              const vkslm_text_range *ok, size_t n_ok, frag_list *out) {
    uint8_t want = parse_special ? 2 : 1;
    uint64_t *cand = NULL;
    size_t n_cand = 0, cap_cand = 0, r = 0;
    vkslm_status st = VKSLM_OK;
    if (t->n_specials && len < ((uint64_t)1 << 40)) {
        for (size_t p = 0; p < len && st == VKSLM_OK; p++) {
            if (!(t->special_lead[(unsigned char)text[p]] & want))
                continue;
            while (ok && r < n_ok && ok[r].off + ok[r].len <= p) /* the first range that ends after p */
                r++;
            for (int32_t k = 0; k < t->n_special_lens; k++) {
                uint32_t L = t->special_lens[k];
                if (L > len - p)
                    continue;
                int32_t prio = vkslm_strpool_find(&t->special_pool, text + p, L);
                if (prio < 0)
                    continue;
                unsigned a = t->attr[t->specials[prio]];
                if (!(a & VKSLM_TOKATTR_USER_DEFINED)) {
                    if (!parse_special)
                        continue;
                    if (ok && !(r < n_ok && ok[r].off <= p && p + L <= ok[r].off + ok[r].len))
                        continue; /* not wholly inside a range where control tokens may be */
                }
                if (n_cand == cap_cand) {
                    cap_cand = cap_cand ? cap_cand * 2 : 64;
                    uint64_t *c = VKSLM_REALLOC(cand, cap_cand * sizeof *c);
                    if (!c) {
                        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
                        break;
                    }
                    cand = c;
                }
                cand[n_cand++] = (uint64_t)prio << 40 | p;
            }
        }
    }
    if (st != VKSLM_OK || n_cand == 0) {
        VKSLM_FREE(cand);
        if (st == VKSLM_OK && len)
            st = frag_push(out, (fragment){0, len, -1});
        return st;
    }
    qsort(cand, n_cand, sizeof *cand, cmp_u64);
    uint8_t *cover = VKSLM_CALLOC(len, 1);
    if (!cover) {
        VKSLM_FREE(cand);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    }
    size_t n_acc = 0;
    for (size_t i = 0; i < n_cand; i++) {
        int32_t prio = (int32_t)(cand[i] >> 40);
        size_t p = (size_t)(cand[i] & (((uint64_t)1 << 40) - 1));
        int32_t id = t->specials[prio];
        size_t L = t->pool.len[id], k = 0;
        while (k < L && cover[p + k] == COVER_FREE)
            k++;
        if (k < L)
            continue; /* overlaps text a longer token (or an earlier occurrence) has taken */
        memset(cover + p, COVER_TOKEN, L);
        cover[p] = COVER_START;
        if (t->attr[id] & VKSLM_TOKATTR_LSTRIP)
            for (size_t q = p; q > 0 && cover[q - 1] == COVER_FREE && is_space(text[q - 1]); q--)
                cover[q - 1] = COVER_STRIPPED;
        if (t->attr[id] & VKSLM_TOKATTR_RSTRIP)
            for (size_t q = p + L; q < len && cover[q] == COVER_FREE && is_space(text[q]); q++)
                cover[q] = COVER_STRIPPED;
        cand[n_acc++] = (uint64_t)p << 24 | (uint64_t)(uint32_t)id; /* reuse: accepted, by position */
    }
    /* accepted tokens in text order: positions are < 2^40 and ids < 2^24 */
    qsort(cand, n_acc, sizeof *cand, cmp_u64);
    size_t next = 0;
    for (size_t i = 0; i < len && st == VKSLM_OK;) {
        if (cover[i] == COVER_START) {
            int32_t id = (int32_t)(cand[next++] & 0xFFFFFF);
            st = frag_push(out, (fragment){i, 0, id});
            i += t->pool.len[id];
        } else if (cover[i] == COVER_FREE) {
            size_t j = i;
            while (j < len && cover[j] == COVER_FREE)
                j++;
            st = frag_push(out, (fragment){i, j - i, -1});
            i = j;
        } else {
            i++;
        }
    }
    VKSLM_FREE(cover);
    VKSLM_FREE(cand);
    return st;
}

vkslm_status vkslm_tokenize(const vkslm_tokenizer *t, const char *text, size_t len, int add_special,
                            int parse_special, int32_t *out, size_t cap, size_t *n_out) {
    return vkslm_tokenize_ranges(t, text, len, add_special, parse_special, NULL, 0, out, cap, n_out);
}

vkslm_status vkslm_tokenize_ranges(const vkslm_tokenizer *t, const char *text, size_t len, int add_special,
                                   int parse_special, const vkslm_text_range *ok, size_t n_ok, int32_t *out,
                                   size_t cap, size_t *n_out) {
    if (!t || (!text && len) || (!out && cap) || !n_out || (!ok && n_ok))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "tokenize: NULL argument");
    *n_out = 0;
    vkslm_idvec ids = {0};
    frag_list frags = {0};
    vkslm_status st = VKSLM_OK;
    if (add_special && t->add_bos && t->bos >= 0)
        st = vkslm_idvec_push(&ids, t->bos);
    if (st == VKSLM_OK)
        st = partition(t, text, len, parse_special, ok, n_ok, &frags);
    int prev_special = 1; /* SentencePiece puts its space in front of text that follows a special token */
    for (size_t i = 0; i < frags.n && st == VKSLM_OK; i++) {
        const fragment *f = &frags.f[i];
        if (f->token >= 0) {
            st = vkslm_idvec_push(&ids, f->token);
            prev_special = 1;
            continue;
        }
        switch (t->model) {
        case VKSLM_TOK_SPM:
            st = vkslm_spm_encode(t, text + f->off, f->len, t->add_space_prefix && prev_special, &ids);
            break;
        case VKSLM_TOK_BPE:
            st = vkslm_bpe_encode(t, text + f->off, f->len, &ids);
            break;
        case VKSLM_TOK_WPM:
            st = vkslm_wpm_encode(t, text + f->off, f->len, &ids);
            break;
        }
        prev_special = 0;
    }
    if (st == VKSLM_OK && add_special && t->add_eos && t->eos >= 0)
        st = vkslm_idvec_push(&ids, t->eos);
    if (st == VKSLM_OK && add_special && t->model == VKSLM_TOK_WPM && t->add_sep && t->sep >= 0)
        st = vkslm_idvec_push(&ids, t->sep);
    if (st == VKSLM_OK) {
        *n_out = ids.n;
        if (ids.n && cap)
            memcpy(out, ids.v, (ids.n < cap ? ids.n : cap) * sizeof *out);
        if (ids.n > cap)
            st = vkslm_fail(VKSLM_ERR_LIMIT, "tokenize: %zu tokens do not fit in %zu", ids.n, cap);
    }
    VKSLM_FREE(ids.v);
    VKSLM_FREE(frags.f);
    return st;
}

/* ---- queries ---------------------------------------------------------------------------------- */
vkslm_tok_model vkslm_tokenizer_model(const vkslm_tokenizer *t) { return t->model; }
const char *vkslm_tokenizer_pre(const vkslm_tokenizer *t) { return t->pre; }
int32_t vkslm_tokenizer_n_vocab(const vkslm_tokenizer *t) { return t->n_vocab; }
int32_t vkslm_token_bos(const vkslm_tokenizer *t) { return t->bos; }
int32_t vkslm_token_eos(const vkslm_tokenizer *t) { return t->eos; }
int32_t vkslm_token_eot(const vkslm_tokenizer *t) { return t->eot; }
int32_t vkslm_token_unk(const vkslm_tokenizer *t) { return t->unk; }
int vkslm_tokenizer_adds_bos(const vkslm_tokenizer *t) { return t->add_bos && t->bos >= 0; }
int vkslm_tokenizer_adds_eos(const vkslm_tokenizer *t) { return t->add_eos && t->eos >= 0; }

int vkslm_token_is_eog(const vkslm_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return 1;
    return 0;
}

unsigned vkslm_token_attr(const vkslm_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->attr[id] : 0;
}

const char *vkslm_token_text(const vkslm_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return "";
    }
    return vkslm_strpool_str(&t->pool, id, len);
}

int32_t vkslm_token_find(const vkslm_tokenizer *t, const char *text, size_t len) {
    int32_t id = vkslm_strpool_find(&t->pool, text, len);
    return id < t->n_vocab ? id : -1;
}
