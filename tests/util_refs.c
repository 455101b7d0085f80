#include "tests/util_refs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

static uint32_t parse_ids(char *s, int32_t *out, uint32_t cap) {
    uint32_t n = 0;
    for (char *tok = strtok(s, " \n"); tok && n < cap; tok = strtok(NULL, " \n"))
        out[n++] = (int32_t)strtol(tok, NULL, 10);
    return n;
}

int test_ref_load(const char *name, test_ref *r) {
    memset(r, 0, sizeof *r);
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "refs/%s.txt", name);
    FILE *f = fopen(test_data_path(path, sizeof path, rel), "r");
    if (!f)
        return -1;
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        char *val = tab + 1;
        size_t len = strlen(val);
        if (len && val[len - 1] == '\n')
            val[--len] = 0;
        if (!strcmp(line, "model"))
            snprintf(r->model, sizeof r->model, "%s", val);
        else if (!strcmp(line, "prompt"))
            snprintf(r->prompt, sizeof r->prompt, "%s", val);
        else if (!strcmp(line, "add_bos"))
            r->add_bos = atoi(val);
        else if (!strcmp(line, "prompt_tokens"))
            r->n_prompt = parse_ids(val, r->prompt_tokens, 512);
        else if (!strcmp(line, "n_vocab"))
            r->n_vocab = (uint32_t)strtoul(val, NULL, 10);
        else if (!strcmp(line, "greedy"))
            r->n_greedy = parse_ids(val, r->greedy, 64);
        else if (!strcmp(line, "top8_last_logits")) {
            int i = 0;
            for (char *tok = strtok(val, " "); tok && i < 8; tok = strtok(NULL, " "), i++) {
                r->top8[i] = (int32_t)strtol(tok, &tok, 10);
                r->top8_logit[i] = strtof(tok + 1, NULL);
            }
        }
    }
    fclose(f);
    return r->model[0] && r->n_prompt && r->n_vocab ? 0 : -1;
}

float *test_ref_logits(const char *name, uint32_t n_vocab, int exact) {
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "refs/%s%s", name, exact ? ".exact.logits.f32" : ".logits.f32");
    FILE *f = fopen(test_data_path(path, sizeof path, rel), "rb");
    if (!f)
        return NULL;
    float *l = malloc((size_t)n_vocab * sizeof *l);
    if (l && fread(l, sizeof *l, n_vocab, f) != n_vocab) {
        free(l);
        l = NULL;
    }
    fclose(f);
    return l;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int test_refs_filtered(void) {
    const char *f = getenv("VKSLM_TEST_REFS");
    return f && *f;
}

/* whether reference `name` ("MODEL.PROMPT") is one of VKSLM_TEST_REFS's models (every name when unset) */
static int ref_selected(const char *name) {
    if (!test_refs_filtered())
        return 1;
    const char *dot = strrchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    for (const char *p = getenv("VKSLM_TEST_REFS"); *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

const char *const *test_ref_names(void) {
    static char *names[256];
    static int loaded;
    if (loaded)
        return (const char *const *)names;
    loaded = 1;
    char path[1024];
    DIR *d = opendir(test_data_path(path, sizeof path, "refs"));
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && n < 255) {
            size_t len = strlen(e->d_name);
            if (len > 4 && !strcmp(e->d_name + len - 4, ".txt")) {
                names[n] = strdup(e->d_name);
                names[n][len - 4] = 0;
                if (ref_selected(names[n]))
                    n++;
                else
                    free(names[n]);
            }
        }
        closedir(d);
    }
    qsort(names, (size_t)n, sizeof *names, by_name);
    names[n] = NULL;
    return (const char *const *)names;
}
