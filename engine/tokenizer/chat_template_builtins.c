/* Chat-template built-ins: Jinja filters and tests, Python string and dict methods, and the global
 * functions Hugging Face defines (raise_exception, strftime_now) or Jinja has (namespace, range, dict).
 * tojson is HF's: json.dumps(x, ensure_ascii=False, indent=...), not Jinja's HTML-safe one.
 * String results keep the content taint of the bytes they copy (ct_sub, vkslm_ct_buf_add_str). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/tokenizer/chat_template_internal.h"

/* ---- arguments -------------------------------------------------------------------------------- */
/* Positional argument i or keyword `name`; undefined when neither was given. */
static ct_value ct_arg(const ct_args *a, size_t i, const char *name) {
    if (i < a->n)
        return a->pos[i];
    for (size_t k = 0; name && k < a->n_kw; k++)
        if (vkslm_ct_str_eq(a->kw_names[k], name))
            return a->kw[k];
    return vkslm_ct_undef();
}

static ct_str ct_arg_str(ct_ctx *c, const ct_args *a, size_t i, const char *name, const char *what, uint32_t off) {
    ct_value v = ct_arg(a, i, name);
    if (v.kind != CT_STR)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "%s: argument %zu must be a string, not %s", what, i + 1,
                vkslm_ct_kind_name(v.kind));
    return v.u.s;
}

static bool ct_has(const ct_args *a, size_t i, const char *name) { return ct_arg(a, i, name).kind != CT_UNDEF; }

/* ---- string helpers --------------------------------------------------------------------------- */
static bool ct_ws(unsigned char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f); }

static bool ct_in_set(unsigned char ch, const ct_str *chars) {
    if (!chars)
        return ct_ws(ch);
    return memchr(chars->s, ch, chars->n) != NULL;
}

/* str.strip / lstrip / rstrip (chars: a set of bytes; NULL: whitespace) */
static ct_str ct_strip(ct_str s, const ct_str *chars, bool left, bool right) {
    size_t a = 0, b = s.n;
    while (left && a < b && ct_in_set((unsigned char)s.s[a], chars))
        a++;
    while (right && b > a && ct_in_set((unsigned char)s.s[b - 1], chars))
        b--;
    return ct_sub(s, a, b - a);
}

static char ct_upper_c(char ch) { return (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch; }
static char ct_lower_c(char ch) { return (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch; }
static bool ct_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (unsigned char)ch >= 0x80; }

/* mode: 0 lower, 1 upper, 2 str.title(), 3 capitalize, 4 Jinja's title filter */
static ct_str ct_case(ct_ctx *c, ct_str s, int mode) {
    char *p = vkslm_ct_alloc(c, s.n + 1);
    bool prev_alpha = false, word_start = true;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.s[i];
        bool delim = ct_ws((unsigned char)ch) || (ch && strchr("-({[<", ch));
        switch (mode) {
        case 0: p[i] = ct_lower_c(ch); break;
        case 1: p[i] = ct_upper_c(ch); break;
        case 2: p[i] = prev_alpha ? ct_lower_c(ch) : ct_upper_c(ch); break;
        case 3: p[i] = i == 0 ? ct_upper_c(ch) : ct_lower_c(ch); break;
        default: p[i] = delim ? ch : word_start ? ct_upper_c(ch) : ct_lower_c(ch); break;
        }
        prev_alpha = ct_alpha(ch);
        word_start = delim;
    }
    ct_str r = {p, s.n, s.m}; /* byte for byte: the same taint */
    return r;
}

static const char *ct_find(ct_str hay, ct_str needle, size_t from) {
    if (needle.n == 0)
        return from <= hay.n ? hay.s + from : NULL;
    for (size_t i = from; i + needle.n <= hay.n; i++)
        if (memcmp(hay.s + i, needle.s, needle.n) == 0)
            return hay.s + i;
    return NULL;
}

