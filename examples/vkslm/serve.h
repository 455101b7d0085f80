/* vkslm serve: the orchestra behind an OpenAI-compatible HTTP API (libmicrohttpd, cJSON).
 *   serve_config.c    orchestra.json -> experts, router settings, per-expert prompts and sampling
 *   serve_http.c      the daemon, request bodies, URL dispatch, JSON and error responses
 *   serve_complete.c  /v1/chat/completions and /v1/completions, streamed (SSE) or whole
 *   serve_metrics.c   counters and histograms, /metrics in Prometheus text, cost projection */
#ifndef VKSLM_CLI_SERVE_H
#define VKSLM_CLI_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

struct cJSON;
struct MHD_Connection;
struct MHD_Daemon;

typedef struct serve_sampling {
    float temperature, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty;
    int32_t top_k, max_tokens;
} serve_sampling;

typedef struct serve_expert {
    const char *system_prompt; /* NULL: none */
    const char *template_name; /* chat template override (a built-in name or template text); NULL: the model's */
    serve_sampling sampling;   /* defaults for requests that do not set them */
} serve_expert;

typedef struct serve_config {
    const char *host;
    int port;
    size_t max_body;            /* bytes; larger request bodies get 413 */
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
void serve_config_free(serve_config *c);

/* ---- metrics ---- */
enum { SERVE_EP_CHAT, SERVE_EP_COMPLETIONS, SERVE_EP_MODELS, SERVE_EP_HEALTH, SERVE_EP_METRICS, SERVE_EP_OTHER,
       SERVE_EP_COUNT };
#define SERVE_CODES 8
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
typedef struct server {
    serve_config cfg;
    vkslm_orchestra *orch;
    serve_metrics metrics;
    uint64_t next_id;           /* response ids */
    pthread_mutex_t id_lock;
} server;

/* The Prometheus text of /metrics (malloc'd). */
char *serve_metrics_text(server *sv);

/* Responses (serve_http.c). They queue the response on the connection and count it in the metrics. */
int serve_send_json(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, struct cJSON *body,
                    const char *expert); /* takes body */
int serve_send_error(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, const char *type,
                     const char *code, const char *fmt, ...);
/* The completion endpoints (serve_complete.c); chat: 1 for /v1/chat/completions. */
int serve_completion(struct MHD_Connection *c, server *sv, const char *body, size_t len, int chat);
uint64_t serve_next_id(server *sv);
/* Starts the daemon on host:port (port 0: any free port; *bound gets the port). NULL after a message. */
struct MHD_Daemon *serve_http_start(server *sv, const char *host, int port, int *bound);
#endif
