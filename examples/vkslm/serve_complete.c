/* vkslm serve: POST /v1/chat/completions and /v1/completions. A request is parsed, routed to an expert,
 * given one of the expert's sessions, checked against its context, and generated: whole (one JSON
 * response with usage) or streamed as server-sent events in OpenAI's chunk format, from a generation
 * thread through a byte queue that the connection's reader drains. */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/util/clock.h"
#include "examples/vkslm/serve.h"

#define MAX_STOP 16

typedef struct request {
    int chat;
    const char *model;           /* requested expert or "auto" */
    int stream;
    vkslm_chat_message *msgs;    /* chat */
    char **owned;                /* message texts joined from content parts */
    size_t n_msgs, n_owned;
    const char *prompt;          /* completions */
    char *route_text;            /* what the router reads */
    vkslm_generate_params gp;
    unsigned set;                /* bit k: knobs[k] was in the request (the others take the expert's) */
    const char *stop[MAX_STOP];
} request;

/* The sampling keys a request may set, each a field of vkslm_generate_params and of the expert's
 * defaults (serve_sampling). */
static const struct {
    const char *key, *alias; /* alias: a key read first, that wins when present */
    double lo, hi;
    size_t gp_off, def_off; /* offsets of the field in vkslm_generate_params and in serve_sampling */
    int is_int;             /* an int32_t field (else float) */
    const char *why;
} knobs[] = {
    {"max_tokens", "max_completion_tokens", 0, 1e7, offsetof(vkslm_generate_params, max_tokens),
     offsetof(serve_sampling, max_tokens), 1, "\"max_tokens\" must be a number of tokens"},
    {"temperature", NULL, 0, 10, offsetof(vkslm_generate_params, temperature), offsetof(serve_sampling, temperature), 0,
     "\"temperature\" must be a number in [0, 10]"},
    {"top_p", NULL, 0, 1, offsetof(vkslm_generate_params, top_p), offsetof(serve_sampling, top_p), 0,
     "\"top_p\" must be a number in [0, 1]"},
    {"min_p", NULL, 0, 1, offsetof(vkslm_generate_params, min_p), offsetof(serve_sampling, min_p), 0,
     "\"min_p\" must be a number in [0, 1]"},
    {"top_k", NULL, 0, 1e6, offsetof(vkslm_generate_params, top_k), offsetof(serve_sampling, top_k), 1,
     "\"top_k\" must be a non-negative number"},
    {"frequency_penalty", NULL, -2, 2, offsetof(vkslm_generate_params, frequency_penalty),
     offsetof(serve_sampling, frequency_penalty), 0, "\"frequency_penalty\" must be a number in [-2, 2]"},
    {"presence_penalty", NULL, -2, 2, offsetof(vkslm_generate_params, presence_penalty),
     offsetof(serve_sampling, presence_penalty), 0, "\"presence_penalty\" must be a number in [-2, 2]"},
    {"repetition_penalty", NULL, 0, 10, offsetof(vkslm_generate_params, repeat_penalty),
     offsetof(serve_sampling, repeat_penalty), 0, "\"repetition_penalty\" must be a number in [0, 10]"},
};
#define N_KNOBS (sizeof knobs / sizeof *knobs)

static void set_knob(vkslm_generate_params *gp, size_t k, double v) {
    char *f = (char *)gp + knobs[k].gp_off;
    if (knobs[k].is_int)
        *(int32_t *)f = (int32_t)v;
    else
        *(float *)f = (float)v;
}

/* The expert's defaults for the sampling keys the request left out. */
static void apply_defaults(request *q, const serve_sampling *def) {
    for (size_t k = 0; k < N_KNOBS; k++) {
        if (q->set & (1u << k))
            continue;
        const char *d = (const char *)def + knobs[k].def_off;
        set_knob(&q->gp, k, knobs[k].is_int ? (double)*(const int32_t *)d : (double)*(const float *)d);
    }
}

