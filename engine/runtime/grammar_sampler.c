/* The grammar as a sampler stage (vkslm_sampler_init_grammar): a hook stage over a matcher that bans every
 * token whose text cannot continue the grammar. The texts are the detokenizer's pieces (control tokens give
 * none and are never allowed; end-of-generation tokens are allowed when the text is complete), kept in a
 * trie built once per model and shared by every grammar on it. */
#include "engine/runtime/grammar.h"

#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

/* ---- the vocabulary's trie ----------------------------------------------------------------------- */
typedef struct tok_text {
    const char *p;
    uint32_t len;
    int32_t id;
} tok_text;

static int by_text(const void *a, const void *b) {
    const tok_text *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct trie_build {
    vkslm_gvocab *v;
    const tok_text *t;
    size_t cap_nodes;
} trie_build;

/* Fills node (whose texts t[lo .. hi) share their first depth bytes) and its subtree. */
static vkslm_status build(trie_build *b, uint32_t node, size_t lo, size_t hi, uint32_t depth) {
    size_t i = lo;
    while (i < hi && b->t[i].len == depth)
        i++;
    b->v->nodes[node].tok = (uint32_t)lo;
    b->v->nodes[node].n_tok = (uint32_t)(i - lo);
    uint32_t n_child = 0;
    for (size_t k = i; k < hi; k++)
        if (k == i || b->t[k].p[depth] != b->t[k - 1].p[depth])
            n_child++;
    uint32_t first = (uint32_t)b->v->n_nodes;
    VKSLM_TRY(vkslm_grow((void **)&b->v->nodes, &b->cap_nodes, b->v->n_nodes + n_child, sizeof *b->v->nodes));
    b->v->n_nodes += n_child;
    b->v->nodes[node].child = first;
    b->v->nodes[node].n_child = n_child;
    uint32_t c = first;
    for (size_t k = i; k < hi;) {
        size_t e = k + 1;
        while (e < hi && b->t[e].p[depth] == b->t[k].p[depth])
            e++;
        b->v->nodes[c] = (vkslm_gtrie_node){0, 0, 0, 0, (uint8_t)b->t[k].p[depth]};
        VKSLM_TRY(build(b, c, k, e, depth + 1));
        c++;
        k = e;
    }
    return VKSLM_OK;
}

static vkslm_status gvocab_build(const vkslm_tokenizer *tok, vkslm_gvocab **out) {
    int32_t n = vkslm_tokenizer_n_vocab(tok);
    vkslm_gvocab *v = VKSLM_CALLOC(1, sizeof *v);
    tok_text *t = VKSLM_MALLOC((size_t)(n > 0 ? n : 1) * sizeof *t);
    if (v)
        v->eog = VKSLM_MALLOC((size_t)(n > 0 ? n : 1) * sizeof *v->eog);
    if (!v || !t || !v->eog) {
        VKSLM_FREE(t);
        vkslm_gvocab_free(v);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory");
    }
    v->n_vocab = (uint32_t)n;
    size_t nt = 0;
    for (int32_t id = 0; id < n; id++) {
        if (vkslm_token_is_eog(tok, id)) {
            v->eog[v->n_eog++] = id;
            continue;
        }
        size_t len;
        const char *p = vkslm_token_to_piece(tok, id, 0, &len);
        if (len == 0)
            continue; /* control tokens (no text): never allowed */
        t[nt++] = (tok_text){p, (uint32_t)len, id};
    }
    qsort(t, nt, sizeof *t, by_text);
    trie_build b = {v, t, 0};
    vkslm_status st = vkslm_grow((void **)&v->nodes, &b.cap_nodes, 1, sizeof *v->nodes);
    if (st == VKSLM_OK) {
        v->n_nodes = 1;
        v->nodes[0] = (vkslm_gtrie_node){0, 0, 0, 0, 0};
        st = build(&b, 0, 0, nt, 0);
    }
    if (st == VKSLM_OK) {
        v->toks = VKSLM_MALLOC((nt ? nt : 1) * sizeof *v->toks);
        if (!v->toks)
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory");
        for (size_t i = 0; st == VKSLM_OK && i < nt; i++)
            v->toks[i] = t[i].id;
    }
    VKSLM_FREE(t);
    if (st != VKSLM_OK) {
        vkslm_gvocab_free(v);
        return st;
    }
    *out = v;
    return VKSLM_OK;
}

void vkslm_gvocab_free(vkslm_gvocab *v) {
    if (!v)
        return;
    VKSLM_FREE(v->nodes);
    VKSLM_FREE(v->toks);
    VKSLM_FREE(v->eog);
    VKSLM_FREE(v);
}

vkslm_status vkslm_gvocab_get(const vkslm_model *model, const vkslm_gvocab **out) {
    vkslm_model *m = (vkslm_model *)model; /* the cache is not part of the model's value */
    vkslm_gvocab *v = atomic_load(&m->gvocab);
    if (!v) {
        vkslm_gvocab *mine = NULL;
        VKSLM_TRY(gvocab_build(m->tok, &mine));
        vkslm_gvocab *expected = NULL;
        if (atomic_compare_exchange_strong(&m->gvocab, &expected, mine))
            v = mine;
        else { /* another thread built it first */
            vkslm_gvocab_free(mine);
            v = expected;
        }
    }
    *out = v;
    return VKSLM_OK;
}

/* ---- the stage ----------------------------------------------------------------------------------- */
typedef struct gstage {
    vkslm_grammar *g;
    vkslm_gmatch *m;
    const vkslm_gvocab *v;
    const vkslm_tokenizer *tok;
    uint8_t *allowed;
    size_t cap;
} gstage;

static void stage_apply(vkslm_token_data_array *cur, void *user) {
    gstage *s = user;
    size_t need = s->v->n_vocab;
    for (size_t i = 0; i < cur->size; i++)
        if (cur->data[i].id >= 0 && (size_t)cur->data[i].id >= need)
            need = (size_t)cur->data[i].id + 1;
    if (vkslm_grow((void **)&s->allowed, &s->cap, need, 1) != VKSLM_OK)
        vkslm_gmatch_set_error(s->m, VKSLM_ERR_OUT_OF_HOST_MEMORY);
    else {
        memset(s->allowed, 0, need);
        vkslm_gmatch_allowed(s->m, s->v, s->allowed);
    }
    bool ok = vkslm_gmatch_error(s->m) == VKSLM_OK;
    for (size_t i = 0; i < cur->size; i++) {
        int32_t id = cur->data[i].id;
        if (!ok || id < 0 || (uint32_t)id >= s->v->n_vocab || !s->allowed[id])
            cur->data[i].logit = -INFINITY;
    }
}

static void stage_accept(int32_t token, void *user) {
    gstage *s = user;
    if (vkslm_gmatch_error(s->m) != VKSLM_OK)
        return;
    if (token >= 0 && vkslm_token_is_eog(s->tok, token)) {
        if (!vkslm_gmatch_complete(s->m))
            vkslm_gmatch_set_error(s->m, vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: end of generation (token %d) "
                                                    "before the grammar is complete", token));
        vkslm_gmatch_end(s->m);
        return;
    }
    size_t len = 0;
    const char *p = token >= 0 && (uint32_t)token < s->v->n_vocab ? vkslm_token_to_piece(s->tok, token, 0, &len) : "";
    if (len == 0 || !vkslm_gmatch_accept(s->m, p, len))
        if (vkslm_gmatch_error(s->m) == VKSLM_OK)
            vkslm_gmatch_set_error(s->m, vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: token %d (\"%.*s\") does not "
                                                    "continue the grammar", token, (int)(len > 40 ? 40 : len), p));
}

