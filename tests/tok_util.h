/* Helpers shared by the tokenizer tests: loading a tokenizer from the test data, reading files. */
#ifndef VKSLM_TESTS_TOK_UTIL_H
#define VKSLM_TESTS_TOK_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/harness.h"

/* The tokenizer of <testdata>/<rel>, or NULL (the failure is reported). */
static inline vkslm_tokenizer *tok_load(const char *rel) {
    char path[1024];
    test_data_path(path, sizeof path, rel);
    vkslm_gguf *g = NULL;
    vkslm_tokenizer *t = NULL;
    if (vkslm_gguf_open_file(path, &g) != VKSLM_OK || vkslm_tokenizer_load(g, &t) != VKSLM_OK) {
        fprintf(stderr, "%s: %s\n", path, vkslm_last_error());
        t = NULL;
    }
    vkslm_gguf_close(g);
    return t;
}

/* The whole file, NUL-terminated; *len its size. NULL if it cannot be read. */
static inline char *tok_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* Tokenizes into a malloc'd array (*n ids); NULL on failure. */
static inline int32_t *tok_run(const vkslm_tokenizer *t, const char *s, size_t len, int add_special, int parse_special,
                               size_t *n) {
    size_t cap = len * 2 + 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids || vkslm_tokenize(t, s, len, add_special, parse_special, ids, cap, n) != VKSLM_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}
#endif
