/* vkslm embed -m MODEL (-p TEXT | -f FILE)... [--pooling mean|last] [--json]: the L2-normalised embedding of
 * each input (the model's final hidden states, pooled), one line of floats per input, or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vkslm.h"

#define MAX_INPUTS 256

static const char usage_text[] =
    "usage: vkslm embed -m MODEL.gguf (-p TEXT | -f FILE)... [--pooling mean|last] [--json] [--ctx N] [--device D]\n"
    "Prints the embedding of each input (-p and -f may repeat, up to 256 inputs; '-f -' reads stdin): the\n"
    "model's final hidden states pooled by the mean of every token (the default, unless the model's\n"
    "pooling_type says last) or by the last token, L2-normalised. One line of n_embd numbers per input, or\n"
    "with --json one object.\n";

/* %.9g: a float read back from its text is the same float */
static void print_vector(const float *v, int32_t n, const char *sep) {
    for (int32_t i = 0; i < n; i++)
        printf("%s%.9g", i ? sep : "", (double)v[i]);
}

/* Loads the model and prints every input's embedding; the exit status. */
static int embed_all(const char *model_path, const char *device, uint32_t n_ctx, vkslm_pooling pooling, int json,
                     const char *const *texts, size_t n_in) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.device = device;
    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    vkslm_session *s = NULL;
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = n_ctx;
    float *vec = NULL;
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &s);
    int32_t n_embd = model ? vkslm_model_n_embd(model) : 0;
    int oom = st == VKSLM_OK && !(vec = malloc((size_t)n_embd * sizeof *vec));
    if (oom)
        st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
    vkslm_pooling used = pooling == VKSLM_POOLING_DEFAULT && model ? vkslm_model_pooling(model) : pooling;
    if (st == VKSLM_OK && json)
        printf("{\"pooling\": \"%s\", \"n_embd\": %d, \"data\": [", vkslm_pooling_str(used), n_embd);
    for (size_t k = 0; st == VKSLM_OK && k < n_in; k++) {
        size_t n_tokens = 0;
        st = vkslm_embed(s, 0, texts[k], pooling, vec, &n_tokens);
        if (st != VKSLM_OK)
            break;
        if (json) {
            printf("%s{\"index\": %zu, \"tokens\": %zu, \"embedding\": [", k ? ", " : "", k, n_tokens);
            print_vector(vec, n_embd, ", ");
            printf("]}");
        } else {
            print_vector(vec, n_embd, " ");
            printf("\n");
        }
    }
    if (st == VKSLM_OK && json)
        printf("]}\n");
    if (st != VKSLM_OK)
        fprintf(stderr, "\nvkslm embed: %s\n", oom ? "out of memory" : vkslm_last_error());
    free(vec);
    vkslm_session_free(s);
    vkslm_model_free(model);
    return st == VKSLM_OK ? 0 : 1;
}

int cmd_embed(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL, *v;
    const char *texts[MAX_INPUTS];
    char *owned[MAX_INPUTS];
    size_t n_in = 0, n_owned = 0;
    vkslm_pooling pooling = VKSLM_POOLING_DEFAULT;
    long n_ctx = 0;
    int json = 0, rc = 2;
    for (int i = 1; i < argc; i++) {
        int is_file = 0;
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            fputs(usage_text, stdout);
            rc = 0;
            goto out;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model"))) {
            model_path = v;
        } else if ((v = cli_value(argc, argv, &i, "-p")) || (v = cli_value(argc, argv, &i, "--prompt")) ||
                   (is_file = (v = cli_value(argc, argv, &i, "-f")) || (v = cli_value(argc, argv, &i, "--file")))) {
            if (n_in == MAX_INPUTS) {
                fprintf(stderr, "vkslm embed: at most %d inputs\n", MAX_INPUTS);
                goto out;
            }
            if (is_file) {
                size_t len;
                char *text = cli_read_file("embed", v, &len);
                if (!text)
                    goto out;
                owned[n_owned++] = text;
                v = text;
            }
            texts[n_in++] = v;
        } else if ((v = cli_value(argc, argv, &i, "--pooling"))) {
            if (strcmp(v, "mean") == 0) {
                pooling = VKSLM_POOLING_MEAN;
            } else if (strcmp(v, "last") == 0) {
                pooling = VKSLM_POOLING_LAST;
            } else {
                fprintf(stderr, "vkslm embed: --pooling must be mean or last, not '%s'\n", v);
                goto out;
            }
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            if (!cli_parse_long("embed", "--ctx", v, 1, 1L << 20, &n_ctx))
                goto out;
        } else if ((v = cli_value(argc, argv, &i, "--device"))) {
            device = v;
        } else if (cli_flag(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "vkslm embed: unknown option '%s'\n", argv[i]);
            goto out;
        }
    }
    if (!model_path || n_in == 0)
        fputs(usage_text, stderr);
    else
        rc = embed_all(model_path, device, (uint32_t)n_ctx, pooling, json, texts, n_in);
out:
    for (size_t k = 0; k < n_owned; k++)
        free(owned[k]);
    return rc;
}