static ct_value ct_split(ct_ctx *c, ct_str s, const ct_str *sep, int64_t maxsplit, uint32_t off) {
    ct_value r = vkslm_ct_new_list(c);
    if (sep && sep->n == 0)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "split: empty separator");
    size_t i = 0;
    if (!sep) { /* runs of whitespace, no empty items */
        for (;;) {
            while (i < s.n && ct_ws((unsigned char)s.s[i]))
                i++;
            if (i >= s.n)
                break;
            size_t j = i;
            if (maxsplit >= 0 && (int64_t)r.u.l->n >= maxsplit) {
                ct_str rest = ct_strip(ct_sub(s, i, s.n - i), NULL, false, true);
                vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(rest));
                break;
            }
            while (j < s.n && !ct_ws((unsigned char)s.s[j]))
                j++;
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(ct_sub(s, i, j - i)));
            i = j;
        }
        return r;
    }
    for (;;) {
        const char *hit = (maxsplit < 0 || (int64_t)r.u.l->n < maxsplit) ? ct_find(s, *sep, i) : NULL;
        if (!hit) {
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(ct_sub(s, i, s.n - i)));
            return r;
        }
        size_t j = (size_t)(hit - s.s);
        vkslm_ct_list_push(c, r.u.l, vkslm_ct_string(ct_sub(s, i, j - i)));
        i = j + sep->n;
    }
}

static ct_str ct_replace(ct_ctx *c, ct_str s, ct_str old, ct_str repl, int64_t count) {
    ct_buf b = {0};
    size_t i = 0;
    int64_t done = 0;
    if (old.n == 0) { /* Python inserts repl between every character */
        for (size_t k = 0; k <= s.n; k++) {
            if ((count < 0 || done < count) && (k == s.n || ((unsigned char)s.s[k] & 0xC0) != 0x80)) {
                vkslm_ct_buf_add_str(c, &b, repl);
                done++;
            }
            if (k < s.n)
                vkslm_ct_buf_add_str(c, &b, ct_sub(s, k, 1));
        }
        return ct_buf_str(&b);
    }
    for (;;) {
        const char *hit = (count < 0 || done < count) ? ct_find(s, old, i) : NULL;
        if (!hit) {
            vkslm_ct_buf_add_str(c, &b, ct_sub(s, i, s.n - i));
            return ct_buf_str(&b);
        }
        size_t j = (size_t)(hit - s.s);
        vkslm_ct_buf_add_str(c, &b, ct_sub(s, i, j - i));
        vkslm_ct_buf_add_str(c, &b, repl);
        i = j + old.n;
        done++;
    }
}

static bool ct_affix(ct_ctx *c, ct_str s, ct_value what, bool suffix, uint32_t off) {
    if (what.kind == CT_LIST) { /* a tuple of candidates */
        for (size_t i = 0; i < what.u.l->n; i++)
            if (ct_affix(c, s, what.u.l->v[i], suffix, off))
                return true;
        return false;
    }
    if (what.kind != CT_STR)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "%s: argument must be a string", suffix ? "endswith" : "startswith");
    if (what.u.s.n > s.n)
        return false;
    return memcmp(suffix ? s.s + s.n - what.u.s.n : s.s, what.u.s.s, what.u.s.n) == 0;
}

static int64_t ct_arg_int(ct_ctx *c, const ct_args *a, size_t i, const char *name, int64_t dflt, uint32_t off) {
    ct_value v = ct_arg(a, i, name);
    if (v.kind == CT_UNDEF || v.kind == CT_NONE)
        return dflt;
    if (v.kind == CT_INT)
        return v.u.i;
    if (v.kind == CT_BOOL)
        return v.u.b;
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "expected an integer argument, not %s", vkslm_ct_kind_name(v.kind));
}

static ct_value ct_join(ct_ctx *c, ct_value seq, ct_str sep, uint32_t off) {
    ct_value items = vkslm_ct_iterable_list(c, seq, off);
    ct_buf b = {0};
    for (size_t i = 0; i < items.u.l->n; i++) {
        if (i)
            vkslm_ct_buf_add_str(c, &b, sep);
        vkslm_ct_to_str(c, &b, items.u.l->v[i]);
    }
    return vkslm_ct_string(ct_buf_str(&b));
}

static ct_value ct_items(ct_ctx *c, ct_value d, uint32_t off) {
    ct_value r = vkslm_ct_new_list(c);
    if (d.kind == CT_UNDEF)
        return r;
    if (d.kind != CT_DICT)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "items: a %s is not a mapping", vkslm_ct_kind_name(d.kind));
    for (size_t i = 0; i < d.u.d->n; i++) {
        ct_value pair = vkslm_ct_new_list(c);
        vkslm_ct_list_push(c, pair.u.l, vkslm_ct_string(d.u.d->k[i]));
        vkslm_ct_list_push(c, pair.u.l, d.u.d->v[i]);
        vkslm_ct_list_push(c, r.u.l, pair);
    }
    return r;
}

