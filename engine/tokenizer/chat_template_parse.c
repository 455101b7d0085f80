/* Chat-template parser: tokens -> syntax tree, following Jinja2's grammar and operator precedence:
 *   a if c else b  <  or  <  and  <  not  <  == != < > <= >= in, not in  <  + -  <  ~  <  * / // %  <  **
 *   <  unary -  <  primary, postfix (.attr [index] [a:b] (call)), then filters (|f) and tests (is t).
 * Statements: if/elif/else/endif, for/else/endfor (with a trailing `if` filter and tuple targets),
 * set (name, namespace attribute, tuple, block form), break, continue, generation/endgeneration.
 *
 * Depth: the parser's own recursion is bounded by ct_enter (parentheses, nested lists, unary operators,
 * not, nested statements), and every node it builds is sealed (ct_seal) with its height, which must stay
 * within VKSLM_CHAT_MAX_DEPTH: a left-deep chain built by a loop (a + b + c, x|f|g, x[0][0], a.b.c,
 * a and b and c, x if c else y if d else z) is as high as it is long, so the evaluator, which recurses
 * along the tree, is bounded whatever the template. An elif chain is a loop in the evaluator and counts
 * as one level. */
#include <stdio.h>
#include <string.h>

#include "engine/tokenizer/chat_template_internal.h"

typedef struct ct_vec {
    ct_node **v;
    size_t n, cap;
} ct_vec;

static void ct_vec_push(ct_ctx *c, ct_vec *v, ct_node *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        ct_node **p = vkslm_ct_alloc(c, cap * sizeof *p);
        if (v->n)
            memcpy(p, v->v, v->n * sizeof *p);
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static const ct_tok *ct_peek(ct_ctx *c) { return &c->toks[c->pos]; }
static const ct_tok *ct_peek2(ct_ctx *c) { return c->pos + 1 < c->n_toks ? &c->toks[c->pos + 1] : &c->toks[c->pos]; }
static const ct_tok *ct_next(ct_ctx *c) {
    const ct_tok *t = &c->toks[c->pos];
    if (t->kind != CT_TOK_EOF)
        c->pos++;
    return t;
}

static bool ct_is_op(const ct_tok *t, const char *op) { return t->kind == CT_TOK_OP && vkslm_ct_str_eq(t->s, op); }
static bool ct_is_name(const ct_tok *t, const char *name) { return t->kind == CT_TOK_NAME && vkslm_ct_str_eq(t->s, name); }

static const char *ct_tok_desc(const ct_tok *t, char *buf, size_t cap) {
    switch (t->kind) {
    case CT_TOK_TEXT: return "template text";
    case CT_TOK_VAR_BEGIN: return "'{{'";
    case CT_TOK_VAR_END: return "'}}'";
    case CT_TOK_BLOCK_BEGIN: return "'{%'";
    case CT_TOK_BLOCK_END: return "'%}'";
    case CT_TOK_STRING: return "a string";
    case CT_TOK_INT:
    case CT_TOK_FLOAT: return "a number";
    case CT_TOK_EOF: return "the end of the template";
    case CT_TOK_NAME:
    case CT_TOK_OP: snprintf(buf, cap, "'%.*s'", (int)(t->s.n > 40 ? 40 : t->s.n), t->s.s); return buf;
    }
    return "?";
}

_Noreturn static void ct_unexpected(ct_ctx *c, const ct_tok *t, const char *expected) {
    char buf[64];
    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, t->off, "expected %s, found %s", expected, ct_tok_desc(t, buf, sizeof buf));
}

static void ct_expect_op(ct_ctx *c, const char *op) {
    const ct_tok *t = ct_next(c);
    if (!ct_is_op(t, op)) {
        char want[16];
        snprintf(want, sizeof want, "'%s'", op);
        ct_unexpected(c, t, want);
    }
}

static ct_str ct_expect_name(ct_ctx *c) {
    const ct_tok *t = ct_next(c);
    if (t->kind != CT_TOK_NAME)
        ct_unexpected(c, t, "a name");
    return t->s;
}

