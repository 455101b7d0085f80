/* Chat-template evaluator: runs the syntax tree with Jinja2's semantics (Python values, scoping where a
 * for-loop body has its own scope and `set` inside it does not leak out, namespace() objects that can be
 * assigned through, loop.index/index0/first/last/length/revindex, break/continue). Every statement and
 * expression counts a step; VKSLM_CHAT_MAX_STEPS bounds any template. The recursion follows the syntax
 * tree, whose height the parser bounds; vkslm_ct_nest counts it once more as a fence. Output bytes keep the
 * content taint of the strings they come from (c->out_mask). */
#include <math.h>
#include <string.h>

#include "engine/tokenizer/chat_template_internal.h"
#include "engine/util/alloc.h"

void vkslm_ct_step(ct_ctx *c, uint32_t off) {
    c->cur_off = off;
    if (++c->steps > VKSLM_CHAT_MAX_STEPS)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "the template runs for more than %u steps", VKSLM_CHAT_MAX_STEPS);
}

/* The parser keeps the tree within VKSLM_CHAT_MAX_DEPTH, and each level of it costs one of these; the
 * rest is headroom (and the bound on filters that apply filters: map). */
#define CT_MAX_NEST (2 * VKSLM_CHAT_MAX_DEPTH + 16)

void vkslm_ct_nest(ct_ctx *c, uint32_t off) {
    if (++c->nest > CT_MAX_NEST)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "evaluation nested deeper than %d levels", CT_MAX_NEST);
}

/* Appends s to the output, with its taint. */
static void ct_out(ct_ctx *c, ct_str s, uint32_t off) {
    size_t n = s.n;
    if (c->out_len + n + 1 > c->out_cap) {
        if (c->out_len + n > VKSLM_CHAT_MAX_OUTPUT)
            vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "the rendered text exceeds %u MiB", VKSLM_CHAT_MAX_OUTPUT >> 20);
        size_t cap = c->out_cap ? c->out_cap * 2 : 1024;
        while (cap < c->out_len + n + 1)
            cap *= 2;
        char *p = VKSLM_REALLOC(c->out, cap);
        if (!p)
            vkslm_ct_fail(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, off, "out of host memory");
        c->out = p;
        if (c->out_mask) {
            uint8_t *m = VKSLM_REALLOC(c->out_mask, cap);
            if (!m)
                vkslm_ct_fail(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, off, "out of host memory");
            c->out_mask = m;
        }
        c->out_cap = cap;
    }
    if (s.m && !c->out_mask) {
        c->out_mask = VKSLM_CALLOC(c->out_cap, 1);
        if (!c->out_mask)
            vkslm_ct_fail(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, off, "out of host memory");
    }
    if (n)
        memcpy(c->out + c->out_len, s.s, n);
    if (c->out_mask && n) {
        if (s.m)
            memcpy(c->out_mask + c->out_len, s.m, n);
        else
            memset(c->out_mask + c->out_len, 0, n);
    }
    c->out_len += n;
    c->out[c->out_len] = 0;
}

/* ---- variables -------------------------------------------------------------------------------- */
static void ct_push_scope(ct_ctx *c) {
    ct_scope *s = vkslm_ct_alloc(c, sizeof *s);
    s->parent = c->scope;
    c->scope = s;
}

static void ct_pop_scope(ct_ctx *c) { c->scope = c->scope->parent; }

