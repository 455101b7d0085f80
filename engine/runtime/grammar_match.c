/* Matching text against a grammar (grammar.h): the state is the set of stacks of every way the text so far
 * can go on, as llama.cpp's GBNF keeps it. A stack holds element positions, its top the next class to
 * match; the positions below are where enclosing rules go on. Stacks are kept expanded (the top is always a
 * class; an empty stack means the root rule is complete) and without duplicates. Text arrives as bytes:
 * a character split over tokens waits in the state (cp, need) until its last byte.
 *
 * All stacks live in one arena: the current set first, then the sets a lookahead builds, dropped again by
 * resetting the arena's top. vkslm_gmatch_allowed walks a trie of the vocabulary's texts depth-first, so
 * tokens that share a prefix share its work and a byte no stack accepts cuts off the whole subtree. */
#include "engine/runtime/grammar.h"

#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define MAX_WORK 200000 /* expansion steps for one set: past it, the grammar is too ambiguous */

typedef struct sref {
    uint32_t off, len, hash;
} sref;

/* A position in the text: the set s[s0 .. s1) and a character's leading bytes. */
typedef struct mstate {
    size_t s0, s1;
    uint32_t cp;   /* the bits of a partial character */
    uint8_t need;  /* its continuation bytes still to come */
    uint8_t len;   /* its length in bytes */
} mstate;

struct vkslm_gmatch {
    const vkslm_grammar *g;
    uint32_t *w;     /* stack words */
    size_t n_w, cap_w;
    sref *s;         /* stacks */
    size_t n_s, cap_s;
    uint32_t *scr;   /* expansion scratch */
    size_t scr_top, scr_cap;
    mstate cur;      /* the current state (its set starts the arena) */
    size_t set_begin, work;
    bool ended;
    vkslm_status err;
};

static bool fail(vkslm_gmatch *m, vkslm_status st) {
    if (m->err == VKSLM_OK)
        m->err = st;
    return false;
}

static bool add_stack(vkslm_gmatch *m, const uint32_t *st, uint32_t len) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ st[i]) * 16777619u;
    for (size_t i = m->set_begin; i < m->n_s; i++)
        if (m->s[i].hash == h && m->s[i].len == len && (!len || memcmp(m->w + m->s[i].off, st, len * sizeof *st) == 0))
            return true;
    if (m->n_s - m->set_begin >= VKSLM_GRAMMAR_MAX_STACKS)
        return fail(m, vkslm_fail(VKSLM_ERR_TOO_COMPLEX, "grammar: more than %d ways to go on at one point (an "
                                  "ambiguous grammar)", VKSLM_GRAMMAR_MAX_STACKS));
    if (vkslm_grow((void **)&m->w, &m->cap_w, m->n_w + len, sizeof *m->w) != VKSLM_OK ||
        vkslm_grow((void **)&m->s, &m->cap_s, m->n_s + 1, sizeof *m->s) != VKSLM_OK)
        return fail(m, VKSLM_ERR_OUT_OF_HOST_MEMORY);
    if (len)
        memcpy(m->w + m->n_w, st, len * sizeof *st);
    m->s[m->n_s++] = (sref){(uint32_t)m->n_w, len, h};
    m->n_w += len;
    return true;
}

/* Expands the stack scr[base .. base + len) (its top may be the end of an alternative or a reference) into
 * the set being built. */
static bool expand(vkslm_gmatch *m, size_t base, uint32_t len) {
    const vkslm_grammar *g = m->g;
    if (++m->work > MAX_WORK)
        return fail(m, vkslm_fail(VKSLM_ERR_TOO_COMPLEX, "grammar: more than %d expansion steps at one point (an "
                                  "ambiguous grammar)", MAX_WORK));
    for (;;) {
        if (len == 0)
            return add_stack(m, m->scr + base, 0);
        uint32_t pos = m->scr[base + len - 1];
        vkslm_gel e = g->el[pos];
        if (e.type == VKSLM_GEL_END || e.type == VKSLM_GEL_ALT) {
            len--; /* the alternative is done: go on below */
            continue;
        }
        if (e.type == VKSLM_GEL_CLASS)
            return add_stack(m, m->scr + base, len);
        /* a reference: where to go on after it, then each alternative of the rule on top */
        uint32_t next = g->el[pos + 1].type;
        if (next == VKSLM_GEL_END || next == VKSLM_GEL_ALT)
            len--; /* nothing after it in this alternative: no frame (keeps right recursion flat) */
        else
            m->scr[base + len - 1] = pos + 1;
        for (uint32_t a = g->alt_first[e.val]; a < g->alt_first[e.val + 1]; a++) {
            size_t nb = m->scr_top;
            if (vkslm_grow((void **)&m->scr, &m->scr_cap, nb + len + 1, sizeof *m->scr) != VKSLM_OK)
                return fail(m, VKSLM_ERR_OUT_OF_HOST_MEMORY);
            memmove(m->scr + nb, m->scr + base, len * sizeof *m->scr);
            m->scr[nb + len] = g->alts[a];
            m->scr_top = nb + len + 1;
            bool ok = expand(m, nb, len + 1);
            m->scr_top = nb;
            if (!ok)
                return false;
        }
        return true;
    }
}

