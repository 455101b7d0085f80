/* Chat-template lexer: splits a Jinja template into text and the tokens inside {{ }} and {% %}, applying
 * whitespace control as Jinja does with trim_blocks and lstrip_blocks on (Hugging Face's settings):
 *   {%- / {{- / {#-   strip all whitespace before the tag;  -%} / -}} / -#}  strip all whitespace after it;
 *   trim_blocks       the first newline after a block or comment tag is dropped (not after +%});
 *   lstrip_blocks     spaces and tabs from the start of a line up to a block or comment tag are dropped
 *                     (not before {%+). */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/chat_template_internal.h"

void vkslm_ct_line_col(const ct_ctx *c, uint32_t off, int *line, int *col) {
    int l = 1, k = 1;
    for (size_t i = 0; i < off && i < c->src_len; i++) {
        if (c->src[i] == '\n') {
            l++;
            k = 1;
        } else if (((unsigned char)c->src[i] & 0xC0) != 0x80) {
            k++;
        }
    }
    *line = l;
    *col = k;
}

static ct_tok *ct_emit(ct_ctx *c, ct_tok_kind kind, size_t off) {
    if (c->n_toks == c->toks_cap) {
        size_t cap = c->toks_cap ? c->toks_cap * 2 : 256;
        ct_tok *t = vkslm_ct_alloc(c, cap * sizeof *t);
        if (c->n_toks)
            memcpy(t, c->toks, c->n_toks * sizeof *t);
        c->toks = t;
        c->toks_cap = cap;
    }
    ct_tok *t = &c->toks[c->n_toks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->off = (uint32_t)off;
    return t;
}

static bool ct_is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }
static bool ct_is_name_start(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static bool ct_is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static void ct_put_utf8(ct_ctx *c, ct_buf *b, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    vkslm_ct_buf_add(c, b, u, n);
}

static int ct_hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A string literal at src[i] (the quote); returns the index after the closing quote. Escapes as Python's. */
static size_t ct_lex_string(ct_ctx *c, size_t i) {
    const char *s = c->src;
    char q = s[i];
    size_t start = i++;
    ct_buf b = {0};
    while (i < c->src_len && s[i] != q) {
        if (s[i] != '\\' || i + 1 >= c->src_len) {
            vkslm_ct_buf_addc(c, &b, s[i++]);
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'n': vkslm_ct_buf_addc(c, &b, '\n'); break;
        case 't': vkslm_ct_buf_addc(c, &b, '\t'); break;
        case 'r': vkslm_ct_buf_addc(c, &b, '\r'); break;
        case '0': vkslm_ct_buf_addc(c, &b, '\0'); break;
        case 'a': vkslm_ct_buf_addc(c, &b, '\a'); break;
        case 'b': vkslm_ct_buf_addc(c, &b, '\b'); break;
        case 'f': vkslm_ct_buf_addc(c, &b, '\f'); break;
        case 'v': vkslm_ct_buf_addc(c, &b, '\v'); break;
        case '\\': case '\'': case '"': vkslm_ct_buf_addc(c, &b, e); break;
        case '\n': break; /* line continuation */
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                int h = i + (size_t)k < c->src_len ? ct_hex(s[i + k]) : -1;
                if (h < 0)
                    vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)(i - 2), "bad \\%c escape in a string literal", e);
                cp = cp * 16 + (uint32_t)h;
            }
            if (cp > 0x10FFFF)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)(i - 2), "escape beyond U+10FFFF in a string literal");
            i += (size_t)nd;
            ct_put_utf8(c, &b, cp);
            break;
        }
        default: /* Python keeps unknown escapes as written */
            vkslm_ct_buf_addc(c, &b, '\\');
            vkslm_ct_buf_addc(c, &b, e);
        }
    }
    if (i >= c->src_len)
        vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)start, "unterminated string literal");
    ct_tok *t = ct_emit(c, CT_TOK_STRING, start);
    t->s = ct_buf_str(&b);
    return i + 1;
}

static size_t ct_lex_number(ct_ctx *c, size_t i) {
    const char *s = c->src;
    size_t start = i;
    char digits[64];
    size_t nd = 0;
    bool is_float = false;
    while (i < c->src_len && (ct_is_digit(s[i]) || s[i] == '_' ||
                              (s[i] == '.' && !is_float && i + 1 < c->src_len && ct_is_digit(s[i + 1])) ||
                              ((s[i] == 'e' || s[i] == 'E') && nd > 0))) {
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
            is_float = true;
            if ((s[i] == 'e' || s[i] == 'E') && i + 1 < c->src_len && (s[i + 1] == '-' || s[i + 1] == '+')) {
                if (nd + 2 < sizeof digits) {
                    digits[nd++] = s[i];
                    digits[nd++] = s[i + 1];
                }
                i += 2;
                continue;
            }
        }
        if (s[i] != '_' && nd + 1 < sizeof digits)
            digits[nd++] = s[i];
        i++;
    }
    digits[nd] = 0;
    if (is_float) {
        ct_tok *t = ct_emit(c, CT_TOK_FLOAT, start);
        t->f = strtod(digits, NULL);
    } else {
        int64_t v = 0;
        for (size_t k = 0; k < nd; k++) {
            if (v > (INT64_MAX - 9) / 10)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)start, "integer literal out of range");
            v = v * 10 + (digits[k] - '0');
        }
        ct_tok *t = ct_emit(c, CT_TOK_INT, start);
        t->i = v;
    }
    return i;
}

