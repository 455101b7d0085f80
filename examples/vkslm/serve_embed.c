/* vkslm serve: POST /v1/embeddings, in OpenAI's shape. The body is parsed and checked on the HTTP thread;
 * a job (serve_job.c) then borrows a sequence of the expert's scheduler, tokenizes and checks every input
 * against the expert's context before any runs, and embeds them one after another in the scheduler's steps
 * (vkslm_sequence_embed: beside the expert's generating requests, which it does not disturb).
 *
 * The expert: "model" names it; absent or "auto" is the first expert. Embeddings are not routed by content,
 * since vectors of different models cannot be compared with each other. */
#include <cjson/cJSON.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

#define MAX_INPUTS 256

typedef struct embed_input {
    const char *text;  /* a string input, or NULL for token ids */
    int32_t *ids;      /* the tokens (a token input's copy, or the text's after tokenizing) */
    size_t n;
} embed_input;

typedef struct embed_job {
    server *sv;
    cJSON *body;       /* the parsed request (texts point into it) */
    const char *model; /* the expert's name as requested, or NULL for the first */
    embed_input in[MAX_INPUTS];
    size_t n_in;
    int base64;
    long dimensions;   /* 0: not given */
    double t0;
} embed_job;

static void embed_job_free(void *arg) {
    embed_job *p = arg;
    for (size_t i = 0; i < p->n_in; i++)
        free(p->in[i].ids);
    cJSON_Delete(p->body);
    free(p);
}

/* An integer token id (>= 0) in *id; 0 when x is not one. */
static int token_id(const cJSON *x, int32_t *id) {
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= 2147483647.0) ||
        x->valuedouble != floor(x->valuedouble))
        return 0;
    *id = (int32_t)x->valuedouble;
    return 1;
}

/* A token input from an array of ids; NULL or a message for the 400. */
static const char *add_tokens(embed_job *p, const cJSON *arr) {
    int n = cJSON_GetArraySize(arr);
    if (n == 0)
        return "a token input must hold at least one token id";
    embed_input *in = &p->in[p->n_in];
    if (!(in->ids = malloc((size_t)n * sizeof *in->ids)))
        return "out of memory";
    p->n_in++;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        if (!token_id(x, &in->ids[in->n]))
            return "token ids must be whole numbers >= 0";
        in->n++;
    }
    return NULL;
}

/* "input": a string, an array of strings, an array of token ids, or an array of token-id arrays. */
static const char *parse_input(embed_job *p, const cJSON *input) {
    static const char shape[] = "\"input\" must be a string, an array of strings, an array of token ids or an "
                                "array of token-id arrays";
    if (cJSON_IsString(input)) {
        p->in[p->n_in++].text = input->valuestring;
        return NULL;
    }
    if (!cJSON_IsArray(input))
        return shape;
    int n = cJSON_GetArraySize(input);
    if (n == 0)
        return "\"input\" must not be empty";
    const cJSON *first = cJSON_GetArrayItem(input, 0);
    if (cJSON_IsNumber(first))
        return add_tokens(p, input);
    if (n > MAX_INPUTS)
        return "\"input\" holds more than 256 inputs";
    const cJSON *x;
    cJSON_ArrayForEach(x, input) {
        if (cJSON_IsString(x) && cJSON_IsString(first)) {
            p->in[p->n_in++].text = x->valuestring;
        } else if (cJSON_IsArray(x) && cJSON_IsArray(first)) {
            const char *bad = add_tokens(p, x);
            if (bad)
                return bad;
        } else {
            return shape;
        }
    }
    return NULL;
}

static const char unknown_key[] = "not a key of /v1/embeddings";

