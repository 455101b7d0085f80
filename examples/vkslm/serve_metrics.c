/* vkslm serve: request, token, latency and routing counters, and /metrics in Prometheus text format,
 * with the cost of a million queries projected from measured throughput: the wall time during which an
 * expert was generating, divided by the requests it finished, priced per device-hour. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

static const double bucket_le[SERVE_BUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const char *const endpoint_name[SERVE_EP_COUNT] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                                           "/health", "/metrics", "/v1/embeddings", "other"};

void serve_metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->started_ms = cli_now_ms();
}

void serve_metrics_free(serve_metrics *m) { pthread_mutex_destroy(&m->lock); }

void serve_metrics_request(serve_metrics *m, int ep, int status) {
    pthread_mutex_lock(&m->lock);
    int k = 0;
    while (k < SERVE_CODES && m->codes[k] && m->codes[k] != status)
        k++;
    if (k < SERVE_CODES) {
        m->codes[k] = status;
        m->requests[ep][k]++;
    }
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_route(serve_metrics *m, const vkslm_route_decision *d) {
    pthread_mutex_lock(&m->lock);
    if (d->expert >= 0 && d->expert < VKSLM_MAX_EXPERTS && d->method >= 1 && d->method <= 5)
        m->e[d->expert].routed[d->method]++;
    m->route_ms_sum += d->route_ms;
    m->route_count++;
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_begin(serve_metrics *m, int expert) {
    pthread_mutex_lock(&m->lock);
    serve_expert_metrics *e = &m->e[expert];
    if (e->active++ == 0)
        e->busy_since = cli_now_ms();
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_end(serve_metrics *m, int expert, double seconds, size_t prompt_tokens, size_t completion_tokens,
                       double decode_ms) {
    pthread_mutex_lock(&m->lock);
    serve_expert_metrics *e = &m->e[expert];
    if (e->active && --e->active == 0)
        e->busy_ms += cli_now_ms() - e->busy_since;
    e->requests++;
    e->prompt_tokens += prompt_tokens;
    e->completion_tokens += completion_tokens;
    e->latency_sum += seconds;
    for (int b = 0; b < SERVE_BUCKETS; b++)
        if (seconds <= bucket_le[b])
            e->latency_buckets[b]++;
    if (completion_tokens > 1) {
        e->decode_ms += decode_ms;
        e->decode_tokens += (double)(completion_tokens - 1);
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- text --------------------------------------------------------------------------------------- */
typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

