/* JSON schema -> grammar (vkslm_json_schema_to_grammar; the subset is in docs/grammar.md). Every schema node
 * becomes a rule ("sN"); the JSON building blocks (value, object, string, number, ...) are fixed rules at the
 * end. A keyword outside the subset is refused by name, never skipped; only the metadata keywords below are
 * ignored. A \u escape is never U+0000 nor half of a surrogate pair (JSON parsers refuse or truncate those). Whitespace between tokens is one optional space or newline (ws), so that output cannot pad. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "vkslm.h"

#define MAX_COUNT 1000         /* the largest minLength/maxLength/minItems/maxItems and pattern count */
#define MAX_BOUND 1e15         /* |minimum|, |maximum| */
#define MAX_NODES 10000        /* schema nodes compiled */
#define MAX_DEPTH 64           /* schemas nested */

static const char *const META[] = {"title", "description", "$schema", "$id", "$comment", "examples", "default",
                                   "deprecated", "readOnly", "writeOnly", NULL};
static const char *const KNOWN[] = {"type", "properties", "required", "additionalProperties", "items", "minItems",
                                    "maxItems", "enum", "const", "minLength", "maxLength", "pattern", "minimum",
                                    "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "$ref",
                                    "$defs", "definitions", NULL};

static const char BASE[] =
    "ws ::= [ \\n]?\n"
    "value ::= object | array | string | number | \"true\" | \"false\" | \"null\"\n"
    "object ::= \"{\" ws ( member ( ws \",\" ws member )* ws )? \"}\"\n"
    "member ::= string ws \":\" ws value\n"
    "array ::= \"[\" ws ( value ( ws \",\" ws value )* ws )? \"]\"\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "char ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" uesc )\n"
    "uesc ::= [1-9a-cA-CefEF] hex{3} | \"0\" ( [1-9a-fA-F] hex{2} | \"0\" ( [1-9a-fA-F] hex | \"0\" [1-9a-fA-F] ) )\n"
    "  | [dD] [0-7] hex{2} | [dD] [89abAB] hex{2} \"\\\\u\" [dD] [c-fC-F] hex{2}\n"
    "hex ::= [0-9a-fA-F]\n"
    "pchar ::= [^\"\\\\\\x00-\\x1f]\n"
    "number ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} ) ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n"
    "integer ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
    "frac ::= \".\" [0-9]{1,16}\n"
    "zfrac ::= \".\" \"0\"{1,16}\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n";

typedef struct sb {
    char *p;
    size_t n, cap;
    bool oom;
} sb;

static void sb_put(sb *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (vkslm_grow((void **)&b->p, &b->cap, b->n + n + 1, 1) != VKSLM_OK) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(sb *b, const char *fmt, ...) VKSLM_PRINTF(2, 3);
static void sb_printf(sb *b, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_put(b, buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
}

/* A grammar string literal of bytes s[0..n). */
static void lit(sb *b, const char *s, size_t n) {
    sb_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            sb_printf(b, "\\x%02X", c);
        else
            sb_put(b, (const char *)&c, 1);
    }
    sb_puts(b, "\"");
}

typedef struct done_node {
    const cJSON *node;
    char name[16];
} done_node;

typedef struct jsc {
    const cJSON *root;
    sb rules;
    done_node *done;
    size_t n_done, cap_done;
    int counter;
    vkslm_status st;
} jsc;

static bool err(jsc *c, vkslm_status st, const char *fmt, ...) VKSLM_PRINTF(3, 4);
static bool err(jsc *c, vkslm_status st, const char *fmt, ...) {
    if (c->st != VKSLM_OK)
        return false;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = vkslm_fail(st, "json schema: %s", msg);
    return false;
}

static bool in_list(const char *const *list, const char *k) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return true;
    return false;
}

/* A count keyword (absent: def), 0..MAX_COUNT. */
static bool count_kw(jsc *c, const cJSON *s, const char *kw, const char *path, long def, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, kw);
    *out = def;
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return err(c, VKSLM_ERR_INVALID_ARG, "'%s' at %s must be a non-negative integer", kw, path);
    if (v->valuedouble > MAX_COUNT)
        return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' at %s is above %d", kw, path, MAX_COUNT);
    *out = (long)v->valuedouble;
    return true;
}

/* "{m,n}" ({m,} when n < 0), or "" for {1,1}, after an element. */
static void reps(sb *b, long m, long n) {
    if (m == 1 && n == 1)
        return;
    if (n < 0)
        sb_printf(b, "{%ld,}", m);
    else
        sb_printf(b, "{%ld,%ld}", m, n);
}

static bool schema(jsc *c, const cJSON *s, const char *path, int depth, char *name);