static void ct_expect_kind(ct_ctx *c, ct_tok_kind kind, const char *what) {
    const ct_tok *t = ct_next(c);
    if (t->kind != kind)
        ct_unexpected(c, t, what);
}

static ct_node *ct_new(ct_ctx *c, ct_node_kind kind, uint32_t off) {
    ct_node *n = vkslm_ct_alloc(c, sizeof *n);
    n->kind = kind;
    n->off = off;
    n->height = 1; /* a leaf until ct_seal */
    return n;
}

static void ct_enter(ct_ctx *c, uint32_t off) {
    if (++c->depth > VKSLM_CHAT_MAX_DEPTH)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, off, "nested deeper than %d levels", VKSLM_CHAT_MAX_DEPTH);
}

static int ct_height(const ct_node *n) { return n ? n->height : 0; }

/* Sets n's height, 1 + its highest child's, once its children are in place; refuses a tree higher than
 * VKSLM_CHAT_MAX_DEPTH. Returns n. */
static ct_node *ct_seal(ct_ctx *c, ct_node *n) {
    int h = ct_height(n->a);
    if (ct_height(n->b) > h)
        h = ct_height(n->b);
    if (ct_height(n->c) > h)
        h = ct_height(n->c);
    for (size_t i = 0; i < n->n; i++)
        if (ct_height(n->list[i]) > h)
            h = ct_height(n->list[i]);
    for (size_t i = 0; i < n->n2; i++) {
        int x = ct_height(n->list2[i]);
        if (n->list2[i] && n->list2[i]->elif)
            x--; /* the evaluator walks an elif chain in a loop */
        if (x > h)
            h = x;
    }
    n->height = h + 1;
    if (n->height > VKSLM_CHAT_MAX_DEPTH)
        vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, n->off,
                "nested deeper than %d levels (each link of a chain such as a + b + c, x|f|g or x[0][0] is a level)",
                VKSLM_CHAT_MAX_DEPTH);
    return n;
}

/* ---- expressions ------------------------------------------------------------------------------ */
static ct_node *ct_parse_expr(ct_ctx *c, bool condexpr);
static ct_node *ct_parse_or(ct_ctx *c);
static ct_node *ct_parse_unary(ct_ctx *c, bool with_filter);

/* (args) after the '(' was consumed: positional in n->list, keyword in n->names / n->list2 */
static void ct_parse_args(ct_ctx *c, ct_node *n) {
    ct_vec pos = {0}, kw = {0};
    ct_str names[32];
    size_t n_names = 0;
    while (!ct_is_op(ct_peek(c), ")")) {
        if (ct_peek(c)->kind == CT_TOK_NAME && ct_is_op(ct_peek2(c), "=")) {
            if (n_names == 32)
                vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, ct_peek(c)->off, "more than 32 keyword arguments");
            names[n_names++] = ct_next(c)->s;
            ct_next(c);
            ct_vec_push(c, &kw, ct_parse_expr(c, true));
        } else {
            if (ct_is_op(ct_peek(c), "*") || ct_is_op(ct_peek(c), "**"))
                vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, ct_peek(c)->off, "*args and **kwargs are not supported");
            if (kw.n)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, ct_peek(c)->off, "a positional argument follows a keyword argument");
            ct_vec_push(c, &pos, ct_parse_expr(c, true));
        }
        if (!ct_is_op(ct_peek(c), ","))
            break;
        ct_next(c);
    }
    ct_expect_op(c, ")");
    n->list = pos.v;
    n->n = pos.n;
    n->list2 = kw.v;
    n->n2 = kw.n;
    if (n_names) {
        n->names = vkslm_ct_alloc(c, n_names * sizeof *n->names);
        memcpy(n->names, names, n_names * sizeof *names);
    }
    n->n_names = n_names;
}

