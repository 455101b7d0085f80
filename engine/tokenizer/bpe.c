/* Byte-level BPE (tokenizer.ggml.model "gpt2"): the regex pre-tokenizer cuts the text into pieces;
 * each piece starts as one symbol per byte (GPT-2's byte alphabet) and the adjacent pair with the
 * lowest merge rank is merged until no pair has a rank. A binary heap keyed by (rank, position)
 * with lazy invalidation keeps a piece of n bytes at O(n log n). */
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/tokenizer/unicode_data.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

void vkslm_bpe_init_bytes(vkslm_tokenizer *t) {
    /* printable Latin-1 bytes stand for themselves; the others get code points from 256 up, in order */
    int next = 256;
    memset(t->is_byte_chr, 0, sizeof t->is_byte_chr);
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? (uint32_t)b : (uint32_t)next++;
        char u[4];
        t->byte_chr_len[b] = (uint8_t)vkslm_utf8_encode(cp, u);
        memcpy(t->byte_chr[b], u, t->byte_chr_len[b]);
        t->unbyte[cp] = (uint8_t)b;
        t->is_byte_chr[cp] = 1;
    }
}

size_t vkslm_bpe_decode_text(const vkslm_tokenizer *t, const char *s, size_t n, char *out) {
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = vkslm_utf8_decode(s + i, n - i, &adv);
        if (cp != VKSLM_UC_INVALID && cp < 512 && t->is_byte_chr[cp]) {
            out[len++] = (char)t->unbyte[cp];
        } else {
            memcpy(out + len, s + i, adv); /* not in the byte alphabet: keep as is */
            len += adv;
        }
        i += adv;
    }
    return len;
}

typedef struct bpe_sym {
    uint32_t start, n; /* bytes of the piece; n == 0 once merged into its left neighbour */
    int32_t id;        /* pool id of the symbol's text, or -1 */
    int32_t prev, next;
} bpe_sym;

typedef struct bpe_pair {
    uint64_t key; /* rank << 32 | left index: the heap's order */
    int32_t right, result;
    uint32_t size; /* bytes of left + right when queued: a stale entry no longer matches */
} bpe_pair;

typedef struct bpe_ctx {
    const vkslm_tokenizer *t;
    vkslm_idvec *out;
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    char *enc;
    size_t enc_cap;
} bpe_ctx;

static vkslm_status heap_push(bpe_ctx *c, bpe_pair e) {
    VKSLM_TRY(vkslm_grow((void **)&c->heap, &c->heap_cap, c->heap_n + 1, sizeof *c->heap));
    size_t i = c->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (c->heap[parent].key <= e.key)
            break;
        c->heap[i] = c->heap[parent];
        i = parent;
    }
    c->heap[i] = e;
    return VKSLM_OK;
}

static bpe_pair heap_pop(bpe_ctx *c) {
    bpe_pair top = c->heap[0], last = c->heap[--c->heap_n];
    size_t i = 0, n = c->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t mk = last.key;
        if (l < n && c->heap[l].key < mk)
            m = l, mk = c->heap[l].key;
        if (r < n && c->heap[r].key < mk)
            m = r;
        if (m == i)
            break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (n)
        c->heap[i] = last;
    return top;
}

static vkslm_status add_pair(bpe_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0)
        return VKSLM_OK;
    const bpe_sym *a = &c->sym[left], *b = &c->sym[right];
    if (a->id < 0 || b->id < 0)
        return VKSLM_OK;
    const vkslm_merge *m = vkslm_pairmap_get(&c->t->merges, a->id, b->id);
    if (!m)
        return VKSLM_OK;
    bpe_pair p = {(uint64_t)(uint32_t)m->rank << 32 | (uint32_t)left, right, m->result, a->n + b->n};
    return heap_push(c, p);
}

/* The piece in GPT-2's byte alphabet (its vocabulary form), in c->enc; returns its length. */
static vkslm_status encode_bytes(bpe_ctx *c, const char *s, size_t n, size_t *len) {
    VKSLM_TRY(vkslm_grow((void **)&c->enc, &c->enc_cap, 2 * n + 1, 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        memcpy(c->enc + k, c->t->byte_chr[b], c->t->byte_chr_len[b]);
        k += c->t->byte_chr_len[b];
    }
    *len = k;
    return VKSLM_OK;
}

static vkslm_status emit_symbol(bpe_ctx *c, const char *s, size_t n, int32_t id) {
    if (id >= 0 && id < c->t->n_vocab)
        return vkslm_idvec_push(c->out, id);
    /* not a token: llama.cpp looks each byte of its vocabulary form up as a one-byte token */
    size_t len;
    VKSLM_TRY(encode_bytes(c, s, n, &len));
    for (size_t i = 0; i < len; i++) {
        int32_t b = vkslm_strpool_find(&c->t->pool, c->enc + i, 1);
        if (b >= 0 && b < c->t->n_vocab)
            VKSLM_TRY(vkslm_idvec_push(c->out, b));
    }
    return VKSLM_OK;
}

static vkslm_status bpe_piece(const char *s, size_t n, void *user) {
    bpe_ctx *c = user;
    const vkslm_tokenizer *t = c->t;
    if (n == 0)
        return VKSLM_OK;
    if (n > UINT32_MAX / 2)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenizer: piece of %zu bytes is too long", n);
    if (t->ignore_merges && n <= t->max_token_len) {
        size_t len;
        VKSLM_TRY(encode_bytes(c, s, n, &len));
        int32_t id = vkslm_strpool_find(&t->pool, c->enc, len);
        if (id >= 0 && id < t->n_vocab)
            return vkslm_idvec_push(c->out, id);
    }
    VKSLM_TRY(vkslm_grow((void **)&c->sym, &c->sym_cap, n, sizeof *c->sym));
    for (size_t i = 0; i < n; i++) {
        c->sym[i] = (bpe_sym){(uint32_t)i, 1, t->byte_tok[(unsigned char)s[i]], (int32_t)i - 1,
                              i + 1 < n ? (int32_t)i + 1 : -1};
    }
    c->heap_n = 0;
    for (size_t i = 1; i < n; i++)
        VKSLM_TRY(add_pair(c, (int32_t)i - 1, (int32_t)i));
    while (c->heap_n) {
        bpe_pair p = heap_pop(c);
        int32_t l = (int32_t)(uint32_t)p.key;
        bpe_sym *a = &c->sym[l], *b = &c->sym[p.right];
        if (a->n == 0 || b->n == 0 || a->n + b->n != p.size)
            continue; /* stale: one side has changed since the pair was queued */
        a->n += b->n;
        b->n = 0;
        a->id = p.result;
        a->next = b->next;
        if (b->next >= 0)
            c->sym[b->next].prev = l;
        VKSLM_TRY(add_pair(c, a->prev, l));
        VKSLM_TRY(add_pair(c, l, a->next));
    }
    for (int32_t i = 0; i >= 0; i = c->sym[i].next)
        VKSLM_TRY(emit_symbol(c, s + c->sym[i].start, c->sym[i].n, c->sym[i].id));
    return VKSLM_OK;
}

vkslm_status vkslm_bpe_encode(const vkslm_tokenizer *t, const char *text, size_t len, vkslm_idvec *out) {
    bpe_ctx c = {.t = t, .out = out};
    vkslm_status st = vkslm_pretok_split(t->pretok, text, len, bpe_piece, &c);
    VKSLM_FREE(c.sym);
    VKSLM_FREE(c.heap);
    VKSLM_FREE(c.enc);
    return st;
}