static void request_free(request *q) {
    for (size_t i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
    free(q->owned);
    free(q->msgs);
    free(q->route_text);
}

/* 1: a number in [lo, hi] at key (in *v); 0: absent; -1: present and wrong. */
static int num_field(const cJSON *o, const char *key, double lo, double hi, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x || cJSON_IsNull(x))
        return 0;
    if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi)
        return -1;
    *v = x->valuedouble;
    return 1;
}

/* The text of a message's content: a string, or an array of {"type": "text", "text": ...} parts. */
static const char *content_text(request *q, const cJSON *content, int *bad) {
    if (!content || cJSON_IsNull(content))
        return NULL;
    if (cJSON_IsString(content))
        return content->valuestring;
    if (!cJSON_IsArray(content)) {
        *bad = 1;
        return NULL;
    }
    size_t len = 1;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(t)) {
            *bad = 1;
            return NULL;
        }
        len += strlen(t->valuestring);
    }
    char *s = malloc(len), **o = realloc(q->owned, (q->n_owned + 1) * sizeof *o);
    if (o)
        q->owned = o;
    if (!s || !o) {
        free(s);
        *bad = 1;
        return NULL;
    }
    q->owned[q->n_owned++] = s;
    s[0] = 0;
    cJSON_ArrayForEach(part, content) strcat(s, cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring);
    return s;
}

static char *join_user_text(const request *q) {
    size_t len = 1;
    for (size_t i = 0; i < q->n_msgs; i++)
        if (q->msgs[i].content && strcmp(q->msgs[i].role, "user") == 0)
            len += strlen(q->msgs[i].content) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = 0;
    for (size_t i = 0; i < q->n_msgs; i++)
        if (q->msgs[i].content && strcmp(q->msgs[i].role, "user") == 0) {
            strcat(s, q->msgs[i].content);
            strcat(s, "\n");
        }
    return s;
}

/* Parses the body into q; NULL on success, else what is wrong (for a 400). Sampling keys the request
 * leaves out are not set here (apply_defaults, once the expert is known). */
static const char *parse_request(const cJSON *root, request *q) {
    if (!cJSON_IsObject(root))
        return "the body is not a JSON object";
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (m && !cJSON_IsString(m) && !cJSON_IsNull(m))
        return "\"model\" must be a string";
    q->model = cJSON_IsString(m) ? m->valuestring : "auto";
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (st && !cJSON_IsBool(st) && !cJSON_IsNull(st))
        return "\"stream\" must be true or false";
    q->stream = cJSON_IsTrue(st);
    double v;
    if (num_field(root, "n", 1, 1, &v) < 0)
        return "only \"n\": 1 is supported";
    if (q->chat) {
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
        if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
            return "\"messages\" must be a non-empty array";
        q->msgs = calloc((size_t)cJSON_GetArraySize(msgs), sizeof *q->msgs);
        if (!q->msgs)
            return "out of memory";
        const cJSON *x;
        cJSON_ArrayForEach(x, msgs) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
            if (!cJSON_IsString(role))
                return "every message needs a \"role\" string";
            int bad = 0;
            q->msgs[q->n_msgs].role = role->valuestring;
            q->msgs[q->n_msgs].content = content_text(q, cJSON_GetObjectItemCaseSensitive(x, "content"), &bad);
            if (bad)
                return "a message's \"content\" must be a string or an array of text parts";
            q->n_msgs++;
        }
        q->route_text = join_user_text(q);
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1)
            p = cJSON_GetArrayItem(p, 0);
        if (!cJSON_IsString(p))
            return "\"prompt\" must be a string";
        q->prompt = p->valuestring;
        q->route_text = strdup(q->prompt);
    }
    if (!q->route_text)
        return "out of memory";
    vkslm_generate_params *gp = &q->gp;
    *gp = vkslm_generate_default_params();
    int r;
    for (size_t k = 0; k < N_KNOBS; k++) {
        r = knobs[k].alias ? num_field(root, knobs[k].alias, knobs[k].lo, knobs[k].hi, &v) : 0;
        if (r == 0)
            r = num_field(root, knobs[k].key, knobs[k].lo, knobs[k].hi, &v);
        if (r < 0)
            return knobs[k].why;
        if (r > 0) {
            set_knob(gp, k, v);
            q->set |= 1u << k;
        }
    }
    if ((r = num_field(root, "seed", 0, 9007199254740991.0, &v)) != 0) {
        if (r < 0)
            return "\"seed\" must be a non-negative integer";
        gp->seed = (uint64_t)v;
    }
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(root, "stop");
    if (cJSON_IsString(stop)) {
        q->stop[gp->n_stop++] = stop->valuestring;
    } else if (cJSON_IsArray(stop)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, stop) {
            if (!cJSON_IsString(x) || gp->n_stop >= MAX_STOP)
                return "\"stop\" must be a string or an array of at most 16 strings";
            q->stop[gp->n_stop++] = x->valuestring;
        }
    } else if (stop && !cJSON_IsNull(stop)) {
        return "\"stop\" must be a string or an array of strings";
    }
    gp->stop = q->stop;
    return NULL;
}

