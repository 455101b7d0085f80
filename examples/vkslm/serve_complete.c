/* vkslm serve: POST /v1/chat/completions and /v1/completions. A request is parsed and checked on the HTTP
 * thread; then a job (serve_job.c) routes it to an expert, borrows one of the expert's sessions, checks
 * the prompt against its context, and generates: whole (one JSON response with usage) or streamed as
 * server-sent events in OpenAI's chunk format. Generation stops when the client leaves; at shutdown it is
 * cut short with an error. */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "serve.h"
#include "serve_request.h"
#include "serve_sampling.h"
#include "serve_tools.h"

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

static void add_usage(cJSON *root, const vkslm_generate_result *r) {
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)r->n_prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)r->n_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(r->n_prompt_tokens + r->n_tokens));
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details"); /* as OpenAI: prompt tokens reused */
    cJSON_AddNumberToObject(d, "cached_tokens", (double)r->n_cached_tokens);
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

/* ---- one completion's work ---------------------------------------------------------------------- */
typedef struct completion {
    server *sv;
    serve_job *job;
    request q;
    cJSON *body;               /* the parsed request (q points into it) */
    size_t expert;
    const char *name;          /* the expert's */
    vkslm_sequence *seqs[SERVE_MAX_N]; /* one per choice */
    size_t n_seqs;
    struct choice {
        struct completion *p;
        int index;
        vkslm_generate_params gp; /* the request's, with seed + index */
        vkslm_generate_result r;
        vkslm_status st;
        char err[512];
        size_t offset;            /* completions: text_offset of the next token */
    } ch[SERVE_MAX_N];
    size_t n_cached;              /* prompt tokens found in the cache (n > 1: when prefilled) */
    vkslm_route_decision route;
    int32_t *ids;              /* the prompt's tokens */
    size_t n_ids;
    char id[48];
    long created;
    double t0;
} completion;

static void completion_free(void *arg) {
    completion *p = arg;
    serve_request_free(&p->q);
    cJSON_Delete(p->body);
    free(p->ids);
    free(p);
}

/* The HTTP status of a failed engine call: the caller's fault (4xx) or ours (5xx). */
static unsigned status_of(vkslm_status st) {
    switch (st) {
    case VKSLM_ERR_BUSY:
    case VKSLM_ERR_OUT_OF_DEVICE_MEMORY: return 503;
    case VKSLM_ERR_NOT_FOUND: return 404;
    case VKSLM_ERR_INVALID_ARG:
    case VKSLM_ERR_TOO_COMPLEX: return 400;
    default: return 500;
    }
}

/* Tokenizes what the model reads into at most cap ids: the chat rendered through the expert's template
 * (control tokens recognised only in the template's own text), or the raw prompt. VKSLM_ERR_LIMIT when it
 * needs more (p->n_ids says how many): rendered once, as the prompt cannot be longer than the context. */
static vkslm_status prompt_tokens(completion *p, const vkslm_model *model, size_t cap) {
    request *q = &p->q;
    if (!(p->ids = malloc(cap * sizeof *p->ids)))
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    if (!q->chat)
        return vkslm_model_tokenize(model, q->prompt, strlen(q->prompt), -1, false, p->ids, cap, &p->n_ids);
    const serve_expert *x = &p->sv->cfg.extra[p->expert];
    size_t has_system = 0, n = 0;
    for (size_t i = 0; i < q->n_msgs; i++)
        has_system |= strcmp(q->msgs[i].role, "system") == 0;
    vkslm_chat_message *msgs = calloc(q->n_msgs + 1, sizeof *msgs);
    if (!msgs)
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    if (x->system_prompt && !has_system)
        msgs[n++] = (vkslm_chat_message){"system", x->system_prompt};
    memcpy(msgs + n, q->msgs, q->n_msgs * sizeof *msgs);
    n += q->n_msgs;
    size_t tlen;
    const char *tmpl = x->template_name ? x->template_name : vkslm_model_chat_template(model, &tlen) ? NULL : "chatml";
    vkslm_status st;
    if (q->tools) { /* tools, calls or results: the conversation goes to the template as JSON */
        const char *text = tmpl ? tmpl : vkslm_model_chat_template(model, &tlen);
        char *msgs_json, *tools_json;
        if (serve_tools_template_json(q->tools, cJSON_GetObjectItemCaseSensitive(p->body, "messages"), msgs, n,
                                      n - q->n_msgs, text, tmpl ? strlen(tmpl) : tlen, &msgs_json, &tools_json) < 0) {
            free(msgs);
            return VKSLM_ERR_OUT_OF_HOST_MEMORY;
        }
        st = vkslm_chat_tokenize_json(model, tmpl, msgs_json, tools_json, true, p->sv->cfg.parse_special_in_content,
                                      p->ids, cap, &p->n_ids);
        free(msgs_json);
        free(tools_json);
    } else {
        st = vkslm_chat_tokenize(model, tmpl, msgs, n, true, p->sv->cfg.parse_special_in_content, p->ids, cap,
                                 &p->n_ids);
    }
    free(msgs);
    return st;
}

