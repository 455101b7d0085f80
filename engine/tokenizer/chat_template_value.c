/* Chat-template interpreter: the arena, error unwinding, strings with their content taint, and values with
 * Python's str/repr/json forms. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/chat_template_internal.h"
#include "engine/util/alloc.h"

struct ct_block {
    ct_block *next;
    size_t used, cap;
    max_align_t data[];
};

_Noreturn void vkslm_ct_fail(ct_ctx *c, vkslm_status st, uint32_t off, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st == VKSLM_ERR_INVALID_ARG) {
        vkslm_fail(st, "chat template refused the conversation: %s", msg);
    } else {
        int line, col;
        vkslm_ct_line_col(c, off, &line, &col);
        vkslm_fail(st, "chat template line %d, column %d: %s", line, col, msg);
    }
    c->status = st;
    longjmp(c->jmp, 1);
}

void *vkslm_ct_alloc(ct_ctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    ct_block *b = c->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (64u << 10) ? n : (64u << 10);
        if (c->arena_bytes + cap > VKSLM_CHAT_MAX_MEMORY)
            vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, c->cur_off, "the template needs more than %u MiB of memory",
                    VKSLM_CHAT_MAX_MEMORY >> 20);
        b = VKSLM_MALLOC(sizeof *b + cap);
        if (!b)
            vkslm_ct_fail(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, c->cur_off, "out of host memory");
        b->next = c->blocks;
        b->used = 0;
        b->cap = cap;
        c->blocks = b;
        c->arena_bytes += cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void vkslm_ct_arena_free(ct_ctx *c) {
    while (c->blocks) {
        ct_block *next = c->blocks->next;
        VKSLM_FREE(c->blocks);
        c->blocks = next;
    }
}

ct_str vkslm_ct_str_dup(ct_ctx *c, const char *s, size_t n) { return vkslm_ct_str_dup_mask(c, s, NULL, n); }

ct_str vkslm_ct_str_dup_mask(ct_ctx *c, const char *s, const uint8_t *m, size_t n) {
    char *p = vkslm_ct_alloc(c, n + 1);
    if (n)
        memcpy(p, s, n);
    ct_str r = {p, n, NULL};
    if (m && n) {
        uint8_t *mm = vkslm_ct_alloc(c, n);
        memcpy(mm, m, n);
        r.m = mm;
    }
    return r;
}

ct_str vkslm_ct_str_cat(ct_ctx *c, ct_str a, ct_str b) {
    if (a.n > VKSLM_CHAT_MAX_OUTPUT || b.n > VKSLM_CHAT_MAX_OUTPUT)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, c->cur_off, "a string exceeds %u MiB", VKSLM_CHAT_MAX_OUTPUT >> 20);
    char *p = vkslm_ct_alloc(c, a.n + b.n + 1);
    if (a.n)
        memcpy(p, a.s, a.n);
    if (b.n)
        memcpy(p + a.n, b.s, b.n);
    ct_str r = {p, a.n + b.n, NULL};
    if (a.m || b.m) {
        uint8_t *m = vkslm_ct_alloc(c, r.n); /* zeroed: untainted where an operand has no mask */
        if (a.m && a.n)
            memcpy(m, a.m, a.n);
        if (b.m && b.n)
            memcpy(m + a.n, b.m, b.n);
        r.m = m;
    }
    return r;
}

ct_str vkslm_ct_str_taint_all(ct_ctx *c, ct_str s, bool tainted) {
    if (!tainted || s.n == 0)
        return s;
    uint8_t *m = vkslm_ct_alloc(c, s.n);
    memset(m, 1, s.n);
    s.m = m;
    return s;
}

bool vkslm_ct_str_eq(ct_str a, const char *lit) {
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.s, lit, n) == 0;
}

bool vkslm_ct_str_same(ct_str a, ct_str b) { return a.n == b.n && (a.n == 0 || memcmp(a.s, b.s, a.n) == 0); }