/* ---- methods ---------------------------------------------------------------------------------- */
ct_value vkslm_ct_call_method(ct_ctx *c, ct_value obj, ct_str name, const ct_args *a, uint32_t off) {
    if (obj.kind == CT_STR) {
        ct_str s = obj.u.s;
        if (vkslm_ct_str_eq(name, "strip") || vkslm_ct_str_eq(name, "lstrip") || vkslm_ct_str_eq(name, "rstrip")) {
            ct_value ch = ct_arg(a, 0, "chars");
            ct_str set = ch.kind == CT_STR ? ch.u.s : (ct_str){"", 0, NULL};
            bool l = !vkslm_ct_str_eq(name, "rstrip"), r = !vkslm_ct_str_eq(name, "lstrip");
            return vkslm_ct_string(ct_strip(s, ch.kind == CT_STR ? &set : NULL, l, r));
        }
        if (vkslm_ct_str_eq(name, "split")) {
            ct_value sep = ct_arg(a, 0, "sep");
            int64_t maxsplit = ct_arg_int(c, a, 1, "maxsplit", -1, off);
            return ct_split(c, s, sep.kind == CT_STR ? &sep.u.s : NULL, maxsplit, off);
        }
        if (vkslm_ct_str_eq(name, "replace"))
            return vkslm_ct_string(ct_replace(c, s, ct_arg_str(c, a, 0, NULL, "replace", off),
                                        ct_arg_str(c, a, 1, NULL, "replace", off), ct_arg_int(c, a, 2, "count", -1, off)));
        if (vkslm_ct_str_eq(name, "startswith") || vkslm_ct_str_eq(name, "endswith"))
            return vkslm_ct_bool(ct_affix(c, s, ct_arg(a, 0, NULL), name.s[0] == 'e', off));
        if (vkslm_ct_str_eq(name, "upper")) return vkslm_ct_string(ct_case(c, s, 1));
        if (vkslm_ct_str_eq(name, "lower")) return vkslm_ct_string(ct_case(c, s, 0));
        if (vkslm_ct_str_eq(name, "title")) return vkslm_ct_string(ct_case(c, s, 2));
        if (vkslm_ct_str_eq(name, "capitalize")) return vkslm_ct_string(ct_case(c, s, 3));
        if (vkslm_ct_str_eq(name, "find") || vkslm_ct_str_eq(name, "count")) {
            ct_str sub = ct_arg_str(c, a, 0, NULL, "find", off);
            if (name.s[0] == 'f') {
                const char *hit = ct_find(s, sub, 0);
                return vkslm_ct_int(hit ? (int64_t)vkslm_ct_utf8_len((ct_str){s.s, (size_t)(hit - s.s), NULL}) : -1);
            }
            if (sub.n == 0)
                return vkslm_ct_int((int64_t)vkslm_ct_utf8_len(s) + 1);
            int64_t n = 0;
            for (const char *hit = ct_find(s, sub, 0); hit; hit = ct_find(s, sub, (size_t)(hit - s.s) + sub.n))
                n++;
            return vkslm_ct_int(n);
        }
        if (vkslm_ct_str_eq(name, "join"))
            return ct_join(c, ct_arg(a, 0, NULL), s, off);
    } else if (obj.kind == CT_DICT) {
        if (vkslm_ct_str_eq(name, "items"))
            return ct_items(c, obj, off);
        if (vkslm_ct_str_eq(name, "keys") || vkslm_ct_str_eq(name, "values")) {
            ct_value r = vkslm_ct_new_list(c);
            for (size_t i = 0; i < obj.u.d->n; i++)
                vkslm_ct_list_push(c, r.u.l, name.s[0] == 'k' ? vkslm_ct_string(obj.u.d->k[i]) : obj.u.d->v[i]);
            return r;
        }
        if (vkslm_ct_str_eq(name, "get")) {
            ct_value k = ct_arg(a, 0, NULL);
            ct_value *v = k.kind == CT_STR ? vkslm_ct_dict_get(obj.u.d, k.u.s) : NULL;
            if (v)
                return *v;
            ct_value d = ct_arg(a, 1, NULL);
            return d.kind == CT_UNDEF ? vkslm_ct_none() : d;
        }
    }
    vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, off, "method '%.*s' of a %s is not supported", (int)name.n, name.s,
            vkslm_ct_kind_name(obj.kind));
}