/* ---- integers and numbers ------------------------------------------------------------------------ */
/* Decimal strings a <= b of the same length L: the digits between them. */
static void digits_range(sb *b, const char *a, const char *z, size_t L) {
    if (L == 0)
        return;
    if (memcmp(a, z, L) == 0) {
        lit(b, a, L);
        return;
    }
    if (L == 1) {
        sb_printf(b, "[%c-%c]", a[0], z[0]);
        return;
    }
    if (a[0] == z[0]) {
        lit(b, a, 1);
        sb_puts(b, " ( ");
        digits_range(b, a + 1, z + 1, L - 1);
        sb_puts(b, " )");
        return;
    }
    bool a0 = true, z9 = true;
    for (size_t i = 1; i < L; i++) {
        a0 = a0 && a[i] == '0';
        z9 = z9 && z[i] == '9';
    }
    char nines[20], zeros[20];
    memset(nines, '9', sizeof nines);
    memset(zeros, '0', sizeof zeros);
    char lo = (char)(a[0] + (a0 ? 0 : 1)), hi = (char)(z[0] - (z9 ? 0 : 1));
    const char *sep = "";
    sb_puts(b, "( ");
    if (!a0) {
        lit(b, a, 1);
        sb_puts(b, " ( ");
        digits_range(b, a + 1, nines, L - 1);
        sb_puts(b, " )");
        sep = " | ";
    }
    if (lo <= hi) {
        sb_printf(b, "%s[%c-%c] [0-9]{%zu}", sep, lo, hi, L - 1);
        sep = " | ";
    }
    if (!z9) {
        sb_puts(b, sep);
        lit(b, z, 1);
        sb_puts(b, " ( ");
        digits_range(b, zeros, z + 1, L - 1);
        sb_puts(b, " )");
    }
    sb_puts(b, " )");
}

/* The integers lo..hi (hi < 0: no bound) in decimal without leading zeros; 0 <= lo. */
static void nonneg_range(sb *b, long long lo, long long hi) {
    char sl[24], sh[24];
    int ll = snprintf(sl, sizeof sl, "%lld", lo);
    int lh = hi >= 0 ? snprintf(sh, sizeof sh, "%lld", hi) : ll;
    const char *sep = "";
    sb_puts(b, "( ");
    for (int L = ll; L <= lh; L++) {
        char a[24], z[24];
        if (L == ll)
            memcpy(a, sl, (size_t)L);
        else {
            a[0] = '1';
            memset(a + 1, '0', (size_t)L - 1);
        }
        if (hi >= 0 && L == lh)
            memcpy(z, sh, (size_t)L);
        else
            memset(z, '9', (size_t)L);
        sb_puts(b, sep);
        digits_range(b, a, z, (size_t)L);
        sep = " | ";
    }
    if (hi < 0 && ll < 16)
        sb_printf(b, "%s[1-9] [0-9]{%d,15}", sep, ll);
    sb_puts(b, " )");
}

/* Non-negative numbers x with lo <= x <= hi (integers; hi < 0: no bound). */
static void nonneg_number(sb *b, long long lo, long long hi) {
    if (hi < 0) {
        nonneg_range(b, lo, -1);
        sb_puts(b, " frac?");
    } else if (hi > lo) {
        sb_puts(b, "( ");
        nonneg_range(b, lo, hi - 1);
        sb_printf(b, " frac? | \"%lld\" zfrac? )", hi);
    } else
        sb_printf(b, "\"%lld\" zfrac?", lo);
}

static bool bound(jsc *c, const cJSON *s, const char *kw, const char *path, bool integer, bool *has, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, kw);
    *has = x != NULL;
    if (!x)
        return true;
    if (!cJSON_IsNumber(x))
        return err(c, VKSLM_ERR_INVALID_ARG, "'%s' at %s must be a number", kw, path);
    if (fabs(x->valuedouble) > MAX_BOUND)
        return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' at %s is beyond +-1e15", kw, path);
    if (!integer && x->valuedouble != floor(x->valuedouble))
        return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' at %s: a number's bounds must be integers", kw, path);
    *v = x->valuedouble;
    return true;
}

