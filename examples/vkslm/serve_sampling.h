/* vkslm serve: the sampling keys beyond the sampler's numbers (serve_sampling.c): logprobs, top_logprobs,
 * logit_bias, n, stream_options, echo, best_of and suffix, parsed from a request and checked against the
 * expert; and the logprobs objects of responses and chunks, in OpenAI's shapes. */
#ifndef VKSLM_CLI_SERVE_SAMPLING_H
#define VKSLM_CLI_SERVE_SAMPLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

struct cJSON;

#define SERVE_MAX_N 16              /* choices a request may ask for (and at most the expert's parallel) */
#define SERVE_MAX_LOGIT_BIAS 1024   /* entries of logit_bias */
#define SERVE_MAX_COMPLETION_LOGPROBS 5

typedef struct serve_sampling {
    int n;                   /* choices (n), 1 by default */
    bool logprobs;           /* chat: logprobs true; completions: logprobs present */
    int top_logprobs;        /* alternatives per token: chat's top_logprobs, completions' logprobs */
    bool include_usage;      /* stream_options.include_usage */
    bool echo;               /* completions: the prompt leads the text */
    vkslm_logit_bias *bias;  /* logit_bias (malloc'd) */
    size_t n_bias;
} serve_sampling;

/* Parses the keys above from a request body (chat: 1 for /v1/chat/completions; stream: the request's
 * stream) into *s (zeroed first). NULL on success, else the message for a 400 and *param the key. */
const char *serve_sampling_parse(const struct cJSON *root, int chat, int stream, serve_sampling *s,
                                 const char **param);
/* Sets the generation fields (logprobs, top_logprobs, logit bias) from *s; gp borrows s->bias. */
void serve_sampling_apply(const serve_sampling *s, vkslm_generate_params *gp);
/* Checks *s against the expert: n at most its parallel (sequences), every biased token in its vocabulary.
 * NULL when fine, else the message (in msg) for a 400 and *param the key. */
const char *serve_sampling_check(const serve_sampling *s, uint32_t parallel, int32_t n_vocab, const char **param,
                                 char *msg, size_t cap);
void serve_sampling_free(serve_sampling *s);

/* The logprobs of lp[0..n) (tokens of model): chat {"content": [{token, logprob, bytes, top_logprobs}]};
 * completions {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}, the offsets
 * counted from *offset (advanced past the tokens' text). */
struct cJSON *serve_logprobs_json(const vkslm_model *model, int chat, const vkslm_token_logprobs *lp, size_t n,
                                  size_t *offset);
#endif
