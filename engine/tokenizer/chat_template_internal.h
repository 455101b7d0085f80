/* The chat-template interpreter's internals, shared by its lexer, parser, evaluator and built-ins.
 *
 * All memory (tokens, syntax tree, values) comes from one arena owned by the ct_ctx and freed at once, and
 * every error unwinds with longjmp to vkslm_chat_template_render, so no code path leaks or needs cleanup.
 *
 * Bounded recursion: the parser counts its own nesting (ct_enter) and the height of every node it builds
 * (a left-deep chain such as a + b + c, x|f|g or x[0][0] is as high as it is long), so the evaluator, whose
 * recursion follows the tree, never runs deeper than VKSLM_CHAT_MAX_DEPTH nodes; values record their
 * nesting too (lists in lists), so printing and comparing them is bounded the same way. The evaluator
 * also counts its own recursion (vkslm_ct_nest), a second fence should a construct escape the first.
 *
 * Content taint: every string carries an optional per-byte mask (ct_str.m, NULL: no byte is tainted)
 * marking the bytes that came from a message's content. Substrings share the mask, concatenation and the
 * string builders (ct_buf) carry it along byte for byte, and the output records it, so the caller learns
 * which bytes of the rendering a user wrote (vkslm_chat_template_render_spans). */
#ifndef VKSLM_TOKENIZER_CHAT_TEMPLATE_INTERNAL_H
#define VKSLM_TOKENIZER_CHAT_TEMPLATE_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/tokenizer/chat_template.h"
#include "engine/util/error.h"

typedef struct ct_str {
    const char *s;
    size_t n;
    const uint8_t *m; /* NULL, or n flags: 1 where the byte came from a message's content */
} ct_str;

/* ---- tokens ----------------------------------------------------------------------------------- */
typedef enum ct_tok_kind {
    CT_TOK_TEXT,        /* template data between tags (whitespace control applied) */
    CT_TOK_VAR_BEGIN,   /* {{ */
    CT_TOK_VAR_END,     /* }} */
    CT_TOK_BLOCK_BEGIN, /* {% */
    CT_TOK_BLOCK_END,   /* %} */
    CT_TOK_NAME,
    CT_TOK_STRING,      /* s: the unescaped text */
    CT_TOK_INT,
    CT_TOK_FLOAT,
    CT_TOK_OP,          /* s: the operator or punctuation ("==", "(", "|", ...) */
    CT_TOK_EOF
} ct_tok_kind;

typedef struct ct_tok {
    ct_tok_kind kind;
    uint32_t off; /* byte offset in the source, for messages */
    ct_str s;
    int64_t i;
    double f;
} ct_tok;

/* ---- values ----------------------------------------------------------------------------------- */
typedef enum ct_kind {
    CT_UNDEF = 0, CT_NONE, CT_BOOL, CT_INT, CT_FLOAT, CT_STR, CT_LIST, CT_DICT, CT_NS, CT_FUNC
} ct_kind;

typedef enum ct_func {
    CT_FN_RAISE = 1, CT_FN_STRFTIME, CT_FN_NAMESPACE, CT_FN_RANGE, CT_FN_DICT
} ct_func;

typedef struct ct_list ct_list;
typedef struct ct_dict ct_dict;
typedef struct ct_value {
    ct_kind kind;
    union {
        int b;
        int64_t i;
        double f;
        ct_str s;
        ct_list *l;
        ct_dict *d; /* CT_DICT and CT_NS (a namespace: a dict whose attributes can be assigned) */
        ct_func fn;
    } u;
} ct_value;

struct ct_list {
    ct_value *v;
    size_t n, cap;
    int depth; /* 1 + the deepest item's depth (a string, number... counts 0) */
};
struct ct_dict {
    ct_str *k; /* string keys only */
    ct_value *v;
    size_t n, cap;
    int depth; /* as ct_list's; a namespace is mutable and counts as a leaf where it is an item */
};

/* ---- syntax tree ------------------------------------------------------------------------------ */
typedef enum ct_node_kind {
    /* statements */
    CT_N_TEXT, CT_N_OUTPUT, CT_N_IF, CT_N_FOR, CT_N_SET, CT_N_SET_BLOCK, CT_N_BREAK, CT_N_CONTINUE,
    /* expressions */
    CT_E_LITERAL, CT_E_NAME, CT_E_ATTR, CT_E_INDEX, CT_E_SLICE, CT_E_CALL, CT_E_FILTER, CT_E_TEST,
    CT_E_NEG, CT_E_POS, CT_E_NOT, CT_E_AND, CT_E_OR, CT_E_BINARY, CT_E_COND, CT_E_LIST, CT_E_DICT
} ct_node_kind;