static bool numeric(jsc *c, const cJSON *s, const char *path, bool integer, sb *b) {
    bool hl, hh, hel, heh;
    double lo = 0, hi = 0, elo = 0, ehi = 0;
    if (!bound(c, s, "minimum", path, integer, &hl, &lo) || !bound(c, s, "maximum", path, integer, &hh, &hi) ||
        !bound(c, s, "exclusiveMinimum", path, integer, &hel, &elo) ||
        !bound(c, s, "exclusiveMaximum", path, integer, &heh, &ehi))
        return false;
    if (!integer && (hel || heh))
        return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' at %s: exclusive bounds are supported for integers only",
                   hel ? "exclusiveMinimum" : "exclusiveMaximum", path);
    long long l = hl ? (long long)ceil(lo) : 0, h = hh ? (long long)floor(hi) : 0;
    if (hel) {
        long long e = (long long)floor(elo) + 1;
        l = hl && l > e ? l : e;
        hl = true;
    }
    if (heh) {
        long long e = (long long)ceil(ehi) - 1;
        h = hh && h < e ? h : e;
        hh = true;
    }
    if (!hl && !hh) {
        sb_puts(b, integer ? "integer" : "number");
        return true;
    }
    if (hl && hh && l > h)
        return err(c, VKSLM_ERR_INVALID_ARG, "no %s lies between the bounds at %s", integer ? "integer" : "number",
                   path);
    const char *sep = "";
    sb_puts(b, "( ");
    if (!hh || h >= 0) { /* the non-negative part */
        long long a = hl && l > 0 ? l : 0, z = hh ? h : -1;
        if (integer)
            nonneg_range(b, a, z);
        else
            nonneg_number(b, a, z);
        sep = " | ";
    }
    if (!hl || l < 0) { /* the negative part, as "-" and its magnitude */
        long long a = !hh || h >= 0 ? (integer ? 1 : 0) : -h, z = hl ? -l : -1;
        sb_printf(b, "%s\"-\" ", sep);
        if (integer)
            nonneg_range(b, a, z);
        else
            nonneg_number(b, a, z);
    }
    sb_puts(b, " )");
    return true;
}

/* ---- strings and patterns ------------------------------------------------------------------------ */
typedef struct rx {
    jsc *c;
    const char *s;
    size_t i, end;
    const char *path;
} rx;

static bool rx_err(rx *r, const char *what) {
    return err(r->c, VKSLM_ERR_UNSUPPORTED, "'pattern' at %s: %s (offset %zu of \"%s\"; docs/grammar.md lists the "
               "regex subset)", r->path, what, r->i, r->s);
}

/* One character of a regex literal as JSON string text (escaped where JSON needs it). */
static void rx_char(sb *b, uint32_t cp, const char *utf8, size_t n) {
    if (cp == '"')
        sb_puts(b, "\"\\\\\\\"\"");
    else if (cp == '\\')
        sb_puts(b, "\"\\\\\\\\\"");
    else if (cp == '\n')
        sb_puts(b, "\"\\\\n\"");
    else if (cp == '\t')
        sb_puts(b, "\"\\\\t\"");
    else if (cp == '\r')
        sb_puts(b, "\"\\\\r\"");
    else if (cp < 0x20)
        sb_printf(b, "\"\\\\u%04X\"", cp);
    else
        lit(b, utf8, n);
}

static size_t u8len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

static void class_cp(sb *b, uint32_t cp) {
    if (cp < 0x100)
        sb_printf(b, "\\x%02X", cp);
    else
        sb_printf(b, "\\U%08X", cp);
}

static uint32_t u8cp(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 1)
        return u[0];
    uint32_t v = u[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < n; i++)
        v = (v << 6) | (u[i] & 0x3F);
    return v;
}

static bool rx_alt(rx *r, sb *b, int depth);

/* [...] of the regex: the grammar class (JSON-special characters left out of negated classes). */
static bool rx_class(rx *r, sb *b) {
    r->i++; /* [ */
    bool neg = r->s[r->i] == '^';
    if (neg)
        r->i++;
    sb_puts(b, neg ? "[^" : "[");
    bool first = true;
    while (r->i < r->end && (r->s[r->i] != ']' || first)) {
        first = false;
        uint32_t lo;
        if (r->s[r->i] == '\\') {
            char e = r->s[r->i + 1];
            r->i += 2;
            if (e == 'd') {
                sb_puts(b, "0-9");
                continue;
            }
            if (e == 'w') {
                sb_puts(b, "a-zA-Z0-9_");
                continue;
            }
            if (e == 's' && neg) {
                sb_puts(b, " \\t\\n\\r");
                continue;
            }
            if (!e || isalnum((unsigned char)e))
                return rx_err(r, "an escape in a class other than \\d, \\w or punctuation");
            lo = (uint32_t)e;
        } else {
            size_t n = u8len((unsigned char)r->s[r->i]);
            lo = u8cp(r->s + r->i, n);
            r->i += n;
        }
        uint32_t hi = lo;
        if (r->s[r->i] == '-' && r->i + 1 < r->end && r->s[r->i + 1] != ']') {
            r->i++;
            size_t n = u8len((unsigned char)r->s[r->i]);
            if (r->s[r->i] == '\\') {
                hi = (uint32_t)r->s[r->i + 1];
                r->i += 2;
            } else {
                hi = u8cp(r->s + r->i, n);
                r->i += n;
            }
            if (hi < lo)
                return rx_err(r, "a class range that ends before it starts");
        }
        if (!neg && (lo <= 0x1F || (lo <= '"' && hi >= '"') || (lo <= '\\' && hi >= '\\')))
            return rx_err(r, "a class holding '\"', '\\' or a control character");
        class_cp(b, lo);
        if (hi != lo) {
            sb_puts(b, "-");
            class_cp(b, hi);
        }
    }
    if (r->i >= r->end)
        return rx_err(r, "an unclosed '['");
    r->i++;
    sb_puts(b, neg ? "\"\\\\\\x00-\\x1F]" : "]");
    return true;
}