static void begin_set(vkslm_gmatch *m) {
    m->set_begin = m->n_s;
    m->work = 0;
}

/* The stacks of s[s0 .. s1) whose top accepts cp, advanced past it, as a new set at the arena's top. */
static bool advance(vkslm_gmatch *m, size_t s0, size_t s1, uint32_t cp, size_t *n0, size_t *n1) {
    begin_set(m);
    *n0 = m->n_s;
    for (size_t i = s0; i < s1; i++) {
        sref r = m->s[i];
        if (r.len == 0)
            continue; /* complete: nothing more fits */
        uint32_t top = m->w[r.off + r.len - 1];
        if (!vkslm_gclass_has(m->g, m->g->el[top].val, cp))
            continue;
        size_t base = m->scr_top;
        if (vkslm_grow((void **)&m->scr, &m->scr_cap, base + r.len, sizeof *m->scr) != VKSLM_OK)
            return fail(m, VKSLM_ERR_OUT_OF_HOST_MEMORY);
        memcpy(m->scr + base, m->w + r.off, r.len * sizeof *m->scr);
        m->scr[base + r.len - 1] = top + 1;
        m->scr_top = base + r.len;
        bool ok = expand(m, base, r.len);
        m->scr_top = base;
        if (!ok)
            return false;
    }
    *n1 = m->n_s;
    return true;
}

/* Whether some stack of the state could take a character that begins with its partial bytes. */
static bool partial_ok(const vkslm_gmatch *m, const mstate *st) {
    uint32_t shift = 6u * st->need, lo = st->cp << shift, hi = lo | ((1u << shift) - 1);
    uint32_t min = st->len == 2 ? 0x80 : st->len == 3 ? 0x800 : 0x10000; /* shorter forms are overlong */
    lo = lo < min ? min : lo;
    hi = hi > 0x10FFFF ? 0x10FFFF : hi;
    for (size_t i = st->s0; i < st->s1; i++) {
        sref r = m->s[i];
        if (r.len == 0)
            continue;
        const vkslm_gclass *c = &m->g->classes[m->g->el[m->w[r.off + r.len - 1]].val];
        const vkslm_grange *rg = m->g->ranges + c->first;
        for (uint32_t k = 0; k < c->n; k++) {
            bool overlap = rg[k].lo <= hi && rg[k].hi >= lo;
            if (!c->negated && overlap)
                return true;
            if (c->negated && rg[k].lo <= lo && rg[k].hi >= hi)
                goto next; /* every character of the span is excluded */
        }
        if (c->negated)
            return true;
    next:;
    }
    return false;
}

/* One byte from state in to *out (a new set at the arena's top when a character completes). */
static bool step(vkslm_gmatch *m, const mstate *in, uint8_t b, mstate *out) {
    *out = *in;
    uint32_t cp;
    if (in->need == 0) {
        if (b < 0x80) {
            cp = b;
        } else {
            if (b >= 0xC2 && b <= 0xDF)
                out->len = 2, out->cp = b & 0x1Fu;
            else if (b >= 0xE0 && b <= 0xEF)
                out->len = 3, out->cp = b & 0x0Fu;
            else if (b >= 0xF0 && b <= 0xF4)
                out->len = 4, out->cp = b & 0x07u;
            else
                return false;
            out->need = (uint8_t)(out->len - 1);
            return partial_ok(m, out);
        }
    } else {
        if ((b & 0xC0) != 0x80)
            return false;
        out->cp = (in->cp << 6) | (b & 0x3Fu);
        out->need = (uint8_t)(in->need - 1);
        if (out->need)
            return partial_ok(m, out);
        cp = out->cp;
        uint32_t min = in->len == 2 ? 0x80 : in->len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
    }
    out->cp = 0;
    out->need = out->len = 0;
    if (!advance(m, in->s0, in->s1, cp, &out->s0, &out->s1))
        return false;
    return out->s1 > out->s0;
}

/* ---- the public-to-the-engine calls -------------------------------------------------------------- */
void vkslm_gmatch_reset(vkslm_gmatch *m) {
    m->n_s = m->n_w = m->scr_top = 0;
    m->err = VKSLM_OK;
    m->ended = false;
    memset(&m->cur, 0, sizeof m->cur);
    begin_set(m);
    const vkslm_grammar *g = m->g;
    for (uint32_t a = g->alt_first[g->root]; a < g->alt_first[g->root + 1]; a++) {
        if (vkslm_grow((void **)&m->scr, &m->scr_cap, 1, sizeof *m->scr) != VKSLM_OK) {
            fail(m, VKSLM_ERR_OUT_OF_HOST_MEMORY);
            break;
        }
        m->scr[0] = g->alts[a];
        m->scr_top = 1;
        if (!expand(m, 0, 1))
            break;
    }
    m->scr_top = 0;
    m->cur.s0 = 0;
    m->cur.s1 = m->n_s;
}

