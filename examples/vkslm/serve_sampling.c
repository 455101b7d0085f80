/* vkslm serve: the sampling keys logprobs, top_logprobs, logit_bias, n, stream_options, echo, best_of and
 * suffix (serve_sampling.h). Log-probabilities are the engine's: the log-softmax of the model's raw logits
 * before logit bias, penalties and temperature (vkslm_token_logprobs). */
#include "serve_sampling.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

/* 1: an integer in [lo, hi] at key (in *v); 0: absent or null; -1: present and wrong. */
static int int_field(const cJSON *o, const char *key, double lo, double hi, int *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x || cJSON_IsNull(x))
        return 0;
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi) || x->valuedouble != floor(x->valuedouble))
        return -1;
    *v = (int)x->valuedouble;
    return 1;
}

/* 1 true, 0 false or absent or null, -1 not a boolean. */
static int bool_field(const cJSON *o, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x || cJSON_IsNull(x))
        return 0;
    return cJSON_IsBool(x) ? cJSON_IsTrue(x) : -1;
}

static const char *parse_bias(const cJSON *root, serve_sampling *s) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "logit_bias");
    if (!b || cJSON_IsNull(b))
        return NULL;
    if (!cJSON_IsObject(b))
        return "\"logit_bias\" must be an object of token ids (as strings) to numbers in [-100, 100]";
    int n = cJSON_GetArraySize(b);
    if (n > SERVE_MAX_LOGIT_BIAS)
        return "\"logit_bias\" holds more than 1024 entries";
    if (n == 0)
        return NULL;
    if (!(s->bias = calloc((size_t)n, sizeof *s->bias)))
        return "out of memory";
    const cJSON *x;
    cJSON_ArrayForEach(x, b) {
        const char *k = x->string;
        char *end;
        errno = 0;
        long id = strtol(k, &end, 10);
        if (!*k || *end || errno || id < 0 || id > INT32_MAX || !(k[0] >= '0' && k[0] <= '9'))
            return "\"logit_bias\" keys must be token ids: whole numbers >= 0, written as strings";
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= -100 && x->valuedouble <= 100))
            return "\"logit_bias\" values must be numbers in [-100, 100]";
        s->bias[s->n_bias++] = (vkslm_logit_bias){(int32_t)id, (float)x->valuedouble};
    }
    return NULL;
}

const char *serve_sampling_parse(const cJSON *root, int chat, int stream, serve_sampling *s, const char **param) {
    memset(s, 0, sizeof *s);
    s->n = 1;
    int r, v;
    *param = "n";
    if ((r = int_field(root, "n", 1, SERVE_MAX_N, &v)) < 0)
        return "\"n\" must be a whole number of choices from 1 to 16 (and at most the expert's parallel)";
    if (r > 0)
        s->n = v;
    *param = "logprobs";
    if (chat) {
        if ((r = bool_field(root, "logprobs")) < 0)
            return "\"logprobs\" must be true or false";
        s->logprobs = r > 0;
        *param = "top_logprobs";
        if ((r = int_field(root, "top_logprobs", 0, VKSLM_MAX_TOP_LOGPROBS, &v)) < 0)
            return "\"top_logprobs\" must be a whole number from 0 to 20";
        if (r > 0 && v > 0 && !s->logprobs)
            return "\"top_logprobs\" needs \"logprobs\": true";
        if (r > 0)
            s->top_logprobs = v;
    } else {
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "logprobs");
        if (cJSON_IsFalse(lp)) /* as null or 0: clients that send chat's false to both endpoints */
            r = 0;
        else if ((r = int_field(root, "logprobs", 0, SERVE_MAX_COMPLETION_LOGPROBS, &v)) < 0)
            return "\"logprobs\" must be a whole number from 0 to 5 (the alternatives listed per token)";
        s->logprobs = r > 0;
        s->top_logprobs = r > 0 ? v : 0;
        /* top_logprobs: a chat key that the request table refuses here (unless 0) */
        *param = "echo";
        if ((r = bool_field(root, "echo")) < 0)
            return "\"echo\" must be true or false";
        s->echo = r > 0;
        if (s->echo && s->logprobs)
            return "\"echo\" with \"logprobs\" is not supported (the prompt's log-probabilities are not computed)";
        *param = "best_of";
        if ((r = int_field(root, "best_of", 1, SERVE_MAX_N, &v)) < 0 || (r > 0 && v != s->n))
            return "\"best_of\" is supported only equal to \"n\" (every choice generated is returned)";
        *param = "suffix";
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "suffix");
        if (x && !cJSON_IsNull(x) && !(cJSON_IsString(x) && x->valuestring[0] == 0))
            return "\"suffix\" is not supported (no insertion: only an empty suffix or null)";
    }
    *param = "stream_options";
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!stream)
            return "\"stream_options\" is only allowed with \"stream\": true";
        if (!cJSON_IsObject(so))
            return "\"stream_options\" must be an object";
        const cJSON *x;
        cJSON_ArrayForEach(x, so) {
            if (strcmp(x->string, "include_usage") != 0)
                return "\"stream_options\" takes only \"include_usage\"";
            if (!cJSON_IsBool(x))
                return "\"stream_options.include_usage\" must be true or false";
            s->include_usage = cJSON_IsTrue(x);
        }
    }
    *param = "logit_bias";
    const char *bad = parse_bias(root, s);
    if (bad)
        return bad;
    *param = NULL;
    return NULL;
}

