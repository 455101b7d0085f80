/* vkslm_tok_bench MODEL.gguf TEXT_FILE [--mb N] [--runs R]: tokenizer throughput (MB/s, tokens/s) on
 * the first N MiB (default 1) of a text file; the best of R runs (default 3). A measurement, not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/tokenizer/tokenizer.h"
#include "loaders/gguf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: vkslm_tok_bench MODEL.gguf TEXT_FILE [--mb N] [--runs R]\n");
        return 2;
    }
    double mb = 1;
    int runs = 3;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mb") == 0)
            mb = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    size_t want = (size_t)(mb * 1024 * 1024), len = 0;
    char *text = malloc(want ? want : 1);
    if (!text)
        return 1;
    len = fread(text, 1, want, f);
    fclose(f);
    vkslm_gguf *g;
    vkslm_tokenizer *tok;
    double t0 = now();
    if (vkslm_gguf_open_file(argv[1], &g) != VKSLM_OK || vkslm_tokenizer_load(g, &tok) != VKSLM_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], vkslm_last_error());
        return 1;
    }
    double load = now() - t0;
    vkslm_gguf_close(g);
    size_t cap = len + 16, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double s = now();
        if (vkslm_tokenize(tok, text, len, 0, 0, ids, cap, &n) != VKSLM_OK) {
            fprintf(stderr, "tokenize: %s\n", vkslm_last_error());
            return 1;
        }
        double e = now() - s;
        if (e < best)
            best = e;
    }
    printf("%s: %zu bytes -> %zu tokens (%.2f bytes/token); tokenize %.1f ms = %.2f MB/s, %.0f tokens/s; "
           "load %.0f ms\n",
           argv[1], len, n, n ? (double)len / (double)n : 0.0, best * 1e3, (double)len / best / 1e6,
           (double)n / best, load * 1e3);
    free(ids);
    free(text);
    vkslm_tokenizer_free(tok);
    return 0;
}
