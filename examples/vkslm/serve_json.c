/* vkslm serve: strict request JSON and clean response text. cJSON accepts more than RFC 8259 (trailing
 * text, leading zeros, "1.", raw control characters in strings, bad \u escapes) and keeps the first of two
 * equal keys without a word; a body is first checked against the grammar here, and a request whose meaning
 * depends on which copy of a key wins is refused. A string holding \u0000 is refused too: C strings would
 * cut it there ("stories\u0000evil" would read as "stories"). Every string we send that came from a
 * request (error messages that quote it) is made valid UTF-8 first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ---- RFC 8259 grammar ------------------------------------------------------------------------------ */
#define JSON_MAX_DEPTH 512

typedef struct lexer {
    const unsigned char *p, *end, *start;
    const char *why;
} lexer;

static void skip_ws(lexer *x) {
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static int hex4(const unsigned char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int string_ok(lexer *x) { /* at the opening quote */
    x->p++;
    while (x->p < x->end && *x->p != '"') {
        unsigned char c = *x->p;
        if (c < 0x20) {
            x->why = c ? "a control character inside a string (escape it)" : "a NUL byte inside a string";
            return 0;
        }
        if (c == '\\') {
            if (x->end - x->p < 2) break;
            unsigned char e = x->p[1];
            if (e == 'u') {
                int v = x->end - x->p >= 6 ? hex4(x->p + 2) : -1;
                if (v < 0) {
                    x->why = "a \\u escape without four hex digits";
                    return 0;
                }
                if (v == 0) {
                    x->why = "a string holds \\u0000 (NUL), which is not accepted";
                    return 0;
                }
                x->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e) {
                x->why = "an unknown escape inside a string";
                return 0;
            }
            x->p += 2;
            continue;
        }
        x->p++;
    }
    if (x->p >= x->end) {
        x->why = "a string that does not end";
        return 0;
    }
    x->p++;
    return 1;
}

static int number_ok(lexer *x) {
    const unsigned char *p = x->p, *e = x->end;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        goto bad;
    if (p < e && *p == '.') {
        if (++p >= e || *p < '0' || *p > '9')
            goto bad;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            goto bad;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && *p >= '0' && *p <= '9')
        goto bad; /* "08" */
    x->p = p;
    return 1;
bad:
    x->why = "a malformed number";
    return 0;
}

static int word_ok(lexer *x, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(x->end - x->p) < n || memcmp(x->p, w, n) != 0) {
        x->why = "an unexpected character";
        return 0;
    }
    x->p += n;
    return 1;
}

/* The body is exactly one JSON value (whitespace around it). Iterative: a stack of open containers. */
static int grammar_ok(lexer *x) {
    char stack[JSON_MAX_DEPTH]; /* '{' or '[' */
    int depth = 0;
    for (;;) {
        skip_ws(x); /* a value */
        if (x->p >= x->end) {
            x->why = "the body ends where a value should be";
            return 0;
        }
        unsigned char c = *x->p;
        if (c == '{' || c == '[') {
            if (depth == JSON_MAX_DEPTH) {
                x->why = "arrays and objects nested too deep";
                return 0;
            }
            stack[depth++] = (char)c;
            x->p++;
            skip_ws(x);
            if (x->p < x->end && *x->p == (c == '{' ? '}' : ']')) {
                x->p++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto key;
            continue;
        }
        if (!(c == '"' ? string_ok(x) : c == 't' ? word_ok(x, "true") : c == 'f' ? word_ok(x, "false")
              : c == 'n' ? word_ok(x, "null") : number_ok(x)))
            return 0;
    after_value:
        skip_ws(x);
        if (depth == 0)
            break;
        if (x->p < x->end && *x->p == ',') {
            x->p++;
            if (stack[depth - 1] == '[')
                continue;
        key:
            skip_ws(x);
            if (x->p >= x->end || *x->p != '"') {
                x->why = "an object key that is not a string";
                return 0;
            }
            if (!string_ok(x))
                return 0;
            skip_ws(x);
            if (x->p >= x->end || *x->p != ':') {
                x->why = "a missing ':' after an object key";
                return 0;
            }
            x->p++;
            continue;
        }
        if (x->p < x->end && *x->p == (stack[depth - 1] == '{' ? '}' : ']')) {
            x->p++;
            depth--;
            goto after_value;
        }
        x->why = "a missing ',' or closing bracket";
        return 0;
    }
    if (x->p != x->end) {
        x->why = "text after the JSON value";
        return 0;
    }
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first key that an object under v holds twice, or NULL. cJSON's nesting limit bounds the depth. */
static const char *duplicate_key(const cJSON *v, int *oom) {
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return NULL;
    const cJSON *x;
    if (cJSON_IsObject(v)) {
        size_t n = 0, k = 0;
        cJSON_ArrayForEach(x, v) n++;
        if (n > 1) {
            const char **names = malloc(n * sizeof *names);
            if (!names) {
                *oom = 1;
                return NULL;
            }
            cJSON_ArrayForEach(x, v) names[k++] = x->string ? x->string : "";
            qsort(names, n, sizeof *names, by_name);
            const char *dup = NULL;
            for (k = 1; k < n && !dup; k++)
                if (strcmp(names[k - 1], names[k]) == 0)
                    dup = names[k];
            free(names);
            if (dup)
                return dup;
        }
    }
    cJSON_ArrayForEach(x, v) {
        const char *d = duplicate_key(x, oom);
        if (d || *oom)
            return d;
    }
    return NULL;
}

cJSON *serve_json_parse(const char *body, size_t len, char *err, size_t cap) {
    lexer x = {(const unsigned char *)body, (const unsigned char *)body + len, (const unsigned char *)body, NULL};
    if (!grammar_ok(&x)) {
        snprintf(err, cap, "the body is not valid JSON: %s (near byte %ld)", x.why, (long)(x.p - x.start));
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(err, cap, "the body is not valid JSON (near byte %ld)", at && at >= body ? (long)(at - body) : 0L);
        return NULL;
    }
    int oom = 0;
    const char *dup = duplicate_key(root, &oom);
    if (dup || oom) {
        char name[128];
        serve_text_clean(dup ? dup : "", name, sizeof name);
        if (oom)
            snprintf(err, cap, "out of memory while reading the body");
        else
            snprintf(err, cap, "the body holds the key \"%s\" twice in one object", name);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

void serve_text_clean(const char *s, char *out, size_t cap) {
    if (!cap)
        return;
    size_t n = vkslm_utf8_sanitize(s, strlen(s), out, cap);
    if (n >= cap) { /* cut: drop a partial character at the end */
        size_t k = cap - 1;
        while (k > 0 && ((unsigned char)out[k] & 0xC0) == 0x80)
            k--;
        unsigned char lead = (unsigned char)out[k];
        size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        out[k + want <= cap - 1 ? k + want : k] = 0;
    }
}

cJSON *serve_error_object(unsigned status, const char *code, const char *param, const char *message) {
    char clean[1024];
    serve_text_clean(message, clean, sizeof clean);
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", clean);
    cJSON_AddStringToObject(e, "type", status >= 500 ? "server_error" : "invalid_request_error");
    if (param) { /* it may name a key the request spelt in invalid UTF-8 */
        serve_text_clean(param, clean, sizeof clean);
        cJSON_AddStringToObject(e, "param", clean);
    }
    else
        cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return root;
}
