/* vkslm serve: the HTTP side. libmicrohttpd polls with epoll on a small pool of threads; request bodies
 * are gathered up to the configured limit, the Host and Origin headers are checked (DNS rebinding, cross-
 * site calls), then the request is dispatched by method and URL. Completions run as jobs (serve_job.c)
 * while their connection is suspended. Every response is JSON (or SSE, or Prometheus text) and counted in
 * the metrics. Connections are limited in all and per client address, and idle ones time out. */
#include <arpa/inet.h>
#include <ctype.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "serve.h"

/* One request on a connection (libmicrohttpd's per-request pointer). */
typedef struct upload {
    char *body;
    size_t len, cap;
    int too_big;
    int answered;   /* refused on its headers */
    serve_job *job; /* the completion working for it */
} upload;

static int origin_allowed(const server *sv, const char *origin);

/* serve_send_json with one more header (name NULL: none). */
static int send_json_with(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, cJSON *body,
                          const char *expert, const char *name, const char *value) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text)
        text = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}");
    size_t n = text ? strlen(text) : 0;
    struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    serve_add_cors(sv, c, r);
    if (sv->draining)
        MHD_add_response_header(r, "Connection", "close");
    if (expert)
        MHD_add_response_header(r, "X-Vkslm-Expert", expert);
    if (name)
        MHD_add_response_header(r, name, value);
    int ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    serve_metrics_request(&sv->metrics, endpoint, (int)status);
    return ok;
}

int serve_send_json(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, cJSON *body,
                    const char *expert) {
    return send_json_with(c, sv, endpoint, status, body, expert, NULL, NULL);
}

int serve_send_error(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, const char *code,
                     const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return serve_send_json(c, sv, endpoint, status, serve_error_object(status, code, NULL, msg), NULL);
}

/* The modification time of the expert's model file, as OpenAI's "created" (0 when it cannot be read). */
static long model_time(const server *sv, size_t i) {
    struct stat st;
    return stat(sv->cfg.experts[i].model_path, &st) == 0 ? (long)st.st_mtime : 0;
}

/* One entry of /v1/models: expert i, or "auto" for i == n. */
static cJSON *model_object(server *sv, size_t i) {
    size_t n = vkslm_orchestra_n_experts(sv->orch);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", i < n ? vkslm_orchestra_expert_name(sv->orch, i) : "auto");
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)(i < n ? model_time(sv, i) : sv->started_at));
    cJSON_AddStringToObject(m, "owned_by", "vkslm");
    if (i < n) {
        cJSON_AddStringToObject(m, "role", sv->cfg.experts[i].role ? sv->cfg.experts[i].role : "");
        if (sv->cfg.experts[i].n_lora) /* an adapter expert: the stem of the base file it runs on */
            cJSON_AddStringToObject(m, "base", sv->cfg.extra[i].base_stem);
        vkslm_expert_stats st;
        if (vkslm_orchestra_expert_stats(sv->orch, i, &st) == VKSLM_OK)
            cJSON_AddBoolToObject(m, "loaded", st.loaded);
    } else {
        cJSON_AddStringToObject(m, "role", sv->cfg.single_models ? "the first model"
                                                                 : "routes each request to the expert that fits it");
    }
    return m;
}

static const char models_path[] = "/v1/models";

static int send_models(struct MHD_Connection *c, server *sv, const char *url) {
    size_t n = vkslm_orchestra_n_experts(sv->orch);
    if (url[sizeof models_path - 1] == '/') { /* /v1/models/{id} */
        const char *id = url + sizeof models_path;
        int i = strcmp(id, "auto") == 0 ? (int)n : vkslm_orchestra_find(sv->orch, id);
        if (i < 0)
            return serve_send_error(c, sv, SERVE_EP_MODELS, 404, "model_not_found", "no model is named '%s'", id);
        return serve_send_json(c, sv, SERVE_EP_MODELS, 200, model_object(sv, (size_t)i), NULL);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; i <= n; i++)
        cJSON_AddItemToArray(data, model_object(sv, i));
    return serve_send_json(c, sv, SERVE_EP_MODELS, 200, root, NULL);
}