static ct_node *ct_parse_primary(ct_ctx *c) {
    const ct_tok *t = ct_next(c);
    ct_node *n;
    switch (t->kind) {
    case CT_TOK_NAME:
        n = ct_new(c, CT_E_LITERAL, t->off);
        if (vkslm_ct_str_eq(t->s, "true") || vkslm_ct_str_eq(t->s, "True"))
            n->lit = vkslm_ct_bool(1);
        else if (vkslm_ct_str_eq(t->s, "false") || vkslm_ct_str_eq(t->s, "False"))
            n->lit = vkslm_ct_bool(0);
        else if (vkslm_ct_str_eq(t->s, "none") || vkslm_ct_str_eq(t->s, "None"))
            n->lit = vkslm_ct_none();
        else {
            n->kind = CT_E_NAME;
            n->name = t->s;
        }
        return n;
    case CT_TOK_STRING: {
        n = ct_new(c, CT_E_LITERAL, t->off);
        ct_str s = t->s;
        while (ct_peek(c)->kind == CT_TOK_STRING) /* adjacent literals join */
            s = vkslm_ct_str_cat(c, s, ct_next(c)->s);
        n->lit = vkslm_ct_string(s);
        return n;
    }
    case CT_TOK_INT:
        n = ct_new(c, CT_E_LITERAL, t->off);
        n->lit = vkslm_ct_int(t->i);
        return n;
    case CT_TOK_FLOAT:
        n = ct_new(c, CT_E_LITERAL, t->off);
        n->lit = vkslm_ct_float(t->f);
        return n;
    case CT_TOK_OP:
        if (ct_is_op(t, "(")) {
            if (ct_is_op(ct_peek(c), ")")) {
                ct_next(c);
                return ct_new(c, CT_E_LIST, t->off);
            }
            ct_node *e = ct_parse_expr(c, true);
            if (ct_is_op(ct_peek(c), ",")) { /* a tuple: a list here */
                ct_vec items = {0};
                ct_vec_push(c, &items, e);
                while (ct_is_op(ct_peek(c), ",")) {
                    ct_next(c);
                    if (ct_is_op(ct_peek(c), ")"))
                        break;
                    ct_vec_push(c, &items, ct_parse_expr(c, true));
                }
                e = ct_new(c, CT_E_LIST, t->off);
                e->list = items.v;
                e->n = items.n;
                ct_seal(c, e);
            }
            ct_expect_op(c, ")");
            return e;
        }
        if (ct_is_op(t, "[")) {
            ct_vec items = {0};
            while (!ct_is_op(ct_peek(c), "]")) {
                ct_vec_push(c, &items, ct_parse_expr(c, true));
                if (!ct_is_op(ct_peek(c), ","))
                    break;
                ct_next(c);
            }
            ct_expect_op(c, "]");
            n = ct_new(c, CT_E_LIST, t->off);
            n->list = items.v;
            n->n = items.n;
            return ct_seal(c, n);
        }
        if (ct_is_op(t, "{")) {
            ct_vec keys = {0}, vals = {0};
            while (!ct_is_op(ct_peek(c), "}")) {
                ct_vec_push(c, &keys, ct_parse_expr(c, true));
                ct_expect_op(c, ":");
                ct_vec_push(c, &vals, ct_parse_expr(c, true));
                if (!ct_is_op(ct_peek(c), ","))
                    break;
                ct_next(c);
            }
            ct_expect_op(c, "}");
            n = ct_new(c, CT_E_DICT, t->off);
            n->list = keys.v;
            n->n = keys.n;
            n->list2 = vals.v;
            n->n2 = vals.n;
            return ct_seal(c, n);
        }
        break;
    default: break;
    }
    ct_unexpected(c, t, "an expression");
}

static ct_node *ct_parse_subscript(ct_ctx *c, ct_node *obj, uint32_t off) {
    ct_node *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!ct_is_op(ct_peek(c), ":") && !ct_is_op(ct_peek(c), "]"))
            parts[k] = ct_parse_expr(c, true);
        if (ct_is_op(ct_peek(c), ":") && k < 2) {
            ct_next(c);
            slice = true;
            k++;
            continue;
        }
        break;
    }
    ct_expect_op(c, "]");
    ct_node *n = ct_new(c, slice ? CT_E_SLICE : CT_E_INDEX, off);
    n->a = obj;
    if (slice) {
        n->list = vkslm_ct_alloc(c, 3 * sizeof *n->list);
        memcpy(n->list, parts, sizeof parts);
        n->n = 3;
    } else {
        if (!parts[0])
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, off, "empty subscript");
        n->b = parts[0];
    }
    return ct_seal(c, n);
}