vkslm_status vkslm_gmatch_create(const vkslm_grammar *g, vkslm_gmatch **out) {
    vkslm_gmatch *m = VKSLM_CALLOC(1, sizeof *m);
    if (!m)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory");
    m->g = g;
    /* never NULL, so that empty copies and offsets stay defined */
    if (vkslm_grow((void **)&m->w, &m->cap_w, 64, sizeof *m->w) != VKSLM_OK ||
        vkslm_grow((void **)&m->s, &m->cap_s, 16, sizeof *m->s) != VKSLM_OK ||
        vkslm_grow((void **)&m->scr, &m->scr_cap, 64, sizeof *m->scr) != VKSLM_OK) {
        vkslm_gmatch_free(m);
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    }
    vkslm_gmatch_reset(m);
    if (m->err != VKSLM_OK) {
        vkslm_status st = m->err;
        vkslm_gmatch_free(m);
        return st;
    }
    *out = m;
    return VKSLM_OK;
}

void vkslm_gmatch_free(vkslm_gmatch *m) {
    if (!m)
        return;
    VKSLM_FREE(m->w);
    VKSLM_FREE(m->s);
    VKSLM_FREE(m->scr);
    VKSLM_FREE(m);
}

bool vkslm_gmatch_accept(vkslm_gmatch *m, const char *bytes, size_t n) {
    if (m->err != VKSLM_OK || m->ended)
        return false;
    size_t keep_s = m->n_s, keep_w = m->n_w;
    mstate st = m->cur;
    for (size_t i = 0; i < n; i++) {
        mstate nx;
        if (!step(m, &st, (uint8_t)bytes[i], &nx)) {
            m->n_s = keep_s, m->n_w = keep_w; /* unchanged (an overflow stays in err) */
            return false;
        }
        st = nx;
    }
    if (st.s0 != m->cur.s0) { /* move the new set to the arena's start */
        size_t w0 = m->s[st.s0].off, nw = m->n_w - w0;
        memmove(m->w, m->w + w0, nw * sizeof *m->w);
        for (size_t i = st.s0; i < st.s1; i++)
            m->s[i].off -= (uint32_t)w0;
        memmove(m->s, m->s + st.s0, (st.s1 - st.s0) * sizeof *m->s);
        st.s1 -= st.s0;
        st.s0 = 0;
        m->n_w = nw;
    }
    m->n_s = st.s1;
    m->cur = st;
    return true;
}

static bool has_empty(const vkslm_gmatch *m) {
    for (size_t i = m->cur.s0; i < m->cur.s1; i++)
        if (m->s[i].len == 0)
            return true;
    return false;
}

bool vkslm_gmatch_complete(const vkslm_gmatch *m) {
    return m->err == VKSLM_OK && !m->ended && m->cur.need == 0 && has_empty(m);
}

bool vkslm_gmatch_done(const vkslm_gmatch *m) {
    return vkslm_gmatch_complete(m) && m->cur.s1 - m->cur.s0 == 1;
}

vkslm_status vkslm_gmatch_error(const vkslm_gmatch *m) { return m->err; }

void vkslm_gmatch_end(vkslm_gmatch *m) { m->ended = true; }

void vkslm_gmatch_set_error(vkslm_gmatch *m, vkslm_status st) { fail(m, st); }

static void walk(vkslm_gmatch *m, const vkslm_gvocab *v, uint32_t node, const mstate *st, uint8_t *allowed) {
    const vkslm_gtrie_node *nd = &v->nodes[node];
    for (uint32_t c = nd->child; c < nd->child + nd->n_child; c++) {
        size_t keep_s = m->n_s, keep_w = m->n_w;
        mstate nx;
        if (step(m, st, v->nodes[c].byte, &nx)) {
            const vkslm_gtrie_node *cn = &v->nodes[c];
            for (uint32_t t = cn->tok; t < cn->tok + cn->n_tok; t++)
                allowed[v->toks[t]] = 1;
            if (cn->n_child)
                walk(m, v, c, &nx, allowed);
        }
        m->n_s = keep_s, m->n_w = keep_w;
        if (m->err != VKSLM_OK)
            return;
    }
}

void vkslm_gmatch_allowed(vkslm_gmatch *m, const vkslm_gvocab *v, uint8_t *allowed) {
    if (m->err != VKSLM_OK || m->ended)
        return;
    if (vkslm_gmatch_complete(m))
        for (size_t i = 0; i < v->n_eog; i++)
            allowed[v->eog[i]] = 1;
    mstate st = m->cur;
    walk(m, v, 0, &st, allowed);
}