/* ---- functions -------------------------------------------------------------------------------- */
ct_value vkslm_ct_call_func(ct_ctx *c, ct_func fn, const ct_args *a, uint32_t off) {
    switch (fn) {
    case CT_FN_RAISE: {
        ct_str msg = vkslm_ct_value_str(c, ct_arg(a, 0, NULL));
        vkslm_ct_fail(c, VKSLM_ERR_INVALID_ARG, off, "%.*s", (int)(msg.n > 400 ? 400 : msg.n), msg.s);
    }
    case CT_FN_STRFTIME: {
        ct_str fmt = ct_arg_str(c, a, 0, NULL, "strftime_now", off);
        char f[128], out[256];
        if (fmt.n >= sizeof f)
            vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "strftime_now: format longer than %zu bytes", sizeof f - 1);
        memcpy(f, fmt.s, fmt.n);
        f[fmt.n] = 0;
        time_t t = c->now ? (time_t)c->now : time(NULL);
        struct tm tm;
        if (!localtime_r(&t, &tm))
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "strftime_now: the time is out of range");
        size_t n = strftime(out, sizeof out, f, &tm);
        /* the format's own characters pass through: a format from content makes content */
        return vkslm_ct_string(vkslm_ct_str_taint_all(c, vkslm_ct_str_dup(c, out, n), ct_str_tainted(fmt)));
    }
    case CT_FN_NAMESPACE:
    case CT_FN_DICT: {
        ct_value r = vkslm_ct_new_dict(c);
        if (fn == CT_FN_NAMESPACE)
            r.kind = CT_NS;
        ct_value init = ct_arg(a, 0, NULL);
        if (init.kind == CT_DICT)
            for (size_t i = 0; i < init.u.d->n; i++)
                vkslm_ct_dict_set(c, r.u.d, init.u.d->k[i], init.u.d->v[i]);
        for (size_t i = 0; i < a->n_kw; i++)
            vkslm_ct_dict_set(c, r.u.d, a->kw_names[i], a->kw[i]);
        return r;
    }
    case CT_FN_RANGE: {
        int64_t start = 0, stop, step = 1;
        if (a->n >= 2) {
            start = ct_arg_int(c, a, 0, NULL, 0, off);
            stop = ct_arg_int(c, a, 1, NULL, 0, off);
            step = ct_arg_int(c, a, 2, NULL, 1, off);
        } else {
            stop = ct_arg_int(c, a, 0, NULL, 0, off);
        }
        if (step == 0)
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "range: step cannot be zero");
        ct_value r = vkslm_ct_new_list(c);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (r.u.l->n >= (1u << 20))
                vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "range: more than %u items", 1u << 20);
            vkslm_ct_list_push(c, r.u.l, vkslm_ct_int(i));
            if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step))
                break;
        }
        return r;
    }
    }
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "internal: unknown function");
}