static bool rx_atom(rx *r, sb *b, int depth) {
    char ch = r->s[r->i];
    if (ch == '(') {
        if (depth > 32)
            return rx_err(r, "groups nested too deep");
        r->i++;
        if (r->s[r->i] == '?') {
            if (r->s[r->i + 1] != ':')
                return rx_err(r, "a (? group other than (?:");
            r->i += 2;
        }
        sb_puts(b, "( ");
        if (!rx_alt(r, b, depth + 1))
            return false;
        if (r->i >= r->end || r->s[r->i] != ')')
            return rx_err(r, "an unclosed '('");
        r->i++;
        sb_puts(b, " )");
        return true;
    }
    if (ch == '[')
        return rx_class(r, b);
    if (ch == '.') {
        r->i++;
        sb_puts(b, "pchar");
        return true;
    }
    if (ch == '^' || ch == '$')
        return rx_err(r, "an anchor (^ or $) inside the pattern (only at its ends)");
    if (ch == '*' || ch == '+' || ch == '?' || ch == '{')
        return rx_err(r, "a quantifier with nothing to repeat");
    if (ch == '\\') {
        char e = r->s[r->i + 1];
        r->i += 2;
        switch (e) {
        case 'd': sb_puts(b, "[0-9]"); return true;
        case 'w': sb_puts(b, "[a-zA-Z0-9_]"); return true;
        case 's': sb_puts(b, "( \" \" | \"\\\\t\" | \"\\\\n\" | \"\\\\r\" )"); return true;
        case 'D': sb_puts(b, "[^0-9\"\\\\\\x00-\\x1F]"); return true;
        case 'W': sb_puts(b, "[^a-zA-Z0-9_\"\\\\\\x00-\\x1F]"); return true;
        case 'S': sb_puts(b, "[^ \"\\\\\\x00-\\x1F]"); return true;
        default: break;
        }
        if (!e || isalnum((unsigned char)e))
            return rx_err(r, "an escape other than \\d \\w \\s \\D \\W \\S or escaped punctuation");
        rx_char(b, (uint32_t)e, &e, 1);
        return true;
    }
    size_t n = u8len((unsigned char)ch);
    rx_char(b, u8cp(r->s + r->i, n), r->s + r->i, n);
    r->i += n;
    return true;
}

static bool rx_count(rx *r, long *v) {
    if (!isdigit((unsigned char)r->s[r->i]))
        return rx_err(r, "a '{' without a count");
    long x = 0;
    while (isdigit((unsigned char)r->s[r->i])) {
        x = x * 10 + (r->s[r->i++] - '0');
        if (x > MAX_COUNT)
            return rx_err(r, "a count above 1000");
    }
    *v = x;
    return true;
}

static bool rx_seq(rx *r, sb *b, int depth) {
    bool any = false;
    while (r->i < r->end && r->s[r->i] != '|' && r->s[r->i] != ')') {
        if (any)
            sb_puts(b, " ");
        any = true;
        if (!rx_atom(r, b, depth))
            return false;
        char q = r->s[r->i];
        if (q == '?' || q == '*' || q == '+') {
            sb_put(b, &q, 1);
            r->i++;
        } else if (q == '{') {
            long m, n;
            r->i++;
            if (!rx_count(r, &m))
                return false;
            n = m;
            if (r->s[r->i] == ',') {
                r->i++;
                n = -1;
                if (r->s[r->i] != '}' && !rx_count(r, &n))
                    return false;
            }
            if (r->s[r->i] != '}')
                return rx_err(r, "an unclosed '{'");
            r->i++;
            if (n >= 0 && n < m)
                return rx_err(r, "a count range that ends before it starts");
            if (n < 0)
                sb_printf(b, "{%ld,}", m);
            else
                sb_printf(b, "{%ld,%ld}", m, n);
        } else
            continue;
        if (r->s[r->i] == '?' || r->s[r->i] == '+' || r->s[r->i] == '*' || r->s[r->i] == '{')
            return rx_err(r, "a lazy, possessive or repeated quantifier");
    }
    if (!any)
        sb_puts(b, "\"\"");
    return true;
}

static bool rx_alt(rx *r, sb *b, int depth) {
    if (!rx_seq(r, b, depth))
        return false;
    while (r->i < r->end && r->s[r->i] == '|') {
        r->i++;
        sb_puts(b, " | ");
        if (!rx_seq(r, b, depth))
            return false;
    }
    return true;
}

