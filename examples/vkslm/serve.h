/* vkslm serve: the orchestra behind an OpenAI-compatible HTTP API (libmicrohttpd, cJSON).
 *   serve_config.c    orchestra.json -> experts, router settings, per-expert prompts and sampling
 *   serve_http.c      the daemon, request bodies, Host/Origin checks, URL dispatch, JSON and error responses
 *   serve_json.c      strict request JSON: duplicate keys refused; valid UTF-8 in every message we send
 *   serve_job.c       a request's work on its own thread while its connection is suspended: whole answers,
 *                     server-sent event streams, disconnect checks, draining at shutdown
 *   serve_request.c   the chat and completions request bodies: every key OpenAI knows, implemented, metadata
 *                     or refused (serve_request.h)
 *   serve_complete.c  /v1/chat/completions and /v1/completions, streamed (SSE) or whole
 *   serve_tools.c     tool calling: tools to the template, the model's calls parsed, forced-call grammars
 *   serve_embed.c     /v1/embeddings
 *   serve_format.c    their "response_format": JSON mode and JSON schemas as a grammar
 *   serve_auth.c      API keys (Authorization: Bearer), compared in constant time
 *   serve_metrics.c   counters and histograms, /metrics in Prometheus text, cost projection */
#ifndef VKSLM_CLI_SERVE_H
#define VKSLM_CLI_SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

struct cJSON;
struct MHD_Connection;

/* Per-request limits: more is refused with 400 before any work. */
#define SERVE_MAX_MESSAGES 4096      /* messages of a chat */
#define SERVE_MAX_STOP 16            /* stop strings */
#define SERVE_MAX_TOOLS 128          /* tools (and functions) of a request */
#define SERVE_MAX_SCHEMA_BYTES 65536 /* a JSON schema (response_format, a tool's parameters), as compact JSON */
struct MHD_Daemon;

typedef struct serve_expert {
    const char *system_prompt; /* NULL: none */
    const char *template_name; /* chat template override (a built-in name or template text); NULL: the model's */
    vkslm_generate_params sampling; /* defaults of the sampling keys (and max_tokens) requests leave out */
    vkslm_expert_lora lora[VKSLM_LORA_MAX_PER_SEQ]; /* "lora": the adapters on "base" (the desc points here) */
    char base_stem[128];       /* with "base": its file name without folder and .gguf (/v1/models "base") */
} serve_expert;

typedef struct serve_config {
    const char *host;
    int port;
    size_t max_body;            /* bytes; larger request bodies get 413 */
    unsigned threads;           /* HTTP worker threads (they never wait on a model) */
    unsigned max_connections;   /* open connections in all; more are closed at once */
    unsigned max_per_client;    /* open connections from one client address; 0: no limit */
    unsigned idle_timeout_s;    /* a connection silent this long is closed (not while it waits on generation) */
    unsigned grace_ms;          /* on SIGTERM, how long in-flight requests may take to finish */
    const char *const *cors_origins; /* Origin values allowed to call the API ("*": any) */
    size_t n_cors_origins;
    const char *const *allowed_hosts; /* Host names the server answers to ("*": any); NULL: loopback + host */
    size_t n_allowed_hosts;
    bool parse_special_in_content; /* control tokens typed in message contents are parsed (default: text) */
    const char **api_keys;      /* keys a request must bear (Authorization: Bearer KEY); none: no check */
    size_t n_api_keys;
    const char *const *public_paths; /* paths that need no key (default: /health) */
    size_t n_public_paths;
    bool single_models;         /* made from -m files, not a config */
    double price_per_hour;      /* price of one device-hour, for the cost projection */
    const char *currency;
    vkslm_expert_desc experts[VKSLM_MAX_EXPERTS];
    serve_expert extra[VKSLM_MAX_EXPERTS];
    size_t n_experts;
    vkslm_orchestra_params orch;
    struct cJSON *root;         /* owns the strings above */
    char **owned;               /* resolved paths and string lists */
    size_t n_owned;
} serve_config;

/* Reads the config; relative model paths are taken from the config file's folder. 0 on success, else -1
 * with a message in err. */
int serve_config_load(const char *path, serve_config *c, char *err, size_t cap);
/* The config of `serve -m A.gguf -m B.gguf`: each file an expert named after its stem, routing explicit
 * ("auto" goes to the first); n_ctx and parallel < 0: the defaults. 0, or -1 with a message in err. */