/* ---- tests ------------------------------------------------------------------------------------ */
bool vkslm_ct_apply_test(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off) {
#define IS(lit) vkslm_ct_str_eq(name, lit)
    if (IS("defined")) return v.kind != CT_UNDEF;
    if (IS("undefined")) return v.kind == CT_UNDEF;
    if (IS("none")) return v.kind == CT_NONE;
    if (IS("boolean")) return v.kind == CT_BOOL;
    if (IS("true")) return v.kind == CT_BOOL && v.u.b;
    if (IS("false")) return v.kind == CT_BOOL && !v.u.b;
    if (IS("integer")) return v.kind == CT_INT;
    if (IS("float")) return v.kind == CT_FLOAT;
    if (IS("number")) return v.kind == CT_INT || v.kind == CT_FLOAT || v.kind == CT_BOOL;
    if (IS("string")) return v.kind == CT_STR;
    if (IS("mapping")) return v.kind == CT_DICT;
    if (IS("iterable") || IS("sequence"))
        return v.kind == CT_STR || v.kind == CT_LIST || v.kind == CT_DICT || (IS("iterable") && v.kind == CT_UNDEF);
    if (IS("callable")) return v.kind == CT_FUNC;
    if (IS("lower") || IS("upper")) {
        if (v.kind != CT_STR)
            return false;
        ct_str t = ct_case(c, v.u.s, IS("upper"));
        return vkslm_ct_str_same(t, v.u.s);
    }
    if (IS("even") || IS("odd") || IS("divisibleby")) {
        if (v.kind != CT_INT && v.kind != CT_BOOL)
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "test '%.*s' needs an integer", (int)name.n, name.s);
        int64_t x = v.kind == CT_INT ? v.u.i : v.u.b;
        int64_t d = IS("divisibleby") ? ct_arg_int(c, a, 0, "num", 1, off) : 2;
        if (d == 0)
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "divisibleby 0");
        int64_t m = d == -1 ? 0 : x % d;
        return IS("odd") ? m != 0 : m == 0;
    }
    ct_value o = ct_arg(a, 0, NULL);
    if (IS("eq") || IS("equalto") || IS("==") || IS("sameas")) return vkslm_ct_equal(v, o);
    if (IS("ne") || IS("!=")) return !vkslm_ct_equal(v, o);
    if (IS("in")) {
        if (o.kind == CT_STR && v.kind == CT_STR)
            return ct_find(o.u.s, v.u.s, 0) != NULL;
        if (o.kind == CT_LIST || o.kind == CT_DICT) {
            ct_value items = vkslm_ct_iterable_list(c, o, off);
            for (size_t i = 0; i < items.u.l->n; i++)
                if (vkslm_ct_equal(v, items.u.l->v[i]))
                    return true;
            return false;
        }
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "test 'in' needs a container");
    }
    bool lt = IS("lt") || IS("lessthan") || IS("<"), le = IS("le") || IS("<="), gt = IS("gt") || IS("greaterthan") || IS(">"),
         ge = IS("ge") || IS(">=");
    if (lt || le || gt || ge) {
        bool num = (v.kind == CT_INT || v.kind == CT_FLOAT) && (o.kind == CT_INT || o.kind == CT_FLOAT);
        if (!num && !(v.kind == CT_STR && o.kind == CT_STR))
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "cannot compare a %s with a %s", vkslm_ct_kind_name(v.kind), vkslm_ct_kind_name(o.kind));
        int r;
        if (num) {
            double x = v.kind == CT_INT ? (double)v.u.i : v.u.f, y = o.kind == CT_INT ? (double)o.u.i : o.u.f;
            r = (x > y) - (x < y);
        } else {
            size_t n = v.u.s.n < o.u.s.n ? v.u.s.n : o.u.s.n;
            r = n ? memcmp(v.u.s.s, o.u.s.s, n) : 0;
            if (!r)
                r = (v.u.s.n > o.u.s.n) - (v.u.s.n < o.u.s.n);
        }
        return lt ? r < 0 : le ? r <= 0 : gt ? r > 0 : r >= 0;
    }
#undef IS
    vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, off, "test '%.*s' is not supported", (int)(name.n > 40 ? 40 : name.n), name.s);
}

/* ---- filters ---------------------------------------------------------------------------------- */
/* item.attr (dotted paths, integer parts index lists) as Jinja's attribute= arguments resolve it */
static ct_value ct_attr_path(ct_ctx *c, ct_value item, ct_str path, uint32_t off) {
    size_t i = 0;
    while (i <= path.n) {
        size_t j = i;
        while (j < path.n && path.s[j] != '.')
            j++;
        ct_str part = {path.s + i, j - i, NULL};
        if (part.n && part.s[0] >= '0' && part.s[0] <= '9' && item.kind == CT_LIST) {
            size_t k = (size_t)strtoull(part.s, NULL, 10);
            item = k < item.u.l->n ? item.u.l->v[k] : vkslm_ct_undef();
        } else {
            item = vkslm_ct_getattr(c, item, part, off);
        }
        i = j + 1;
    }
    return item;
}

/* select/reject/selectattr/rejectattr: args from `first` on are (test name, test args...) */
static ct_value ct_select(ct_ctx *c, ct_value seq, const ct_args *a, size_t first, bool by_attr, bool keep,
                          uint32_t off) {
    ct_value items = vkslm_ct_iterable_list(c, seq, off);
    ct_str attr = {0};
    if (by_attr)
        attr = ct_arg_str(c, a, 0, NULL, "selectattr", off);
    ct_value test = ct_arg(a, first, NULL);
    if (test.kind != CT_UNDEF && test.kind != CT_STR)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "select: the test name must be a string");
    ct_args targs = {0};
    if (a->n > first + 1) {
        targs.pos = a->pos + first + 1;
        targs.n = a->n - first - 1;
    }
    ct_value r = vkslm_ct_new_list(c);
    for (size_t i = 0; i < items.u.l->n; i++) {
        vkslm_ct_step(c, off);
        ct_value x = by_attr ? ct_attr_path(c, items.u.l->v[i], attr, off) : items.u.l->v[i];
        bool t = test.kind == CT_STR ? vkslm_ct_apply_test(c, test.u.s, x, &targs, off) : vkslm_ct_truthy(x);
        if (t == keep)
            vkslm_ct_list_push(c, r.u.l, items.u.l->v[i]);
    }
    return r;
}