ct_value vkslm_ct_lookup(ct_ctx *c, ct_str name) {
    for (ct_scope *s = c->scope; s; s = s->parent) {
        ct_value *v = vkslm_ct_dict_get(&s->vars, name);
        if (v)
            return *v;
    }
    static const struct { const char *name; ct_func fn; } globals[] = {
        {"raise_exception", CT_FN_RAISE}, {"strftime_now", CT_FN_STRFTIME}, {"namespace", CT_FN_NAMESPACE},
        {"range", CT_FN_RANGE}, {"dict", CT_FN_DICT}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
        if (vkslm_ct_str_eq(name, globals[i].name)) {
            ct_value v = {.kind = CT_FUNC, .u.fn = globals[i].fn};
            return v;
        }
    return vkslm_ct_undef();
}

void vkslm_ct_assign(ct_ctx *c, ct_str name, ct_value v) { vkslm_ct_dict_set(c, &c->scope->vars, name, v); }

static void ct_bind(ct_ctx *c, const ct_str *names, size_t n, ct_value v, uint32_t off) {
    if (n == 1) {
        vkslm_ct_assign(c, names[0], v);
        return;
    }
    if (v.kind != CT_LIST || v.u.l->n != n)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "cannot unpack a %s into %zu names", vkslm_ct_kind_name(v.kind), n);
    for (size_t i = 0; i < n; i++)
        vkslm_ct_assign(c, names[i], v.u.l->v[i]);
}

/* ---- access ----------------------------------------------------------------------------------- */
ct_value vkslm_ct_getattr(ct_ctx *c, ct_value obj, ct_str name, uint32_t off) {
    (void)c;
    (void)off;
    if (obj.kind == CT_DICT || obj.kind == CT_NS) {
        ct_value *v = vkslm_ct_dict_get(obj.u.d, name);
        return v ? *v : vkslm_ct_undef();
    }
    return vkslm_ct_undef(); /* Jinja: a missing attribute is undefined */
}

static bool ct_as_index(ct_value k, int64_t *i) {
    if (k.kind == CT_INT) {
        *i = k.u.i;
        return true;
    }
    if (k.kind == CT_BOOL) {
        *i = k.u.b;
        return true;
    }
    return false;
}

static ct_value ct_getitem(ct_ctx *c, ct_value obj, ct_value key, uint32_t off) {
    int64_t i;
    if (obj.kind == CT_LIST && ct_as_index(key, &i)) {
        int64_t n = (int64_t)obj.u.l->n;
        if (i < 0)
            i += n;
        return (i >= 0 && i < n) ? obj.u.l->v[i] : vkslm_ct_undef();
    }
    if (obj.kind == CT_STR && ct_as_index(key, &i)) {
        int64_t n = (int64_t)vkslm_ct_utf8_len(obj.u.s);
        if (i < 0)
            i += n;
        if (i < 0 || i >= n)
            return vkslm_ct_undef();
        size_t a = vkslm_ct_utf8_offset(obj.u.s, (size_t)i), b = vkslm_ct_utf8_offset(obj.u.s, (size_t)i + 1);
        return vkslm_ct_string(ct_sub(obj.u.s, a, b - a));
    }
    if ((obj.kind == CT_DICT || obj.kind == CT_NS) && key.kind == CT_STR)
        return vkslm_ct_getattr(c, obj, key.u.s, off);
    return vkslm_ct_undef();
}

/* Python's slice indices for a sequence of length n. */
static void ct_slice_range(ct_ctx *c, const ct_value *v, int64_t n, int64_t *start, int64_t *stop, int64_t *step,
                           uint32_t off) {
    int64_t st = 1;
    if (v[2].kind != CT_UNDEF && v[2].kind != CT_NONE && !ct_as_index(v[2], &st))
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "slice step must be an integer");
    if (st == 0)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "slice step cannot be zero");
    int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1;
    int64_t a = st > 0 ? lo : hi, b = st > 0 ? hi : lo;
    for (int k = 0; k < 2; k++) {
        int64_t x;
        if (v[k].kind == CT_UNDEF || v[k].kind == CT_NONE)
            continue;
        if (!ct_as_index(v[k], &x))
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "slice indices must be integers");
        if (x < 0) {
            x += n;
            if (x < lo)
                x = lo;
        } else if (x > hi) {
            x = hi;
        }
        if (k == 0)
            a = x;
        else
            b = x;
    }
    *start = a;
    *stop = b;
    *step = st;
}