static ct_node *ct_parse_postfix(ct_ctx *c, ct_node *n) {
    for (;;) {
        const ct_tok *t = ct_peek(c);
        if (ct_is_op(t, ".")) {
            ct_next(c);
            const ct_tok *nt = ct_next(c);
            ct_node *a;
            if (nt->kind == CT_TOK_NAME) {
                a = ct_new(c, CT_E_ATTR, t->off);
                a->name = nt->s;
            } else if (nt->kind == CT_TOK_INT) { /* foo.0 is foo[0] */
                a = ct_new(c, CT_E_INDEX, t->off);
                a->b = ct_new(c, CT_E_LITERAL, nt->off);
                a->b->lit = vkslm_ct_int(nt->i);
            } else {
                ct_unexpected(c, nt, "an attribute name");
            }
            a->a = n;
            n = ct_seal(c, a);
        } else if (ct_is_op(t, "[")) {
            ct_next(c);
            n = ct_parse_subscript(c, n, t->off);
        } else if (ct_is_op(t, "(")) {
            ct_next(c);
            ct_node *call = ct_new(c, CT_E_CALL, t->off);
            call->a = n;
            ct_parse_args(c, call);
            n = ct_seal(c, call);
        } else {
            return n;
        }
    }
}

static ct_node *ct_parse_filters(ct_ctx *c, ct_node *n) {
    for (;;) {
        const ct_tok *t = ct_peek(c);
        if (ct_is_op(t, "|")) {
            ct_next(c);
            ct_node *f = ct_new(c, CT_E_FILTER, ct_peek(c)->off);
            f->name = ct_expect_name(c);
            f->a = n;
            if (ct_is_op(ct_peek(c), "(")) {
                ct_next(c);
                ct_parse_args(c, f);
            }
            n = ct_seal(c, f);
        } else if (ct_is_name(t, "is")) {
            ct_next(c);
            ct_node *f = ct_new(c, CT_E_TEST, t->off);
            if (ct_is_name(ct_peek(c), "not")) {
                ct_next(c);
                f->negated = 1;
            }
            const ct_tok *nt = ct_peek(c);
            if (nt->kind == CT_TOK_NAME) {
                f->name = ct_next(c)->s;
            } else if (ct_is_op(nt, "==") || ct_is_op(nt, "!=") || ct_is_op(nt, "<") || ct_is_op(nt, ">") ||
                       ct_is_op(nt, "<=") || ct_is_op(nt, ">=")) {
                f->name = ct_next(c)->s;
            } else {
                ct_unexpected(c, nt, "a test name");
            }
            f->a = n;
            nt = ct_peek(c);
            if (ct_is_op(nt, "(")) {
                ct_next(c);
                ct_parse_args(c, f);
            } else if ((nt->kind == CT_TOK_NAME || nt->kind == CT_TOK_STRING || nt->kind == CT_TOK_INT ||
                        nt->kind == CT_TOK_FLOAT || ct_is_op(nt, "[") || ct_is_op(nt, "{")) &&
                       !ct_is_name(nt, "else") && !ct_is_name(nt, "or") && !ct_is_name(nt, "and") &&
                       !ct_is_name(nt, "if") && !ct_is_name(nt, "in") && !ct_is_name(nt, "is") &&
                       !ct_is_name(nt, "not")) {
                ct_node *arg = ct_parse_postfix(c, ct_parse_primary(c)); /* `is divisibleby 3` */
                f->list = vkslm_ct_alloc(c, sizeof *f->list);
                f->list[0] = arg;
                f->n = 1;
            }
            n = ct_seal(c, f);
        } else if (ct_is_op(t, "(")) {
            ct_next(c);
            ct_node *call = ct_new(c, CT_E_CALL, t->off);
            call->a = n;
            ct_parse_args(c, call);
            n = ct_seal(c, call);
        } else {
            return n;
        }
    }
}