typedef enum ct_binop {
    CT_OP_ADD = 1, CT_OP_SUB, CT_OP_MUL, CT_OP_DIV, CT_OP_FLOORDIV, CT_OP_MOD, CT_OP_POW, CT_OP_CONCAT,
    CT_OP_EQ, CT_OP_NE, CT_OP_LT, CT_OP_LE, CT_OP_GT, CT_OP_GE, CT_OP_IN, CT_OP_NOT_IN
} ct_binop;

typedef struct ct_node ct_node;
struct ct_node {
    ct_node_kind kind;
    uint32_t off;
    ct_binop op;
    int negated;           /* CT_E_TEST: "is not" */
    ct_str name;           /* name, attribute, filter or test; CT_N_TEXT: the text */
    ct_node *a, *b, *c;    /* operands; IF: cond; FOR: iterable (b) and filter (c); SET: target (a), value (b) */
    ct_node **list;        /* arguments, items, dict keys; statement bodies (then / loop body) */
    size_t n;
    ct_node **list2;       /* keyword-argument values, dict values; else bodies */
    size_t n2;
    ct_str *names;         /* keyword-argument names; FOR / SET: the target names */
    size_t n_names;
    ct_value lit;          /* CT_E_LITERAL */
    int height;            /* 1 + the highest child's height (ct_seal); an elif chain counts as one level */
    bool elif;             /* CT_N_IF: the else branch of the IF that holds it (run as a loop, not nested) */
};

/* ---- the interpreter's state ------------------------------------------------------------------ */
typedef struct ct_block ct_block;
typedef struct ct_scope ct_scope;
struct ct_scope {
    ct_dict vars;
    ct_scope *parent;
};

typedef struct ct_ctx {
    const char *src; /* the template, newlines normalised to \n */
    size_t src_len;
    jmp_buf jmp;
    vkslm_status status; /* of the error that unwound */
    ct_block *blocks;
    size_t arena_bytes;
    /* lexer output */
    ct_tok *toks;
    size_t n_toks, toks_cap;
    /* parser */
    size_t pos;
    int depth;
    int loop_depth; /* for-loops around the statement being parsed (break/continue need one) */
    /* evaluator */
    char *out; /* malloc'd output (not in the arena: handed to the caller) */
    uint8_t *out_mask; /* malloc'd, out_cap flags, NULL until a content byte is written */
    size_t out_len, out_cap;
    uint64_t steps;
    int nest;          /* evaluator recursion (vkslm_ct_nest) */
    uint32_t cur_off;  /* the source offset being evaluated, for errors raised where no node is at hand */
    ct_scope *scope;
    int loop_ctl; /* 1 break, 2 continue */
    int64_t now;
} ct_ctx;

/* ---- chat_template_value.c: arena, errors, values ---------------------------------------------- */
_Noreturn void vkslm_ct_fail(ct_ctx *c, vkslm_status st, uint32_t off, const char *fmt, ...) VKSLM_PRINTF(4, 5);
void *vkslm_ct_alloc(ct_ctx *c, size_t n);   /* zeroed */
void vkslm_ct_arena_free(ct_ctx *c);
ct_str vkslm_ct_str_dup(ct_ctx *c, const char *s, size_t n);                 /* untainted */
ct_str vkslm_ct_str_dup_mask(ct_ctx *c, const char *s, const uint8_t *m, size_t n); /* m may be NULL */
ct_str vkslm_ct_str_cat(ct_ctx *c, ct_str a, ct_str b);
/* All of s tainted when any byte of it is (for results that mix a string's bytes unpredictably). */
ct_str vkslm_ct_str_taint_all(ct_ctx *c, ct_str s, bool tainted);
static inline bool ct_str_tainted(ct_str s) {
    for (size_t i = 0; s.m && i < s.n; i++)
        if (s.m[i])
            return true;
    return false;
}
/* s[off, off + n): shares the bytes and the taint */
static inline ct_str ct_sub(ct_str s, size_t off, size_t n) {
    ct_str r = {s.s + off, n, s.m ? s.m + off : NULL};
    return r;
}
static inline ct_str ct_cstr(const char *s) { ct_str r = {s, 0, NULL}; while (s[r.n]) r.n++; return r; }
bool vkslm_ct_str_eq(ct_str a, const char *lit);
bool vkslm_ct_str_same(ct_str a, ct_str b);