static ct_value ct_slice(ct_ctx *c, ct_value obj, const ct_value *v, uint32_t off) {
    int64_t a, b, st;
    if (obj.kind == CT_LIST) {
        ct_slice_range(c, v, (int64_t)obj.u.l->n, &a, &b, &st, off);
        ct_value r = vkslm_ct_new_list(c);
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st)
            vkslm_ct_list_push(c, r.u.l, obj.u.l->v[i]);
        return r;
    }
    if (obj.kind == CT_STR) {
        ct_slice_range(c, v, (int64_t)vkslm_ct_utf8_len(obj.u.s), &a, &b, &st, off);
        if (st == 1) {
            size_t x = vkslm_ct_utf8_offset(obj.u.s, (size_t)a), y = a < b ? vkslm_ct_utf8_offset(obj.u.s, (size_t)b) : x;
            return vkslm_ct_string(ct_sub(obj.u.s, x, y - x));
        }
        ct_buf buf = {0};
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st) {
            size_t x = vkslm_ct_utf8_offset(obj.u.s, (size_t)i), y = vkslm_ct_utf8_offset(obj.u.s, (size_t)i + 1);
            vkslm_ct_buf_add_str(c, &buf, ct_sub(obj.u.s, x, y - x));
        }
        return vkslm_ct_string(ct_buf_str(&buf));
    }
    if (obj.kind == CT_UNDEF)
        return vkslm_ct_undef();
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "cannot slice a %s", vkslm_ct_kind_name(obj.kind));
}

ct_value vkslm_ct_iterable_list(ct_ctx *c, ct_value v, uint32_t off) {
    switch (v.kind) {
    case CT_LIST: return v;
    case CT_UNDEF: return vkslm_ct_new_list(c);
    case CT_DICT: {
        ct_value r = vkslm_ct_new_list(c);
        for (size_t i = 0; i < v.u.d->n; i++)
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(v.u.d->k[i]));
        return r;
    }
    case CT_STR: {
        ct_value r = vkslm_ct_new_list(c);
        for (size_t i = 0; i < v.u.s.n;) {
            size_t j = i + 1;
            while (j < v.u.s.n && ((unsigned char)v.u.s.s[j] & 0xC0) == 0x80)
                j++;
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(ct_sub(v.u.s, i, j - i)));
            i = j;
        }
        return r;
    }
    default: vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "a %s is not iterable", vkslm_ct_kind_name(v.kind));
    }
}

/* ---- operators -------------------------------------------------------------------------------- */
static bool ct_numeric(ct_value v) { return v.kind == CT_INT || v.kind == CT_BOOL || v.kind == CT_FLOAT; }
static double ct_as_double(ct_value v) {
    return v.kind == CT_FLOAT ? v.u.f : v.kind == CT_INT ? (double)v.u.i : (double)v.u.b;
}
static bool ct_intlike(ct_value v, int64_t *i) { return ct_as_index(v, i); }

_Noreturn static void ct_bad_operands(ct_ctx *c, const char *op, ct_value a, ct_value b, uint32_t off) {
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "unsupported operand types for %s: %s and %s", op, vkslm_ct_kind_name(a.kind),
            vkslm_ct_kind_name(b.kind));
}

static ct_value ct_repeat(ct_ctx *c, ct_value seq, int64_t times, uint32_t off) {
    if (times < 0)
        times = 0;
    size_t unit = seq.kind == CT_STR ? seq.u.s.n : seq.u.l->n;
    if (unit && (uint64_t)times > VKSLM_CHAT_MAX_OUTPUT / unit)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "a repetition exceeds %u MiB", VKSLM_CHAT_MAX_OUTPUT >> 20);
    if (seq.kind == CT_STR) {
        ct_buf b = {0};
        for (int64_t i = 0; i < times; i++)
            vkslm_ct_buf_add_str(c, &b, seq.u.s);
        return vkslm_ct_string(ct_buf_str(&b));
    }
    ct_value r = vkslm_ct_new_list(c);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < unit; k++)
            vkslm_ct_list_push(c, r.u.l, seq.u.l->v[k]);
    return r;
}