static ct_node *ct_parse_unary(ct_ctx *c, bool with_filter) {
    const ct_tok *t = ct_peek(c);
    ct_enter(c, t->off);
    ct_node *n;
    if (ct_is_op(t, "-") || ct_is_op(t, "+")) {
        ct_next(c);
        n = ct_new(c, ct_is_op(t, "-") ? CT_E_NEG : CT_E_POS, t->off);
        n->a = ct_parse_unary(c, false);
        ct_seal(c, n);
    } else {
        n = ct_parse_postfix(c, ct_parse_primary(c));
    }
    if (with_filter)
        n = ct_parse_filters(c, n);
    c->depth--;
    return n;
}

static ct_node *ct_binary(ct_ctx *c, ct_binop op, ct_node *a, ct_node *b, uint32_t off) {
    ct_node *n = ct_new(c, CT_E_BINARY, off);
    n->op = op;
    n->a = a;
    n->b = b;
    return ct_seal(c, n);
}

static ct_node *ct_parse_pow(ct_ctx *c) {
    ct_node *n = ct_parse_unary(c, true);
    while (ct_is_op(ct_peek(c), "**")) {
        uint32_t off = ct_next(c)->off;
        n = ct_binary(c, CT_OP_POW, n, ct_parse_unary(c, true), off);
    }
    return n;
}

static ct_node *ct_parse_math2(ct_ctx *c) {
    ct_node *n = ct_parse_pow(c);
    for (;;) {
        const ct_tok *t = ct_peek(c);
        ct_binop op = ct_is_op(t, "*") ? CT_OP_MUL : ct_is_op(t, "/") ? CT_OP_DIV : ct_is_op(t, "//") ? CT_OP_FLOORDIV
                    : ct_is_op(t, "%") ? CT_OP_MOD : 0;
        if (!op)
            return n;
        ct_next(c);
        n = ct_binary(c, op, n, ct_parse_pow(c), t->off);
    }
}

static ct_node *ct_parse_concat(ct_ctx *c) {
    ct_node *n = ct_parse_math2(c);
    while (ct_is_op(ct_peek(c), "~")) {
        uint32_t off = ct_next(c)->off;
        n = ct_binary(c, CT_OP_CONCAT, n, ct_parse_math2(c), off);
    }
    return n;
}

static ct_node *ct_parse_math1(ct_ctx *c) {
    ct_node *n = ct_parse_concat(c);
    for (;;) {
        const ct_tok *t = ct_peek(c);
        ct_binop op = ct_is_op(t, "+") ? CT_OP_ADD : ct_is_op(t, "-") ? CT_OP_SUB : 0;
        if (!op)
            return n;
        ct_next(c);
        n = ct_binary(c, op, n, ct_parse_concat(c), t->off);
    }
}

static ct_node *ct_parse_compare(ct_ctx *c) {
    ct_node *left = ct_parse_math1(c), *result = NULL;
    for (;;) {
        const ct_tok *t = ct_peek(c);
        ct_binop op = ct_is_op(t, "==") ? CT_OP_EQ : ct_is_op(t, "!=") ? CT_OP_NE : ct_is_op(t, "<") ? CT_OP_LT
                    : ct_is_op(t, "<=") ? CT_OP_LE : ct_is_op(t, ">") ? CT_OP_GT : ct_is_op(t, ">=") ? CT_OP_GE
                    : ct_is_name(t, "in") ? CT_OP_IN : 0;
        if (!op && ct_is_name(t, "not") && ct_is_name(ct_peek2(c), "in")) {
            ct_next(c);
            op = CT_OP_NOT_IN;
        }
        if (!op)
            return result ? result : left;
        ct_next(c);
        ct_node *right = ct_parse_math1(c);
        ct_node *cmp = ct_binary(c, op, left, right, t->off);
        if (result) { /* a < b < c is a < b and b < c */
            ct_node *and = ct_new(c, CT_E_AND, t->off);
            and->a = result;
            and->b = cmp;
            result = ct_seal(c, and);
        } else {
            result = cmp;
        }
        left = right;
    }
}

