/* vkslm serve --config orchestra.json [--host H] [--port P]: the orchestra over HTTP until SIGINT or
 * SIGTERM. Prints "vkslm serve: listening on http://HOST:PORT" on stdout once it accepts requests. */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/vkslm/cli.h"
#include "examples/vkslm/serve.h"

uint64_t serve_next_id(server *sv) {
    pthread_mutex_lock(&sv->id_lock);
    uint64_t id = ++sv->next_id;
    pthread_mutex_unlock(&sv->id_lock);
    return id;
}

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm serve --config ORCHESTRA.json [--host 127.0.0.1] [--port 8080] [--device D]\n"
               "  several expert models behind one OpenAI-compatible endpoint, with a router:\n"
               "  POST /v1/chat/completions, POST /v1/completions (\"stream\": true for SSE), GET /v1/models,\n"
               "  GET /health, GET /metrics. \"model\": \"auto\" routes; a name picks that expert.\n"
               "  --port 0 takes any free port. examples/orchestra/README.md documents the config.\n");
}

static void on_log(int level, const char *msg, void *user) {
    fprintf(stderr, "[vkslm %s] %s\n", level == 0 ? "error" : level == 1 ? "warning" : "info", msg);
}

int cmd_serve(int argc, char **argv) {
    const char *config = NULL, *host = NULL, *port_s = NULL, *device = NULL, *v;
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
    long port = sv->cfg.port;
    if (port_s && !cli_parse_long("serve", "--port", port_s, 0, 65535, &port)) {
        serve_config_free(&sv->cfg);
        free(sv);
        return 2;
    }
    if (host)
        sv->cfg.host = host;
    if (device)
        sv->cfg.orch.model.device = device;
    vkslm_set_log(on_log, 1, NULL);
    serve_metrics_init(&sv->metrics);
    pthread_mutex_init(&sv->id_lock, NULL);
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
            fprintf(stderr, "vkslm serve: stopping (signal %d)\n", sig);
            MHD_stop_daemon(d);
            rc = 0;
        }
    }
    vkslm_orchestra_free(sv->orch);
    serve_metrics_free(&sv->metrics);
    pthread_mutex_destroy(&sv->id_lock);
    serve_config_free(&sv->cfg);
    free(sv);
    return rc;
}