/* Room for n more bytes, and the mask once a tainted byte is to come. */
static void ct_buf_reserve(ct_ctx *c, ct_buf *b, size_t n, bool tainted) {
    if (b->n + n > b->cap) {
        if (b->n + n > VKSLM_CHAT_MAX_OUTPUT)
            vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, c->cur_off, "a string exceeds %u MiB", VKSLM_CHAT_MAX_OUTPUT >> 20);
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n)
            cap *= 2;
        char *p = vkslm_ct_alloc(c, cap + 1);
        if (b->n)
            memcpy(p, b->p, b->n);
        if (b->m) {
            uint8_t *m = vkslm_ct_alloc(c, cap);
            memcpy(m, b->m, b->n);
            b->m = m;
        }
        b->p = p;
        b->cap = cap;
    }
    if (tainted && !b->m)
        b->m = vkslm_ct_alloc(c, b->cap); /* zeroed: the bytes so far are untainted */
}

void vkslm_ct_buf_add(ct_ctx *c, ct_buf *b, const char *s, size_t n) {
    ct_buf_reserve(c, b, n, b->taint);
    if (n)
        memcpy(b->p + b->n, s, n);
    if (b->m)
        memset(b->m + b->n, b->taint, n);
    b->n += n;
}

void vkslm_ct_buf_addc(ct_ctx *c, ct_buf *b, char ch) { vkslm_ct_buf_add(c, b, &ch, 1); }

void vkslm_ct_buf_add_str(ct_ctx *c, ct_buf *b, ct_str s) {
    ct_buf_reserve(c, b, s.n, s.m != NULL);
    if (s.n)
        memcpy(b->p + b->n, s.s, s.n);
    if (b->m && s.m)
        memcpy(b->m + b->n, s.m, s.n);
    else if (b->m)
        memset(b->m + b->n, 0, s.n);
    b->n += s.n;
}

/* ---- constructors ------------------------------------------------------------------------------- */
ct_value vkslm_ct_undef(void) { ct_value v = {.kind = CT_UNDEF}; return v; }
ct_value vkslm_ct_none(void) { ct_value v = {.kind = CT_NONE}; return v; }
ct_value vkslm_ct_bool(int b) { ct_value v = {.kind = CT_BOOL, .u.b = !!b}; return v; }
ct_value vkslm_ct_int(int64_t i) { ct_value v = {.kind = CT_INT, .u.i = i}; return v; }
ct_value vkslm_ct_float(double f) { ct_value v = {.kind = CT_FLOAT, .u.f = f}; return v; }
ct_value vkslm_ct_string(ct_str s) { ct_value v = {.kind = CT_STR, .u.s = s}; return v; }

ct_value vkslm_ct_new_list(ct_ctx *c) {
    ct_value v = {.kind = CT_LIST};
    v.u.l = vkslm_ct_alloc(c, sizeof(ct_list));
    return v;
}

ct_value vkslm_ct_new_dict(ct_ctx *c) {
    ct_value v = {.kind = CT_DICT};
    v.u.d = vkslm_ct_alloc(c, sizeof(ct_dict));
    return v;
}

/* How deep a value nests: lists and dicts 1 + their deepest item; a namespace, whose attributes may change
 * after it was put in a container, is a leaf there (printing and comparing do not look inside one; tojson
 * bounds itself). */
static int ct_value_depth(ct_value v) {
    return v.kind == CT_LIST ? v.u.l->depth : v.kind == CT_DICT ? v.u.d->depth : 0;
}

static int ct_deeper(ct_ctx *c, int depth, ct_value v) {
    int d = ct_value_depth(v) + 1;
    if (d > VKSLM_CHAT_MAX_DEPTH)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, c->cur_off, "a value nested deeper than %d levels", VKSLM_CHAT_MAX_DEPTH);
    return d > depth ? d : depth;
}