/* Parses the body into p; NULL on success, else the message of the 400 and *param the key it is about. */
static const char *parse_body(embed_job *p, const cJSON *root, const char **param) {
    *param = NULL;
    if (!cJSON_IsObject(root))
        return "the body is not a JSON object";
    const cJSON *x;
    cJSON_ArrayForEach(x, root) {
        *param = x->string;
        if (strcmp(x->string, "model") == 0) {
            if (!cJSON_IsString(x) && !cJSON_IsNull(x))
                return "\"model\" must be a string";
            p->model = cJSON_IsString(x) && strcmp(x->valuestring, "auto") != 0 ? x->valuestring : NULL;
        } else if (strcmp(x->string, "input") == 0) {
            const char *bad = parse_input(p, x);
            if (bad)
                return bad;
        } else if (strcmp(x->string, "encoding_format") == 0) {
            if (!cJSON_IsNull(x) && (!cJSON_IsString(x) || (strcmp(x->valuestring, "float") != 0 &&
                                                            strcmp(x->valuestring, "base64") != 0)))
                return "\"encoding_format\" must be \"float\" or \"base64\"";
            p->base64 = cJSON_IsString(x) && strcmp(x->valuestring, "base64") == 0;
        } else if (strcmp(x->string, "dimensions") == 0) {
            if (!cJSON_IsNumber(x) || !(x->valuedouble >= 1 && x->valuedouble <= 1e6) ||
                x->valuedouble != floor(x->valuedouble))
                return "\"dimensions\" must be a positive whole number";
            p->dimensions = (long)x->valuedouble;
        } else if (strcmp(x->string, "user") == 0) { /* metadata: accepted, not used */
            if (!cJSON_IsString(x) && !cJSON_IsNull(x))
                return "\"user\" must be a string";
        } else {
            return unknown_key;
        }
    }
    *param = "input";
    if (p->n_in == 0)
        return "\"input\" is required";
    *param = NULL;
    return NULL;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The n floats as little-endian float32 bytes in base64 (malloc'd). */
static char *base64_floats(const float *v, size_t n) {
    size_t bytes = n * 4, len = (bytes + 2) / 3 * 4;
    unsigned char *raw = malloc(bytes ? bytes : 1);
    char *out = malloc(len + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            raw[i * 4 + b] = (unsigned char)(u >> (8 * b));
    }
    size_t o = 0;
    for (size_t i = 0; i < bytes; i += 3) {
        uint32_t w = (uint32_t)raw[i] << 16 | (i + 1 < bytes ? (uint32_t)raw[i + 1] << 8 : 0) |
                     (i + 2 < bytes ? raw[i + 2] : 0);
        out[o++] = b64[w >> 18 & 63];
        out[o++] = b64[w >> 12 & 63];
        out[o++] = i + 1 < bytes ? b64[w >> 6 & 63] : '=';
        out[o++] = i + 2 < bytes ? b64[w & 63] : '=';
    }
    out[o] = 0;
    free(raw);
    return out;
}

static unsigned status_of(vkslm_status st) {
    switch (st) {
    case VKSLM_ERR_BUSY:
    case VKSLM_ERR_OUT_OF_DEVICE_MEMORY: return 503;
    case VKSLM_ERR_NOT_FOUND: return 404;
    case VKSLM_ERR_INVALID_ARG:
    case VKSLM_ERR_LIMIT: return 400;
    default: return 500;
    }
}

/* Tokenizes the text inputs and checks every input against the model and its context; 0, or 1 after a
 * 400 was answered. */
static int prepare_inputs(serve_job *j, embed_job *p, const vkslm_model *model, uint32_t n_ctx, const char *name) {
    const int32_t n_vocab = vkslm_model_n_vocab(model);
    for (size_t i = 0; i < p->n_in; i++) {
        embed_input *in = &p->in[i];
        if (in->text) {
            size_t cap = (size_t)n_ctx + 2;
            if (!(in->ids = malloc(cap * sizeof *in->ids))) {
                serve_job_error(j, 500, NULL, "out of memory");
                return 1;
            }
            vkslm_status st = vkslm_model_tokenize_special(model, in->text, strlen(in->text), true, false, in->ids, cap,
                                                           &in->n);
            if (st != VKSLM_OK && st != VKSLM_ERR_LIMIT) {
                serve_job_error(j, status_of(st), NULL, "expert %s: %s", name, vkslm_last_error());
                return 1;
            }
        }
        char msg[256];
        if (in->n == 0) {
            snprintf(msg, sizeof msg, "input %zu has no tokens", i);
            serve_job_reply(j, 400, serve_error_object(400, "empty_input", "input", msg), NULL);
            return 1;
        }
        if (in->n > n_ctx) {
            snprintf(msg, sizeof msg, "input %zu has %zu tokens; expert %s holds %u tokens of context", i, in->n, name,
                     n_ctx);
            serve_job_reply(j, 400, serve_error_object(400, "context_length_exceeded", "input", msg), NULL);
            return 1;
        }
        for (size_t k = 0; k < in->n; k++)
            if (in->ids[k] >= n_vocab) {
                snprintf(msg, sizeof msg, "input %zu: token id %d is outside expert %s's vocabulary (%d)", i,
                         in->ids[k], name, n_vocab);
                serve_job_reply(j, 400, serve_error_object(400, "invalid_token", "input", msg), NULL);
                return 1;
            }
    }
    return 0;
}

/* Embeds every input and answers; the request's metrics end here. */
static void embed_inputs(serve_job *j, embed_job *p, vkslm_sequence *seq, size_t expert, const char *name,
                         int32_t n_embd) {
    server *sv = p->sv;
    float *vec = malloc((size_t)n_embd * sizeof *vec);
    cJSON *resp = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(resp, "data");
    size_t tokens = 0;
    vkslm_status st = vec && data ? VKSLM_OK : VKSLM_ERR_OUT_OF_HOST_MEMORY;
    int why = 0;
    serve_metrics_begin(&sv->metrics, (int)expert);
    for (size_t i = 0; st == VKSLM_OK && i < p->n_in && !(why = serve_job_cancelled(j)); i++) {
        st = vkslm_sequence_embed(seq, p->in[i].ids, p->in[i].n, VKSLM_POOLING_DEFAULT, vec);
        if (st != VKSLM_OK)
            break;
        tokens += p->in[i].n;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemToArray(data, d);
        cJSON_AddStringToObject(d, "object", "embedding");
        cJSON_AddNumberToObject(d, "index", (double)i);
        if (p->base64) {
            char *s = base64_floats(vec, (size_t)n_embd);
            if (!s || !cJSON_AddStringToObject(d, "embedding", s))
                st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
            free(s);
        } else if (!cJSON_AddItemToObject(d, "embedding", cJSON_CreateFloatArray(vec, n_embd))) {
            st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
        }
    }
    serve_metrics_end(&sv->metrics, (int)expert, (cli_now_ms() - p->t0) / 1e3, tokens, 0, 0);
    free(vec);
    if (why == SERVE_CANCEL_CLIENT) {
        cJSON_Delete(resp);
        return; /* nobody to answer */
    }
    if (st == VKSLM_ERR_OUT_OF_HOST_MEMORY) {
        serve_job_error(j, 500, NULL, "out of memory");
    } else if (st != VKSLM_OK) {
        serve_job_error(j, status_of(st), NULL, "expert %s: %s", name, vkslm_last_error());
    } else if (why == SERVE_CANCEL_SHUTDOWN) {
        serve_job_error(j, 503, "shutting_down", "the server is shutting down; the request was cut short");
    } else {
        cJSON_AddStringToObject(resp, "object", "list");
        cJSON_AddStringToObject(resp, "model", name);
        cJSON *u = cJSON_AddObjectToObject(resp, "usage");
        cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
        cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
        serve_job_reply(j, 200, resp, name);
        return;
    }
    cJSON_Delete(resp);
}

/* The job: find the expert, borrow a sequence, check the inputs, embed. */
static void embed_run(serve_job *j, void *arg) {
    embed_job *p = arg;
    server *sv = p->sv;
    int e = p->model ? vkslm_orchestra_find(sv->orch, p->model) : 0;
    if (e < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "no expert is named '%.128s'", p->model);
        serve_job_reply(j, 404, serve_error_object(404, "model_not_found", "model", msg), NULL);
        return;
    }
    size_t expert = (size_t)e;
    const char *name = vkslm_orchestra_expert_name(sv->orch, expert);
    vkslm_sequence *seq = NULL;
    vkslm_status st = vkslm_orchestra_acquire(sv->orch, expert, &seq);
    if (st != VKSLM_OK) {
        unsigned code = status_of(st);
        serve_job_error(j, code, code == 503 ? (sv->draining ? "shutting_down" : "overloaded") : NULL, "%s",
                        vkslm_last_error());
        return;
    }
    const vkslm_model *model = vkslm_sequence_model(seq);
    int32_t n_embd = vkslm_model_n_embd(model);
    if (p->dimensions && p->dimensions != n_embd) {
        char msg[256];
        snprintf(msg, sizeof msg, "expert %s's embeddings have %d dimensions; \"dimensions\" %ld cannot be given",
                 name, n_embd, p->dimensions);
        serve_job_reply(j, 400, serve_error_object(400, "invalid_request", "dimensions", msg), NULL);
    } else if (!prepare_inputs(j, p, model, vkslm_sequence_n_ctx(seq), name)) {
        embed_inputs(j, p, seq, expert, name, n_embd);
    }
    vkslm_orchestra_release(sv->orch, expert, seq);
}

int serve_embeddings(struct MHD_Connection *c, server *sv, const char *body, size_t len, serve_job **job) {
    const int ep = SERVE_EP_EMBEDDINGS;
    *job = NULL;
    int ret;
    cJSON *root = serve_job_body(c, sv, ep, body, len, &ret);
    if (!root)
        return ret;
    embed_job *p = calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return serve_send_error(c, sv, ep, 500, NULL, "out of memory");
    }
    p->sv = sv;
    p->body = root;
    p->t0 = cli_now_ms();
    const char *param, *bad = parse_body(p, root, &param);
    if (bad) {
        char msg[256];
        if (bad == unknown_key)
            snprintf(msg, sizeof msg, "\"%.64s\" is not a key of /v1/embeddings (model, input, encoding_format, "
                     "dimensions, user)", param);
        else
            snprintf(msg, sizeof msg, "%s", bad);
        const char *code = bad == unknown_key ? "unknown_parameter" : "invalid_request"; /* as serve_request.c */
        int ok = serve_send_json(c, sv, ep, 400, serve_error_object(400, code, param, msg), NULL);
        embed_job_free(p);
        return ok;
    }
    return serve_job_launch(c, sv, ep, embed_run, p, embed_job_free, job);
}