/* The prompt text for the model: the chat rendered through the expert's template, or the raw prompt. */
static vkslm_status build_prompt(server *sv, size_t ei, const vkslm_model *model, request *q, char **out) {
    *out = NULL;
    if (!q->chat) {
        *out = strdup(q->prompt);
        q->gp.add_bos = -1;
        return *out ? VKSLM_OK : VKSLM_ERR_OUT_OF_HOST_MEMORY;
    }
    const serve_expert *x = &sv->cfg.extra[ei];
    size_t n = q->n_msgs, has_system = 0;
    for (size_t i = 0; i < n; i++)
        has_system |= strcmp(q->msgs[i].role, "system") == 0;
    vkslm_chat_message *msgs = calloc(n + 1, sizeof *msgs);
    if (!msgs)
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    size_t k = 0;
    if (x->system_prompt && !has_system)
        msgs[k++] = (vkslm_chat_message){"system", x->system_prompt};
    memcpy(msgs + k, q->msgs, n * sizeof *msgs);
    k += n;
    size_t tlen;
    const char *tmpl = x->template_name ? x->template_name : vkslm_model_chat_template(model, &tlen) ? NULL : "chatml";
    size_t len = 0;
    vkslm_status st = vkslm_chat_apply_template(model, tmpl, msgs, k, true, NULL, 0, &len);
    if (st == VKSLM_OK || st == VKSLM_ERR_LIMIT) {
        *out = malloc(len + 1);
        st = *out ? vkslm_chat_apply_template(model, tmpl, msgs, k, true, *out, len + 1, &len)
                  : VKSLM_ERR_OUT_OF_HOST_MEMORY;
    }
    free(msgs);
    q->gp.add_bos = 0; /* the template writes BOS where the model wants it */
    q->gp.parse_special = true;
    if (st != VKSLM_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static const char *finish_reason(vkslm_stop_reason r) {
    return r == VKSLM_STOP_LENGTH || r == VKSLM_STOP_CONTEXT ? "length" : "stop";
}

/* What both kinds of response carry about the expert, the route and the tokens. */
static void add_extension(cJSON *root, server *sv, const vkslm_route_decision *d, const vkslm_generate_result *r) {
    cJSON *x = cJSON_AddObjectToObject(root, "vkslm");
    cJSON *route = cJSON_AddObjectToObject(x, "route");
    cJSON_AddStringToObject(route, "method", vkslm_route_method_str(d->method));
    cJSON_AddNumberToObject(route, "confidence", d->confidence);
    cJSON_AddNumberToObject(route, "route_ms", d->route_ms);
    cJSON *scores = cJSON_AddObjectToObject(route, "scores");
    for (size_t i = 0; i < d->n_scores; i++)
        cJSON_AddNumberToObject(scores, vkslm_orchestra_expert_name(sv->orch, i), d->scores[i]);
    if (r) {
        cJSON_AddItemToObject(x, "tokens", cJSON_CreateIntArray(r->tokens, (int)r->n_tokens));
        cJSON_AddStringToObject(x, "stop_reason", vkslm_stop_reason_str(r->stop_reason));
        cJSON *t = cJSON_AddObjectToObject(x, "timings");
        cJSON_AddNumberToObject(t, "prefill_ms", r->prefill_ms);
        cJSON_AddNumberToObject(t, "decode_ms", r->decode_ms);
        cJSON_AddNumberToObject(t, "pp_tps", r->pp_tps);
        cJSON_AddNumberToObject(t, "tg_tps", r->tg_tps);
    }
}

static void add_usage(cJSON *root, size_t prompt, size_t completion) {
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
}

static cJSON *response_head(int chat, int chunk, const char *id, long created, const char *expert) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object",
                            chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
    cJSON_AddNumberToObject(root, "created", (double)created);
    cJSON_AddStringToObject(root, "model", expert);
    cJSON_AddStringToObject(root, "expert", expert);
    return root;
}

/* ---- streaming ---------------------------------------------------------------------------------- */
typedef struct stream_job {
    server *sv;
    size_t expert;
    vkslm_session *session;
    request q;
    cJSON *body;               /* the parsed request (q points into it) */
    char *prompt;
    vkslm_route_decision route;
    char id[48];
    long created;
    double t0;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *buf;                 /* bytes not yet sent: buf[off, len) */
    size_t off, len, cap;
    int done, cancelled, oom;
} stream_job;

static void push(stream_job *j, const char *s, size_t n) {
    pthread_mutex_lock(&j->lock);
    if (j->len + n > j->cap) {
        size_t cap = (j->len + n) * 2 + 256;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->oom = 1;
            pthread_mutex_unlock(&j->lock);
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

static void push_event(stream_job *j, cJSON *obj) {
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return;
    push(j, "data: ", 6);
    push(j, text, strlen(text));
    push(j, "\n\n", 2);
    free(text);
}

/* A chunk with one choice: delta content (chat) or text (completions), and a finish reason or null. */
static cJSON *chunk(stream_job *j, const char *piece, const char *finish, int first) {
    const char *name = vkslm_orchestra_expert_name(j->sv->orch, j->expert);
    cJSON *root = response_head(j->q.chat, 1, j->id, j->created, name);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    if (j->q.chat) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (first)
            cJSON_AddStringToObject(delta, "role", "assistant");
        if (piece)
            cJSON_AddStringToObject(delta, "content", piece);
    } else {
        cJSON_AddStringToObject(c, "text", piece ? piece : "");
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    return root;
}

static bool on_piece(const char *piece, void *user) {
    stream_job *j = user;
    push_event(j, chunk(j, piece, NULL, 0));
    pthread_mutex_lock(&j->lock);
    int go_on = !j->cancelled && !j->oom;
    pthread_mutex_unlock(&j->lock);
    return go_on;
}

static void *stream_main(void *arg) {
    stream_job *j = arg;
    if (j->q.chat)
        push_event(j, chunk(j, "", NULL, 1));
    j->q.gp.on_token = on_piece;
    j->q.gp.user_data = j;
    vkslm_generate_result r;
    memset(&r, 0, sizeof r);
    vkslm_status st = vkslm_generate(j->session, j->prompt, &j->q.gp, &r);
    if (st == VKSLM_OK) {
        cJSON *last = chunk(j, NULL, finish_reason(r.stop_reason), 0);
        add_usage(last, r.n_prompt_tokens, r.n_tokens);
        add_extension(last, j->sv, &j->route, &r);
        push_event(j, last);
    } else {
        cJSON *err = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(err, "error");
        cJSON_AddStringToObject(e, "message", vkslm_last_error());
        cJSON_AddStringToObject(e, "type", "server_error");
        push_event(j, err);
    }
    push(j, "data: [DONE]\n\n", 14);
    serve_metrics_end(&j->sv->metrics, (int)j->expert, (vkslm_now_ms() - j->t0) / 1e3, r.n_prompt_tokens, r.n_tokens,
                      r.decode_ms);
    vkslm_orchestra_release(j->sv->orch, j->expert, j->session);
    j->session = NULL;
    pthread_mutex_lock(&j->lock);
    j->done = 1;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    stream_job *j = cls;
    pthread_mutex_lock(&j->lock);
    while (j->off == j->len && !j->done)
        pthread_cond_wait(&j->cond, &j->lock);
    ssize_t n = MHD_CONTENT_READER_END_OF_STREAM;
    if (j->off < j->len) {
        size_t k = j->len - j->off < max ? j->len - j->off : max;
        memcpy(out, j->buf + j->off, k);
        j->off += k;
        if (j->off == j->len)
            j->off = j->len = 0;
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&j->lock);
    return n;
}

static void stream_free(void *cls) {
    stream_job *j = cls;
    pthread_mutex_lock(&j->lock);
    j->cancelled = 1; /* the client may have gone: generation stops at its next token */
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    request_free(&j->q);
    cJSON_Delete(j->body);
    free(j->prompt);
    free(j->buf);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* ---- the endpoint ------------------------------------------------------------------------------- */
static int status_of(vkslm_status st) {
    switch (st) {
    case VKSLM_ERR_BUSY:
    case VKSLM_ERR_OUT_OF_DEVICE_MEMORY: return 503;
    case VKSLM_ERR_NOT_FOUND: return 404;
    case VKSLM_ERR_INVALID_ARG:
    case VKSLM_ERR_LIMIT: return 400;
    default: return 500;
    }
}

int serve_completion(struct MHD_Connection *c, server *sv, const char *body, size_t len, int chat) {
    int ep = chat ? SERVE_EP_CHAT : SERVE_EP_COMPLETIONS;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return serve_send_error(c, sv, ep, 400, "invalid_request_error", "invalid_json",
                                "the body is not valid JSON (near byte %ld)",
                                cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - body) : 0L);
    stream_job *j = calloc(1, sizeof *j);
    if (!j) {
        cJSON_Delete(root);
        return serve_send_error(c, sv, ep, 500, "server_error", NULL, "out of memory");
    }
    j->sv = sv;
    j->body = root;
    j->q.chat = chat;
    j->t0 = vkslm_now_ms();
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->thread = pthread_self();
    int ok;
    const char *bad = parse_request(root, &j->q);
    vkslm_status st = VKSLM_OK;
    if (bad) {
        ok = serve_send_error(c, sv, ep, 400, "invalid_request_error", "invalid_request", "%s", bad);
        goto done_sync;
    }
    st = vkslm_orchestra_route(sv->orch, j->q.model, j->q.route_text, &j->route);
    if (st != VKSLM_OK) {
        ok = serve_send_error(c, sv, ep, 404, "invalid_request_error", "model_not_found", "%s", vkslm_last_error());
        goto done_sync;
    }
    serve_metrics_route(&sv->metrics, &j->route);
    j->expert = (size_t)j->route.expert;
    const char *name = vkslm_orchestra_expert_name(sv->orch, j->expert);
    apply_defaults(&j->q, &sv->cfg.extra[j->expert].sampling); /* the sampling defaults are the expert's */
    st = vkslm_orchestra_acquire(sv->orch, j->expert, &j->session);
    if (st != VKSLM_OK) {
        int code = status_of(st);
        ok = serve_send_error(c, sv, ep, (unsigned)code, "server_error", code == 503 ? "overloaded" : NULL, "%s",
                              vkslm_last_error());
        goto done_sync;
    }
    const vkslm_model *model = vkslm_session_model(j->session);
    st = build_prompt(sv, j->expert, model, &j->q, &j->prompt);
    if (st != VKSLM_OK) {
        int code = st == VKSLM_ERR_INVALID_ARG ? 400 : 500;
        ok = serve_send_error(c, sv, ep, (unsigned)code, code == 400 ? "invalid_request_error" : "server_error",
                              code == 400 ? "template_refused" : NULL, "expert %s: %s", name, vkslm_last_error());
        goto done_release;
    }
    /* the prompt must leave room for at least one generated token */
    size_t plen = strlen(j->prompt), n_ids = 0;
    int32_t *ids = malloc((plen + 8) * sizeof *ids);
    st = ids ? vkslm_model_tokenize(model, j->prompt, plen, j->q.gp.add_bos, j->q.gp.parse_special, ids, plen + 8, &n_ids)
             : VKSLM_ERR_OUT_OF_HOST_MEMORY;
    free(ids);
    uint32_t n_ctx = vkslm_session_n_ctx(j->session);
    if (st != VKSLM_OK || n_ids >= n_ctx) {
        ok = st != VKSLM_OK ? serve_send_error(c, sv, ep, 500, "server_error", NULL, "%s", vkslm_last_error())
                            : serve_send_error(c, sv, ep, 400, "invalid_request_error", "context_length_exceeded",
                                               "the prompt has %zu tokens; expert %s holds %u tokens of context", n_ids,
                                               name, n_ctx);
        goto done_release;
    }
    snprintf(j->id, sizeof j->id, "%s-%llu", chat ? "chatcmpl" : "cmpl", (unsigned long long)serve_next_id(sv));
    j->created = (long)time(NULL);
    serve_metrics_begin(&sv->metrics, (int)j->expert);
    if (j->q.stream) {
        if (pthread_create(&j->thread, NULL, stream_main, j) != 0) {
            serve_metrics_end(&sv->metrics, (int)j->expert, 0, 0, 0, 0);
            ok = serve_send_error(c, sv, ep, 503, "server_error", "overloaded", "cannot start a generation thread");
            goto done_release;
        }
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free);
        if (!r) {
            stream_free(j);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Vkslm-Expert", name);
        ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        serve_metrics_request(&sv->metrics, ep, 200);
        return ok;
    }
    vkslm_generate_result r;
    st = vkslm_generate(j->session, j->prompt, &j->q.gp, &r);
    serve_metrics_end(&sv->metrics, (int)j->expert, (vkslm_now_ms() - j->t0) / 1e3, st == VKSLM_OK ? r.n_prompt_tokens : 0,
                      st == VKSLM_OK ? r.n_tokens : 0, st == VKSLM_OK ? r.decode_ms : 0);
    if (st != VKSLM_OK) {
        ok = serve_send_error(c, sv, ep, (unsigned)status_of(st), "server_error", NULL, "expert %s: %s", name,
                              vkslm_last_error());
        goto done_release;
    }
    cJSON *resp = response_head(chat, 0, j->id, j->created, name);
    cJSON *choices = cJSON_AddArrayToObject(resp, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", r.text);
    } else {
        cJSON_AddStringToObject(ch, "text", r.text);
    }
    cJSON_AddStringToObject(ch, "finish_reason", finish_reason(r.stop_reason));
    cJSON_AddItemToArray(choices, ch);
    add_usage(resp, r.n_prompt_tokens, r.n_tokens);
    add_extension(resp, sv, &j->route, &r);
    ok = serve_send_json(c, sv, ep, 200, resp, name);
done_release:
    vkslm_orchestra_release(sv->orch, j->expert, j->session);
done_sync:
    request_free(&j->q);
    cJSON_Delete(j->body);
    free(j->prompt);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
    return ok;
}