static bool string_type(jsc *c, const cJSON *s, const char *path, sb *b) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(s, "pattern");
    long mn, mx;
    if (!count_kw(c, s, "minLength", path, 0, &mn) || !count_kw(c, s, "maxLength", path, -1, &mx))
        return false;
    if (pat) {
        if (!cJSON_IsString(pat))
            return err(c, VKSLM_ERR_INVALID_ARG, "'pattern' at %s must be a string", path);
        if (cJSON_GetObjectItemCaseSensitive(s, "minLength") || cJSON_GetObjectItemCaseSensitive(s, "maxLength"))
            return err(c, VKSLM_ERR_UNSUPPORTED, "'minLength'/'maxLength' beside 'pattern' at %s", path);
        rx r = {c, pat->valuestring, 0, strlen(pat->valuestring), path};
        bool start = r.end && r.s[0] == '^', end = r.end > (size_t)start && r.s[r.end - 1] == '$' &&
                                                   (r.end < 2 || r.s[r.end - 2] != '\\');
        r.i = start;
        r.end -= end;
        sb_puts(b, "\"\\\"\" ");
        if (!start)
            sb_puts(b, "char* ");
        sb_puts(b, "( ");
        if (!rx_alt(&r, b, 0))
            return false;
        if (r.i < r.end)
            return rx_err(&r, "a ')' without its '('");
        sb_puts(b, " ) ");
        if (!end)
            sb_puts(b, "char* ");
        sb_puts(b, "\"\\\"\"");
        return true;
    }
    if (mx >= 0 && mx < mn)
        return err(c, VKSLM_ERR_INVALID_ARG, "'maxLength' below 'minLength' at %s", path);
    sb_puts(b, "\"\\\"\" ");
    if (mx == 0)
        sb_puts(b, "\"\\\"\"");
    else {
        sb_puts(b, "char");
        if (mn == 0 && mx < 0)
            sb_puts(b, "*");
        else
            reps(b, mn, mx);
        sb_puts(b, " \"\\\"\"");
    }
    return true;
}

/* ---- objects and arrays -------------------------------------------------------------------------- */
static bool new_rule_name(jsc *c, char *name) {
    if (++c->counter > MAX_NODES)
        return err(c, VKSLM_ERR_TOO_COMPLEX, "more than %d schema nodes", MAX_NODES);
    snprintf(name, 16, "s%d", c->counter);
    return true;
}

static void def_rule(jsc *c, const char *name, const sb *body) {
    sb_printf(&c->rules, "%s ::= ", name);
    sb_put(&c->rules, body->p ? body->p : "", body->n);
    sb_puts(&c->rules, "\n");
}

