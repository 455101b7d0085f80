/* The grammar syntax of docs/grammar.md, parsed into rules of elements (grammar.h). Groups and repetitions
 * become rules of their own, as in llama.cpp's GBNF: x* is R ::= x R | (empty), x{m,n} is m copies of x then
 * n - m nested optional rules, so that matching needs only classes, references and alternatives. Whitespace
 * (newlines included) and # comments separate anything; a rule ends where the next "name ::=" begins. */
#include "engine/runtime/grammar.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define MAX_REPEAT 10000          /* the largest count in {m,n} */
#define MAX_ELEMENTS (1u << 22)   /* elements of all rules together */
#define MAX_DEPTH 200             /* nested groups */

typedef struct prule {
    vkslm_gel *el;
    size_t n, cap;
    const char *name; /* into the text; NULL for a group or repetition */
    size_t name_len;
    size_t pos;       /* where it was defined (or first referenced, while undefined) */
    bool defined;
} prule;

typedef struct gp {
    const char *src;
    size_t pos;
    prule *rules;
    size_t n_rules, cap_rules;
    vkslm_grange *ranges;
    size_t n_ranges, cap_ranges;
    vkslm_gclass *classes;
    size_t n_classes, cap_classes;
    size_t total_el;
    vkslm_status st;
} gp;

static vkslm_status gp_err(gp *p, size_t at, const char *fmt, ...) VKSLM_PRINTF(3, 4);
static vkslm_status gp_err(gp *p, size_t at, const char *fmt, ...) {
    if (p->st != VKSLM_OK)
        return p->st;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && p->src[i]; i++) {
        if (p->src[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)p->src[i] & 0xC0) != 0x80)
            col++;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar %zu:%zu: %s", line, col, msg);
    return p->st;
}

static bool oom(gp *p, vkslm_status s) {
    if (s != VKSLM_OK && p->st == VKSLM_OK)
        p->st = s;
    return s != VKSLM_OK;
}

static bool emit(gp *p, uint32_t r, uint32_t type, uint32_t val) {
    if (p->st != VKSLM_OK)
        return false;
    if (++p->total_el > MAX_ELEMENTS) {
        gp_err(p, p->pos, "the grammar grows past %u elements (repetition counts too large)", MAX_ELEMENTS);
        return false;
    }
    prule *pr = &p->rules[r];
    if (oom(p, vkslm_grow((void **)&pr->el, &pr->cap, pr->n + 1, sizeof *pr->el)))
        return false;
    pr->el[pr->n++] = (vkslm_gel){type, val};
    return true;
}

static int64_t new_rule(gp *p, const char *name, size_t len, size_t pos) {
    if (oom(p, vkslm_grow((void **)&p->rules, &p->cap_rules, p->n_rules + 1, sizeof *p->rules)))
        return -1;
    p->rules[p->n_rules] = (prule){NULL, 0, 0, name, len, pos, name == NULL};
    return (int64_t)p->n_rules++;
}

static int64_t find_rule(gp *p, const char *name, size_t len) {
    for (size_t i = 0; i < p->n_rules; i++)
        if (p->rules[i].name && p->rules[i].name_len == len && memcmp(p->rules[i].name, name, len) == 0)
            return (int64_t)i;
    return -1;
}

static int64_t add_class(gp *p, const vkslm_grange *r, size_t n, bool negated) {
    if (oom(p, vkslm_grow((void **)&p->ranges, &p->cap_ranges, p->n_ranges + n, sizeof *p->ranges)) ||
        oom(p, vkslm_grow((void **)&p->classes, &p->cap_classes, p->n_classes + 1, sizeof *p->classes)))
        return -1;
    if (n)
        memcpy(p->ranges + p->n_ranges, r, n * sizeof *r);
    p->classes[p->n_classes] = (vkslm_gclass){(uint32_t)p->n_ranges, (uint32_t)n, negated};
    p->n_ranges += n;
    return (int64_t)p->n_classes++;
}

static bool emit_char(gp *p, uint32_t r, uint32_t cp) {
    vkslm_grange one = {cp, cp};
    int64_t c = add_class(p, &one, 1, false);
    return c >= 0 && emit(p, r, VKSLM_GEL_CLASS, (uint32_t)c);
}