static int send_health(struct MHD_Connection *c, server *sv) {
    cJSON *root = cJSON_CreateObject();
    int draining = sv->draining;
    cJSON_AddStringToObject(root, "status", draining ? "draining" : "ok");
    size_t n = vkslm_orchestra_n_experts(sv->orch), loaded = 0;
    cJSON *experts = cJSON_AddArrayToObject(root, "experts");
    for (size_t i = 0; i < n; i++) {
        vkslm_expert_stats st;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToArray(experts, x);
        cJSON_AddStringToObject(x, "name", vkslm_orchestra_expert_name(sv->orch, i));
        if (vkslm_orchestra_expert_stats(sv->orch, i, &st) != VKSLM_OK) {
            cJSON_AddStringToObject(x, "state", "unknown");
            continue;
        }
        loaded += st.loaded;
        uint32_t parallel = sv->cfg.experts[i].max_sessions ? sv->cfg.experts[i].max_sessions : 4;
        cJSON_AddStringToObject(x, "state", st.loaded ? "loaded" : "not_loaded"); /* it loads on its first request */
        cJSON_AddNumberToObject(x, "parallel", st.loaded && st.sessions ? st.sessions : parallel);
        cJSON_AddNumberToObject(x, "active", st.active);
        cJSON_AddNumberToObject(x, "waiting", st.waiting);
        cJSON_AddNumberToObject(x, "context", st.n_ctx);
        cJSON_AddNumberToObject(x, "loads", st.loads);
        cJSON_AddNumberToObject(x, "evictions", st.evictions);
    }
    uint64_t used = 0, budget = 0;
    vkslm_orchestra_memory(sv->orch, &used, &budget);
    cJSON_AddNumberToObject(root, "loaded", (double)loaded);
    cJSON_AddNumberToObject(root, "device_memory_bytes", (double)used);
    cJSON_AddNumberToObject(root, "device_memory_budget_bytes", (double)budget);
    cJSON_AddNumberToObject(root, "validation_messages", vkslm_orchestra_validation_messages(sv->orch));
    return serve_send_json(c, sv, SERVE_EP_HEALTH, draining ? 503 : 200, root, NULL); /* 503: balancers look away */
}

static int send_metrics(struct MHD_Connection *c, server *sv) {
    char *text = serve_metrics_text(sv);
    if (!text)
        return serve_send_error(c, sv, SERVE_EP_METRICS, 500, NULL, "out of memory");
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    serve_add_cors(sv, c, r);
    int ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    serve_metrics_request(&sv->metrics, SERVE_EP_METRICS, 200);
    return ok;
}

static int endpoint_of(const char *url) {
    if (strcmp(url, "/v1/chat/completions") == 0)
        return SERVE_EP_CHAT;
    if (strcmp(url, "/v1/completions") == 0)
        return SERVE_EP_COMPLETIONS;
    if (strcmp(url, models_path) == 0 || (strncmp(url, models_path, sizeof models_path - 1) == 0 &&
                                          url[sizeof models_path - 1] == '/' && url[sizeof models_path]))
        return SERVE_EP_MODELS;
    if (strcmp(url, "/health") == 0)
        return SERVE_EP_HEALTH;
    if (strcmp(url, "/metrics") == 0)
        return SERVE_EP_METRICS;
    if (strcmp(url, "/v1/embeddings") == 0)
        return SERVE_EP_EMBEDDINGS;
    return SERVE_EP_OTHER;
}

/* ---- request checks ------------------------------------------------------------------------------ */
static int in_list(const char *const *list, size_t n, const char *s, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], "*") == 0 || (strlen(list[i]) == len && strncasecmp(list[i], s, len) == 0))
            return 1;
    return 0;
}

/* The name in a Host header, which is a name or an address, then an optional port: "example.com",
 * "127.0.0.1:8080", "[::1]:8080" (the name without its brackets). NULL when it is anything else
 * ("localhost:80@evil.example" is not a Host). */