/* Tokens of one {{ }} or {% %} tag from src[i] (just after the opening delimiter and its modifier);
 * returns the index just after the closing delimiter, and *strip_after / *keep_newline from its modifier. */
static size_t ct_lex_tag(ct_ctx *c, size_t i, bool block, uint32_t tag_off, bool *strip_after, bool *keep_newline) {
    static const char *const ops2[] = {"//", "**", "==", "!=", "<=", ">="};
    const char *s = c->src;
    int braces = 0;
    for (;;) {
        while (i < c->src_len && ct_is_space(s[i]))
            i++;
        if (i >= c->src_len)
            vkslm_ct_fail(c, VKSLM_ERR_FORMAT, tag_off, "unterminated %s tag", block ? "{%" : "{{");
        const char *end = block ? "%}" : "}}";
        for (int mod = 0; mod < 2; mod++) { /* "-%}", "+%}" and "%}" */
            size_t k = i;
            char m = 0;
            if (mod == 0) {
                if (s[k] != '-' && s[k] != '+')
                    continue;
                m = s[k++];
            }
            if (k + 2 <= c->src_len && memcmp(s + k, end, 2) == 0 && (block || braces == 0)) {
                ct_emit(c, block ? CT_TOK_BLOCK_END : CT_TOK_VAR_END, i);
                *strip_after = m == '-';
                *keep_newline = m == '+';
                return k + 2;
            }
        }
        char ch = s[i];
        if (ct_is_name_start(ch)) {
            size_t st = i;
            while (i < c->src_len && (ct_is_name_start(s[i]) || ct_is_digit(s[i])))
                i++;
            ct_tok *t = ct_emit(c, CT_TOK_NAME, st);
            t->s.s = s + st;
            t->s.n = i - st;
        } else if (ct_is_digit(ch)) {
            i = ct_lex_number(c, i);
        } else if (ch == '\'' || ch == '"') {
            i = ct_lex_string(c, i);
        } else {
            size_t len = 0;
            for (size_t k = 0; k < sizeof ops2 / sizeof ops2[0]; k++)
                if (i + 2 <= c->src_len && memcmp(s + i, ops2[k], 2) == 0)
                    len = 2;
            if (!len && strchr("+-*/%~<>=()[]{}.,:|", ch) && ch)
                len = 1;
            if (!len)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)i, "unexpected character '%c' in a tag",
                        (ch >= 0x20 && ch < 0x7f) ? ch : '?');
            if (ch == '{')
                braces++;
            if (ch == '}' && braces > 0)
                braces--;
            ct_tok *t = ct_emit(c, CT_TOK_OP, i);
            t->s.s = s + i;
            t->s.n = len;
            i += len;
        }
        if (c->n_toks > (size_t)VKSLM_CHAT_MAX_STEPS)
            vkslm_ct_fail(c, VKSLM_ERR_TOO_COMPLEX, (uint32_t)i, "too many tokens");
    }
}

void vkslm_ct_lex(ct_ctx *c) {
    const char *s = c->src;
    size_t i = 0;
    bool line_starting = true; /* the last tag ended a line (or nothing came before) */
    while (i <= c->src_len) {
        /* the next tag opening */
        size_t j = i;
        const char *open = NULL;
        while (j + 1 < c->src_len) {
            if (s[j] == '{' && (s[j + 1] == '{' || s[j + 1] == '%' || s[j + 1] == '#')) {
                open = s + j;
                break;
            }
            j++;
        }
        if (!open)
            j = c->src_len;
        size_t text_end = j;
        char kind = open ? open[1] : 0;
        char mod = (open && j + 2 < c->src_len) ? s[j + 2] : 0;
        if (open && mod == '-') {
            while (text_end > i && ct_is_space(s[text_end - 1]))
                text_end--;
        } else if (open && mod != '+' && (kind == '%' || kind == '#')) { /* lstrip_blocks */
            size_t l = text_end;
            while (l > i && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                l--;
            if ((l > i && s[l - 1] == '\n') || (l == i && line_starting))
                text_end = l;
        }
        if (text_end > i) {
            ct_tok *t = ct_emit(c, CT_TOK_TEXT, i);
            t->s.s = s + i;
            t->s.n = text_end - i;
        }
        if (!open)
            break;
        size_t body = j + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
        bool strip_after = false, keep_newline = false;
        if (kind == '#') {
            const char *e = NULL;
            for (size_t k = body; k + 1 < c->src_len; k++)
                if (s[k] == '#' && s[k + 1] == '}') {
                    e = s + k;
                    break;
                }
            if (!e)
                vkslm_ct_fail(c, VKSLM_ERR_FORMAT, (uint32_t)j, "unterminated comment");
            size_t k = (size_t)(e - s);
            strip_after = k > body && s[k - 1] == '-';
            keep_newline = k > body && s[k - 1] == '+';
            i = k + 2;
        } else {
            ct_emit(c, kind == '%' ? CT_TOK_BLOCK_BEGIN : CT_TOK_VAR_BEGIN, j);
            i = ct_lex_tag(c, body, kind == '%', (uint32_t)j, &strip_after, &keep_newline);
        }
        if (strip_after) {
            while (i < c->src_len && ct_is_space(s[i]))
                i++;
        } else if (kind != '{' && !keep_newline && i < c->src_len && s[i] == '\n') { /* trim_blocks */
            i++;
        }
        line_starting = i > 0 && s[i - 1] == '\n';
    }
    ct_emit(c, CT_TOK_EOF, c->src_len);
}
