/* SentencePiece-style BPE (tokenizer.ggml.model "llama"): spaces become "▁", the text starts as one
 * symbol per UTF-8 character (or per byte of invalid UTF-8), and the adjacent pair whose concatenation is the vocabulary token with
 * the highest score is merged until no pair forms a token. Symbols that are not tokens fall back to
 * byte tokens (<0xNN>). As in SentencePiece, only normal, user-defined and unused pieces take part:
 * control, unknown and byte tokens are never produced from plain text. Binary heap, O(n log n). */
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/tokenizer/unicode_data.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

typedef struct spm_sym {
    uint32_t start, n; /* n == 0 once merged into the left neighbour */
    int32_t prev, next;
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

typedef struct spm_ctx {
    const vkslm_tokenizer *t;
    const char *text;
    spm_sym *sym;
    spm_pair *heap;
    size_t heap_n, heap_cap;
} spm_ctx;

static vkslm_status oom(void) { return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory"); }

/* a comes out of the heap before b: higher score, then leftmost */
static int before(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static vkslm_status heap_push(spm_ctx *c, spm_pair e) {
    if (c->heap_n == c->heap_cap) {
        size_t cap = c->heap_cap ? c->heap_cap * 2 : 256;
        spm_pair *h = VKSLM_REALLOC(c->heap, cap * sizeof *h);
        if (!h)
            return oom();
        c->heap = h;
        c->heap_cap = cap;
    }
    size_t i = c->heap_n++;
    while (i > 0 && before(&e, &c->heap[(i - 1) / 2])) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = e;
    return VKSLM_OK;
}

static spm_pair heap_pop(spm_ctx *c) {
    spm_pair top = c->heap[0], last = c->heap[--c->heap_n];
    size_t i = 0, n = c->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const spm_pair *best = &last;
        if (l < n && before(&c->heap[l], best))
            m = l, best = &c->heap[l];
        if (r < n && before(&c->heap[r], best))
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

/* The token a text forms, if it may be produced from plain text. */
static int32_t spm_token(const vkslm_tokenizer *t, const char *s, size_t n) {
    int32_t id = vkslm_strpool_find(&t->pool, s, n);
    if (id < 0 || id >= t->n_vocab)
        return -1;
    if (t->attr[id] & (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_UNKNOWN | VKSLM_TOKATTR_BYTE))
        return -1;
    return id;
}

static vkslm_status try_pair(spm_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0)
        return VKSLM_OK;
    uint32_t size = c->sym[left].n + c->sym[right].n;
    if (size > c->t->max_token_len)
        return VKSLM_OK;
    int32_t id = spm_token(c->t, c->text + c->sym[left].start, size);
    if (id < 0)
        return VKSLM_OK;
    return heap_push(c, (spm_pair){c->t->scores[id], left, right, size});
}

static vkslm_status emit(spm_ctx *c, const spm_sym *s, vkslm_idvec *out) {
    int32_t id = spm_token(c->t, c->text + s->start, s->n);
    if (id >= 0)
        return vkslm_idvec_push(out, id);
    for (uint32_t i = 0; i < s->n; i++) {
        int32_t b = c->t->byte_tok[(unsigned char)c->text[s->start + i]];
        if (b >= 0)
            VKSLM_TRY(vkslm_idvec_push(out, b));
    }
    return VKSLM_OK;
}

/* Merges the symbols of text[from, to) and emits their tokens. */
static vkslm_status spm_segment(spm_ctx *c, size_t from, size_t to, vkslm_idvec *out) {
    size_t n = 0;
    for (size_t off = from; off < to; n++) {
        size_t k; /* one valid UTF-8 character, or one byte of an invalid sequence */
        vkslm_utf8_decode(c->text + off, to - off, &k);
        c->sym[n] = (spm_sym){(uint32_t)off, (uint32_t)k, (int32_t)n - 1, -1};
        if (n > 0)
            c->sym[n - 1].next = (int32_t)n;
        off += k;
    }
    c->heap_n = 0;
    for (size_t i = 1; i < n; i++)
        VKSLM_TRY(try_pair(c, (int32_t)i - 1, (int32_t)i));
    while (c->heap_n) {
        spm_pair p = heap_pop(c);
        spm_sym *a = &c->sym[p.left], *b = &c->sym[p.right];
        if (a->n == 0 || b->n == 0 || a->n + b->n != p.size)
            continue; /* stale */
        a->n += b->n;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0)
            c->sym[b->next].prev = p.left;
        VKSLM_TRY(try_pair(c, a->prev, p.left));
        VKSLM_TRY(try_pair(c, p.left, a->next));
    }
    for (int32_t i = n ? 0 : -1; i >= 0; i = c->sym[i].next)
        VKSLM_TRY(emit(c, &c->sym[i], out));
    return VKSLM_OK;
}

static int is_escape(const char *s) {
    return (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x96 && (unsigned char)s[2] == 0x81;
}

/* Where no token has a "▁" after another character (SentencePiece splits on whitespace), no merge
 * crosses the point before a "▁" that follows another character: the text is merged word by word,
 * which gives the same tokens as merging it whole, with small heaps. */
static vkslm_status spm_run(spm_ctx *c, size_t len, vkslm_idvec *out) {
    size_t from = 0;
    if (c->t->spm_word_split) {
        for (size_t i = 3; i + 3 <= len; i++) {
            if (is_escape(c->text + i) && !is_escape(c->text + i - 3)) {
                VKSLM_TRY(spm_segment(c, from, i, out));
                from = i;
                i += 2;
            }
        }
    }
    return spm_segment(c, from, len, out);
}

vkslm_status vkslm_spm_encode(const vkslm_tokenizer *t, const char *text, size_t len, int prefix_space,
                              vkslm_idvec *out) {
    if (len > (UINT32_MAX - 3) / 3)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenizer: text of %zu bytes is too long", len);
    char *esc = VKSLM_MALLOC(3 * len + 3);
    if (!esc)
        return oom();
    size_t n = 0;
    if (prefix_space)
        memcpy(esc, "\xE2\x96\x81", 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(esc + n, "\xE2\x96\x81", 3), n += 3;
        else
            esc[n++] = text[i];
    }
    spm_sym *sym = VKSLM_MALLOC((n + 1) * sizeof *sym);
    if (!sym) {
        VKSLM_FREE(esc);
        return oom();
    }
    spm_ctx c = {.t = t, .text = esc, .sym = sym};
    vkslm_status st = spm_run(&c, n, out);
    VKSLM_FREE(c.heap);
    VKSLM_FREE(sym);
    VKSLM_FREE(esc);
    return st;
}