/* growable byte string in the arena, with its taint mask (allocated at the first tainted byte) */
typedef struct ct_buf {
    char *p;
    uint8_t *m;
    size_t n, cap;
    uint8_t taint; /* the taint of the bytes vkslm_ct_buf_add / vkslm_ct_buf_addc append (0 unless set) */
} ct_buf;
void vkslm_ct_buf_add(ct_ctx *c, ct_buf *b, const char *s, size_t n);
void vkslm_ct_buf_addc(ct_ctx *c, ct_buf *b, char ch);
void vkslm_ct_buf_add_str(ct_ctx *c, ct_buf *b, ct_str s); /* with s's taint */
static inline ct_str ct_buf_str(const ct_buf *b) { ct_str r = {b->p ? b->p : "", b->n, b->m}; return r; }

ct_value vkslm_ct_undef(void);
ct_value vkslm_ct_none(void);
ct_value vkslm_ct_bool(int b);
ct_value vkslm_ct_int(int64_t i);
ct_value vkslm_ct_float(double f);
ct_value vkslm_ct_string(ct_str s);
ct_value vkslm_ct_new_list(ct_ctx *c);
ct_value vkslm_ct_new_dict(ct_ctx *c);
/* Both fail with VKSLM_ERR_TOO_COMPLEX when the container would nest deeper than VKSLM_CHAT_MAX_DEPTH. */
void vkslm_ct_list_push(ct_ctx *c, ct_list *l, ct_value v);
void vkslm_ct_dict_set(ct_ctx *c, ct_dict *d, ct_str k, ct_value v);
ct_value *vkslm_ct_dict_get(const ct_dict *d, ct_str k); /* NULL when absent */

const char *vkslm_ct_kind_name(ct_kind k);
bool vkslm_ct_truthy(ct_value v);
bool vkslm_ct_equal(ct_value a, ct_value b);
/* Python's str() and repr() of a value, appended to b. */
void vkslm_ct_to_str(ct_ctx *c, ct_buf *b, ct_value v);
void vkslm_ct_repr(ct_ctx *c, ct_buf *b, ct_value v);
ct_str vkslm_ct_value_str(ct_ctx *c, ct_value v);
/* json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none), as HF's tojson. */
void vkslm_ct_to_json(ct_ctx *c, ct_buf *b, ct_value v, int indent, int level, uint32_t off);
/* UTF-8 code points in s, and the byte offset of code point i (clamped to n). */
size_t vkslm_ct_utf8_len(ct_str s);
size_t vkslm_ct_utf8_offset(ct_str s, size_t i);

/* ---- chat_template_json.c ----------------------------------------------------------------------- */
/* JSON text (NUL-terminated) -> a value; VKSLM_ERR_INVALID_ARG naming `what` and the byte for bad JSON.
 * taint: every string and key counts as content. */
ct_value vkslm_ct_from_json(ct_ctx *c, const char *text, const char *what, bool taint);

/* ---- chat_template_lex.c / _parse.c ------------------------------------------------------------- */
void vkslm_ct_lex(ct_ctx *c);
/* Parses the token stream into a body of statements. */
ct_node **vkslm_ct_parse(ct_ctx *c, size_t *n);
void vkslm_ct_line_col(const ct_ctx *c, uint32_t off, int *line, int *col);

/* ---- chat_template_eval.c ------------------------------------------------------------------------ */
void vkslm_ct_exec_body(ct_ctx *c, ct_node **body, size_t n);
ct_value vkslm_ct_eval(ct_ctx *c, const ct_node *e);
ct_value vkslm_ct_lookup(ct_ctx *c, ct_str name);
void vkslm_ct_assign(ct_ctx *c, ct_str name, ct_value v);
ct_value vkslm_ct_getattr(ct_ctx *c, ct_value obj, ct_str name, uint32_t off);
ct_value vkslm_ct_iterable_list(ct_ctx *c, ct_value v, uint32_t off); /* a list of what `for` iterates */
void vkslm_ct_step(ct_ctx *c, uint32_t off);
/* Counts one level of the evaluator's recursion (VKSLM_ERR_TOO_COMPLEX beyond the bound); ct_unnest
 * when it returns. */
void vkslm_ct_nest(ct_ctx *c, uint32_t off);
static inline void ct_unnest(ct_ctx *c) { c->nest--; }

/* ---- chat_template_builtins.c -------------------------------------------------------------------- */
typedef struct ct_args {
    ct_value *pos;
    size_t n;
    ct_str *kw_names;
    ct_value *kw;
    size_t n_kw;
} ct_args;
ct_value vkslm_ct_apply_filter(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off);
bool vkslm_ct_apply_test(ct_ctx *c, ct_str name, ct_value v, const ct_args *a, uint32_t off);
ct_value vkslm_ct_call_method(ct_ctx *c, ct_value obj, ct_str name, const ct_args *a, uint32_t off);
ct_value vkslm_ct_call_func(ct_ctx *c, ct_func fn, const ct_args *a, uint32_t off);
#endif
