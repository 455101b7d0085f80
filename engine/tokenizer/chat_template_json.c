/* Chat templates: JSON text (RFC 8259) read into template values, for the structured data that tool
 * calling passes to templates (messages with tool_calls, tools with their parameter schemas). Objects keep
 * their key order, as Python's json.loads does, so tojson writes them back as transformers would; integers
 * stay integers and other numbers become floats; a key given twice keeps the last value (json.loads).
 * Every string and key can be marked as content (tainted), so control tokens a client writes in a tool's
 * description or a call's arguments are text, as in message contents. Recursion is bounded by the value
 * nesting limit (VKSLM_CHAT_MAX_DEPTH). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/chat_template_internal.h"

typedef struct cj {
    ct_ctx *c;
    const char *what; /* "messages" or "tools", for messages */
    const unsigned char *s, *p, *end;
    bool taint;
    int depth;
} cj;

_Noreturn static void cj_fail(cj *x, const char *why) {
    vkslm_fail(VKSLM_ERR_INVALID_ARG, "chat template: the %s JSON is not valid: %s (at byte %zu)", x->what, why,
               (size_t)(x->p - x->s));
    x->c->status = VKSLM_ERR_INVALID_ARG;
    longjmp(x->c->jmp, 1);
}

static void cj_ws(cj *x) {
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static int cj_hex4(cj *x) {
    if (x->end - x->p < 4)
        cj_fail(x, "a \\u escape without four hex digits");
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int ch = x->p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            cj_fail(x, "a \\u escape without four hex digits");
        v = v * 16 + d;
    }
    x->p += 4;
    return v;
}

static void cj_utf8(ct_ctx *c, ct_buf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    vkslm_ct_buf_add(c, b, u, n);
}

static ct_str cj_string(cj *x) { /* at the opening quote */
    x->p++;
    ct_buf b = {0};
    b.taint = x->taint;
    for (;;) {
        const unsigned char *run = x->p;
        while (x->p < x->end && *x->p != '"' && *x->p != '\\' && *x->p >= 0x20)
            x->p++;
        if (x->p > run)
            vkslm_ct_buf_add(x->c, &b, (const char *)run, (size_t)(x->p - run));
        if (x->p >= x->end)
            cj_fail(x, "a string that does not end");
        if (*x->p == '"')
            break;
        if (*x->p < 0x20)
            cj_fail(x, "a control character inside a string");
        if (x->end - x->p < 2)
            cj_fail(x, "a string that does not end");
        unsigned char e = x->p[1];
        x->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            vkslm_ct_buf_addc(x->c, &b, out[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (e != 'u')
            cj_fail(x, "an unknown escape inside a string");
        unsigned cp = (unsigned)cj_hex4(x);
        if (cp >= 0xD800 && cp < 0xDC00 && x->end - x->p >= 6 && x->p[0] == '\\' && x->p[1] == 'u') {
            const unsigned char *save = x->p;
            x->p += 2;
            unsigned lo = (unsigned)cj_hex4(x);
            if (lo >= 0xDC00 && lo < 0xE000)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else
                x->p = save;
        }
        if (cp == 0)
            cj_fail(x, "a string holds \\u0000");
        if (cp >= 0xD800 && cp < 0xE000)
            cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
        cj_utf8(x->c, &b, cp);
    }
    x->p++;
    return ct_buf_str(&b);
}

static ct_value cj_number(cj *x) {
    const unsigned char *start = x->p;
    bool is_float = false;
    if (x->p < x->end && *x->p == '-')
        x->p++;
    if (x->p >= x->end || *x->p < '0' || *x->p > '9')
        cj_fail(x, "an unexpected character");
    if (*x->p == '0' && x->p + 1 < x->end && x->p[1] >= '0' && x->p[1] <= '9')
        cj_fail(x, "a number with a leading zero");
    while (x->p < x->end && *x->p >= '0' && *x->p <= '9')
        x->p++;
    if (x->p < x->end && *x->p == '.') {
        is_float = true;
        x->p++;
        if (x->p >= x->end || *x->p < '0' || *x->p > '9')
            cj_fail(x, "a malformed number");
        while (x->p < x->end && *x->p >= '0' && *x->p <= '9')
            x->p++;
    }
    if (x->p < x->end && (*x->p == 'e' || *x->p == 'E')) {
        is_float = true;
        x->p++;
        if (x->p < x->end && (*x->p == '+' || *x->p == '-'))
            x->p++;
        if (x->p >= x->end || *x->p < '0' || *x->p > '9')
            cj_fail(x, "a malformed number");
        while (x->p < x->end && *x->p >= '0' && *x->p <= '9')
            x->p++;
    }
    char tmp[64];
    size_t n = (size_t)(x->p - start);
    if (n >= sizeof tmp)
        cj_fail(x, "a number longer than 63 characters");
    memcpy(tmp, start, n);
    tmp[n] = 0;
    if (!is_float) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0)
            return vkslm_ct_int(v);
        /* beyond 64 bits: Python keeps it exact, we keep it approximate */
    }
    return vkslm_ct_float(strtod(tmp, NULL));
}

static bool cj_word(cj *x, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(x->end - x->p) < n || memcmp(x->p, w, n) != 0)
        return false;
    x->p += n;
    return true;
}

static ct_value cj_value(cj *x) {
    cj_ws(x);
    if (x->p >= x->end)
        cj_fail(x, "the text ends where a value should be");
    unsigned char ch = *x->p;
    if (ch == '"')
        return vkslm_ct_string(cj_string(x));
    if (ch == '{' || ch == '[') {
        if (++x->depth > VKSLM_CHAT_MAX_DEPTH)
            cj_fail(x, "arrays and objects nested too deep");
        x->p++;
        ct_value v = ch == '{' ? vkslm_ct_new_dict(x->c) : vkslm_ct_new_list(x->c);
        char close = ch == '{' ? '}' : ']';
        cj_ws(x);
        if (x->p < x->end && *x->p == close) {
            x->p++;
            x->depth--;
            return v;
        }
        for (;;) {
            if (ch == '{') {
                cj_ws(x);
                if (x->p >= x->end || *x->p != '"')
                    cj_fail(x, "an object key that is not a string");
                ct_str k = cj_string(x);
                cj_ws(x);
                if (x->p >= x->end || *x->p != ':')
                    cj_fail(x, "a missing ':' after an object key");
                x->p++;
                vkslm_ct_dict_set(x->c, v.u.d, k, cj_value(x));
            } else {
                vkslm_ct_list_push(x->c, v.u.l, cj_value(x));
            }
            cj_ws(x);
            if (x->p < x->end && *x->p == ',') {
                x->p++;
                continue;
            }
            if (x->p < x->end && *x->p == close) {
                x->p++;
                x->depth--;
                return v;
            }
            cj_fail(x, "a missing ',' or closing bracket");
        }
    }
    if (cj_word(x, "true"))
        return vkslm_ct_bool(1);
    if (cj_word(x, "false"))
        return vkslm_ct_bool(0);
    if (cj_word(x, "null"))
        return vkslm_ct_none();
    return cj_number(x);
}

ct_value vkslm_ct_from_json(ct_ctx *c, const char *text, const char *what, bool taint) {
    cj x = {c, what, (const unsigned char *)text, (const unsigned char *)text, NULL, taint, 0};
    x.end = x.s + strlen(text);
    ct_value v = cj_value(&x);
    cj_ws(&x);
    if (x.p != x.end)
        cj_fail(&x, "text after the JSON value");
    return v;
}