static bool object_type(jsc *c, const cJSON *s, const char *path, int depth, sb *b) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    if (props && !cJSON_IsObject(props))
        return err(c, VKSLM_ERR_INVALID_ARG, "'properties' at %s must be an object", path);
    if (req && !cJSON_IsArray(req))
        return err(c, VKSLM_ERR_INVALID_ARG, "'required' at %s must be an array", path);
    if (add && !cJSON_IsBool(add) && !cJSON_IsObject(add))
        return err(c, VKSLM_ERR_INVALID_ARG, "'additionalProperties' at %s must be a boolean or a schema", path);
    size_t n = (size_t)cJSON_GetArraySize(props);
    const cJSON *r;
    cJSON_ArrayForEach(r, req) {
        if (!cJSON_IsString(r))
            return err(c, VKSLM_ERR_INVALID_ARG, "'required' at %s must hold strings", path);
        if (!cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return err(c, VKSLM_ERR_UNSUPPORTED, "'required' at %s names \"%s\", which 'properties' does not list",
                       path, r->valuestring);
    }
    if (n == 0) {
        if (add && cJSON_IsObject(add)) { /* a map: any keys, values of that schema */
            char v[16], sub[300];
            snprintf(sub, sizeof sub, "%s/additionalProperties", path);
            if (!schema(c, add, sub, depth + 1, v))
                return false;
            sb_printf(b, "\"{\" ws ( string ws \":\" ws %s ( ws \",\" ws string ws \":\" ws %s )* ws )? \"}\"", v, v);
        } else if (add && cJSON_IsFalse(add))
            sb_puts(b, "\"{\" ws \"}\"");
        else
            sb_puts(b, "object");
        return true;
    }
    if (add && cJSON_IsObject(add))
        return err(c, VKSLM_ERR_UNSUPPORTED, "'additionalProperties' at %s: a schema beside 'properties'", path);
    /* members in the order of properties; kv_i its key and value, t_i "the rest after one was written",
     * f_i "the first one written is i or later" */
    char (*names)[3][16] = VKSLM_MALLOC(n * sizeof *names);
    bool *required = VKSLM_CALLOC(n, sizeof *required);
    if (!names || !required) {
        VKSLM_FREE(names);
        VKSLM_FREE(required);
        return err(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    bool ok = true, any_required = false;
    size_t i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, props) {
        char sub[300], v[16];
        snprintf(sub, sizeof sub, "%s/properties/%s", path, p->string);
        cJSON_ArrayForEach(r, req) required[i] = required[i] || strcmp(r->valuestring, p->string) == 0;
        any_required = any_required || required[i];
        if (!(ok = schema(c, p, sub, depth + 1, v)))
            break;
        for (int k = 0; k < 3 && ok; k++)
            ok = new_rule_name(c, names[i][k]);
        if (!ok)
            break;
        char *key = NULL;
        cJSON *ks = cJSON_CreateString(p->string);
        if (ks)
            key = cJSON_PrintUnformatted(ks);
        cJSON_Delete(ks);
        if (!key) {
            ok = err(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
            break;
        }
        sb body = {0};
        lit(&body, key, strlen(key));
        cJSON_free(key);
        sb_printf(&body, " ws \":\" ws %s", v);
        def_rule(c, names[i][0], &body);
        VKSLM_FREE(body.p);
        i++;
    }
    for (i = 0; ok && i < n; i++) {
        sb body = {0};
        sb_printf(&body, "( ws \",\" ws %s )%s", names[i][0], required[i] ? "" : "?");
        if (i + 1 < n)
            sb_printf(&body, " %s", names[i + 1][1]);
        def_rule(c, names[i][1], &body);
        body.n = 0;
        sb_printf(&body, "%s", names[i][0]);
        if (i + 1 < n)
            sb_printf(&body, " %s", names[i + 1][1]);
        if (!required[i] && i + 1 < n)
            sb_printf(&body, " | %s", names[i + 1][2]);
        def_rule(c, names[i][2], &body);
        VKSLM_FREE(body.p);
    }
    if (ok)
        sb_printf(b, any_required ? "\"{\" ws %s ws \"}\"" : "\"{\" ws ( %s ws )? \"}\"", names[0][2]);
    VKSLM_FREE(names);
    VKSLM_FREE(required);
    return ok;
}

static bool array_type(jsc *c, const cJSON *s, const char *path, int depth, sb *b) {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    long mn, mx;
    if (!count_kw(c, s, "minItems", path, 0, &mn) || !count_kw(c, s, "maxItems", path, -1, &mx))
        return false;
    if (mx >= 0 && mx < mn)
        return err(c, VKSLM_ERR_INVALID_ARG, "'maxItems' below 'minItems' at %s", path);
    char v[16] = "value";
    if (items) {
        if (cJSON_IsArray(items))
            return err(c, VKSLM_ERR_UNSUPPORTED, "'items' at %s: an array of schemas (tuple form)", path);
        char sub[300];
        snprintf(sub, sizeof sub, "%s/items", path);
        if (!schema(c, items, sub, depth + 1, v))
            return false;
    }
    if (mx == 0)
        sb_puts(b, "\"[\" ws \"]\"");
    else if (mn == 0) {
        sb_printf(b, "\"[\" ws ( %s ( ws \",\" ws %s )", v, v);
        if (mx < 0)
            sb_puts(b, "*");
        else if (mx > 1)
            sb_printf(b, "{0,%ld}", mx - 1);
        else
            sb_puts(b, "{0}");
        sb_puts(b, " ws )? \"]\"");
    } else {
        sb_printf(b, "\"[\" ws %s", v);
        if (mx != 1) {
            sb_printf(b, " ( ws \",\" ws %s )", v);
            if (mx < 0)
                sb_printf(b, "{%ld,}", mn - 1);
            else
                sb_printf(b, "{%ld,%ld}", mn - 1, mx - 1);
        }
        sb_puts(b, " ws \"]\"");
    }
    return true;
}

/* ---- schemas ------------------------------------------------------------------------------------- */
static bool type_matches(const char *t, const cJSON *v) {
    if (strcmp(t, "string") == 0)
        return cJSON_IsString(v);
    if (strcmp(t, "number") == 0)
        return cJSON_IsNumber(v);
    if (strcmp(t, "integer") == 0)
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (strcmp(t, "boolean") == 0)
        return cJSON_IsBool(v);
    if (strcmp(t, "null") == 0)
        return cJSON_IsNull(v);
    if (strcmp(t, "object") == 0)
        return cJSON_IsObject(v);
    if (strcmp(t, "array") == 0)
        return cJSON_IsArray(v);
    return false;
}

static bool type_ok(const cJSON *type, const cJSON *v) {
    if (!type)
        return true;
    if (cJSON_IsString(type))
        return type_matches(type->valuestring, v);
    const cJSON *t;
    cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) && type_matches(t->valuestring, v)) return true;
    return false;
}

