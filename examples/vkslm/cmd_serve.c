/* vkslm serve --config orchestra.json [--host H] [--port P] [--grace-ms MS] [--api-key KEY]..., or
 * vkslm serve -m A.gguf [-m B.gguf ...] [--ctx N] [--parallel N] ...: the orchestra over HTTP until
 * SIGINT or SIGTERM. Prints "vkslm serve: listening on http://HOST:PORT" on stdout once it accepts
 * requests. On the first signal it drains: new completions get 503, /health says "draining", requests in
 * flight may finish for the grace period, then those left are cut short with an error and the server
 * exits 0. A second signal exits at once (status 1). */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

uint64_t serve_next_id(server *sv) {
    pthread_mutex_lock(&sv->id_lock);
    uint64_t id = ++sv->next_id;
    pthread_mutex_unlock(&sv->id_lock);
    return id;
}

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm serve --config ORCHESTRA.json [--host 127.0.0.1] [--port 8080] [--device D]\n"
               "                   [--grace-ms 30000] [--api-key KEY]...\n"
               "       vkslm serve -m A.gguf [-m B.gguf]... [--ctx N] [--parallel N] [same options]\n"
               "  several expert models behind one OpenAI-compatible endpoint, with a router:\n"
               "  POST /v1/chat/completions, POST /v1/completions (\"stream\": true for SSE), GET /v1/models,\n"
               "  GET /v1/models/ID, GET /health, GET /metrics. \"model\": \"auto\" routes; a name picks that expert.\n"
               "  -m: each file is an expert named after its stem (no config); \"auto\" goes to the first.\n"
               "  --api-key (repeatable; also env VKSLM_API_KEY): requests need Authorization: Bearer KEY.\n"
               "  --port 0 takes any free port. docs/cli.md and examples/orchestra/README.md document the config.\n"
               "  SIGTERM/SIGINT drains: requests in flight get --grace-ms to finish; a second signal exits now.\n");
}

static void on_log(int level, const char *msg, void *user) {
    fprintf(stderr, "[vkslm %s] %s\n", level == 0 ? "error" : level == 1 ? "warning" : "info", msg);
}

/* Waits in 50 ms steps until wait_step says it is over (1) or end_ms (cli_now_ms) passes; a second
 * SIGINT or SIGTERM meanwhile exits at once. 1 when it is over. */
static int wait_or_second_signal(server *sv, int (*wait_step)(server *, double), double end_ms, const sigset_t *set) {
    const struct timespec now = {0, 0};
    for (;;) {
        if (wait_step(sv, cli_now_ms() + 50))
            return 1;
        if (cli_now_ms() >= end_ms)
            return 0;
        if (sigtimedwait(set, NULL, &now) > 0) {
            fprintf(stderr, "vkslm serve: second signal: exiting now\n");
            _exit(1);
        }
    }
}

/* The first signal came: refuse new work, let the work in flight finish within the grace period, cut
 * short what is left, let the answers leave, stop. A second signal exits at once. */
static int drain(server *sv, struct MHD_Daemon *d, const sigset_t *set, int sig) {
    double t0 = cli_now_ms();
    fprintf(stderr, "vkslm serve: draining (signal %d): %zu requests in flight, %u ms of grace\n", sig, sv->n_running,
            sv->cfg.grace_ms);
    pthread_mutex_lock(&sv->jobs_lock);
    sv->draining = 1;
    pthread_mutex_unlock(&sv->jobs_lock);
    if (!wait_or_second_signal(sv, serve_jobs_wait_running, t0 + sv->cfg.grace_ms, set) && sv->n_running) {
        fprintf(stderr, "vkslm serve: grace period over: cutting %zu requests short\n", sv->n_running);
        serve_jobs_cancel_all(sv);
        vkslm_orchestra_shutdown(sv->orch); /* requests waiting for a session stop waiting */
    }
    /* the cut requests end within a token; then their answers and stream ends leave */
    wait_or_second_signal(sv, serve_jobs_wait_freed, cli_now_ms() + 10000, set);
    if (sv->n_running) { /* a worker stuck in a device call: its connection is still suspended */
        fprintf(stderr, "vkslm serve: %zu requests did not stop; exiting without them\n", sv->n_running);
        _exit(1);
    }
    MHD_stop_daemon(d);
    fprintf(stderr, "vkslm serve: stopped after %.0f ms\n", cli_now_ms() - t0);
    return 0;
}

/* Loopback addresses: 127.0.0.0/8. Anything else can be reached from other machines. */
static int loopback(const char *host) { return strncmp(host, "127.", 4) == 0; }