char *serve_metrics_text(server *sv) {
    text t = {0};
    serve_metrics *m = &sv->metrics;
    size_t n = vkslm_orchestra_n_experts(sv->orch);
    uint64_t used = 0, budget = 0;
    vkslm_orchestra_memory(sv->orch, &used, &budget);
    vkslm_expert_stats st[VKSLM_MAX_EXPERTS];
    for (size_t i = 0; i < n; i++)
        if (vkslm_orchestra_expert_stats(sv->orch, i, &st[i]) != VKSLM_OK)
            memset(&st[i], 0, sizeof st[i]);
    uint32_t validation = vkslm_orchestra_validation_messages(sv->orch);
    pthread_mutex_lock(&m->lock);
    put(&t, "# HELP vkslm_requests_total HTTP requests by endpoint and status.\n# TYPE vkslm_requests_total counter\n");
    for (int ep = 0; ep < SERVE_EP_COUNT; ep++)
        for (int k = 0; k < SERVE_CODES && m->codes[k]; k++)
            if (m->requests[ep][k])
                put(&t, "vkslm_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", endpoint_name[ep], m->codes[k],
                    (unsigned long long)m->requests[ep][k]);
    put(&t, "# HELP vkslm_route_decisions_total Routing decisions by expert and method.\n"
            "# TYPE vkslm_route_decisions_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int meth = 1; meth <= 5; meth++)
            put(&t, "vkslm_route_decisions_total{expert=\"%s\",method=\"%s\"} %llu\n",
                vkslm_orchestra_expert_name(sv->orch, i), vkslm_route_method_str((vkslm_route_method)meth),
                (unsigned long long)m->e[i].routed[meth]);
    put(&t, "# HELP vkslm_route_seconds Time spent routing.\n# TYPE vkslm_route_seconds summary\n"
            "vkslm_route_seconds_sum %.6f\nvkslm_route_seconds_count %llu\n",
        m->route_ms_sum / 1e3, (unsigned long long)m->route_count);
    put(&t, "# HELP vkslm_tokens_total Tokens by expert and kind.\n# TYPE vkslm_tokens_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = vkslm_orchestra_expert_name(sv->orch, i);
        put(&t, "vkslm_tokens_total{expert=\"%s\",kind=\"prompt\"} %llu\n", name,
            (unsigned long long)m->e[i].prompt_tokens);
        put(&t, "vkslm_tokens_total{expert=\"%s\",kind=\"completion\"} %llu\n", name,
            (unsigned long long)m->e[i].completion_tokens);
    }
    put(&t, "# HELP vkslm_request_duration_seconds Completion latency by expert.\n"
            "# TYPE vkslm_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = vkslm_orchestra_expert_name(sv->orch, i);
        const serve_expert_metrics *e = &m->e[i];
        for (int b = 0; b < SERVE_BUCKETS; b++)
            put(&t, "vkslm_request_duration_seconds_bucket{expert=\"%s\",le=\"%g\"} %llu\n", name, bucket_le[b],
                (unsigned long long)e->latency_buckets[b]);
        put(&t, "vkslm_request_duration_seconds_bucket{expert=\"%s\",le=\"+Inf\"} %llu\n", name,
            (unsigned long long)e->requests);
        put(&t, "vkslm_request_duration_seconds_sum{expert=\"%s\"} %.6f\n", name, e->latency_sum);
        put(&t, "vkslm_request_duration_seconds_count{expert=\"%s\"} %llu\n", name, (unsigned long long)e->requests);
    }
    put(&t, "# HELP vkslm_decode_tokens_per_second Mean decode speed of one request, by expert.\n"
            "# TYPE vkslm_decode_tokens_per_second gauge\n");
    for (size_t i = 0; i < n; i++)
        put(&t, "vkslm_decode_tokens_per_second{expert=\"%s\"} %.3f\n", vkslm_orchestra_expert_name(sv->orch, i),
            m->e[i].decode_ms > 0 ? m->e[i].decode_tokens / (m->e[i].decode_ms / 1e3) : 0.0);
    put(&t, "# HELP vkslm_cost_per_million_queries Projected price of 1e6 queries like those served so far "
            "(busy device time per query x price per device-hour).\n# TYPE vkslm_cost_per_million_queries gauge\n");
    double now = cli_now_ms();
    for (size_t i = 0; i < n; i++) {
        const serve_expert_metrics *e = &m->e[i];
        double busy = e->busy_ms + (e->active ? now - e->busy_since : 0);
        double per_query_s = e->requests ? busy / 1e3 / (double)e->requests : 0;
        put(&t, "vkslm_cost_per_million_queries{expert=\"%s\",currency=\"%s\"} %.6f\n",
            vkslm_orchestra_expert_name(sv->orch, i), sv->cfg.currency,
            per_query_s * 1e6 / 3600.0 * sv->cfg.price_per_hour);
    }
    put(&t, "# HELP vkslm_price_per_device_hour The configured price of one device-hour.\n"
            "# TYPE vkslm_price_per_device_hour gauge\nvkslm_price_per_device_hour{currency=\"%s\"} %g\n",
        sv->cfg.currency, sv->cfg.price_per_hour);
    pthread_mutex_unlock(&m->lock);
    static const struct {
        const char *name, *type, *help;
    } gauges[] = { /* in the order of v[] below */
        {"vkslm_expert_loaded", "gauge", "Whether the expert's model is on the device."},
        {"vkslm_expert_loads_total", "counter", "Model loads."},
        {"vkslm_expert_evictions_total", "counter", "Model evictions."},
        {"vkslm_expert_active", "gauge", "Requests generating now."},
        {"vkslm_expert_waiting", "gauge", "Requests waiting for a session."},
    };
    for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
        put(&t, "# HELP %s %s\n# TYPE %s %s\n", gauges[g].name, gauges[g].help, gauges[g].name, gauges[g].type);
        for (size_t i = 0; i < n; i++) {
            const unsigned v[] = {st[i].loaded, st[i].loads, st[i].evictions, st[i].active, st[i].waiting};
            put(&t, "%s{expert=\"%s\"} %u\n", gauges[g].name, vkslm_orchestra_expert_name(sv->orch, i), v[g]);
        }
    }
    put(&t, "# HELP vkslm_device_memory_bytes Device memory of the loaded models' weights and their sessions' buffers.\n"
            "# TYPE vkslm_device_memory_bytes gauge\nvkslm_device_memory_bytes %llu\n"
            "# HELP vkslm_device_memory_budget_bytes The configured budget.\n"
            "# TYPE vkslm_device_memory_budget_bytes gauge\nvkslm_device_memory_budget_bytes %llu\n",
        (unsigned long long)used, (unsigned long long)budget);
    put(&t, "# HELP vkslm_validation_messages_total Vulkan validation messages (with VKSLM_VALIDATE=1).\n"
            "# TYPE vkslm_validation_messages_total counter\nvkslm_validation_messages_total %u\n",
        validation);
    put(&t, "# HELP vkslm_uptime_seconds Seconds since the server started.\n# TYPE vkslm_uptime_seconds gauge\n"
            "vkslm_uptime_seconds %.3f\n",
        (now - m->started_ms) / 1e3);
    if (t.oom) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