int serve_config_models(const char *const *paths, size_t n, long n_ctx, long parallel, serve_config *c, char *err,
                        size_t cap);
/* Adds an API key (kept as a pointer: it must outlive c); source names where it came from for the error
 * message of a malformed key. 0, or -1 with a message in err. */
int serve_config_add_key(serve_config *c, const char *key, const char *source, char *err, size_t cap);
void serve_config_free(serve_config *c);

/* ---- metrics ---- */
enum { SERVE_EP_CHAT, SERVE_EP_COMPLETIONS, SERVE_EP_MODELS, SERVE_EP_HEALTH, SERVE_EP_METRICS, SERVE_EP_EMBEDDINGS,
       SERVE_EP_OTHER, SERVE_EP_COUNT };
#define SERVE_CODES 16
#define SERVE_BUCKETS 12

typedef struct serve_expert_metrics {
    uint64_t routed[6];         /* by vkslm_route_method */
    uint64_t requests, prompt_tokens, completion_tokens;
    uint64_t latency_buckets[SERVE_BUCKETS]; /* cumulative counts, as Prometheus wants */
    double latency_sum;
    double decode_ms, decode_tokens;
    uint32_t active;            /* requests generating now */
    double busy_since, busy_ms; /* wall time with at least one request generating */
} serve_expert_metrics;

typedef struct serve_metrics {
    pthread_mutex_t lock;
    int codes[SERVE_CODES];
    uint64_t requests[SERVE_EP_COUNT][SERVE_CODES];
    serve_expert_metrics e[VKSLM_MAX_EXPERTS];
    double route_ms_sum;
    uint64_t route_count;
    double started_ms;
} serve_metrics;

void serve_metrics_init(serve_metrics *m);
void serve_metrics_free(serve_metrics *m);
void serve_metrics_request(serve_metrics *m, int endpoint, int status);
void serve_metrics_route(serve_metrics *m, const vkslm_route_decision *d);
void serve_metrics_begin(serve_metrics *m, int expert);
/* A finished generation: wall seconds of the request, tokens in and out, decode time. */
void serve_metrics_end(serve_metrics *m, int expert, double seconds, size_t prompt_tokens, size_t completion_tokens,
                       double decode_ms);

/* ---- the server ---- */
typedef struct serve_job serve_job;

typedef struct server {
    serve_config cfg;
    vkslm_orchestra *orch;
    serve_metrics metrics;
    uint64_t next_id;           /* response ids */
    pthread_mutex_t id_lock;
    /* jobs (serve_job.c) */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond;   /* a job ended or was freed */
    serve_job *jobs;            /* every job not yet freed */
    size_t n_running;           /* jobs whose worker has not finished */
    size_t n_live;              /* jobs not yet freed (their answer may still be on the wire) */
    int draining;               /* SIGTERM came: new work is refused */
    long started_at;            /* Unix time of the start (the "created" of the model "auto") */
} server;

/* ---- jobs (serve_job.c) ---- */
/* The worker: runs on its own thread; answers through serve_job_reply or serve_job_stream_* . */
typedef void (*serve_job_fn)(serve_job *j, void *ctx);
enum { SERVE_CANCEL_CLIENT = 1, SERVE_CANCEL_SHUTDOWN = 2 };

void serve_jobs_init(server *sv);
void serve_jobs_free(server *sv);
/* Starts fn(job, ctx) on a new thread for the request on connection c (endpoint ep); free_ctx(ctx) runs
 * when the job is freed. NULL when the server drains or no thread could be started (ctx is then freed). */
serve_job *serve_job_start(server *sv, struct MHD_Connection *c, int ep, serve_job_fn fn, void *ctx,
                           void (*free_ctx)(void *));
/* Called from the access handler: queues the job's answer when it is ready, else suspends the connection
 * until the worker has one. MHD_YES or MHD_NO for the handler to return. */
int serve_job_answer(serve_job *j);
/* The start of a POST endpoint: the body parsed as a JSON request, or NULL when the request was answered
 * already (503 while the server drains, 400 for invalid JSON), with *ret what the handler returns. */
struct cJSON *serve_job_body(struct MHD_Connection *c, server *sv, int ep, const char *body, size_t len, int *ret);
/* serve_job_start, then serve_job_answer; 503 when no job could start (ctx is then freed). */
int serve_job_launch(struct MHD_Connection *c, server *sv, int ep, serve_job_fn fn, void *ctx,
                     void (*free_ctx)(void *), serve_job **job);