int cmd_serve(int argc, char **argv) {
    const char *config = NULL, *host = NULL, *port_s = NULL, *device = NULL, *grace_s = NULL, *v;
    const char *ctx_s = NULL, *parallel_s = NULL;
    const char *models[VKSLM_MAX_EXPERTS + 1], *keys[64];
    size_t n_models = 0, n_keys = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "--config"))) {
            config = v;
        } else if ((v = cli_value(argc, argv, &i, "--host"))) {
            host = v;
        } else if ((v = cli_value(argc, argv, &i, "--port"))) {
            port_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--device"))) {
            device = v;
        } else if ((v = cli_value(argc, argv, &i, "--grace-ms"))) {
            grace_s = v;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model"))) {
            if (n_models > VKSLM_MAX_EXPERTS) {
                fprintf(stderr, "vkslm serve: at most %d models (-m)\n", VKSLM_MAX_EXPERTS);
                return 2;
            }
            models[n_models++] = v;
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            ctx_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--parallel"))) {
            parallel_s = v;
        } else if ((v = cli_value(argc, argv, &i, "--api-key"))) {
            if (n_keys == sizeof keys / sizeof *keys) {
                fprintf(stderr, "vkslm serve: at most %zu --api-key options (use api_key_file)\n", n_keys);
                return 2;
            }
            keys[n_keys++] = v;
        } else {
            fprintf(stderr, "vkslm serve: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!config == !n_models) {
        fprintf(stderr, "vkslm serve: %s\n", config ? "--config and -m do not go together: name the models in the "
                                                         "config" : "--config or -m MODEL.gguf is required");
        usage(stderr);
        return 2;
    }
    if (config && (ctx_s || parallel_s)) {
        fprintf(stderr, "vkslm serve: --ctx and --parallel go with -m; a config sets each expert's context and parallel\n");
        return 2;
    }
    long n_ctx = -1, parallel = -1;
    if ((ctx_s && !cli_parse_long("serve", "--ctx", ctx_s, 1, 1 << 24, &n_ctx)) ||
        (parallel_s && !cli_parse_long("serve", "--parallel", parallel_s, 1, 256, &parallel)))
        return 2;
    server *sv = calloc(1, sizeof *sv);
    if (!sv)
        return 1;
    char err[1024];
    const char *env_key = getenv("VKSLM_API_KEY");
    if ((config ? serve_config_load(config, &sv->cfg, err, sizeof err)
                : serve_config_models(models, n_models, n_ctx, parallel, &sv->cfg, err, sizeof err)) != 0) {
        fprintf(stderr, "vkslm serve: %s\n", err);
        free(sv);
        return 1;
    }
    int bad_key = env_key && *env_key && serve_config_add_key(&sv->cfg, env_key, "VKSLM_API_KEY", err, sizeof err);
    for (size_t i = 0; i < n_keys && !bad_key; i++)
        bad_key = serve_config_add_key(&sv->cfg, keys[i], "--api-key", err, sizeof err);
    if (bad_key) {
        fprintf(stderr, "vkslm serve: %s\n", err);
        serve_config_free(&sv->cfg);
        free(sv);
        return 2;
    }
    long port = sv->cfg.port, grace = sv->cfg.grace_ms;
    if ((port_s && !cli_parse_long("serve", "--port", port_s, 0, 65535, &port)) ||
        (grace_s && !cli_parse_long("serve", "--grace-ms", grace_s, 0, 3600000, &grace))) {
        serve_config_free(&sv->cfg);
        free(sv);
        return 2;
    }
    if (host)
        sv->cfg.host = host;
    if (device)
        sv->cfg.orch.model.device = device;
    sv->cfg.grace_ms = (unsigned)grace;
    sv->started_at = (long)time(NULL);
    vkslm_set_log(on_log, 1, NULL);
    serve_metrics_init(&sv->metrics);
    pthread_mutex_init(&sv->id_lock, NULL);
    serve_jobs_init(sv);
    /* every connection is a descriptor: allow as many as the hard limit does */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* requests are answered on their own threads (which inherit this mask); this one waits for a signal */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    vkslm_status st = vkslm_orchestra_create(sv->cfg.experts, sv->cfg.n_experts, &sv->cfg.orch, &sv->orch);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm serve: %s\n", vkslm_last_error());
    } else {
        int bound = 0;
        struct MHD_Daemon *d = serve_http_start(sv, sv->cfg.host, (int)port, &bound);
        if (d) {
            if (!loopback(sv->cfg.host) && !sv->cfg.n_api_keys)
                fprintf(stderr, "\n*** vkslm serve: WARNING: listening on %s, beyond loopback, WITHOUT API KEYS: anyone who "
                                "can reach this address can use the models. Set --api-key, VKSLM_API_KEY or the config's "
                                "api_keys. ***\n\n", sv->cfg.host);
            printf("vkslm serve: listening on http://%s:%d (%zu experts)\n", sv->cfg.host, bound, sv->cfg.n_experts);
            fflush(stdout);
            int sig = 0;
            sigwait(&set, &sig);
            rc = drain(sv, d, &set, sig);
        }
    }
    vkslm_orchestra_free(sv->orch);
    serve_jobs_free(sv);
    serve_metrics_free(&sv->metrics);
    pthread_mutex_destroy(&sv->id_lock);
    serve_config_free(&sv->cfg);
    free(sv);
    return rc;
}