static bool one_type(jsc *c, const cJSON *s, const char *t, const char *path, int depth, sb *b) {
    if (strcmp(t, "string") == 0)
        return string_type(c, s, path, b);
    if (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0)
        return numeric(c, s, path, t[0] == 'i', b);
    if (strcmp(t, "boolean") == 0) {
        sb_puts(b, "boolean");
        return true;
    }
    if (strcmp(t, "null") == 0) {
        sb_puts(b, "null");
        return true;
    }
    if (strcmp(t, "object") == 0)
        return object_type(c, s, path, depth, b);
    if (strcmp(t, "array") == 0)
        return array_type(c, s, path, depth, b);
    return err(c, VKSLM_ERR_INVALID_ARG, "unknown type \"%s\" at %s", t, path);
}

/* The rule of a $ref ("#", "#/$defs/NAME", "#/definitions/NAME"). */
static const cJSON *resolve(jsc *c, const char *ref, const char *path) {
    if (strcmp(ref, "#") == 0)
        return c->root;
    const char *kinds[] = {"#/$defs/", "#/definitions/"};
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(kinds[k]);
        if (strncmp(ref, kinds[k], n) == 0 && !strchr(ref + n, '/') && !strchr(ref + n, '~')) {
            const cJSON *defs = cJSON_GetObjectItemCaseSensitive(c->root, k ? "definitions" : "$defs");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(defs, ref + n);
            if (!d)
                err(c, VKSLM_ERR_INVALID_ARG, "'$ref' \"%s\" at %s names no definition", ref, path);
            return d;
        }
    }
    err(c, VKSLM_ERR_UNSUPPORTED, "'$ref' \"%s\" at %s: only \"#\", \"#/$defs/NAME\" and \"#/definitions/NAME\"",
        ref, path);
    return NULL;
}

