/* vkslm serve: strict request JSON and clean response text. cJSON keeps the first of two equal keys
 * and says nothing; a request whose meaning depends on which copy wins is refused instead. Every string
 * we send that came from a request (error messages that quote it) is made valid UTF-8 first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/vkslm/serve.h"

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
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return root;
}
