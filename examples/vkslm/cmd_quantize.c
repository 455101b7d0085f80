/* `vkslm quantize IN.gguf OUT.gguf TYPE`: requantizes an F32/F16/BF16 GGUF file (every key copied,
 * general.file_type updated; Q4_K_M and Q6_K as llama.cpp mixes them). docs/cli.md has the details. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vkslm_gguf.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm quantize [--threads N] IN.gguf OUT.gguf TYPE\n"
               "  IN.gguf      an F32, F16 or BF16 model (an already quantized file is refused)\n"
               "  TYPE         %s\n"
               "  --threads N  conversion threads (default: the CPUs)\n", vkslm_ftype_list());
}

static bool progress(float fraction, void *user) {
    (void)user;
    fprintf(stderr, "\rquantizing %3.0f%%", fraction * 100.0f);
    if (fraction >= 1.0f)
        fprintf(stderr, "\r               \r");
    return true;
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL}, *v;
    int n_pos = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "--threads"))) {
            if (!cli_parse_long("quantize", "--threads", v, 1, 64, &threads))
                return 2;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "vkslm quantize: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            fprintf(stderr, "vkslm quantize: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (n_pos != 3) {
        fprintf(stderr, "vkslm quantize: need IN.gguf OUT.gguf TYPE\n");
        usage(stderr);
        return 2;
    }
    vkslm_ftype ft;
    if (!vkslm_ftype_from_name(pos[2], &ft)) {
        fprintf(stderr, "vkslm quantize: unknown type '%s' (one of %s)\n", pos[2], vkslm_ftype_list());
        return 2;
    }
    if (strcmp(pos[0], pos[1]) == 0) {
        fprintf(stderr, "vkslm quantize: the output would overwrite the input\n");
        return 2;
    }
    vkslm_quantize_params qp = vkslm_quantize_default_params();
    qp.n_threads = (int)threads;
    qp.progress = isatty(STDERR_FILENO) ? progress : NULL;
    double t0 = cli_now_ms();
    if (vkslm_gguf_quantize(pos[0], pos[1], ft, &qp) != VKSLM_OK) {
        fprintf(stderr, "vkslm quantize: %s\n", vkslm_last_error());
        return 1;
    }
    double secs = (cli_now_ms() - t0) / 1e3;
    fprintf(stderr, "vkslm quantize: wrote %s (%s) in %.2f s\n", pos[1], vkslm_ftype_name(ft), secs);
    return 0;
}