static int ct_compare(ct_ctx *c, ct_value a, ct_value b, uint32_t off) {
    if (ct_numeric(a) && ct_numeric(b)) {
        double x = ct_as_double(a), y = ct_as_double(b);
        int64_t i, j;
        if (ct_intlike(a, &i) && ct_intlike(b, &j))
            return (i > j) - (i < j);
        return (x > y) - (x < y);
    }
    if (a.kind == CT_STR && b.kind == CT_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = n ? memcmp(a.u.s.s, b.u.s.s, n) : 0;
        if (r)
            return r < 0 ? -1 : 1;
        return (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    }
    ct_bad_operands(c, "comparison", a, b, off);
}

static bool ct_contains(ct_ctx *c, ct_value item, ct_value container, uint32_t off) {
    switch (container.kind) {
    case CT_STR:
        if (item.kind != CT_STR)
            ct_bad_operands(c, "in", item, container, off);
        if (item.u.s.n == 0)
            return true;
        for (size_t i = 0; i + item.u.s.n <= container.u.s.n; i++)
            if (memcmp(container.u.s.s + i, item.u.s.s, item.u.s.n) == 0)
                return true;
        return false;
    case CT_LIST:
        for (size_t i = 0; i < container.u.l->n; i++)
            if (vkslm_ct_equal(item, container.u.l->v[i]))
                return true;
        return false;
    case CT_DICT:
    case CT_NS: return item.kind == CT_STR && vkslm_ct_dict_get(container.u.d, item.u.s) != NULL;
    case CT_UNDEF: return false;
    default: ct_bad_operands(c, "in", item, container, off);
    }
}

static ct_value ct_arith(ct_ctx *c, ct_binop op, ct_value a, ct_value b, uint32_t off) {
    static const char *const names[] = {"?", "+", "-", "*", "/", "//", "%", "**"};
    int64_t x, y, r;
    if (ct_intlike(a, &x) && ct_intlike(b, &y)) {
        switch (op) {
        case CT_OP_ADD:
            if (__builtin_add_overflow(x, y, &r)) break;
            return vkslm_ct_int(r);
        case CT_OP_SUB:
            if (__builtin_sub_overflow(x, y, &r)) break;
            return vkslm_ct_int(r);
        case CT_OP_MUL:
            if (__builtin_mul_overflow(x, y, &r)) break;
            return vkslm_ct_int(r);
        case CT_OP_DIV:
            if (y == 0) vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "division by zero");
            return vkslm_ct_float((double)x / (double)y);
        case CT_OP_FLOORDIV:
        case CT_OP_MOD: {
            if (y == 0) vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "division by zero");
            if (x == INT64_MIN && y == -1) break;
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { /* Python floors */
                q--;
                m += y;
            }
            return vkslm_ct_int(op == CT_OP_MOD ? m : q);
        }
        case CT_OP_POW:
            if (y >= 0) {
                r = 1;
                bool ovf = false;
                for (int64_t k = 0; k < y && !ovf; k++) {
                    ovf = __builtin_mul_overflow(r, x, &r);
                    if (r == 0 || r == 1)
                        break;
                }
                if (!ovf)
                    return vkslm_ct_int(r);
            }
            return vkslm_ct_float(pow((double)x, (double)y));
        default: break;
        }
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "integer overflow in %s", names[op]);
    }
    if (ct_numeric(a) && ct_numeric(b)) {
        double p = ct_as_double(a), q = ct_as_double(b);
        switch (op) {
        case CT_OP_ADD: return vkslm_ct_float(p + q);
        case CT_OP_SUB: return vkslm_ct_float(p - q);
        case CT_OP_MUL: return vkslm_ct_float(p * q);
        case CT_OP_POW: return vkslm_ct_float(pow(p, q));
        default:
            if (q == 0.0)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "division by zero");
            if (op == CT_OP_DIV)
                return vkslm_ct_float(p / q);
            if (op == CT_OP_FLOORDIV)
                return vkslm_ct_float(floor(p / q));
            double m = fmod(p, q);
            if (m != 0.0 && ((m < 0) != (q < 0)))
                m += q;
            return vkslm_ct_float(m);
        }
    }
    if (op == CT_OP_ADD && a.kind == CT_STR && b.kind == CT_STR)
        return vkslm_ct_string(vkslm_ct_str_cat(c, a.u.s, b.u.s));
    if (op == CT_OP_ADD && a.kind == CT_LIST && b.kind == CT_LIST) {
        ct_value sum = vkslm_ct_new_list(c);
        for (size_t i = 0; i < a.u.l->n; i++)
            vkslm_ct_list_push(c, sum.u.l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++)
            vkslm_ct_list_push(c, sum.u.l, b.u.l->v[i]);
        return sum;
    }
    if (op == CT_OP_MUL && (a.kind == CT_STR || a.kind == CT_LIST) && ct_intlike(b, &y))
        return ct_repeat(c, a, y, off);
    if (op == CT_OP_MUL && (b.kind == CT_STR || b.kind == CT_LIST) && ct_intlike(a, &x))
        return ct_repeat(c, b, x, off);
    if (op == CT_OP_MOD && a.kind == CT_STR)
        vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, off, "printf-style string formatting (%%) is not supported");
    if (a.kind == CT_UNDEF || b.kind == CT_UNDEF)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "an undefined value used with %s", names[op]);
    ct_bad_operands(c, names[op], a, b, off);
}