static bool literal_value(jsc *c, const cJSON *v, sb *b) {
    char *t = cJSON_PrintUnformatted(v);
    if (!t)
        return err(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    lit(b, t, strlen(t));
    cJSON_free(t);
    return true;
}

static bool schema_body(jsc *c, const cJSON *s, const char *path, int depth, sb *b) {
    if (cJSON_IsTrue(s)) {
        sb_puts(b, "value");
        return true;
    }
    if (cJSON_IsFalse(s))
        return err(c, VKSLM_ERR_INVALID_ARG, "the schema at %s is false: nothing matches it", path);
    if (!cJSON_IsObject(s))
        return err(c, VKSLM_ERR_INVALID_ARG, "the schema at %s is not an object or a boolean", path);
    size_t n_kw = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, s) {
        if (in_list(META, k->string))
            continue;
        if (!in_list(KNOWN, k->string))
            return err(c, VKSLM_ERR_UNSUPPORTED, "the keyword '%s' at %s is not supported", k->string, path);
        if ((strcmp(k->string, "$defs") == 0 || strcmp(k->string, "definitions") == 0) && s != c->root)
            return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' at %s: definitions only at the root", k->string, path);
        n_kw += strcmp(k->string, "$defs") != 0 && strcmp(k->string, "definitions") != 0;
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
    if (ref) {
        if (!cJSON_IsString(ref))
            return err(c, VKSLM_ERR_INVALID_ARG, "'$ref' at %s must be a string", path);
        if (n_kw > 1)
            return err(c, VKSLM_ERR_UNSUPPORTED, "'$ref' beside other keywords at %s", path);
        const cJSON *target = resolve(c, ref->valuestring, path);
        char name[16];
        if (!target || !schema(c, target, ref->valuestring, depth + 1, name))
            return false;
        sb_puts(b, name);
        return true;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (type && !cJSON_IsString(type) && !cJSON_IsArray(type))
        return err(c, VKSLM_ERR_INVALID_ARG, "'type' at %s must be a string or an array", path);
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum"), *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (en || cn) {
        if (en && !cJSON_IsArray(en))
            return err(c, VKSLM_ERR_INVALID_ARG, "'enum' at %s must be an array", path);
        const char *sep = "";
        size_t kept = 0;
        sb_puts(b, "( ");
        const cJSON *v;
        if (cn) {
            if (en)
                return err(c, VKSLM_ERR_UNSUPPORTED, "'enum' beside 'const' at %s", path);
            kept += type_ok(type, cn) && literal_value(c, cn, b);
        }
        cJSON_ArrayForEach(v, en) {
            if (!type_ok(type, v))
                continue;
            sb_puts(b, sep);
            if (!literal_value(c, v, b))
                return false;
            sep = " | ";
            kept++;
        }
        if (c->st != VKSLM_OK)
            return false;
        if (kept == 0)
            return err(c, VKSLM_ERR_INVALID_ARG, "no value of 'enum'/'const' at %s has the schema's type", path);
        sb_puts(b, " )");
        return true;
    }
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf"), *one = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
    if (any || one) {
        const char *kw = any ? "anyOf" : "oneOf";
        const cJSON *list = any ? any : one;
        if (n_kw > 1)
            return err(c, VKSLM_ERR_UNSUPPORTED, "'%s' beside other keywords at %s", kw, path);
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
            return err(c, VKSLM_ERR_INVALID_ARG, "'%s' at %s must be a non-empty array", kw, path);
        const cJSON *sub;
        int i = 0;
        sb_puts(b, "( ");
        cJSON_ArrayForEach(sub, list) {
            char name[16], p2[300];
            snprintf(p2, sizeof p2, "%s/%s/%d", path, kw, i);
            if (!schema(c, sub, p2, depth + 1, name))
                return false;
            sb_printf(b, "%s%s", i++ ? " | " : "", name);
        }
        sb_puts(b, " )");
        return true;
    }
    if (!type) { /* the type the keywords imply, or any value */
        static const char *const implies[][2] = {
            {"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"},
            {"items", "array"}, {"minItems", "array"}, {"maxItems", "array"}, {"minLength", "string"},
            {"maxLength", "string"}, {"pattern", "string"}, {"minimum", "number"}, {"maximum", "number"},
            {"exclusiveMinimum", "number"}, {"exclusiveMaximum", "number"}};
        const char *t = NULL;
        for (size_t i = 0; i < sizeof implies / sizeof implies[0]; i++)
            if (cJSON_GetObjectItemCaseSensitive(s, implies[i][0])) {
                if (t && strcmp(t, implies[i][1]) != 0)
                    return err(c, VKSLM_ERR_UNSUPPORTED, "keywords of several types without 'type' at %s", path);
                t = implies[i][1];
            }
        if (!t) {
            sb_puts(b, "value");
            return true;
        }
        return one_type(c, s, t, path, depth, b);
    }
    if (cJSON_IsString(type))
        return one_type(c, s, type->valuestring, path, depth, b);
    const cJSON *t;
    int i = 0;
    if (cJSON_GetArraySize(type) == 0)
        return err(c, VKSLM_ERR_INVALID_ARG, "'type' at %s is an empty array", path);
    sb_puts(b, "( ");
    cJSON_ArrayForEach(t, type) {
        if (!cJSON_IsString(t))
            return err(c, VKSLM_ERR_INVALID_ARG, "'type' at %s must hold strings", path);
        sb_puts(b, i++ ? " | " : "");
        if (!one_type(c, s, t->valuestring, path, depth, b))
            return false;
    }
    sb_puts(b, " )");
    return true;
}

/* Compiles schema s (once: a node reached again, by $ref, reuses its rule) into a rule; *name gets it. */
static bool schema(jsc *c, const cJSON *s, const char *path, int depth, char *name) {
    if (c->st != VKSLM_OK)
        return false;
    for (size_t i = 0; i < c->n_done; i++)
        if (c->done[i].node == s) {
            memcpy(name, c->done[i].name, 16);
            return true;
        }
    if (depth > MAX_DEPTH)
        return err(c, VKSLM_ERR_TOO_COMPLEX, "schemas nested deeper than %d at %s", MAX_DEPTH, path);
    if (!new_rule_name(c, name))
        return false;
    if (vkslm_grow((void **)&c->done, &c->cap_done, c->n_done + 1, sizeof *c->done) != VKSLM_OK)
        return err(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    c->done[c->n_done].node = s;
    memcpy(c->done[c->n_done++].name, name, 16);
    sb body = {0};
    bool ok = schema_body(c, s, path, depth, &body);
    if (ok)
        def_rule(c, name, &body);
    ok = ok && !body.oom;
    VKSLM_FREE(body.p);
    return ok;
}

vkslm_status vkslm_json_schema_to_grammar(const char *text, size_t len, char **out) {
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "json schema: NULL out");
    *out = NULL;
    if (!text)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "json schema: NULL schema");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "json schema: not JSON (near byte %zu)", at);
    }
    jsc c;
    memset(&c, 0, sizeof c);
    c.root = root;
    char name[16];
    if (schema(&c, root, "#", 0, name)) {
        sb_printf(&c.rules, "root ::= %s\n", name);
        sb_puts(&c.rules, BASE);
        if (c.rules.oom)
            c.st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "json schema: out of host memory");
    }
    cJSON_Delete(root);
    VKSLM_FREE(c.done);
    if (c.st != VKSLM_OK) {
        VKSLM_FREE(c.rules.p);
        return c.st;
    }
    *out = c.rules.p;
    return VKSLM_OK;
}
