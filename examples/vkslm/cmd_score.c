/* vkslm score -m MODEL --tokens "ID ID ..." [--top K] [--json] [--logprobs]: runs the ids as one prompt
 * (nothing added) and prints, for every position, the K best next-token ids with their logits, or with
 * their log-probabilities (the log-softmax of the row, in double; NaN counts as -inf). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vkslm.h"

#define MAX_TOP 100

typedef struct score_ctx {
    int32_t n_vocab, top;
    int json, logprobs;
    size_t printed;
} score_ctx;

/* log(sum(exp(l))) over the row: what a logit less is its log-probability. */
static double log_sum_exp(const float *l, int32_t n) {
    double max = -INFINITY, sum = 0;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > max)
            max = l[i];
    if (max == -INFINITY)
        return INFINITY; /* no token is possible: every log-probability is -inf */
    for (int32_t i = 0; i < n; i++)
        if (l[i] > -INFINITY)
            sum += exp((double)l[i] - max);
    return max + log(sum);
}

static bool on_logits(const float *logits, size_t first, size_t n, void *user) {
    score_ctx *c = user;
    int32_t ids[MAX_TOP];
    for (size_t r = 0; r < n; r++) {
        const float *l = logits + r * (size_t)c->n_vocab;
        int k = 0; /* insertion into a sorted top list: best first, ties to the lower id */
        for (int32_t i = 0; i < c->n_vocab; i++) {
            if (k == c->top && !(l[i] > l[ids[k - 1]]))
                continue;
            int j = k < c->top ? k++ : k - 1;
            while (j > 0 && l[i] > l[ids[j - 1]]) {
                ids[j] = ids[j - 1];
                j--;
            }
            ids[j] = i;
        }
        double sub = c->logprobs ? log_sum_exp(l, c->n_vocab) : 0;
        if (c->json) {
            printf("%s[", c->printed++ ? ", " : "");
            for (int j = 0; j < k; j++) {
                double v = l[ids[j]] - sub;
                if (isfinite(v))
                    printf("%s[%d, %.6g]", j ? ", " : "", ids[j], v);
                else /* JSON has no infinities */
                    printf("%s[%d, null]", j ? ", " : "", ids[j]);
            }
            printf("]");
        } else {
            printf("%6zu ", first + r);
            for (int j = 0; j < k; j++)
                printf(" %7d:%-10.4f", ids[j], l[ids[j]] - sub);
            printf("\n");
        }
    }
    return true;
}

int cmd_score(int argc, char **argv) {
    const char *model_path = NULL, *tokens = NULL, *device = NULL, *v;
    long top = 5;
    int json = 0, logprobs = 0;
    cli_lora lo = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            printf("usage: vkslm score -m MODEL.gguf --tokens \"ID ID ...\" [--top K] [--json] [--logprobs] "
                   "[--device D] [--lora PATH[:SCALE]]...\n"
                   "Runs the ids exactly as given (nothing added; separated by spaces or commas, or a JSON array)\n"
                   "and prints the top-K (default 5) next-token ids and logits at every position; with --logprobs,\n"
                   "their log-probabilities (the log-softmax of the logits) instead.\n");
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = cli_value(argc, argv, &i, "--tokens")))
            tokens = v;
        else if ((v = cli_value(argc, argv, &i, "--top"))) {
            if (!cli_parse_long("score", "--top", v, 1, MAX_TOP, &top))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--device")))
            device = v;
        else if ((v = cli_value(argc, argv, &i, "--lora"))) {
            if (!cli_lora_parse("score", v, &lo))
                return 2;
        } else if (cli_flag(argv[i], "--json"))
            json = 1;
        else if (cli_flag(argv[i], "--logprobs"))
            logprobs = 1;
        else {
            fprintf(stderr, "vkslm score: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!model_path || !tokens) {
        fprintf(stderr, "usage: vkslm score -m MODEL.gguf --tokens \"ID ID ...\" [--top K] [--json] [--logprobs]\n");
        return 2;
    }
    size_t cap = strlen(tokens) / 2 + 2, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    for (const char *p = tokens; ids && *p;) {
        if (isspace((unsigned char)*p) || *p == ',' || *p == '[' || *p == ']') {
            p++;
            continue;
        }
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || id < 0 || id > INT32_MAX) {
            fprintf(stderr, "vkslm score: --tokens: '%.20s' is not a token id\n", p);
            free(ids);
            return 2;
        }
        ids[n++] = (int32_t)id;
        p = end;
    }
    if (!ids || n == 0) {
        fprintf(stderr, "vkslm score: --tokens holds no ids\n");
        free(ids);
        return 2;
    }
    vkslm_model_params mp = vkslm_model_default_params();
    mp.device = device;
    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    vkslm_session *s = NULL;
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = (uint32_t)n;
    int rc = 1;
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &s);
    if (st == VKSLM_OK && !cli_lora_attach("score", model, s, 1, &lo)) {
        vkslm_session_free(s);
        cli_lora_free(&lo);
        vkslm_model_free(model);
        free(ids);
        return 1;
    }
    score_ctx c = {model ? vkslm_model_n_vocab(model) : 0, (int32_t)top, json, logprobs, 0};
    if (st == VKSLM_OK) {
        if (c.top > c.n_vocab)
            c.top = c.n_vocab;
        if (json)
            printf("{\"positions\": [");
        st = vkslm_session_eval_all(s, ids, n, on_logits, &c);
        if (json && st == VKSLM_OK)
            printf("]}\n");
    }
    if (st != VKSLM_OK)
        fprintf(stderr, "\nvkslm score: %s\n", vkslm_last_error());
    else
        rc = 0;
    vkslm_session_free(s);
    cli_lora_free(&lo);
    vkslm_model_free(model);
    free(ids);
    return rc;
}