static ct_value ct_binary(ct_ctx *c, const ct_node *e) {
    ct_value a = vkslm_ct_eval(c, e->a), b = vkslm_ct_eval(c, e->b);
    switch (e->op) {
    case CT_OP_CONCAT: {
        ct_buf buf = {0};
        vkslm_ct_to_str(c, &buf, a);
        vkslm_ct_to_str(c, &buf, b);
        return vkslm_ct_string(ct_buf_str(&buf));
    }
    case CT_OP_EQ: return vkslm_ct_bool(vkslm_ct_equal(a, b));
    case CT_OP_NE: return vkslm_ct_bool(!vkslm_ct_equal(a, b));
    case CT_OP_LT: return vkslm_ct_bool(ct_compare(c, a, b, e->off) < 0);
    case CT_OP_LE: return vkslm_ct_bool(ct_compare(c, a, b, e->off) <= 0);
    case CT_OP_GT: return vkslm_ct_bool(ct_compare(c, a, b, e->off) > 0);
    case CT_OP_GE: return vkslm_ct_bool(ct_compare(c, a, b, e->off) >= 0);
    case CT_OP_IN: return vkslm_ct_bool(ct_contains(c, a, b, e->off));
    case CT_OP_NOT_IN: return vkslm_ct_bool(!ct_contains(c, a, b, e->off));
    default: return ct_arith(c, e->op, a, b, e->off);
    }
}

/* ---- expressions ------------------------------------------------------------------------------ */
static void ct_eval_args(ct_ctx *c, const ct_node *e, ct_args *a) {
    memset(a, 0, sizeof *a);
    if (e->n) {
        a->pos = vkslm_ct_alloc(c, e->n * sizeof *a->pos);
        for (size_t i = 0; i < e->n; i++)
            a->pos[i] = vkslm_ct_eval(c, e->list[i]);
        a->n = e->n;
    }
    if (e->n2) {
        a->kw = vkslm_ct_alloc(c, e->n2 * sizeof *a->kw);
        for (size_t i = 0; i < e->n2; i++)
            a->kw[i] = vkslm_ct_eval(c, e->list2[i]);
        a->kw_names = e->names;
        a->n_kw = e->n2;
    }
}