static ct_node *ct_parse_not(ct_ctx *c) {
    const ct_tok *t = ct_peek(c);
    if (ct_is_name(t, "not")) {
        ct_next(c);
        ct_enter(c, t->off);
        ct_node *n = ct_new(c, CT_E_NOT, t->off);
        n->a = ct_parse_not(c);
        c->depth--;
        return ct_seal(c, n);
    }
    return ct_parse_compare(c);
}

static ct_node *ct_parse_and(ct_ctx *c) {
    ct_node *n = ct_parse_not(c);
    while (ct_is_name(ct_peek(c), "and")) {
        ct_node *a = ct_new(c, CT_E_AND, ct_next(c)->off);
        a->a = n;
        a->b = ct_parse_not(c);
        n = ct_seal(c, a);
    }
    return n;
}

static ct_node *ct_parse_or(ct_ctx *c) {
    ct_node *n = ct_parse_and(c);
    while (ct_is_name(ct_peek(c), "or")) {
        ct_node *o = ct_new(c, CT_E_OR, ct_next(c)->off);
        o->a = n;
        o->b = ct_parse_and(c);
        n = ct_seal(c, o);
    }
    return n;
}

static ct_node *ct_parse_expr(ct_ctx *c, bool condexpr) {
    ct_enter(c, ct_peek(c)->off);
    ct_node *n = ct_parse_or(c);
    while (condexpr && ct_is_name(ct_peek(c), "if")) {
        ct_node *cond = ct_new(c, CT_E_COND, ct_next(c)->off);
        cond->b = n;
        cond->a = ct_parse_or(c);
        if (ct_is_name(ct_peek(c), "else")) {
            ct_next(c);
            cond->c = ct_parse_expr(c, true);
        }
        n = ct_seal(c, cond);
    }
    c->depth--;
    return n;
}

/* ---- statements ------------------------------------------------------------------------------- */
/* Parses statements until a block tag whose keyword is one of `ends` (left unconsumed: the position is
 * on that keyword) or the end of the template (an error when ends is not empty). */
static ct_node **ct_parse_body(ct_ctx *c, const char *const *ends, size_t *n, const ct_tok *opener);

static void ct_block_end(ct_ctx *c) { ct_expect_kind(c, CT_TOK_BLOCK_END, "'%}'"); }

/* if / elif ... / else / endif: an elif is an IF node (marked elif) alone in the else branch of the one
 * before; the chain is built and sealed in loops, not by recursion, however long it is. */
static ct_node *ct_parse_if(ct_ctx *c, const ct_tok *kw) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    ct_node *first = ct_new(c, CT_N_IF, kw->off), *n = first;
    ct_vec chain = {0};
    for (;;) {
        ct_vec_push(c, &chain, n);
        n->a = ct_parse_expr(c, true);
        ct_block_end(c);
        n->list = ct_parse_body(c, ends, &n->n, kw);
        const ct_tok *t = ct_next(c);
        if (!vkslm_ct_str_eq(t->s, "elif")) {
            if (vkslm_ct_str_eq(t->s, "else")) {
                static const char *const endif[] = {"endif", NULL};
                ct_block_end(c);
                n->list2 = ct_parse_body(c, endif, &n->n2, kw);
                ct_next(c);
            }
            ct_block_end(c);
            break;
        }
        ct_node *next = ct_new(c, CT_N_IF, t->off);
        next->elif = true;
        n->list2 = vkslm_ct_alloc(c, sizeof *n->list2);
        n->list2[0] = next;
        n->n2 = 1;
        n = next;
    }
    for (size_t i = chain.n; i-- > 0;) /* the last elif first: each IF's height includes the next */
        ct_seal(c, chain.v[i]);
    return first;
}