static const char *host_name(const char *h, size_t *len) {
    const char *p = h, *name = h;
    if (*p == '[') {
        for (name = ++p; *p && *p != ']'; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return NULL;
        if (*p != ']')
            return NULL;
        *len = (size_t)(p++ - name);
    } else {
        for (; *p && *p != ':'; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-._~", *p))
                return NULL;
        *len = (size_t)(p - name);
        if (!*len)
            return NULL;
    }
    if (*p == ':')
        for (p++; *p; p++)
            if (!isdigit((unsigned char)*p))
                return NULL;
    return *p == 0 ? name : NULL;
}

/* The Host's name is one the server answers to: a page on another site that rebinds its own name to our
 * address sends that name, and is refused. No Host: HTTP/1.0 clients need not send one; browsers do. */
static int host_allowed(const server *sv, const char *host) {
    if (!host)
        return 1;
    size_t len = 0;
    const char *name = host_name(host, &len);
    if (!name)
        return 0;
    if (sv->cfg.allowed_hosts)
        return in_list(sv->cfg.allowed_hosts, sv->cfg.n_allowed_hosts, name, len);
    const char *loopback[] = {"localhost", "127.0.0.1", "::1", sv->cfg.host};
    return in_list(loopback, sizeof loopback / sizeof *loopback, name, len);
}

static int origin_allowed(const server *sv, const char *origin) {
    return in_list(sv->cfg.cors_origins, sv->cfg.n_cors_origins, origin, strlen(origin));
}

/* What the request's headers say, read in one pass. */
typedef struct header_scan {
    int n_length, conflict, chunked, n_host, bad_name;
    const char *length, *host;
} header_scan;

/* A header name is a token (RFC 9110: letters, digits and !#$%&'*+-.^_`|~), nothing else. */
static int token_ok(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    header_scan *h = cls;
    (void)kind;
    if (!token_ok(key))
        h->bad_name = 1;
    if (strcasecmp(key, "Host") == 0) {
        h->n_host++;
        h->host = value;
    } else if (strcasecmp(key, "Content-Length") == 0) {
        if (h->n_length++ && strcmp(h->length, value) != 0)
            h->conflict = 1;
        h->length = value;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        h->chunked = 1;
    }
    return MHD_YES;
}

/* What is wrong with the request line and headers, for a 400 (NULL: nothing). */
static const char *bad_head(const header_scan *h, const char *url, const char *version) {
    size_t len;
    if (strstr(url, "%00"))
        return "the path holds a NUL byte";
    if (url[0] != '/' || strpbrk(url, " \t"))
        return "the request target must be a path starting with / (no spaces)";
    if (h->bad_name)
        return "a header name holds characters a header name cannot have";
    if (h->n_host > 1)
        return "the request has more than one Host header";
    if (h->n_host == 0 && strcmp(version, "HTTP/1.0") != 0)
        return "an HTTP/1.1 request needs a Host header";
    if (h->host && !host_name(h->host, &len))
        return "the Host header is not a host name with an optional port";
    if (h->conflict)
        return "the request has Content-Length headers that disagree";
    if (h->chunked) /* libmicrohttpd would answer bad chunk framing itself, in HTML: refuse it before */
        return "chunked request bodies are not accepted: send the body with a Content-Length";
    return NULL;
}

/* A cross-site call from an allowed origin gets its answer read by the page. */
void serve_add_cors(const server *sv, struct MHD_Connection *c, struct MHD_Response *r) {
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin && origin_allowed(sv, origin)) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

static int send_preflight(struct MHD_Connection *c, server *sv, int ep) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    serve_add_cors(sv, c, r);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type, Authorization");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    int ok = MHD_queue_response(c, 204, r);
    MHD_destroy_response(r);
    serve_metrics_request(&sv->metrics, ep, 204);
    return ok;
}

/* ---- dispatch ------------------------------------------------------------------------------------ */
static int send_too_large(struct MHD_Connection *c, server *sv, int ep) {
    return serve_send_error(c, sv, ep, 413, "request_too_large", "the request body exceeds %zu bytes", sv->cfg.max_body);
}

/* Checks what the request line and headers say, before any body is read: MHD_YES to go on (*answered
 * 0), else the answer was queued (*answered 1; the connection closes after it). */
static int check_head(struct MHD_Connection *c, server *sv, const char *url, const char *method, const char *version,
                      int *answered) {
    int ep = endpoint_of(url);
    *answered = 1;
    header_scan h = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_header, &h);
    const char *why = bad_head(&h, url, version);
    if (why)
        return serve_send_error(c, sv, ep, 400, "invalid_request", "%s", why);
    if (h.length && strtoull(h.length, NULL, 10) > sv->cfg.max_body) /* say so now, not after the body */
        return send_too_large(c, sv, ep);
    if (!host_allowed(sv, h.host))
        return serve_send_error(c, sv, ep, 403, "host_not_allowed",
                                "the Host %s is not one this server answers to (the config's allowed_hosts)", h.host);
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin && !origin_allowed(sv, origin))
        return serve_send_error(c, sv, ep, 403, "origin_not_allowed",
                                "requests from the origin %s are not allowed (the config's cors_origins)", origin);
    /* a browser's preflight carries no credentials; the request it clears does */
    int preflight = origin && strcmp(method, "OPTIONS") == 0;
    if (!preflight && !serve_auth_public(sv, url) &&
        !serve_auth_ok(sv, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
        const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        return send_json_with(c, sv, ep, 401,
                              serve_error_object(401, "invalid_api_key", NULL,
                                                 given ? "Incorrect API key provided"
                                                       : "You didn't provide an API key: send it in an Authorization "
                                                         "header (Authorization: Bearer YOUR_KEY)"),
                              NULL, "WWW-Authenticate", "Bearer");
    }
    *answered = 0;
    return MHD_YES;
}

