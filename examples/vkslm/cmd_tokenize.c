/* `vkslm tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--parse-special] [--ids]`: the token ids of
 * a text under a model's tokenizer. The model is loaded vocabulary-only (no Vulkan device, no weights), so
 * this works on vocab-only GGUF files and on machines without Vulkan. docs/cli.md has the output format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "vkslm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm tokenize -m MODEL.gguf (-p TEXT | -f FILE) [--no-bos] [--parse-special] [--ids]\n"
               "  -m, --model PATH   the GGUF file (a vocab-only file is enough)\n"
               "  -p, --prompt TEXT  the text to tokenize\n"
               "  -f, --file PATH    read the text from a file ('-': standard input), byte for byte\n"
               "  --no-bos           do not add BOS/EOS even where the vocabulary asks for them\n"
               "  --parse-special    turn special-token text such as <|eot_id|> into its id\n"
               "  --ids              print the ids as one JSON array on one line\n"
               "Default output: one line per token, `id<TAB>piece`, the piece as a JSON string.\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *v;
    int add_special = 1, parse_special = 0, ids_only = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model"))) {
            model = v;
        } else if ((v = cli_value(argc, argv, &i, "-p")) || (v = cli_value(argc, argv, &i, "--prompt"))) {
            prompt = v;
        } else if ((v = cli_value(argc, argv, &i, "-f")) || (v = cli_value(argc, argv, &i, "--file"))) {
            file = v;
        } else if (cli_flag(argv[i], "--no-bos")) {
            add_special = 0;
        } else if (cli_flag(argv[i], "--parse-special")) {
            parse_special = 1;
        } else if (cli_flag(argv[i], "--ids")) {
            ids_only = 1;
        } else {
            fprintf(stderr, "vkslm tokenize: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (!prompt == !file)) {
        fprintf(stderr, "vkslm tokenize: need -m MODEL and exactly one of -p TEXT or -f FILE\n");
        usage(stderr);
        return 2;
    }
    size_t len = 0;
    char *text = NULL;
    if (file && !(text = cli_read_file("tokenize", file, &len)))
        return 1;
    if (prompt)
        len = strlen(prompt);

    int rc = 1;
    vkslm_model *m = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    if (vkslm_model_load(model, &mp, &m) != VKSLM_OK) {
        fprintf(stderr, "vkslm tokenize: %s: %s\n", model, vkslm_last_error());
        goto done;
    }
    const char *src = prompt ? prompt : text;
    vkslm_status st = vkslm_model_tokenize_special(m, src, len, add_special, parse_special, NULL, 0, &n);
    if (st == VKSLM_ERR_LIMIT && (ids = malloc(n * sizeof *ids)) != NULL)
        st = vkslm_model_tokenize_special(m, src, len, add_special, parse_special, ids, n, &n);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm tokenize: %s\n", ids || n == 0 ? vkslm_last_error() : "out of memory");
        goto done;
    }
    if (ids_only) {
        putchar('[');
        for (size_t i = 0; i < n; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        printf("]\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t plen;
            const char *piece = vkslm_model_token_piece(m, ids[i], true, &plen);
            printf("%d\t", ids[i]);
            json_str(stdout, piece, plen);
            putchar('\n');
        }
    }
    rc = 0;
done:
    free(ids);
    free(text);
    vkslm_model_free(m);
    return rc;
}