typedef struct choice choice;

static bool keep_going(const char *piece, void *user) {
    (void)piece;
    choice *c = user;
    return !serve_job_cancelled(c->p->job);
}

/* A chunk with one choice: delta content (chat) or text (completions), its logprobs (taken; may be NULL),
 * and a finish reason or null. */
static cJSON *chunk(completion *p, int index, const char *piece, const char *finish, int first, cJSON *logprobs) {
    cJSON *root = response_head(p->q.chat, 1, p->id, p->created, p->name);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", index);
    if (p->q.chat) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (first)
            cJSON_AddStringToObject(delta, "role", "assistant");
        if (piece)
            cJSON_AddStringToObject(delta, "content", piece);
    } else {
        cJSON_AddStringToObject(c, "text", piece ? piece : "");
    }
    if (logprobs)
        cJSON_AddItemToObject(c, "logprobs", logprobs);
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    return root;
}

static bool on_piece(const char *piece, const int32_t *ids, const vkslm_token_logprobs *lp, size_t n, void *user) {
    (void)ids;
    choice *c = user;
    completion *p = c->p;
    cJSON *lpj = lp && n ? serve_logprobs_json(vkslm_sequence_model(p->seqs[c->index]), p->q.chat, lp, n, &c->offset)
                         : NULL;
    char *text = serve_tools_active(p->q.tools) ? serve_tools_stream_feed(p->q.tools, piece) : NULL;
    const char *send = text ? text : piece; /* with tools, what may begin a call is held back (n is 1) */
    if (*send || lpj)
        serve_job_stream_event(p->job, chunk(p, c->index, send, NULL, 0, lpj));
    free(text);
    return !serve_job_cancelled(p->job);
}

/* The end of a stream with tools: the held-back text, or the calls as OpenAI streams them (a chunk with
 * each call's id, type and name, then one with its arguments). The finish reason to send. */
static const char *stream_tool_calls(completion *p, const char *finish) {
    char *rest = NULL;
    cJSON *calls = serve_tools_stream_finish(p->q.tools, &rest);
    if (rest && *rest)
        serve_job_stream_event(p->job, chunk(p, 0, rest, NULL, 0, NULL));
    free(rest);
    if (!calls)
        return finish;
    int index = 0;
    cJSON *call;
    cJSON_ArrayForEach(call, calls) {
        for (int part = 0; part < 2; part++) {
            cJSON *c = chunk(p, 0, NULL, NULL, 0, NULL);
            cJSON *delta = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c,
                                                            "choices"), 0), "delta");
            cJSON *d = cJSON_CreateObject(), *fn = cJSON_AddObjectToObject(d, "function");
            cJSON_AddNumberToObject(d, "index", index);
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(call, "function");
            if (part == 0) {
                cJSON_AddItemToObject(d, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(call, "id"), 0));
                cJSON_AddStringToObject(d, "type", "function");
                cJSON_AddItemToObject(fn, "name", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(f, "name"), 0));
                cJSON_AddStringToObject(fn, "arguments", "");
            } else {
                cJSON_AddItemToObject(fn, "arguments",
                                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(f, "arguments"), 0));
            }
            cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), d);
            serve_job_stream_event(p->job, c);
        }
        index++;
    }
    cJSON_Delete(calls);
    return "tool_calls";
}

static const char shutdown_msg[] = "the server is shutting down; the request was cut short";

static void *run_choice(void *arg) {
    choice *c = arg;
    completion *p = c->p;
    c->st = vkslm_sequence_generate(p->seqs[c->index], p->ids, p->n_ids, &c->gp, &c->r);
    if (c->st != VKSLM_OK)
        snprintf(c->err, sizeof c->err, "%s", vkslm_last_error());
    return NULL;
}

