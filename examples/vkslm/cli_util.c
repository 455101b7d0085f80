/* Helpers the commands share: reading a whole file, parsing numbers with range checks, progress, a clock,
 * a log-softmax. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vkslm.h"

char *cli_read_file(const char *cmd, const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vkslm %s: %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, (cap *= 2) + 1);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || err) {
        fprintf(stderr, "vkslm %s: %s: %s\n", cmd, path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

bool cli_load_grammar(const char *cmd, const char *grammar_file, const char *schema_file, char **out) {
    *out = NULL;
    if (grammar_file && schema_file) {
        fprintf(stderr, "vkslm %s: --grammar and --json-schema together: give one\n", cmd);
        return false;
    }
    const char *path = grammar_file ? grammar_file : schema_file;
    if (!path)
        return true;
    size_t len;
    char *text = cli_read_file(cmd, path, &len);
    if (!text)
        return false;
    if (grammar_file) {
        *out = text;
        return true;
    }
    char *g = NULL;
    vkslm_status st = vkslm_json_schema_to_grammar(text, len, &g);
    free(text);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm %s: --json-schema %s: %s\n", cmd, path, vkslm_last_error());
        return false;
    }
    *out = g;
    return true;
}

int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "vkslm %s: %s wants an integer in [%ld, %ld], not '%s'\n", cmd, opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "vkslm %s: %s wants a number in [%g, %g], not '%s'\n", cmd, opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

bool cli_progress(float fraction, void *user) {
    (void)user;
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rloading %3.0f%%", fraction * 100.0f);
        if (fraction >= 1.0f)
            fprintf(stderr, "\r             \r");
    }
    return true;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

double cli_log_softmax_at(const float *a, size_t n, size_t id) {
    double m = -INFINITY, s = 0;
    /* a comparison, not fmax(): Debian's aarch64 GCC 12.2 crashes vectorizing an fmax reduction (internal
     * compiler error in vect_transform_reduction); NaNs are skipped either way */
    for (size_t i = 0; i < n; i++)
        if ((double)a[i] > m)
            m = (double)a[i];
    for (size_t i = 0; i < n; i++)
        s += exp((double)a[i] - m);
    return (double)a[id] - m - log(s);
}
