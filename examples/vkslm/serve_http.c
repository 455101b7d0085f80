/* vkslm serve: the HTTP side. Request bodies are gathered up to the configured limit, then dispatched by
 * method and URL; every response is JSON (or SSE, or Prometheus text) and counted in the metrics. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/vkslm/serve.h"

typedef struct upload {
    char *body;
    size_t len, cap;
    int too_big;
} upload;

int serve_send_json(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, cJSON *body,
                    const char *expert) {
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
    if (expert)
        MHD_add_response_header(r, "X-Vkslm-Expert", expert);
    int ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    serve_metrics_request(&sv->metrics, endpoint, (int)status);
    return ok;
}

int serve_send_error(struct MHD_Connection *c, server *sv, int endpoint, unsigned status, const char *type,
                     const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return serve_send_json(c, sv, endpoint, status, root, NULL);
}

static int send_models(struct MHD_Connection *c, server *sv) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    size_t n = vkslm_orchestra_n_experts(sv->orch);
    for (size_t i = 0; i <= n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", i < n ? vkslm_orchestra_expert_name(sv->orch, i) : "auto");
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", 0);
        cJSON_AddStringToObject(m, "owned_by", "vkslm");
        if (i < n) {
            cJSON_AddStringToObject(m, "role", sv->cfg.experts[i].role ? sv->cfg.experts[i].role : "");
            vkslm_expert_stats st;
            if (vkslm_orchestra_expert_stats(sv->orch, i, &st) == VKSLM_OK)
                cJSON_AddBoolToObject(m, "loaded", st.loaded);
        } else {
            cJSON_AddStringToObject(m, "role", "routes each request to the expert that fits it");
        }
        cJSON_AddItemToArray(data, m);
    }
    return serve_send_json(c, sv, SERVE_EP_MODELS, 200, root, NULL);
}

static int send_health(struct MHD_Connection *c, server *sv) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    size_t n = vkslm_orchestra_n_experts(sv->orch), loaded = 0;
    for (size_t i = 0; i < n; i++) {
        vkslm_expert_stats st;
        if (vkslm_orchestra_expert_stats(sv->orch, i, &st) == VKSLM_OK && st.loaded)
            loaded++;
    }
    uint64_t used = 0, budget = 0;
    vkslm_orchestra_memory(sv->orch, &used, &budget);
    cJSON_AddNumberToObject(root, "experts", (double)n);
    cJSON_AddNumberToObject(root, "loaded", (double)loaded);
    cJSON_AddNumberToObject(root, "device_memory_bytes", (double)used);
    cJSON_AddNumberToObject(root, "device_memory_budget_bytes", (double)budget);
    cJSON_AddNumberToObject(root, "validation_messages", vkslm_orchestra_validation_messages(sv->orch));
    return serve_send_json(c, sv, SERVE_EP_HEALTH, 200, root, NULL);
}

static int send_metrics(struct MHD_Connection *c, server *sv) {
    char *text = serve_metrics_text(sv);
    if (!text)
        return serve_send_error(c, sv, SERVE_EP_METRICS, 500, "server_error", NULL, "out of memory");
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
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
    if (strcmp(url, "/v1/models") == 0)
        return SERVE_EP_MODELS;
    if (strcmp(url, "/health") == 0)
        return SERVE_EP_HEALTH;
    if (strcmp(url, "/metrics") == 0)
        return SERVE_EP_METRICS;
    return SERVE_EP_OTHER;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    server *sv = cls;
    upload *u = *con_cls;
    if (!u) { /* headers only so far */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size) { /* a piece of the body */
        if (!u->too_big && u->len + *data_size > sv->cfg.max_body)
            u->too_big = 1;
        if (!u->too_big) {
            if (u->len + *data_size + 1 > u->cap) {
                size_t cap = (u->len + *data_size + 1) * 2;
                char *b = realloc(u->body, cap < sv->cfg.max_body + 1 ? cap : sv->cfg.max_body + 1);
                if (!b)
                    return MHD_NO;
                u->body = b;
                u->cap = cap < sv->cfg.max_body + 1 ? cap : sv->cfg.max_body + 1;
            }
            memcpy(u->body + u->len, data, *data_size);
            u->len += *data_size;
            u->body[u->len] = 0;
        }
        *data_size = 0;
        return MHD_YES;
    }
    int ep = endpoint_of(url);
    int is_post = strcmp(method, "POST") == 0, is_get = strcmp(method, "GET") == 0;
    if (u->too_big)
        return serve_send_error(c, sv, ep, 413, "invalid_request_error", "request_too_large",
                                "the request body exceeds %zu bytes", sv->cfg.max_body) == MHD_YES ? MHD_YES : MHD_NO;
    int ok;
    switch (ep) {
    case SERVE_EP_CHAT:
    case SERVE_EP_COMPLETIONS:
        ok = is_post ? serve_completion(c, sv, u->body ? u->body : "", u->len, ep == SERVE_EP_CHAT)
                     : serve_send_error(c, sv, ep, 405, "invalid_request_error", "method_not_allowed",
                                        "%s needs POST", url);
        break;
    case SERVE_EP_MODELS:
    case SERVE_EP_HEALTH:
    case SERVE_EP_METRICS:
        if (!is_get)
            ok = serve_send_error(c, sv, ep, 405, "invalid_request_error", "method_not_allowed", "%s needs GET", url);
        else
            ok = ep == SERVE_EP_MODELS ? send_models(c, sv) : ep == SERVE_EP_HEALTH ? send_health(c, sv)
                                                                                    : send_metrics(c, sv);
        break;
    default:
        ok = serve_send_error(c, sv, ep, 404, "invalid_request_error", "not_found", "no endpoint %s %s", method, url);
    }
    return ok == MHD_YES ? MHD_YES : MHD_NO;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    upload *u = *con_cls;
    if (u) {
        free(u->body);
        free(u);
        *con_cls = NULL;
    }
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
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
        NULL, on_request, sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_done, sv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "vkslm serve: cannot listen on %s:%d (in use, or not allowed)\n", host, port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = info ? info->port : port;
    return d;
}
