/* vkslm bench without -m: a synthetic model of a named shape and type (vkslm_synth_write, vkslm_gguf.h)
 * written to a temporary file, loaded, and removed again. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "vkslm_gguf.h"

int bench_make_model(const char *shape, const char *type, char *path, size_t cap) {
    const vkslm_synth_shape *s = vkslm_synth_shape_find(shape);
    if (!s) {
        fprintf(stderr, "vkslm bench: unknown shape '%s' (vkslm mkmodel --help lists them)\n", shape);
        return 1;
    }
    vkslm_synth_params p = {.shape = *s, .seed = 1, .progress = NULL};
    if (!vkslm_ftype_from_name(type, &p.ftype)) {
        fprintf(stderr, "vkslm bench: unknown type '%s'\n", type);
        return 1;
    }
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/vkslm-bench-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("vkslm bench: temporary file");
        return 1;
    }
    close(fd);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "bench: writing a synthetic %s %s ...", shape, type);
    vkslm_status st = vkslm_synth_write(path, &p);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r%60s\r", "");
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm bench: %s\n", vkslm_last_error());
        unlink(path);
        return 1;
    }
    return 0;
}