/* Generates the n choices from the prompt's ids, choice i with seed + i, each on its own sequence and all at
 * once (n > 1: the prompt is prefilled first and its KV copied, not computed n times); the request's
 * metrics end here. *usage gets the totals: the prompt once, the tokens of every choice. Returns the first
 * failing choice, or NULL. */
static choice *generate(completion *p, int stream, vkslm_generate_result *usage) {
    int n = p->q.ss.n;
    choice *bad = NULL;
    p->n_cached = 0;
    vkslm_status st = n > 1 ? vkslm_sequence_prefill(p->seqs[0], p->ids, p->n_ids, &p->n_cached) : VKSLM_OK;
    if (st != VKSLM_OK) {
        bad = &p->ch[0];
        bad->st = st;
        snprintf(bad->err, sizeof bad->err, "%s", vkslm_last_error());
        memset(usage, 0, sizeof *usage);
        serve_metrics_end(&p->sv->metrics, (int)p->expert, (cli_now_ms() - p->t0) / 1e3, 0, 0, 0);
        return bad;
    }
    if (p->q.tool_grammar)
        p->q.gp.grammar = p->q.tool_grammar; /* a forced tool call (response_format is then absent) */
    for (int i = 0; i < n; i++) {
        choice *c = &p->ch[i];
        memset(c, 0, sizeof *c);
        c->p = p;
        c->index = i;
        c->gp = p->q.gp;
        c->gp.seed = p->q.gp.seed + (uint64_t)i;
        c->gp.user_data = c;
        c->gp.on_token = stream ? NULL : keep_going;
        c->gp.on_tokens = stream ? on_piece : NULL;
        c->offset = p->q.ss.echo ? strlen(p->q.prompt) : 0;
    }
    pthread_t th[SERVE_MAX_N];
    int started[SERVE_MAX_N] = {0};
    for (int i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, run_choice, &p->ch[i]) == 0;
    run_choice(&p->ch[0]);
    for (int i = 1; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
        else
            run_choice(&p->ch[i]); /* no thread: after the others */
    *usage = p->ch[0].r;
    usage->n_tokens = 0;
    double decode_ms = 0;
    for (int i = 0; i < n; i++) {
        usage->n_tokens += p->ch[i].r.n_tokens;
        decode_ms += p->ch[i].r.decode_ms;
        if (p->ch[i].st != VKSLM_OK && !bad)
            bad = &p->ch[i];
    }
    if (n > 1)
        usage->n_cached_tokens = p->n_cached;
    serve_metrics_end(&p->sv->metrics, (int)p->expert, (cli_now_ms() - p->t0) / 1e3, usage->n_prompt_tokens,
                      usage->n_tokens, decode_ms);
    return bad;
}

static void generate_stream(completion *p) {
    serve_job *j = p->job;
    int n = p->q.ss.n;
    serve_job_stream_begin(j, p->name);
    for (int i = 0; i < n; i++)
        if (p->q.chat || p->q.ss.echo)
            serve_job_stream_event(j, chunk(p, i, p->q.chat ? "" : p->q.prompt, NULL, p->q.chat, NULL));
    vkslm_generate_result u;
    choice *bad = generate(p, 1, &u);
    int why = serve_job_cancelled(j);
    if (!bad && why != SERVE_CANCEL_SHUTDOWN) {
        for (int i = 0; i < n; i++) {
            const char *finish = finish_reason(p->ch[i].r.stop_reason);
            if (serve_tools_active(p->q.tools)) /* n is 1 */
                finish = stream_tool_calls(p, finish);
            cJSON *last = chunk(p, i, NULL, finish, 0, NULL);
            if (n == 1) { /* usage and the extension in the last chunk, as before include_usage */
                add_usage(last, &u);
                add_extension(last, p->sv, &p->route, &p->ch[i].r);
            }
            serve_job_stream_event(j, last);
        }
        if (p->q.ss.include_usage) { /* as OpenAI: a last chunk with no choices and the usage */
            cJSON *last = response_head(p->q.chat, 1, p->id, p->created, p->name);
            cJSON_AddArrayToObject(last, "choices");
            add_usage(last, &u);
            serve_job_stream_event(j, last);
        }
    } else {
        char msg[640];
        snprintf(msg, sizeof msg, "expert %s: %s", p->name, !bad ? shutdown_msg : bad->err);
        unsigned code = !bad ? 503 : status_of(bad->st);
        serve_job_stream_event(j, serve_error_object(code, !bad ? "shutting_down" : NULL, NULL, msg));
    }
    serve_job_stream_end(j);
}

static void generate_whole(completion *p) {
    serve_job *j = p->job;
    vkslm_generate_result u;
    choice *bad = generate(p, 0, &u);
    int why = serve_job_cancelled(j);
    if (why == SERVE_CANCEL_CLIENT)
        return; /* nobody to answer */
    if (bad) {
        serve_job_error(j, status_of(bad->st), NULL, "expert %s: %s", p->name, bad->err);
        return;
    }
    if (why == SERVE_CANCEL_SHUTDOWN) {
        serve_job_error(j, 503, "shutting_down", "expert %s: %s", p->name, shutdown_msg);
        return;
    }
    const vkslm_model *model = vkslm_sequence_model(p->seqs[0]);
    cJSON *resp = response_head(p->q.chat, 0, p->id, p->created, p->name);
    cJSON *choices = cJSON_AddArrayToObject(resp, "choices");
    for (int i = 0; i < p->q.ss.n; i++) {
        const vkslm_generate_result *r = &p->ch[i].r;
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", i);
        char *content = NULL;
        cJSON *calls = serve_tools_parse_output(p->q.tools, r->text, &content); /* NULL: the output is text */
        if (p->q.chat) {
            cJSON *msg = cJSON_AddObjectToObject(ch, "message");
            cJSON_AddStringToObject(msg, "role", "assistant");
            if (calls && !content)
                cJSON_AddNullToObject(msg, "content");
            else
                cJSON_AddStringToObject(msg, "content", calls ? content : r->text);
            if (calls)
                cJSON_AddItemToObject(msg, "tool_calls", calls);
        } else if (p->q.ss.echo) {
            size_t pl = strlen(p->q.prompt);
            char *t = malloc(pl + r->text_len + 1);
            if (t) {
                memcpy(t, p->q.prompt, pl);
                memcpy(t + pl, r->text, r->text_len + 1);
            }
            cJSON_AddItemToObject(ch, "text", t ? cJSON_CreateString(t) : cJSON_CreateNull());
            free(t);
        } else {
            cJSON_AddStringToObject(ch, "text", r->text);
        }
        if (p->q.ss.logprobs)
            cJSON_AddItemToObject(ch, "logprobs",
                                  serve_logprobs_json(model, p->q.chat, r->logprobs, r->n_tokens, &p->ch[i].offset));
        else
            cJSON_AddNullToObject(ch, "logprobs");
        free(content);
        cJSON_AddStringToObject(ch, "finish_reason", calls ? "tool_calls" : finish_reason(r->stop_reason));
        cJSON_AddItemToArray(choices, ch);
    }
    add_usage(resp, &u);
    add_extension(resp, p->sv, &p->route, &p->ch[0].r); /* n > 1: the extension's tokens are choice 0's */
    serve_job_reply(j, 200, resp, p->name);
}

/* One request at a time gathers n > 1 sequences: two that each held some while waiting for more could wait
 * for each other until the queue times out. Requests for one sequence never wait on this. */
static pthread_mutex_t gather_lock = PTHREAD_MUTEX_INITIALIZER;

static vkslm_status acquire_seqs(completion *p) {
    int n = p->q.ss.n;
    vkslm_status st = VKSLM_OK;
    if (n > 1)
        pthread_mutex_lock(&gather_lock);
    for (int i = 0; i < n && st == VKSLM_OK; i++)
        if ((st = vkslm_orchestra_acquire(p->sv->orch, p->expert, &p->seqs[i])) == VKSLM_OK)
            p->n_seqs++;
    if (n > 1)
        pthread_mutex_unlock(&gather_lock);
    return st;
}

static void release_seqs(completion *p) {
    for (size_t i = 0; i < p->n_seqs; i++)
        vkslm_orchestra_release(p->sv->orch, p->expert, p->seqs[i]);
    p->n_seqs = 0;
}

/* The job: route, borrow a session, tokenize and check the prompt, generate. */
static void completion_run(serve_job *j, void *arg) {
    completion *p = arg;
    server *sv = p->sv;
    p->job = j;
    vkslm_status st = vkslm_orchestra_route(sv->orch, p->q.model, p->q.route_text, &p->route);
    if (st != VKSLM_OK) {
        serve_job_error(j, st == VKSLM_ERR_NOT_FOUND ? 404 : 500, st == VKSLM_ERR_NOT_FOUND ? "model_not_found" : NULL,
                        "%s", vkslm_last_error());
        return;
    }
    serve_metrics_route(&sv->metrics, &p->route);
    p->expert = (size_t)p->route.expert;
    p->name = vkslm_orchestra_expert_name(sv->orch, p->expert);
    serve_request_apply_defaults(&p->q, &sv->cfg.extra[p->expert].sampling); /* the sampling defaults are the expert's */
    uint32_t parallel = sv->cfg.experts[p->expert].max_sessions ? sv->cfg.experts[p->expert].max_sessions : 4;
    char msg[256];
    const char *param = NULL, *why_bad = serve_sampling_check(&p->q.ss, parallel, INT32_MAX, &param, msg, sizeof msg);
    if (why_bad) {
        serve_job_reply(j, 400, serve_error_object(400, "invalid_request", param, why_bad), NULL);
        return;
    }
    st = acquire_seqs(p);
    if (st != VKSLM_OK) {
        release_seqs(p);
        unsigned code = status_of(st);
        serve_job_error(j, code, code == 503 ? (sv->draining ? "shutting_down" : "overloaded") : NULL, "%s",
                        vkslm_last_error());
        return;
    }
    const vkslm_model *model = vkslm_sequence_model(p->seqs[0]);
    uint32_t n_ctx = vkslm_sequence_n_ctx(p->seqs[0]);
    int why;
    char tool_err[512];
    st = prompt_tokens(p, model, n_ctx);
    if ((why_bad = serve_sampling_check(&p->q.ss, parallel, vkslm_model_n_vocab(model), &param, msg, sizeof msg))) {
        serve_job_reply(j, 400, serve_error_object(400, "invalid_request", param, why_bad), NULL);
    } else if (st == VKSLM_ERR_LIMIT || (st == VKSLM_OK && p->n_ids >= n_ctx)) { /* room for one token to come */
        serve_job_error(j, 400, "context_length_exceeded", "the prompt has %zu tokens; expert %s holds %u tokens of context",
                        p->n_ids, p->name, n_ctx);
    } else if (st != VKSLM_OK) {
        unsigned code = status_of(st);
        serve_job_error(j, code, code == 400 ? "template_refused" : NULL, "expert %s: %s", p->name, vkslm_last_error());
    } else if (p->n_ids == 0) {
        serve_job_error(j, 400, "empty_prompt", "the prompt has no tokens (expert %s adds no BOS)", p->name);
    } else if (!(p->q.tool_grammar = serve_tools_grammar(p->q.tools, tool_err, sizeof tool_err)) && tool_err[0]) {
        serve_job_error(j, 400, "invalid_request", "%s", tool_err);
    } else if ((why = serve_job_cancelled(j)) == SERVE_CANCEL_SHUTDOWN) {
        serve_job_error(j, 503, "shutting_down", "%s", shutdown_msg);
    } else if (!why) { /* a client that left gets nothing */
        snprintf(p->id, sizeof p->id, "%s-%llu", p->q.chat ? "chatcmpl" : "cmpl", (unsigned long long)serve_next_id(sv));
        p->created = (long)time(NULL);
        serve_metrics_begin(&sv->metrics, (int)p->expert);
        if (p->q.stream)
            generate_stream(p);
        else
            generate_whole(p);
    }
    release_seqs(p);
}

int serve_completion(struct MHD_Connection *c, server *sv, const char *body, size_t len, int chat, serve_job **job) {
    int ep = chat ? SERVE_EP_CHAT : SERVE_EP_COMPLETIONS;
    *job = NULL;
    int ret;
    cJSON *root = serve_job_body(c, sv, ep, body, len, &ret);
    if (!root)
        return ret;
    completion *p = calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return serve_send_error(c, sv, ep, 500, NULL, "out of memory");
    }
    p->sv = sv;
    p->body = root;
    p->q.chat = chat;
    p->t0 = cli_now_ms();
    const char *bad = serve_request_parse(root, &p->q);
    if (bad) {
        int ok = serve_send_json(c, sv, ep, 400, serve_error_object(400, p->q.code, p->q.param, bad), NULL);
        completion_free(p);
        return ok;
    }
    return serve_job_launch(c, sv, ep, completion_run, p, completion_free, job);
}