/* ---- lexing -------------------------------------------------------------------------------------- */
static void skip_space(gp *p) {
    for (;;) {
        char c = p->src[p->pos];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            p->pos++;
        else if (c == '#')
            while (p->src[p->pos] && p->src[p->pos] != '\n')
                p->pos++;
        else
            return;
    }
}

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* True when a name followed by "::=" starts at pos (the next rule's definition). */
static bool at_definition(const gp *p, size_t pos) {
    size_t i = pos;
    while (is_name_char(p->src[i]))
        i++;
    if (i == pos)
        return false;
    while (p->src[i] == ' ' || p->src[i] == '\t')
        i++;
    return strncmp(p->src + i, "::=", 3) == 0;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one UTF-8 character of s; its length, or 0 when ill-formed. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp) {
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* One character of a literal or class (an escape or a UTF-8 character) into *cp. */
static bool parse_char(gp *p, uint32_t *cp) {
    size_t at = p->pos;
    const char *s = p->src + p->pos;
    if (*s == 0)
        return gp_err(p, at, "unexpected end of the grammar"), false;
    if (*s != '\\') {
        size_t n = utf8_decode((const unsigned char *)s, cp);
        if (n == 0)
            return gp_err(p, at, "not UTF-8"), false;
        p->pos += n;
        return true;
    }
    char e = s[1];
    p->pos += 2;
    int digits = 0;
    switch (e) {
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 't': *cp = '\t'; return true;
    case '0': *cp = 0; return true;
    case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/': case '.': *cp = (uint32_t)e; return true;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default:
        return gp_err(p, at, "unknown escape '\\%c'", e ? e : '0'), false;
    }
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int h = hex_val(p->src[p->pos]);
        if (h < 0)
            return gp_err(p, at, "'\\%c' needs %d hexadecimal digits", e, digits), false;
        v = v * 16 + (uint32_t)h;
        p->pos++;
    }
    if (v > 0x10FFFF)
        return gp_err(p, at, "code point U+%X is beyond U+10FFFF", v), false;
    *cp = v;
    return true;
}

static bool parse_count(gp *p, uint32_t *v) {
    size_t at = p->pos;
    uint64_t x = 0;
    if (p->src[p->pos] < '0' || p->src[p->pos] > '9')
        return gp_err(p, at, "expected a number"), false;
    while (p->src[p->pos] >= '0' && p->src[p->pos] <= '9') {
        x = x * 10 + (uint64_t)(p->src[p->pos++] - '0');
        if (x > MAX_REPEAT)
            return gp_err(p, at, "a repetition count above %d", MAX_REPEAT), false;
    }
    *v = (uint32_t)x;
    return true;
}

/* ---- rules --------------------------------------------------------------------------------------- */
static bool parse_alts(gp *p, uint32_t r, int depth);

/* Replaces the symbol el[sym..n) of rule r by its repetition {min, max} (max UINT32_MAX: no bound). */
static bool repeat(gp *p, uint32_t r, size_t sym, uint32_t min, uint32_t max, size_t at) {
    size_t n = p->rules[r].n - sym;
    vkslm_gel *copy = VKSLM_MALLOC((n ? n : 1) * sizeof *copy);
    if (!copy)
        return oom(p, vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory")), false;
    if (n)
        memcpy(copy, p->rules[r].el + sym, n * sizeof *copy);
    p->rules[r].n = sym;
    p->total_el -= n;
    bool ok = true;
    for (uint32_t k = 0; ok && k < min; k++)
        for (size_t i = 0; ok && i < n; i++)
            ok = emit(p, r, copy[i].type, copy[i].val);
    if (ok && max == UINT32_MAX) { /* R ::= x R | (empty) */
        int64_t rr = new_rule(p, NULL, 0, at);
        ok = rr >= 0;
        for (size_t i = 0; ok && i < n; i++)
            ok = emit(p, (uint32_t)rr, copy[i].type, copy[i].val);
        ok = ok && emit(p, (uint32_t)rr, VKSLM_GEL_REF, (uint32_t)rr) && emit(p, (uint32_t)rr, VKSLM_GEL_ALT, 0) &&
             emit(p, (uint32_t)rr, VKSLM_GEL_END, 0) && emit(p, r, VKSLM_GEL_REF, (uint32_t)rr);
    } else if (ok && max > min) { /* R1 ::= x R2 | (empty), ..., Rk ::= x | (empty), innermost first */
        int64_t inner = -1;
        for (uint32_t k = 0; ok && k < max - min; k++) {
            int64_t rr = new_rule(p, NULL, 0, at);
            ok = rr >= 0;
            for (size_t i = 0; ok && i < n; i++)
                ok = emit(p, (uint32_t)rr, copy[i].type, copy[i].val);
            if (ok && inner >= 0)
                ok = emit(p, (uint32_t)rr, VKSLM_GEL_REF, (uint32_t)inner);
            ok = ok && emit(p, (uint32_t)rr, VKSLM_GEL_ALT, 0) && emit(p, (uint32_t)rr, VKSLM_GEL_END, 0);
            inner = rr;
        }
        ok = ok && emit(p, r, VKSLM_GEL_REF, (uint32_t)inner);
    }
    VKSLM_FREE(copy);
    return ok;
}

static bool parse_class(gp *p, uint32_t r) {
    size_t at = p->pos;
    p->pos++; /* [ */
    bool neg = p->src[p->pos] == '^';
    if (neg)
        p->pos++;
    vkslm_grange *rg = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    while (ok && p->src[p->pos] != ']') {
        if (p->src[p->pos] == 0) {
            gp_err(p, at, "unterminated character class");
            ok = false;
            break;
        }
        uint32_t lo, hi;
        ok = parse_char(p, &lo);
        hi = lo;
        if (ok && p->src[p->pos] == '-' && p->src[p->pos + 1] != ']') {
            p->pos++;
            ok = parse_char(p, &hi);
            if (ok && hi < lo) {
                gp_err(p, at, "a range of a class ends before it starts (U+%04X-U+%04X)", lo, hi);
                ok = false;
            }
        }
        if (ok && oom(p, vkslm_grow((void **)&rg, &cap, n + 1, sizeof *rg)))
            ok = false;
        if (ok)
            rg[n++] = (vkslm_grange){lo, hi};
    }
    if (ok) {
        p->pos++; /* ] */
        int64_t c = add_class(p, rg, n, neg);
        ok = c >= 0 && emit(p, r, VKSLM_GEL_CLASS, (uint32_t)c);
    }
    VKSLM_FREE(rg);
    return ok;
}

/* One sequence of rule r, up to '|', ')', the end or the next definition. */
static bool parse_seq(gp *p, uint32_t r, int depth) {
    for (;;) {
        skip_space(p);
        char c = p->src[p->pos];
        if (c == 0 || c == '|' || c == ')')
            return true;
        if (depth == 0 && at_definition(p, p->pos))
            return true;
        size_t sym = p->rules[r].n, at = p->pos;
        if (c == '"') {
            p->pos++;
            while (p->src[p->pos] != '"') {
                uint32_t cp;
                if (p->src[p->pos] == 0 || p->src[p->pos] == '\n')
                    return gp_err(p, at, "unterminated string"), false;
                if (!parse_char(p, &cp) || !emit_char(p, r, cp))
                    return false;
            }
            p->pos++;
        } else if (c == '[') {
            if (!parse_class(p, r))
                return false;
        } else if (c == '.') {
            p->pos++;
            int64_t any = add_class(p, NULL, 0, true);
            if (any < 0 || !emit(p, r, VKSLM_GEL_CLASS, (uint32_t)any))
                return false;
        } else if (c == '(') {
            if (depth >= MAX_DEPTH)
                return gp_err(p, at, "groups nested deeper than %d", MAX_DEPTH), false;
            p->pos++;
            int64_t g = new_rule(p, NULL, 0, at);
            if (g < 0 || !parse_alts(p, (uint32_t)g, depth + 1))
                return false;
            skip_space(p);
            if (p->src[p->pos] != ')')
                return gp_err(p, at, "'(' without its ')'"), false;
            p->pos++;
            if (!emit(p, (uint32_t)g, VKSLM_GEL_END, 0) || !emit(p, r, VKSLM_GEL_REF, (uint32_t)g))
                return false;
        } else if (is_name_char(c)) {
            if (at_definition(p, p->pos))
                return gp_err(p, at, "a rule definition inside a group (missing ')'?)"), false;
            size_t len = 0;
            while (is_name_char(p->src[p->pos + len]))
                len++;
            int64_t ref = find_rule(p, p->src + p->pos, len);
            if (ref < 0) {
                ref = new_rule(p, p->src + p->pos, len, at);
                if (ref < 0)
                    return false;
                p->rules[ref].defined = false;
            }
            p->pos += len;
            if (!emit(p, r, VKSLM_GEL_REF, (uint32_t)ref))
                return false;
        } else
            return gp_err(p, at, "unexpected '%c'", c), false;

        /* a postfix operator (one: x** or x?{2} need a group) */
        for (int n_ops = 0;; n_ops++) {
            size_t save = p->pos;
            skip_space(p);
            char q = p->src[p->pos];
            size_t qat = p->pos;
            uint32_t min, max;
            if (q == '?' || q == '*' || q == '+') {
                p->pos++;
                min = q == '+' ? 1 : 0;
                max = q == '?' ? 1 : UINT32_MAX;
            } else if (q == '{') {
                p->pos++;
                skip_space(p);
                if (!parse_count(p, &min))
                    return false;
                skip_space(p);
                max = min;
                if (p->src[p->pos] == ',') {
                    p->pos++;
                    skip_space(p);
                    max = UINT32_MAX;
                    if (p->src[p->pos] != '}' && !parse_count(p, &max))
                        return false;
                    skip_space(p);
                }
                if (p->src[p->pos] != '}')
                    return gp_err(p, qat, "'{' without its '}'"), false;
                p->pos++;
                if (max < min)
                    return gp_err(p, qat, "{%u,%u}: the largest count is below the smallest", min, max), false;
            } else {
                p->pos = save;
                break;
            }
            if (n_ops > 0)
                return gp_err(p, qat, "two operators in a row; put the first in a group"), false;
            if (!repeat(p, r, sym, min, max, qat))
                return false;
        }
    }
}

static bool parse_alts(gp *p, uint32_t r, int depth) {
    if (!parse_seq(p, r, depth))
        return false;
    while (p->src[p->pos] == '|') {
        p->pos++;
        if (!emit(p, r, VKSLM_GEL_ALT, 0) || !parse_seq(p, r, depth))
            return false;
    }
    return true;
}

/* ---- checks -------------------------------------------------------------------------------------- */
/* A rule's name for messages. */
static void rule_label(const gp *p, uint32_t r, char *buf, size_t cap) {
    if (p->rules[r].name)
        snprintf(buf, cap, "rule '%.*s'", (int)(p->rules[r].name_len > 60 ? 60 : p->rules[r].name_len),
                 p->rules[r].name);
    else
        snprintf(buf, cap, "the group or repetition");
}

typedef struct lr_ctx {
    gp *p;
    const bool *nullable;
    uint8_t *color; /* 0 new, 1 on the path, 2 done */
} lr_ctx;

/* Depth-first over "can begin with": a rule reaching one on the path is left-recursive. */
static bool lr_visit(lr_ctx *c, uint32_t r) {
    c->color[r] = 1;
    const prule *pr = &c->p->rules[r];
    bool lead = true; /* at the start of an alternative, or after nullable references only */
    for (size_t i = 0; i < pr->n; i++) {
        vkslm_gel e = pr->el[i];
        if (e.type == VKSLM_GEL_ALT || e.type == VKSLM_GEL_END) {
            lead = true;
            continue;
        }
        if (!lead)
            continue;
        if (e.type == VKSLM_GEL_CLASS) {
            lead = false;
            continue;
        }
        if (c->color[e.val] == 1) {
            char a[96];
            rule_label(c->p, e.val, a, sizeof a);
            gp_err(c->p, c->p->rules[e.val].pos, "%s is left-recursive (it can reach itself before matching a "
                   "character); rewrite it with repetition", a);
            return false;
        }
        if (c->color[e.val] == 0 && !lr_visit(c, e.val))
            return false;
        lead = c->nullable[e.val];
    }
    c->color[r] = 2;
    return true;
}

static bool check(gp *p) {
    for (size_t r = 0; r < p->n_rules; r++)
        if (!p->rules[r].defined) {
            gp_err(p, p->rules[r].pos, "undefined rule '%.*s'", (int)p->rules[r].name_len, p->rules[r].name);
            return false;
        }
    bool *nullable = VKSLM_CALLOC(p->n_rules, sizeof *nullable);
    uint8_t *color = VKSLM_CALLOC(p->n_rules, 1);
    if (!nullable || !color) {
        VKSLM_FREE(nullable);
        VKSLM_FREE(color);
        return !oom(p, vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory"));
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < p->n_rules; r++) {
            if (nullable[r])
                continue;
            bool all = true;
            for (size_t i = 0; i < p->rules[r].n; i++) {
                vkslm_gel e = p->rules[r].el[i];
                if (e.type == VKSLM_GEL_ALT || e.type == VKSLM_GEL_END) {
                    if (all) {
                        nullable[r] = changed = true;
                        break;
                    }
                    all = true;
                } else if (e.type == VKSLM_GEL_CLASS || !nullable[e.val])
                    all = false;
            }
        }
    }
    lr_ctx c = {p, nullable, color};
    bool ok = true;
    for (size_t r = 0; ok && r < p->n_rules; r++)
        if (color[r] == 0)
            ok = lr_visit(&c, (uint32_t)r);
    VKSLM_FREE(nullable);
    VKSLM_FREE(color);
    return ok;
}

/* ---- the result ---------------------------------------------------------------------------------- */
static vkslm_status flatten(gp *p, uint32_t root, vkslm_grammar **out) {
    vkslm_grammar *g = VKSLM_CALLOC(1, sizeof *g);
    size_t n_alts = 0;
    for (size_t r = 0; r < p->n_rules; r++)
        for (size_t i = 0; i < p->rules[r].n; i++)
            n_alts += p->rules[r].el[i].type != VKSLM_GEL_REF && p->rules[r].el[i].type != VKSLM_GEL_CLASS;
    if (g) {
        g->el = VKSLM_MALLOC((p->total_el + 1) * sizeof *g->el);
        g->alt_first = VKSLM_MALLOC((p->n_rules + 1) * sizeof *g->alt_first);
        g->alts = VKSLM_MALLOC((n_alts + 1) * sizeof *g->alts);
    }
    if (!g || !g->el || !g->alt_first || !g->alts) {
        vkslm_grammar_free(g);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "grammar: out of host memory");
    }
    size_t at = 0, a = 0;
    for (size_t r = 0; r < p->n_rules; r++) {
        g->alt_first[r] = (uint32_t)a;
        g->alts[a++] = (uint32_t)at;
        for (size_t i = 0; i < p->rules[r].n; i++) {
            g->el[at++] = p->rules[r].el[i];
            if (p->rules[r].el[i].type == VKSLM_GEL_ALT)
                g->alts[a++] = (uint32_t)at;
        }
    }
    g->alt_first[p->n_rules] = (uint32_t)a;
    g->n_el = at;
    g->n_rules = p->n_rules;
    g->ranges = p->ranges;
    g->n_ranges = p->n_ranges;
    g->classes = p->classes;
    g->n_classes = p->n_classes;
    p->ranges = NULL;
    p->classes = NULL;
    g->root = root;
    *out = g;
    return VKSLM_OK;
}

vkslm_status vkslm_grammar_parse(const char *text, const char *root, vkslm_grammar **out) {
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: NULL out");
    *out = NULL;
    if (!text)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "grammar: NULL text");
    if (!root)
        root = "root";
    gp p;
    memset(&p, 0, sizeof p);
    p.src = text;
    skip_space(&p);
    while (p.st == VKSLM_OK && text[p.pos]) {
        size_t at = p.pos, len = 0;
        while (is_name_char(text[p.pos + len]))
            len++;
        if (len == 0 || !at_definition(&p, at)) {
            gp_err(&p, at, "expected a rule definition (name ::= ...)");
            break;
        }
        int64_t r = find_rule(&p, text + at, len);
        if (r >= 0 && p.rules[r].defined) {
            gp_err(&p, at, "rule '%.*s' is defined twice", (int)len, text + at);
            break;
        }
        if (r < 0)
            r = new_rule(&p, text + at, len, at);
        if (r < 0)
            break;
        p.rules[r].defined = true;
        p.rules[r].pos = at;
        p.pos += len;
        while (text[p.pos] == ' ' || text[p.pos] == '\t')
            p.pos++;
        p.pos += 3; /* ::= */
        if (!parse_alts(&p, (uint32_t)r, 0) || !emit(&p, (uint32_t)r, VKSLM_GEL_END, 0))
            break;
        if (text[p.pos] == ')') {
            gp_err(&p, p.pos, "')' without its '('");
            break;
        }
        skip_space(&p);
    }
    int64_t root_rule = -1;
    if (p.st == VKSLM_OK) {
        root_rule = find_rule(&p, root, strlen(root));
        if (root_rule < 0 || !p.rules[root_rule].defined)
            gp_err(&p, p.pos, "no rule '%s' (the start rule)", root);
    }
    if (p.st == VKSLM_OK)
        check(&p);
    vkslm_status st = p.st;
    if (st == VKSLM_OK)
        st = flatten(&p, (uint32_t)root_rule, out);
    for (size_t r = 0; r < p.n_rules; r++)
        VKSLM_FREE(p.rules[r].el);
    VKSLM_FREE(p.rules);
    VKSLM_FREE(p.ranges);
    VKSLM_FREE(p.classes);
    return st;
}

void vkslm_grammar_free(vkslm_grammar *g) {
    if (!g)
        return;
    VKSLM_FREE(g->el);
    VKSLM_FREE(g->ranges);
    VKSLM_FREE(g->classes);
    VKSLM_FREE(g->alt_first);
    VKSLM_FREE(g->alts);
    VKSLM_FREE(g);
}

bool vkslm_gclass_has(const vkslm_grammar *g, uint32_t c, uint32_t cp) {
    const vkslm_gclass *k = &g->classes[c];
    const vkslm_grange *r = g->ranges + k->first;
    bool in = false;
    for (uint32_t i = 0; i < k->n && !in; i++)
        in = cp >= r[i].lo && cp <= r[i].hi;
    return in != k->negated;
}