void vkslm_ct_list_push(ct_ctx *c, ct_list *l, ct_value v) {
    l->depth = ct_deeper(c, l->depth, v);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        ct_value *p = vkslm_ct_alloc(c, cap * sizeof *p);
        if (l->n)
            memcpy(p, l->v, l->n * sizeof *p);
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

ct_value *vkslm_ct_dict_get(const ct_dict *d, ct_str k) {
    for (size_t i = 0; i < d->n; i++)
        if (vkslm_ct_str_same(d->k[i], k))
            return &d->v[i];
    return NULL;
}

void vkslm_ct_dict_set(ct_ctx *c, ct_dict *d, ct_str k, ct_value v) {
    d->depth = ct_deeper(c, d->depth, v);
    ct_value *old = vkslm_ct_dict_get(d, k);
    if (old) {
        *old = v;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        ct_str *nk = vkslm_ct_alloc(c, cap * sizeof *nk);
        ct_value *nv = vkslm_ct_alloc(c, cap * sizeof *nv);
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof *nk);
            memcpy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
}

const char *vkslm_ct_kind_name(ct_kind k) {
    switch (k) {
    case CT_UNDEF: return "undefined";
    case CT_NONE: return "none";
    case CT_BOOL: return "boolean";
    case CT_INT: return "integer";
    case CT_FLOAT: return "float";
    case CT_STR: return "string";
    case CT_LIST: return "list";
    case CT_DICT: return "dict";
    case CT_NS: return "namespace";
    case CT_FUNC: return "function";
    }
    return "?";
}

bool vkslm_ct_truthy(ct_value v) {
    switch (v.kind) {
    case CT_UNDEF:
    case CT_NONE: return false;
    case CT_BOOL: return v.u.b;
    case CT_INT: return v.u.i != 0;
    case CT_FLOAT: return v.u.f != 0.0;
    case CT_STR: return v.u.s.n != 0;
    case CT_LIST: return v.u.l->n != 0;
    case CT_DICT: return v.u.d->n != 0;
    case CT_NS:
    case CT_FUNC: return true;
    }
    return false;
}

static bool ct_is_number(ct_value v) { return v.kind == CT_BOOL || v.kind == CT_INT || v.kind == CT_FLOAT; }
static double ct_num(ct_value v) {
    return v.kind == CT_FLOAT ? v.u.f : v.kind == CT_INT ? (double)v.u.i : (double)v.u.b;
}

bool vkslm_ct_equal(ct_value a, ct_value b) {
    if (ct_is_number(a) && ct_is_number(b)) {
        if (a.kind != CT_FLOAT && b.kind != CT_FLOAT)
            return (a.kind == CT_INT ? a.u.i : a.u.b) == (b.kind == CT_INT ? b.u.i : b.u.b);
        return ct_num(a) == ct_num(b);
    }
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case CT_UNDEF:
    case CT_NONE: return true;
    case CT_STR: return vkslm_ct_str_same(a.u.s, b.u.s);
    case CT_LIST:
        if (a.u.l->n != b.u.l->n)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!vkslm_ct_equal(a.u.l->v[i], b.u.l->v[i]))
                return false;
        return true;
    case CT_DICT:
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            ct_value *o = vkslm_ct_dict_get(b.u.d, a.u.d->k[i]);
            if (!o || !vkslm_ct_equal(a.u.d->v[i], *o))
                return false;
        }
        return true;
    case CT_NS: return a.u.d == b.u.d;
    case CT_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