static ct_value ct_map(ct_ctx *c, ct_value seq, const ct_args *a, uint32_t off) {
    ct_value items = vkslm_ct_iterable_list(c, seq, off), r = vkslm_ct_new_list(c);
    ct_value attr = ct_arg(a, (size_t)-1, "attribute"); /* keyword only */
    for (size_t i = 0; i < items.u.l->n; i++) {
        vkslm_ct_step(c, off);
        ct_value x = items.u.l->v[i];
        if (attr.kind == CT_STR) {
            x = ct_attr_path(c, x, attr.u.s, off);
            if (x.kind == CT_UNDEF) {
                ct_value d = ct_arg(a, (size_t)-1, "default");
                if (d.kind != CT_UNDEF)
                    x = d;
            }
        } else {
            ct_str f = ct_arg_str(c, a, 0, NULL, "map", off);
            ct_args fa = {0};
            if (a->n > 1) {
                fa.pos = a->pos + 1;
                fa.n = a->n - 1;
            }
            x = vkslm_ct_apply_filter(c, f, x, &fa, off);
        }
        vkslm_ct_list_push(c, r.u.l, x);
    }
    return r;
}

static ct_value ct_filter(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off);

/* map('map', 'map', ...) applies filters through filters: counted as nesting */
ct_value vkslm_ct_apply_filter(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off) {
    vkslm_ct_nest(c, off);
    ct_value r = ct_filter(c, name, v, a, off);
    ct_unnest(c);
    return r;
}