static ct_node *ct_parse_for(ct_ctx *c, const ct_tok *kw) {
    static const char *const ends[] = {"else", "endfor", NULL};
    ct_node *n = ct_new(c, CT_N_FOR, kw->off);
    ct_str names[8];
    size_t k = 0;
    bool paren = ct_is_op(ct_peek(c), "(");
    if (paren)
        ct_next(c);
    for (;;) {
        if (k == 8)
            vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, kw->off, "more than 8 loop variables");
        names[k++] = ct_expect_name(c);
        if (!ct_is_op(ct_peek(c), ","))
            break;
        ct_next(c);
    }
    if (paren)
        ct_expect_op(c, ")");
    n->names = vkslm_ct_alloc(c, k * sizeof *names);
    memcpy(n->names, names, k * sizeof *names);
    n->n_names = k;
    if (!ct_is_name(ct_next(c), "in"))
        ct_unexpected(c, &c->toks[c->pos - 1], "'in'");
    n->b = ct_parse_expr(c, false);
    if (ct_is_name(ct_peek(c), "if")) {
        ct_next(c);
        n->c = ct_parse_expr(c, true);
    }
    if (ct_is_name(ct_peek(c), "recursive"))
        vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, ct_peek(c)->off, "recursive loops are not supported");
    ct_block_end(c);
    c->loop_depth++;
    n->list = ct_parse_body(c, ends, &n->n, kw);
    c->loop_depth--;
    if (vkslm_ct_str_eq(ct_next(c)->s, "else")) {
        static const char *const endfor[] = {"endfor", NULL};
        ct_block_end(c);
        n->list2 = ct_parse_body(c, endfor, &n->n2, kw);
        ct_next(c);
    }
    ct_block_end(c);
    return ct_seal(c, n);
}

static ct_node *ct_parse_set(ct_ctx *c, const ct_tok *kw) {
    ct_node *n = ct_new(c, CT_N_SET, kw->off);
    ct_str first = ct_expect_name(c);
    if (ct_is_op(ct_peek(c), ".")) { /* set ns.attr = value */
        ct_next(c);
        n->a = ct_new(c, CT_E_ATTR, kw->off);
        n->a->a = ct_new(c, CT_E_NAME, kw->off);
        n->a->a->name = first;
        n->a->name = ct_expect_name(c);
        ct_seal(c, n->a);
    } else {
        ct_str names[8];
        size_t k = 0;
        names[k++] = first;
        while (ct_is_op(ct_peek(c), ",")) {
            ct_next(c);
            if (k == 8)
                vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, kw->off, "more than 8 assignment targets");
            names[k++] = ct_expect_name(c);
        }
        n->names = vkslm_ct_alloc(c, k * sizeof *names);
        memcpy(n->names, names, k * sizeof *names);
        n->n_names = k;
    }
    if (ct_peek(c)->kind == CT_TOK_BLOCK_END && !n->a && n->n_names == 1) { /* {% set x %}...{% endset %} */
        static const char *const ends[] = {"endset", NULL};
        ct_next(c);
        n->kind = CT_N_SET_BLOCK;
        n->list = ct_parse_body(c, ends, &n->n, kw);
        ct_next(c);
        ct_block_end(c);
        return ct_seal(c, n);
    }
    ct_expect_op(c, "=");
    ct_node *v = ct_parse_expr(c, true);
    if (ct_is_op(ct_peek(c), ",")) { /* set a = 1, 2 makes a tuple */
        ct_vec items = {0};
        ct_vec_push(c, &items, v);
        while (ct_is_op(ct_peek(c), ",")) {
            ct_next(c);
            ct_vec_push(c, &items, ct_parse_expr(c, true));
        }
        v = ct_new(c, CT_E_LIST, kw->off);
        v->list = items.v;
        v->n = items.n;
        ct_seal(c, v);
    }
    n->b = v;
    ct_block_end(c);
    return ct_seal(c, n);
}