void serve_sampling_apply(const serve_sampling *s, vkslm_generate_params *gp) {
    gp->logprobs = s->logprobs;
    gp->top_logprobs = s->top_logprobs;
    gp->logit_bias = s->bias;
    gp->n_logit_bias = s->n_bias;
}

const char *serve_sampling_check(const serve_sampling *s, uint32_t parallel, int32_t n_vocab, const char **param,
                                 char *msg, size_t cap) {
    if ((uint32_t)s->n > parallel) {
        *param = "n";
        snprintf(msg, cap, "\"n\" is %d; this expert generates at most %u sequences at once (its parallel)", s->n,
                 parallel);
        return msg;
    }
    for (size_t i = 0; i < s->n_bias; i++)
        if (s->bias[i].token >= n_vocab) {
            *param = "logit_bias";
            snprintf(msg, cap, "\"logit_bias\" names token %d; the expert's vocabulary has %d tokens", s->bias[i].token,
                     n_vocab);
            return msg;
        }
    return NULL;
}

void serve_sampling_free(serve_sampling *s) {
    free(s->bias);
    s->bias = NULL;
    s->n_bias = 0;
}

/* JSON has no -inf: OpenAI writes -9999 for what is (all but) impossible. */
static double lp_number(float lp) { return lp > -9999.0f ? (double)lp : -9999.0; }

/* The token's text as valid UTF-8 (out) and, when bytes is not NULL, its raw bytes as an array. */
static const char *token_text(const vkslm_model *m, int32_t id, char *out, size_t cap, cJSON **bytes) {
    size_t len = 0;
    const char *piece = vkslm_model_token_piece(m, id, true, &len);
    if (!piece)
        len = 0;
    vkslm_utf8_sanitize(piece ? piece : "", len, out, cap);
    if (bytes) {
        *bytes = cJSON_CreateArray();
        for (size_t i = 0; i < len; i++)
            cJSON_AddItemToArray(*bytes, cJSON_CreateNumber((unsigned char)piece[i]));
    }
    return out;
}

static cJSON *chat_entry(const vkslm_model *m, int32_t id, float lp) {
    char text[256];
    cJSON *bytes, *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "token", token_text(m, id, text, sizeof text, &bytes));
    cJSON_AddNumberToObject(e, "logprob", lp_number(lp));
    cJSON_AddItemToObject(e, "bytes", bytes);
    return e;
}

cJSON *serve_logprobs_json(const vkslm_model *m, int chat, const vkslm_token_logprobs *lp, size_t n, size_t *offset) {
    cJSON *o = cJSON_CreateObject();
    char text[256];
    if (chat) {
        cJSON *content = cJSON_AddArrayToObject(o, "content");
        for (size_t i = 0; i < n; i++) {
            cJSON *e = chat_entry(m, lp[i].token, lp[i].logprob);
            cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
            for (int32_t j = 0; j < lp[i].n_top; j++)
                cJSON_AddItemToArray(top, chat_entry(m, lp[i].top_ids[j], lp[i].top_logprobs[j]));
            cJSON_AddItemToArray(content, e);
        }
        return o;
    }
    cJSON *tokens = cJSON_AddArrayToObject(o, "tokens"), *lps = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *tops = cJSON_AddArrayToObject(o, "top_logprobs"), *offs = cJSON_AddArrayToObject(o, "text_offset");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(tokens, cJSON_CreateString(token_text(m, lp[i].token, text, sizeof text, NULL)));
        cJSON_AddItemToArray(lps, cJSON_CreateNumber(lp_number(lp[i].logprob)));
        /* the top alternatives, and the chosen token where it is not among them (as OpenAI: up to N + 1) */
        cJSON *d = cJSON_CreateObject();
        for (int32_t j = 0; j <= lp[i].n_top; j++) {
            int32_t id = j < lp[i].n_top ? lp[i].top_ids[j] : lp[i].token;
            float v = j < lp[i].n_top ? lp[i].top_logprobs[j] : lp[i].logprob;
            token_text(m, id, text, sizeof text, NULL);
            if (!cJSON_GetObjectItemCaseSensitive(d, text)) /* two ids may read alike (byte tokens) */
                cJSON_AddNumberToObject(d, text, lp_number(v));
        }
        cJSON_AddItemToArray(tops, d);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)*offset));
        size_t len = 0;
        vkslm_model_token_piece(m, lp[i].token, false, &len);
        *offset += len;
    }
    return o;
}