static void stage_reset(void *user) {
    gstage *s = user;
    vkslm_gmatch_reset(s->m);
}

static void stage_free(void *user) {
    gstage *s = user;
    vkslm_gmatch_free(s->m);
    vkslm_grammar_free(s->g);
    VKSLM_FREE(s->allowed);
    VKSLM_FREE(s);
}

vkslm_status vkslm_grammar_stage(const vkslm_model *model, const char *grammar, const char *root,
                                 vkslm_sampler **out, vkslm_gmatch **match) {
    *out = NULL;
    if (!model || !grammar)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: NULL %s", model ? "grammar" : "model");
    if (!model->tok)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: the model has no vocabulary");
    gstage *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory");
    s->tok = model->tok;
    vkslm_status st = vkslm_grammar_parse(grammar, root, &s->g);
    if (st == VKSLM_OK)
        st = vkslm_gvocab_get(model, &s->v);
    if (st == VKSLM_OK)
        st = vkslm_gmatch_create(s->g, &s->m);
    vkslm_sampler *stage = NULL;
    if (st == VKSLM_OK) {
        vkslm_sampler_hook h = {stage_apply, stage_accept, stage_reset, stage_free, s};
        stage = vkslm_sampler_init_hook(&h);
        if (!stage)
            st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
    }
    if (st != VKSLM_OK) {
        stage_free(s);
        return st;
    }
    *out = stage;
    if (match)
        *match = s->m;
    return VKSLM_OK;
}

vkslm_sampler *vkslm_sampler_init_grammar(const vkslm_model *model, const char *grammar, const char *root) {
    vkslm_sampler *s;
    return vkslm_grammar_stage(model, grammar, root, &s, NULL) == VKSLM_OK ? s : NULL;
}

void vkslm_string_free(char *s) { VKSLM_FREE(s); }