static ct_value ct_eval_call(ct_ctx *c, const ct_node *e) {
    ct_args args;
    if (e->a->kind == CT_E_ATTR) {
        ct_value obj = vkslm_ct_eval(c, e->a->a);
        if (obj.kind == CT_STR || obj.kind == CT_LIST || obj.kind == CT_DICT) {
            ct_eval_args(c, e, &args);
            return vkslm_ct_call_method(c, obj, e->a->name, &args, e->a->off);
        }
    }
    ct_value f = vkslm_ct_eval(c, e->a);
    if (f.kind != CT_FUNC) {
        if (e->a->kind == CT_E_NAME && f.kind == CT_UNDEF)
            vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, e->off, "function '%.*s' is not defined", (int)e->a->name.n,
                    e->a->name.s);
        if (e->a->kind == CT_E_ATTR)
            vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, e->off, "method '%.*s' of a %s is not supported",
                    (int)e->a->name.n, e->a->name.s, vkslm_ct_kind_name(vkslm_ct_eval(c, e->a->a).kind));
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, e->off, "a %s is not callable", vkslm_ct_kind_name(f.kind));
    }
    ct_eval_args(c, e, &args);
    return vkslm_ct_call_func(c, f.u.fn, &args, e->off);
}

static ct_value ct_eval_node(ct_ctx *c, const ct_node *e);

ct_value vkslm_ct_eval(ct_ctx *c, const ct_node *e) {
    vkslm_ct_step(c, e->off);
    vkslm_ct_nest(c, e->off);
    ct_value v = ct_eval_node(c, e);
    ct_unnest(c);
    return v;
}

static ct_value ct_eval_node(ct_ctx *c, const ct_node *e) {
    switch (e->kind) {
    case CT_E_LITERAL: return e->lit;
    case CT_E_NAME: return vkslm_ct_lookup(c, e->name);
    case CT_E_ATTR: return vkslm_ct_getattr(c, vkslm_ct_eval(c, e->a), e->name, e->off);
    case CT_E_INDEX: {
        ct_value obj = vkslm_ct_eval(c, e->a);
        return ct_getitem(c, obj, vkslm_ct_eval(c, e->b), e->off);
    }
    case CT_E_SLICE: {
        ct_value obj = vkslm_ct_eval(c, e->a), v[3];
        for (int k = 0; k < 3; k++)
            v[k] = e->list[k] ? vkslm_ct_eval(c, e->list[k]) : vkslm_ct_undef();
        return ct_slice(c, obj, v, e->off);
    }
    case CT_E_CALL: return ct_eval_call(c, e);
    case CT_E_FILTER: {
        ct_value v = vkslm_ct_eval(c, e->a);
        ct_args args;
        ct_eval_args(c, e, &args);
        return vkslm_ct_apply_filter(c, e->name, v, &args, e->off);
    }
    case CT_E_TEST: {
        ct_value v = vkslm_ct_eval(c, e->a);
        ct_args args;
        ct_eval_args(c, e, &args);
        bool r = vkslm_ct_apply_test(c, e->name, v, &args, e->off);
        return vkslm_ct_bool(e->negated ? !r : r);
    }
    case CT_E_NEG:
    case CT_E_POS: {
        ct_value v = vkslm_ct_eval(c, e->a);
        if (v.kind == CT_FLOAT)
            return vkslm_ct_float(e->kind == CT_E_NEG ? -v.u.f : v.u.f);
        int64_t i;
        if (!ct_intlike(v, &i))
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, e->off, "bad operand type for unary %c: %s", e->kind == CT_E_NEG ? '-' : '+',
                    vkslm_ct_kind_name(v.kind));
        if (e->kind == CT_E_NEG && i == INT64_MIN)
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, e->off, "integer overflow in unary -");
        return vkslm_ct_int(e->kind == CT_E_NEG ? -i : i);
    }
    case CT_E_NOT: return vkslm_ct_bool(!vkslm_ct_truthy(vkslm_ct_eval(c, e->a)));
    case CT_E_AND: {
        ct_value a = vkslm_ct_eval(c, e->a);
        return vkslm_ct_truthy(a) ? vkslm_ct_eval(c, e->b) : a;
    }
    case CT_E_OR: {
        ct_value a = vkslm_ct_eval(c, e->a);
        return vkslm_ct_truthy(a) ? a : vkslm_ct_eval(c, e->b);
    }
    case CT_E_BINARY: return ct_binary(c, e);
    case CT_E_COND:
        if (vkslm_ct_truthy(vkslm_ct_eval(c, e->a)))
            return vkslm_ct_eval(c, e->b);
        return e->c ? vkslm_ct_eval(c, e->c) : vkslm_ct_undef();
    case CT_E_LIST: {
        ct_value r = vkslm_ct_new_list(c);
        for (size_t i = 0; i < e->n; i++)
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_eval(c, e->list[i]));
        return r;
    }
    case CT_E_DICT: {
        ct_value r = vkslm_ct_new_dict(c);
        for (size_t i = 0; i < e->n; i++) {
            ct_value k = vkslm_ct_eval(c, e->list[i]);
            if (k.kind != CT_STR)
                vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, e->list[i]->off, "dict keys other than strings are not supported");
            vkslm_ct_dict_set(c, r.u.d, k.u.s, vkslm_ct_eval(c, e->list2[i]));
        }
        return r;
    }
    default: break;
    }
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, e->off, "internal: a statement where an expression belongs");
}

