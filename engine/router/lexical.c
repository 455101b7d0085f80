/* BM25 over the experts' documents (engine/router/lexical.h). */
#include <math.h>
#include <string.h>

#include "engine/router/lexical.h"
#include "engine/tokenizer/tok_map.h"
#include "engine/util/alloc.h"

#define BM25_K1 1.2
#define BM25_B 0.75

struct vkslm_bm25 {
    size_t n_docs;
    vkslm_strpool terms;  /* term -> id */
    uint32_t *tf;         /* [n_terms][n_docs] term frequency */
    size_t tf_cap;        /* terms the tf array has room for */
    uint32_t *df;         /* [n_terms] documents holding the term */
    double *doc_len;      /* [n_docs] words */
    double avg_len;
};

static const char *const stop_words[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "us", "was",
    "we", "what", "when", "which", "who", "will", "with", "would", "you", "your", NULL};

static int is_stop(const char *w) {
    for (const char *const *s = stop_words; *s; s++)
        if (strcmp(*s, w) == 0)
            return 1;
    return 0;
}

static int word_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80; }

void vkslm_words(const char *text, void (*fn)(const char *w, void *user), void *user) {
    char w[64];
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        while (*p && !word_byte((unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)))
            p++;
        size_t n = 0;
        while (*p) {
            unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32) : *p;
            if (!word_byte(c))
                break;
            if (n < sizeof w - 1)
                w[n++] = (char)c;
            p++;
        }
        if (n == 0)
            continue;
        w[n] = 0;
        if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's')
            w[--n] = 0; /* plural: "reviews" and "review" are one word */
        if ((n > 1 || (w[0] >= '0' && w[0] <= '9')) && !is_stop(w)) /* single letters say nothing */
            fn(w, user);
    }
}

typedef struct add_ctx {
    vkslm_bm25 *b;
    size_t doc;
    vkslm_status st;
} add_ctx;

static void add_word(const char *w, void *user) {
    add_ctx *a = user;
    vkslm_bm25 *b = a->b;
    if (a->st != VKSLM_OK)
        return;
    int32_t id;
    a->st = vkslm_strpool_intern(&b->terms, w, strlen(w), &id);
    if (a->st != VKSLM_OK)
        return;
    if ((size_t)id >= b->tf_cap) {
        size_t cap = b->tf_cap ? b->tf_cap * 2 : 256;
        uint32_t *tf = VKSLM_REALLOC(b->tf, cap * b->n_docs * sizeof *tf);
        uint32_t *df = tf ? VKSLM_REALLOC(b->df, cap * sizeof *df) : NULL;
        if (tf)
            b->tf = tf;
        if (!tf || !df) {
            a->st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
            return;
        }
        b->df = df;
        memset(b->tf + b->tf_cap * b->n_docs, 0, (cap - b->tf_cap) * b->n_docs * sizeof *tf);
        memset(b->df + b->tf_cap, 0, (cap - b->tf_cap) * sizeof *df);
        b->tf_cap = cap;
    }
    uint32_t *t = &b->tf[(size_t)id * b->n_docs + a->doc];
    if (*t == 0)
        b->df[id]++;
    (*t)++;
    b->doc_len[a->doc] += 1;
}

vkslm_status vkslm_bm25_create(const char *const *docs, size_t n_docs, vkslm_bm25 **out) {
    *out = NULL;
    vkslm_bm25 *b = VKSLM_CALLOC(1, sizeof *b);
    if (!b || n_docs == 0 || !(b->doc_len = VKSLM_CALLOC(n_docs, sizeof *b->doc_len))) {
        VKSLM_FREE(b);
        return n_docs ? vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory")
                      : vkslm_fail(VKSLM_ERR_INVALID_ARG, "router: no experts");
    }
    b->n_docs = n_docs;
    add_ctx a = {b, 0, VKSLM_OK};
    double total = 0;
    for (size_t d = 0; d < n_docs && a.st == VKSLM_OK; d++) {
        a.doc = d;
        vkslm_words(docs[d], add_word, &a);
        total += b->doc_len[d];
    }
    if (a.st != VKSLM_OK) {
        vkslm_bm25_free(b);
        return a.st;
    }
    b->avg_len = total > 0 ? total / (double)n_docs : 1;
    *out = b;
    return VKSLM_OK;
}

void vkslm_bm25_free(vkslm_bm25 *b) {
    if (!b)
        return;
    vkslm_strpool_free(&b->terms);
    VKSLM_FREE(b->tf);
    VKSLM_FREE(b->df);
    VKSLM_FREE(b->doc_len);
    VKSLM_FREE(b);
}

typedef struct score_ctx {
    const vkslm_bm25 *b;
    float *scores;
} score_ctx;

static void score_word(const char *w, void *user) {
    score_ctx *c = user;
    const vkslm_bm25 *b = c->b;
    int32_t id = vkslm_strpool_find(&b->terms, w, strlen(w));
    if (id < 0)
        return;
    double n = (double)b->n_docs, df = b->df[id];
    double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (size_t d = 0; d < b->n_docs; d++) {
        double tf = b->tf[(size_t)id * b->n_docs + d];
        if (tf == 0)
            continue;
        double norm = BM25_K1 * (1 - BM25_B + BM25_B * b->doc_len[d] / b->avg_len);
        c->scores[d] += (float)(idf * tf * (BM25_K1 + 1) / (tf + norm));
    }
}

double vkslm_bm25_score(const vkslm_bm25 *b, const char *query, float *scores) {
    memset(scores, 0, b->n_docs * sizeof *scores);
    score_ctx c = {b, scores};
    vkslm_words(query, score_word, &c);
    double sum = 0;
    for (size_t d = 0; d < b->n_docs; d++)
        sum += scores[d];
    return sum;
}
