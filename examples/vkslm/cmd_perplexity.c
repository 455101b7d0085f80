/* vkslm perplexity -m MODEL -f TEXT [--ctx N]: perplexity of a text in windows of N tokens. Each window
 * starts with BOS (where the vocabulary has one) and scores its second half, whose predictions all see
 * at least N/2 tokens of context (the convention llama.cpp's perplexity tool uses). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vkslm.h"

typedef struct ppl_ctx {
    const int32_t *window; /* the ids fed */
    size_t n, score_from;  /* score predictions of window[i + 1] for i >= score_from - 1 */
    int32_t n_vocab;
    double nll, nll2;
    size_t count;
} ppl_ctx;

static bool on_logits(const float *logits, size_t first, size_t n, void *user) {
    ppl_ctx *c = user;
    for (size_t r = 0; r < n; r++) {
        size_t i = first + r; /* the logits at position i predict window[i + 1] */
        if (i + 1 >= c->n || i + 1 < c->score_from)
            continue;
        const float *l = logits + r * (size_t)c->n_vocab;
        double nll = -cli_log_softmax_at(l, (size_t)c->n_vocab, (size_t)c->window[i + 1]);
        c->nll += nll;
        c->nll2 += nll * nll;
        c->count++;
    }
    return true;
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL, *device = NULL, *v;
    long ctx = 512;
    int json = 0;
    cli_lora lo = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            printf("usage: vkslm perplexity -m MODEL.gguf -f TEXT [--ctx N] [--json] [--device D] "
                   "[--lora PATH[:SCALE]]...\n"
                   "Perplexity over the text in windows of N tokens (default 512); each window scores its\n"
                   "second half.\n");
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = cli_value(argc, argv, &i, "-f")) || (v = cli_value(argc, argv, &i, "--file")))
            file = v;
        else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            if (!cli_parse_long("perplexity", "--ctx", v, 8, 1 << 20, &ctx))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--device")))
            device = v;
        else if ((v = cli_value(argc, argv, &i, "--lora"))) {
            if (!cli_lora_parse("perplexity", v, &lo))
                return 2;
        } else if (cli_flag(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "vkslm perplexity: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!model_path || !file) {
        fprintf(stderr, "usage: vkslm perplexity -m MODEL.gguf -f TEXT [--ctx N]\n");
        return 2;
    }
    size_t len;
    char *text = cli_read_file("perplexity", file, &len);
    if (!text)
        return 1;
    vkslm_model_params mp = vkslm_model_default_params();
    mp.device = device;
    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    vkslm_session *s = NULL;
    int32_t *ids = NULL, *win = NULL;
    size_t n_ids = 0;
    int rc = 1;
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    if (st == VKSLM_OK && (uint64_t)ctx > vkslm_model_n_ctx_train(model) && vkslm_model_n_ctx_train(model))
        ctx = (long)vkslm_model_n_ctx_train(model);
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = (uint32_t)ctx;
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &s);
    if (st == VKSLM_OK && !cli_lora_attach("perplexity", model, s, 1, &lo))
        goto done;
    if (st == VKSLM_OK && !(ids = malloc((len + 2) * sizeof *ids)))
        st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
    if (st == VKSLM_OK)
        st = vkslm_model_tokenize(model, text, len, 0, false, ids, len + 2, &n_ids);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm perplexity: %s\n", vkslm_last_error());
        goto done;
    }
    /* BOS id: what tokenizing "" with BOS gives */
    int32_t bos = -1;
    size_t nb = 0;
    if (vkslm_model_tokenize(model, "", 0, 1, false, &bos, 1, &nb) != VKSLM_OK || nb != 1)
        bos = -1;
    size_t W = (size_t)ctx;
    if (n_ids < W) {
        fprintf(stderr, "vkslm perplexity: the text has %zu tokens; a window needs %zu (use a smaller --ctx)\n", n_ids,
                W);
        goto done;
    }
    win = malloc(W * sizeof *win);
    ppl_ctx c = {win, W, W / 2, vkslm_model_n_vocab(model), 0, 0, 0};
    size_t windows = n_ids / W;
    for (size_t w = 0; w < windows && st == VKSLM_OK; w++) {
        memcpy(win, ids + w * W, W * sizeof *win);
        if (bos >= 0)
            win[0] = bos;
        st = vkslm_session_rewind(s, 0);
        if (st == VKSLM_OK)
            st = vkslm_session_eval_all(s, win, W, on_logits, &c);
        if (!json)
            fprintf(stderr, "[%zu/%zu] %.4f\n", w + 1, windows, exp(c.nll / (double)c.count));
    }
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm perplexity: %s\n", vkslm_last_error());
        goto done;
    }
    double mean = c.nll / (double)c.count;
    double var = c.nll2 / (double)c.count - mean * mean;
    double err = exp(mean) * sqrt(var > 0 ? var / (double)(c.count > 1 ? c.count - 1 : 1) : 0);
    if (json)
        printf("{\"perplexity\": %.6f, \"stderr\": %.6f, \"tokens_scored\": %zu, \"windows\": %zu, \"ctx\": %zu}\n",
               exp(mean), err, c.count, windows, W);
    else
        printf("perplexity: %.4f +/- %.4f over %zu tokens (%zu windows of %zu)\n", exp(mean), err, c.count, windows, W);
    rc = 0;
done:
    free(win);
    free(ids);
    free(text);
    vkslm_session_free(s);
    cli_lora_free(&lo);
    vkslm_model_free(model);
    return rc;
}