/* ---- printing --------------------------------------------------------------------------------- */
static void ct_float_repr(ct_ctx *c, ct_buf *b, double f) {
    char tmp[40];
    if (isnan(f)) {
        vkslm_ct_buf_add(c, b, "nan", 3);
        return;
    }
    if (isinf(f)) {
        vkslm_ct_buf_add(c, b, f < 0 ? "-inf" : "inf", f < 0 ? 4 : 3);
        return;
    }
    /* the shortest digits that read back, laid out as Python's repr: positional for exponents -4 .. 15
     * (1250.0, 0.0001), else 1.5e+16, 1e-05 */
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    char digits[24], out[64];
    size_t nd = 0, no = 0;
    const char *p = tmp;
    if (*p == '-')
        out[no++] = *p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (e >= -4 && e < 16) {
        if (e < 0) {
            out[no++] = '0';
            out[no++] = '.';
            for (int z = 0; z < -e - 1; z++)
                out[no++] = '0';
            for (size_t i = 0; i < nd; i++)
                out[no++] = digits[i];
        } else {
            for (int i = 0; i <= e; i++)
                out[no++] = (size_t)i < nd ? digits[i] : '0';
            out[no++] = '.';
            if ((size_t)e + 1 >= nd)
                out[no++] = '0';
            for (size_t i = (size_t)e + 1; i < nd; i++)
                out[no++] = digits[i];
        }
    } else {
        out[no++] = digits[0];
        if (nd > 1) {
            out[no++] = '.';
            for (size_t i = 1; i < nd; i++)
                out[no++] = digits[i];
        }
        no += (size_t)snprintf(out + no, sizeof out - no, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    vkslm_ct_buf_add(c, b, out, no);
}

void vkslm_ct_repr(ct_ctx *c, ct_buf *b, ct_value v) {
    if (v.kind == CT_STR) {
        ct_str s = v.u.s;
        char q = (memchr(s.s, '\'', s.n) && !memchr(s.s, '"', s.n)) ? '"' : '\'';
        vkslm_ct_buf_addc(c, b, q);
        for (size_t i = 0; i < s.n; i++) {
            unsigned char ch = (unsigned char)s.s[i];
            char esc[8];
            b->taint = s.m ? s.m[i] : 0; /* an escape stands for its byte */
            if (ch == '\\' || ch == (unsigned char)q) {
                vkslm_ct_buf_addc(c, b, '\\');
                vkslm_ct_buf_addc(c, b, (char)ch);
            } else if (ch == '\n') {
                vkslm_ct_buf_add(c, b, "\\n", 2);
            } else if (ch == '\r') {
                vkslm_ct_buf_add(c, b, "\\r", 2);
            } else if (ch == '\t') {
                vkslm_ct_buf_add(c, b, "\\t", 2);
            } else if (ch < 0x20 || ch == 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02x", ch);
                vkslm_ct_buf_add(c, b, esc, 4);
            } else {
                vkslm_ct_buf_addc(c, b, (char)ch);
            }
        }
        b->taint = 0;
        vkslm_ct_buf_addc(c, b, q);
        return;
    }
    if (v.kind == CT_LIST) {
        vkslm_ct_buf_addc(c, b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i)
                vkslm_ct_buf_add(c, b, ", ", 2);
            vkslm_ct_repr(c, b, v.u.l->v[i]);
        }
        vkslm_ct_buf_addc(c, b, ']');
        return;
    }
    if (v.kind == CT_DICT) {
        vkslm_ct_buf_addc(c, b, '{');
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i)
                vkslm_ct_buf_add(c, b, ", ", 2);
            vkslm_ct_repr(c, b, vkslm_ct_string(v.u.d->k[i]));
            vkslm_ct_buf_add(c, b, ": ", 2);
            vkslm_ct_repr(c, b, v.u.d->v[i]);
        }
        vkslm_ct_buf_addc(c, b, '}');
        return;
    }
    vkslm_ct_to_str(c, b, v);
}

void vkslm_ct_to_str(ct_ctx *c, ct_buf *b, ct_value v) {
    char tmp[32];
    switch (v.kind) {
    case CT_UNDEF: return;
    case CT_NONE: vkslm_ct_buf_add(c, b, "None", 4); return;
    case CT_BOOL: vkslm_ct_buf_add(c, b, v.u.b ? "True" : "False", v.u.b ? 4 : 5); return;
    case CT_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        vkslm_ct_buf_add(c, b, tmp, strlen(tmp));
        return;
    case CT_FLOAT: ct_float_repr(c, b, v.u.f); return;
    case CT_STR: vkslm_ct_buf_add_str(c, b, v.u.s); return;
    case CT_LIST:
    case CT_DICT: vkslm_ct_repr(c, b, v); return;
    case CT_NS: vkslm_ct_buf_add(c, b, "<Namespace>", 11); return;
    case CT_FUNC: vkslm_ct_buf_add(c, b, "<function>", 10); return;
    }
}

ct_str vkslm_ct_value_str(ct_ctx *c, ct_value v) {
    if (v.kind == CT_STR)
        return v.u.s;
    ct_buf b = {0};
    vkslm_ct_to_str(c, &b, v);
    return ct_buf_str(&b);
}

