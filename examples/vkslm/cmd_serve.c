/* vkslm serve --config orchestra.json [--host H] [--port P] [--grace-ms MS]: the orchestra over HTTP until
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
               "                   [--grace-ms 30000]\n"
               "  several expert models behind one OpenAI-compatible endpoint, with a router:\n"
               "  POST /v1/chat/completions, POST /v1/completions (\"stream\": true for SSE), GET /v1/models,\n"
               "  GET /health, GET /metrics. \"model\": \"auto\" routes; a name picks that expert.\n"
               "  --port 0 takes any free port. examples/orchestra/README.md documents the config.\n"
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

int cmd_serve(int argc, char **argv) {
    const char *config = NULL, *host = NULL, *port_s = NULL, *device = NULL, *grace_s = NULL, *v;
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
        } else {
            fprintf(stderr, "vkslm serve: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "vkslm serve: --config is required\n");
        usage(stderr);
        return 2;
    }
    server *sv = calloc(1, sizeof *sv);
    if (!sv)
        return 1;
    char err[512];
    if (serve_config_load(config, &sv->cfg, err, sizeof err) != 0) {
        fprintf(stderr, "vkslm serve: %s\n", err);
        free(sv);
        return 1;
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