/* ---- statements ------------------------------------------------------------------------------- */
static void ct_exec_for(ct_ctx *c, const ct_node *s) {
    ct_value seq = vkslm_ct_iterable_list(c, vkslm_ct_eval(c, s->b), s->b->off);
    if (s->c) { /* {% for x in xs if cond %}: loop.* count the kept items */
        ct_value kept = vkslm_ct_new_list(c);
        for (size_t i = 0; i < seq.u.l->n; i++) {
            ct_push_scope(c);
            ct_bind(c, s->names, s->n_names, seq.u.l->v[i], s->off);
            bool keep = vkslm_ct_truthy(vkslm_ct_eval(c, s->c));
            ct_pop_scope(c);
            if (keep)
                vkslm_ct_list_push(c, kept.u.l, seq.u.l->v[i]);
        }
        seq = kept;
    }
    size_t n = seq.u.l->n;
    if (n == 0) {
        vkslm_ct_exec_body(c, s->list2, s->n2);
        return;
    }
    static const char *const keys[] = {"index0", "index", "revindex0", "revindex", "first", "last", "length",
                                       "previtem", "nextitem"};
    ct_str kstr[9];
    for (int k = 0; k < 9; k++)
        kstr[k] = ct_cstr(keys[k]);
    for (size_t i = 0; i < n; i++) {
        vkslm_ct_step(c, s->off);
        ct_push_scope(c);
        ct_bind(c, s->names, s->n_names, seq.u.l->v[i], s->off);
        ct_value loop = vkslm_ct_new_dict(c);
        vkslm_ct_dict_set(c, loop.u.d, kstr[0], vkslm_ct_int((int64_t)i));
        vkslm_ct_dict_set(c, loop.u.d, kstr[1], vkslm_ct_int((int64_t)i + 1));
        vkslm_ct_dict_set(c, loop.u.d, kstr[2], vkslm_ct_int((int64_t)(n - 1 - i)));
        vkslm_ct_dict_set(c, loop.u.d, kstr[3], vkslm_ct_int((int64_t)(n - i)));
        vkslm_ct_dict_set(c, loop.u.d, kstr[4], vkslm_ct_bool(i == 0));
        vkslm_ct_dict_set(c, loop.u.d, kstr[5], vkslm_ct_bool(i == n - 1));
        vkslm_ct_dict_set(c, loop.u.d, kstr[6], vkslm_ct_int((int64_t)n));
        vkslm_ct_dict_set(c, loop.u.d, kstr[7], i > 0 ? seq.u.l->v[i - 1] : vkslm_ct_undef());
        vkslm_ct_dict_set(c, loop.u.d, kstr[8], i + 1 < n ? seq.u.l->v[i + 1] : vkslm_ct_undef());
        vkslm_ct_assign(c, ct_cstr("loop"), loop);
        vkslm_ct_exec_body(c, s->list, s->n);
        ct_pop_scope(c);
        int ctl = c->loop_ctl;
        c->loop_ctl = 0;
        if (ctl == 1)
            break;
    }
}