/* The connection's request ended (the client left, or the answer was sent): the job forgets it. */
void serve_job_detach(serve_job *j);
/* Worker side. A whole answer (takes body); the connection resumes with it. */
void serve_job_reply(serve_job *j, unsigned status, struct cJSON *body, const char *expert);
/* An error answer in OpenAI's shape; the type follows the status (4xx: invalid_request_error). */
void serve_job_error(serve_job *j, unsigned status, const char *code, const char *fmt, ...);
/* A 200 server-sent event stream: begin, then events (takes obj), then end (adds "data: [DONE]"). */
void serve_job_stream_begin(serve_job *j, const char *expert);
void serve_job_stream_event(serve_job *j, struct cJSON *obj);
void serve_job_stream_end(serve_job *j);
/* 0 while the work should go on; else why it should stop (SERVE_CANCEL_*): the client closed its
 * connection, or the server is shutting down. Cheap enough to ask once a token. */
int serve_job_cancelled(serve_job *j);
/* Shutdown: wait until no worker runs or the deadline (vkslm_now_ms) passes; 1 when none runs. */
int serve_jobs_wait_running(server *sv, double deadline_ms);
/* Shutdown: every running job is told to stop (SERVE_CANCEL_SHUTDOWN). */
void serve_jobs_cancel_all(server *sv);
/* Shutdown: wait until every job's answer has left (its connection's request ended) or the deadline. */
int serve_jobs_wait_freed(server *sv, double deadline_ms);

/* ---- JSON (serve_json.c) ---- */
/* Parses a request body: NULL with a message in err (for a 400) when it is not JSON or an object holds
 * a key twice. Invalid UTF-8 inside strings is accepted (it reaches the model as bytes). */
struct cJSON *serve_json_parse(const char *body, size_t len, char *err, size_t cap);
/* Copies s into out (cap bytes, NUL-terminated) as valid UTF-8: each invalid sequence becomes U+FFFD. */
void serve_text_clean(const char *s, char *out, size_t cap);
/* An OpenAI error object {"error": {...}}; the type follows the status. */
struct cJSON *serve_error_object(unsigned status, const char *code, const char *param, const char *message);

/* ---- API keys (serve_auth.c) ---- */
/* 1 when no key is configured, or the Authorization header (NULL: none) is "Bearer KEY" with a configured
 * key (compared in constant time). */
int serve_auth_ok(const server *sv, const char *authorization);
/* 1 when the path is in public_paths (it needs no key). */
int serve_auth_public(const server *sv, const char *path);

/* The Prometheus text of /metrics (malloc'd). */
char *serve_metrics_text(server *sv);

/* Responses (serve_http.c). They queue the response on the connection and count it in the metrics. */
int serve_send_json(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, struct cJSON *body,
                    const char *expert); /* takes body */
struct MHD_Response;
/* Access-Control-Allow-Origin for a request that came with an allowed Origin. */
void serve_add_cors(const server *sv, struct MHD_Connection *c, struct MHD_Response *r);
/* An error answer; the type follows the status (4xx: invalid_request_error, 5xx: server_error). */
int serve_send_error(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, const char *code,
                     const char *fmt, ...);
/* The completion endpoints (serve_complete.c); chat: 1 for /v1/chat/completions. The request is
 * checked here; its work runs as a job, and *job gets it (NULL when the answer was queued at once). */
int serve_completion(struct MHD_Connection *c, server *sv, const char *body, size_t len, int chat, serve_job **job);
/* POST /v1/embeddings (serve_embed.c): checked here, run as a job as completions are. */
int serve_embeddings(struct MHD_Connection *c, server *sv, const char *body, size_t len, serve_job **job);
uint64_t serve_next_id(server *sv);
/* A request's "response_format" value (serve_format.c): 0 with *grammar the grammar that constrains the
 * output (malloc'd: free it), or NULL for none (NULL, null, "text"); -1 with the reason in err (a 400 about
 * "response_format": a bad value, or a schema outside the supported subset). */
int serve_response_format(const struct cJSON *value, char **grammar, char *err, size_t cap);
/* Starts the daemon on host:port (port 0: any free port; *bound gets the port). NULL after a message. */
struct MHD_Daemon *serve_http_start(server *sv, const char *host, int port, int *bound);
#endif