static ct_node **ct_parse_body(ct_ctx *c, const char *const *ends, size_t *n, const ct_tok *opener) {
    ct_vec body = {0};
    ct_enter(c, opener ? opener->off : 0);
    for (;;) {
        const ct_tok *t = ct_next(c);
        if (t->kind == CT_TOK_EOF) {
            if (ends && ends[0]) {
                size_t last = 0;
                while (ends[last + 1])
                    last++;
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, opener->off, "{%% %.*s %%} has no matching {%% %s %%}",
                        (int)opener->s.n, opener->s.s, ends[last]);
            }
            break;
        }
        if (t->kind == CT_TOK_TEXT) {
            ct_node *x = ct_new(c, CT_N_TEXT, t->off);
            x->name = t->s;
            ct_vec_push(c, &body, x);
            continue;
        }
        if (t->kind == CT_TOK_VAR_BEGIN) {
            ct_node *x = ct_new(c, CT_N_OUTPUT, t->off);
            x->a = ct_parse_expr(c, true);
            ct_expect_kind(c, CT_TOK_VAR_END, "'}}'");
            ct_vec_push(c, &body, ct_seal(c, x));
            continue;
        }
        if (t->kind != CT_TOK_BLOCK_BEGIN)
            ct_unexpected(c, t, "template text or a tag");
        const ct_tok *kw = ct_peek(c);
        if (kw->kind != CT_TOK_NAME)
            ct_unexpected(c, kw, "a statement keyword");
        bool is_end = false;
        for (size_t i = 0; ends && ends[i]; i++)
            if (vkslm_ct_str_eq(kw->s, ends[i]))
                is_end = true;
        if (is_end)
            break;
        ct_next(c);
        if (vkslm_ct_str_eq(kw->s, "if")) {
            ct_vec_push(c, &body, ct_parse_if(c, kw));
        } else if (vkslm_ct_str_eq(kw->s, "for")) {
            ct_vec_push(c, &body, ct_parse_for(c, kw));
        } else if (vkslm_ct_str_eq(kw->s, "set")) {
            ct_vec_push(c, &body, ct_parse_set(c, kw));
        } else if (vkslm_ct_str_eq(kw->s, "break") || vkslm_ct_str_eq(kw->s, "continue")) {
            if (c->loop_depth == 0)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, kw->off, "{%% %.*s %%} outside a for loop", (int)kw->s.n, kw->s.s);
            ct_vec_push(c, &body, ct_new(c, vkslm_ct_str_eq(kw->s, "break") ? CT_N_BREAK : CT_N_CONTINUE, kw->off));
            ct_block_end(c);
        } else if (vkslm_ct_str_eq(kw->s, "generation")) { /* HF's assistant-mask marker: renders its body */
            static const char *const endgen[] = {"endgeneration", NULL};
            ct_block_end(c);
            ct_node *x = ct_new(c, CT_N_IF, kw->off);
            x->list = ct_parse_body(c, endgen, &x->n, kw);
            ct_next(c);
            ct_block_end(c);
            ct_vec_push(c, &body, ct_seal(c, x));
        } else if (vkslm_ct_str_eq(kw->s, "macro") || vkslm_ct_str_eq(kw->s, "call") || vkslm_ct_str_eq(kw->s, "filter") ||
                   vkslm_ct_str_eq(kw->s, "include") || vkslm_ct_str_eq(kw->s, "import") || vkslm_ct_str_eq(kw->s, "from") ||
                   vkslm_ct_str_eq(kw->s, "extends") || vkslm_ct_str_eq(kw->s, "block") || vkslm_ct_str_eq(kw->s, "raw") ||
                   vkslm_ct_str_eq(kw->s, "with") || vkslm_ct_str_eq(kw->s, "do") || vkslm_ct_str_eq(kw->s, "autoescape")) {
            vkslm_ct_fail(c, VKSLM_ERR_UNSUPPORTED, kw->off, "the {%% %.*s %%} statement is not supported", (int)kw->s.n,
                    kw->s.s);
        } else {
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, kw->off, "unexpected {%% %.*s %%}", (int)(kw->s.n > 40 ? 40 : kw->s.n),
                    kw->s.s);
        }
    }
    c->depth--;
    *n = body.n;
    return body.v;
}

ct_node **vkslm_ct_parse(ct_ctx *c, size_t *n) {
    c->pos = 0;
    c->depth = 0;
    return ct_parse_body(c, NULL, n, NULL);
}