/* if / elif ... / else: the elif chain in a loop */
static void ct_exec_if(ct_ctx *c, const ct_node *s) {
    for (;;) {
        if (!s->a || vkslm_ct_truthy(vkslm_ct_eval(c, s->a))) {
            vkslm_ct_exec_body(c, s->list, s->n);
            return;
        }
        if (s->n2 == 1 && s->list2[0]->elif) {
            s = s->list2[0];
            vkslm_ct_step(c, s->off);
            continue;
        }
        vkslm_ct_exec_body(c, s->list2, s->n2);
        return;
    }
}

static void ct_exec_stmt(ct_ctx *c, const ct_node *s);

void vkslm_ct_exec_body(ct_ctx *c, ct_node **body, size_t n) {
    if (n == 0)
        return;
    vkslm_ct_nest(c, body[0]->off);
    for (size_t i = 0; i < n && !c->loop_ctl; i++)
        ct_exec_stmt(c, body[i]);
    ct_unnest(c);
}

static void ct_exec_stmt(ct_ctx *c, const ct_node *s) {
    vkslm_ct_step(c, s->off);
    switch (s->kind) {
    case CT_N_TEXT: ct_out(c, s->name, s->off); break;
    case CT_N_OUTPUT: {
        ct_value v = vkslm_ct_eval(c, s->a);
        if (v.kind == CT_STR) {
            ct_out(c, v.u.s, s->off);
        } else {
            ct_buf b = {0};
            vkslm_ct_to_str(c, &b, v);
            ct_out(c, ct_buf_str(&b), s->off);
        }
        break;
    }
    case CT_N_IF: ct_exec_if(c, s); break;
    case CT_N_FOR: ct_exec_for(c, s); break;
    case CT_N_SET: {
        ct_value v = vkslm_ct_eval(c, s->b);
        if (s->a) {
            ct_value obj = vkslm_ct_lookup(c, s->a->a->name);
            if (obj.kind != CT_NS)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, s->off, "cannot assign attribute '%.*s' on a %s (only on a namespace)",
                        (int)s->a->name.n, s->a->name.s, vkslm_ct_kind_name(obj.kind));
            vkslm_ct_dict_set(c, obj.u.d, s->a->name, v);
        } else {
            ct_bind(c, s->names, s->n_names, v, s->off);
        }
        break;
    }
    case CT_N_SET_BLOCK: {
        size_t mark = c->out_len;
        vkslm_ct_exec_body(c, s->list, s->n);
        ct_str text = vkslm_ct_str_dup_mask(c, c->out ? c->out + mark : "", c->out_mask ? c->out_mask + mark : NULL,
                                      c->out_len - mark);
        c->out_len = mark;
        if (c->out)
            c->out[mark] = 0;
        vkslm_ct_assign(c, s->names[0], vkslm_ct_string(text));
        break;
    }
    case CT_N_BREAK: c->loop_ctl = 1; break;
    case CT_N_CONTINUE: c->loop_ctl = 2; break;
    default: vkslm_ct_fail(c, VKSLM_ERR_FORMAT, s->off, "internal: an expression where a statement belongs");
    }
}