static void ct_json_string(ct_ctx *c, ct_buf *b, ct_str s) {
    vkslm_ct_buf_addc(c, b, '"');
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.s[i];
        char esc[8];
        b->taint = s.m ? s.m[i] : 0; /* an escape stands for its byte */
        switch (ch) {
        case '"': vkslm_ct_buf_add(c, b, "\\\"", 2); break;
        case '\\': vkslm_ct_buf_add(c, b, "\\\\", 2); break;
        case '\n': vkslm_ct_buf_add(c, b, "\\n", 2); break;
        case '\r': vkslm_ct_buf_add(c, b, "\\r", 2); break;
        case '\t': vkslm_ct_buf_add(c, b, "\\t", 2); break;
        case '\b': vkslm_ct_buf_add(c, b, "\\b", 2); break;
        case '\f': vkslm_ct_buf_add(c, b, "\\f", 2); break;
        default:
            if (ch < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", ch);
                vkslm_ct_buf_add(c, b, esc, 6);
            } else {
                vkslm_ct_buf_addc(c, b, (char)ch);
            }
        }
    }
    b->taint = 0;
    vkslm_ct_buf_addc(c, b, '"');
}

static void ct_json_newline(ct_ctx *c, ct_buf *b, int indent, int level) {
    vkslm_ct_buf_addc(c, b, '\n');
    for (int i = 0; i < indent * level; i++)
        vkslm_ct_buf_addc(c, b, ' ');
}

void vkslm_ct_to_json(ct_ctx *c, ct_buf *b, ct_value v, int indent, int level, uint32_t off) {
    if (level > VKSLM_CHAT_MAX_DEPTH)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "tojson: value nested deeper than %d", VKSLM_CHAT_MAX_DEPTH);
    switch (v.kind) {
    case CT_NONE: vkslm_ct_buf_add(c, b, "null", 4); return;
    case CT_BOOL: vkslm_ct_buf_add(c, b, v.u.b ? "true" : "false", v.u.b ? 4 : 5); return;
    case CT_INT:
    case CT_FLOAT:
        if (v.kind == CT_FLOAT && isnan(v.u.f))
            vkslm_ct_buf_add(c, b, "NaN", 3);
        else if (v.kind == CT_FLOAT && isinf(v.u.f))
            vkslm_ct_buf_add(c, b, v.u.f < 0 ? "-Infinity" : "Infinity", v.u.f < 0 ? 9 : 8);
        else
            vkslm_ct_to_str(c, b, v);
        return;
    case CT_STR: ct_json_string(c, b, v.u.s); return;
    case CT_LIST:
    case CT_DICT:
    case CT_NS: {
        bool is_list = v.kind == CT_LIST;
        size_t n = is_list ? v.u.l->n : v.u.d->n;
        vkslm_ct_buf_addc(c, b, is_list ? '[' : '{');
        if (n == 0) {
            vkslm_ct_buf_addc(c, b, is_list ? ']' : '}');
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (i)
                vkslm_ct_buf_add(c, b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
            if (indent >= 0)
                ct_json_newline(c, b, indent, level + 1);
            if (is_list) {
                vkslm_ct_to_json(c, b, v.u.l->v[i], indent, level + 1, off);
            } else {
                ct_json_string(c, b, v.u.d->k[i]);
                vkslm_ct_buf_add(c, b, ": ", 2);
                vkslm_ct_to_json(c, b, v.u.d->v[i], indent, level + 1, off);
            }
        }
        if (indent >= 0)
            ct_json_newline(c, b, indent, level);
        vkslm_ct_buf_addc(c, b, is_list ? ']' : '}');
        return;
    }
    case CT_UNDEF:
    case CT_FUNC: break;
    }
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "tojson: a value of type %s is not JSON serializable", vkslm_ct_kind_name(v.kind));
}

size_t vkslm_ct_utf8_len(ct_str s) {
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++)
        n += ((unsigned char)s.s[i] & 0xC0) != 0x80;
    return n;
}

size_t vkslm_ct_utf8_offset(ct_str s, size_t i) {
    size_t cp = 0;
    for (size_t k = 0; k < s.n; k++) {
        if (((unsigned char)s.s[k] & 0xC0) != 0x80) {
            if (cp == i)
                return k;
            cp++;
        }
    }
    return s.n;
}