static int dispatch(struct MHD_Connection *c, server *sv, upload *u, const char *url, const char *method) {
    int ep = endpoint_of(url);
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (strcmp(method, "OPTIONS") == 0 && origin && ep != SERVE_EP_OTHER)
        return send_preflight(c, sv, ep);
    if (u->too_big)
        return send_too_large(c, sv, ep);
    int is_post = strcmp(method, "POST") == 0, is_get = strcmp(method, "GET") == 0;
    switch (ep) {
    case SERVE_EP_CHAT:
    case SERVE_EP_COMPLETIONS:
        if (!is_post)
            return serve_send_error(c, sv, ep, 405, "method_not_allowed", "%s needs POST", url);
        return serve_completion(c, sv, u->body ? u->body : "", u->len, ep == SERVE_EP_CHAT, &u->job);
    case SERVE_EP_EMBEDDINGS:
        if (!is_post)
            return serve_send_error(c, sv, ep, 405, "method_not_allowed", "%s needs POST", url);
        return serve_embeddings(c, sv, u->body ? u->body : "", u->len, &u->job);
    case SERVE_EP_MODELS:
    case SERVE_EP_HEALTH:
    case SERVE_EP_METRICS:
        if (!is_get)
            return serve_send_error(c, sv, ep, 405, "method_not_allowed", "%s needs GET", url);
        return ep == SERVE_EP_MODELS ? send_models(c, sv, url) : ep == SERVE_EP_HEALTH ? send_health(c, sv) : send_metrics(c, sv);
    default:
        return serve_send_error(c, sv, ep, 404, "not_found", "no endpoint %s %s", method, url);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    server *sv = cls;
    upload *u = *con_cls;
    if (!u) { /* headers only so far */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        int answered;
        int ok = check_head(c, sv, url, method, version, &answered);
        u->answered = answered;
        return ok == MHD_YES ? MHD_YES : MHD_NO;
    }
    if (u->answered) { /* refused on its headers: the body is not read */
        *data_size = 0;
        return MHD_YES;
    }
    if (u->job) /* resumed: the job has its answer (or a stream) ready */
        return serve_job_answer(u->job) == MHD_YES ? MHD_YES : MHD_NO;
    if (*data_size) { /* a piece of the body */
        if (!u->too_big && u->len + *data_size > sv->cfg.max_body)
            u->too_big = 1;
        if (!u->too_big) {
            if (u->len + *data_size + 1 > u->cap) {
                size_t cap = (u->len + *data_size + 1) * 2;
                if (cap > sv->cfg.max_body + 1)
                    cap = sv->cfg.max_body + 1;
                char *b = realloc(u->body, cap);
                if (!b)
                    return MHD_NO;
                u->body = b;
                u->cap = cap;
            }
            memcpy(u->body + u->len, data, *data_size);
            u->len += *data_size;
            u->body[u->len] = 0;
        }
        *data_size = 0;
        return MHD_YES;
    }
    return dispatch(c, sv, u, url, method) == MHD_YES ? MHD_YES : MHD_NO;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    upload *u = *con_cls;
    (void)cls, (void)c, (void)why;
    if (u) {
        if (u->job)
            serve_job_detach(u->job);
        free(u->body);
        free(u);
        *con_cls = NULL;
    }
}

/* libmicrohttpd decodes %XX in the path before we see it, so "/health%00.json" would read as "/health".
 * A path holding %00 is left as it came (bad_head refuses it); others are decoded as usual. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *uri) {
    (void)cls, (void)c;
    if (strstr(uri, "%00"))
        return strlen(uri);
    return MHD_http_unescape(uri);
}

struct MHD_Daemon *serve_http_start(server *sv, const char *host, int port, int *bound) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "vkslm serve: --host %s is not an IPv4 address\n", host);
        return NULL;
    }
    const serve_config *cfg = &sv->cfg;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port,
        NULL, NULL, on_request, sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, sv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, sv, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_client,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "vkslm serve: cannot listen on %s:%d (in use, or not allowed)\n", host, port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = info ? info->port : port;
    return d;
}