static ct_value ct_filter(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off) {
#define IS(lit) vkslm_ct_str_eq(name, lit)
    if (IS("safe"))
        return v;
    if (IS("trim")) {
        ct_value ch = ct_arg(a, 0, "chars");
        return vkslm_ct_string(ct_strip(vkslm_ct_value_str(c, v), ch.kind == CT_STR ? &ch.u.s : NULL, true, true));
    }
    if (IS("length") || IS("count")) {
        switch (v.kind) {
        case CT_STR: return vkslm_ct_int((int64_t)vkslm_ct_utf8_len(v.u.s));
        case CT_LIST: return vkslm_ct_int((int64_t)v.u.l->n);
        case CT_DICT:
        case CT_NS: return vkslm_ct_int((int64_t)v.u.d->n);
        case CT_UNDEF: return vkslm_ct_int(0);
        default: vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "length: a %s has no length", vkslm_ct_kind_name(v.kind));
        }
    }
    if (IS("upper")) return vkslm_ct_string(ct_case(c, vkslm_ct_value_str(c, v), 1));
    if (IS("lower")) return vkslm_ct_string(ct_case(c, vkslm_ct_value_str(c, v), 0));
    if (IS("title")) return vkslm_ct_string(ct_case(c, vkslm_ct_value_str(c, v), 4));
    if (IS("capitalize")) return vkslm_ct_string(ct_case(c, vkslm_ct_value_str(c, v), 3));
    if (IS("string")) return vkslm_ct_string(vkslm_ct_value_str(c, v));
    if (IS("tojson")) {
        int64_t indent = ct_arg_int(c, a, 0, "indent", -1, off);
        if (indent > 64)
            indent = 64;
        ct_buf b = {0};
        vkslm_ct_to_json(c, &b, v, (int)indent, 0, off);
        return vkslm_ct_string(ct_buf_str(&b));
    }
    if (IS("default") || IS("d")) {
        bool boolean = vkslm_ct_truthy(ct_arg(a, 1, "boolean"));
        if (v.kind == CT_UNDEF || (boolean && !vkslm_ct_truthy(v))) {
            ct_value d = ct_arg(a, 0, "default_value");
            return d.kind == CT_UNDEF ? vkslm_ct_string((ct_str){"", 0, NULL}) : d;
        }
        return v;
    }
    if (IS("items")) return ct_items(c, v, off);
    if (IS("list")) {
        ct_value items = vkslm_ct_iterable_list(c, v, off), r = vkslm_ct_new_list(c);
        for (size_t i = 0; i < items.u.l->n; i++)
            vkslm_ct_list_push(c, r.u.l, items.u.l->v[i]);
        return r;
    }
    if (IS("first") || IS("last")) {
        ct_value items = vkslm_ct_iterable_list(c, v, off);
        if (items.u.l->n == 0)
            return vkslm_ct_undef();
        return items.u.l->v[IS("first") ? 0 : items.u.l->n - 1];
    }
    if (IS("reverse")) {
        if (v.kind == CT_STR) {
            ct_value chars = vkslm_ct_iterable_list(c, v, off);
            ct_buf b = {0};
            for (size_t i = chars.u.l->n; i-- > 0;)
                vkslm_ct_buf_add_str(c, &b, chars.u.l->v[i].u.s);
            return vkslm_ct_string(ct_buf_str(&b));
        }
        ct_value items = vkslm_ct_iterable_list(c, v, off), r = vkslm_ct_new_list(c);
        for (size_t i = items.u.l->n; i-- > 0;)
            vkslm_ct_list_push(c, r.u.l, items.u.l->v[i]);
        return r;
    }
    if (IS("join")) {
        ct_value sep = ct_arg(a, 0, "d");
        ct_value attr = ct_arg(a, 1, "attribute");
        if (attr.kind == CT_STR) {
            ct_args ma = {0};
            ct_str kw = ct_cstr("attribute");
            ma.kw_names = &kw;
            ma.kw = &attr;
            ma.n_kw = 1;
            v = ct_map(c, v, &ma, off);
        }
        return ct_join(c, v, sep.kind == CT_STR ? sep.u.s : (ct_str){"", 0, NULL}, off);
    }
    if (IS("selectattr") || IS("rejectattr")) return ct_select(c, v, a, 1, true, IS("selectattr"), off);
    if (IS("select") || IS("reject")) return ct_select(c, v, a, 0, false, IS("select"), off);
    if (IS("map")) return ct_map(c, v, a, off);
    if (IS("replace"))
        return vkslm_ct_string(ct_replace(c, vkslm_ct_value_str(c, v), ct_arg_str(c, a, 0, "old", "replace", off),
                                    ct_arg_str(c, a, 1, "new", "replace", off), ct_arg_int(c, a, 2, "count", -1, off)));
    if (IS("int")) {
        if (v.kind == CT_INT) return v;
        if (v.kind == CT_BOOL) return vkslm_ct_int(v.u.b);
        if (v.kind == CT_FLOAT && v.u.f > -9.2e18 && v.u.f < 9.2e18) return vkslm_ct_int((int64_t)v.u.f);
        if (v.kind == CT_STR) {
            char buf[32];
            ct_str t = ct_strip(v.u.s, NULL, true, true);
            if (t.n && t.n < sizeof buf) {
                memcpy(buf, t.s, t.n);
                buf[t.n] = 0;
                char *end;
                long long x = strtoll(buf, &end, 10);
                if (*end == 0)
                    return vkslm_ct_int(x);
            }
        }
        return ct_has(a, 0, "default") ? ct_arg(a, 0, "default") : vkslm_ct_int(0);
    }
    if (IS("float")) {
        if (v.kind == CT_FLOAT) return v;
        if (v.kind == CT_INT) return vkslm_ct_float((double)v.u.i);
        if (v.kind == CT_BOOL) return vkslm_ct_float(v.u.b);
        if (v.kind == CT_STR) {
            char buf[64];
            ct_str t = ct_strip(v.u.s, NULL, true, true);
            if (t.n && t.n < sizeof buf) {
                memcpy(buf, t.s, t.n);
                buf[t.n] = 0;
                char *end;
                double x = strtod(buf, &end);
                if (*end == 0)
                    return vkslm_ct_float(x);
            }
        }
        return vkslm_ct_float(0.0);
    }
    if (IS("abs")) {
        if (v.kind == CT_INT && v.u.i != INT64_MIN) return vkslm_ct_int(v.u.i < 0 ? -v.u.i : v.u.i);
        if (v.kind == CT_FLOAT) return vkslm_ct_float(v.u.f < 0 ? -v.u.f : v.u.f);
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "abs: a %s is not a number", vkslm_ct_kind_name(v.kind));
    }
#undef IS
    vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, off, "filter '%.*s' is not supported", (int)(name.n > 40 ? 40 : name.n), name.s);
}
