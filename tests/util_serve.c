/* Test helpers for vkslm serve: start a server on a config over the shared test models, stop it, and talk
 * to it with curl. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_serve.h"

static char buf[1 << 16];

char *serve_example_config(const char *const *repl, size_t n_repl) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat %s/examples/orchestra/orchestra.json", VKSLM_SOURCE_DIR);
    static char raw[1 << 16];
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, raw, sizeof raw), 0);
    char data[1024];
    snprintf(data, sizeof data, "%s/", test_data_dir());
    const char *pairs[16][2];
    size_t np = 0;
    pairs[np][0] = "../../../shared/testdata/";
    pairs[np++][1] = data;
    for (size_t i = 0; i + 1 < n_repl && np < 16; i += 2, np++) {
        pairs[np][0] = repl[i];
        pairs[np][1] = repl[i + 1];
    }
    char *out = malloc(sizeof raw * 2);
    size_t m = 0;
    for (const char *p = raw; *p;) {
        size_t k = 0;
        while (k < np && strncmp(p, pairs[k][0], strlen(pairs[k][0])) != 0)
            k++;
        if (k < np) {
            m += (size_t)sprintf(out + m, "%s", pairs[k][1]);
            p += strlen(pairs[k][0]);
        } else {
            out[m++] = *p++;
        }
    }
    out[m] = 0;
    return out;
}

int serve_start(srv *s, const char *config_text, int tag) { return serve_start_args(s, config_text, tag, NULL); }

int serve_start_args(srv *s, const char *config_text, int tag, const char *const *extra) {
    snprintf(s->config, sizeof s->config, "/tmp/vkslm-test-serve-%d-%d.json", (int)getpid(), tag);
    snprintf(s->log, sizeof s->log, "/tmp/vkslm-test-serve-%d-%d.log", (int)getpid(), tag);
    if (config_text) {
        FILE *f = fopen(s->config, "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs(config_text, f);
        fclose(f);
    }
    int fd[2];
    CU_ASSERT_FATAL(pipe(fd) == 0);
    s->pid = fork();
    CU_ASSERT_FATAL(s->pid >= 0);
    if (s->pid == 0) {
        dup2(fd[1], 1);
        FILE *lf = freopen(s->log, "w", stderr);
        (void)lf;
        close(fd[0]);
        const char *argv[32] = {"vkslm", "serve", "--port", "0", "--config", s->config};
        size_t n = config_text ? 6 : 4;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
#ifdef VKSLM_CLI_EMULATOR
        /* a cross build: the shell splits the emulator's command line and execs it in this process, so the
         * pid that serve_stop signals is the emulator's, which hands SIGTERM to the server */
        const char *sh_argv[40] = {"sh", "-c", "exec " VKSLM_CLI_EMULATOR " " VKSLM_CLI_EXE " \"$@\"", "vkslm"};
        for (size_t i = 1; i <= n; i++)
            sh_argv[3 + i] = argv[i];
        execv("/bin/sh", (char *const *)sh_argv);
#else
        execv(VKSLM_CLI, (char *const *)argv);
#endif
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[256] = "";
    const char *got = fgets(line, sizeof line, in);
    fclose(in); /* the server's later stdout writes (none) would get SIGPIPE-ignored errors */
    const char *at = got ? strstr(line, "127.0.0.1:") : NULL;
    s->port = at ? atoi(at + 10) : 0;
    if (!s->port) {
        snprintf(buf, sizeof buf, "cat %s", s->log);
        static char log[8192];
        test_run_command(buf, log, sizeof log);
        fprintf(stderr, "server did not start: %s\n%s\n", line, log);
    }
    return s->port;
}

/* SIGTERM; the exit status (0: a clean shutdown, and no leak under ASan). */
int serve_stop(srv *s) {
    kill(s->pid, SIGTERM);
    int st = 0;
    waitpid(s->pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(buf, sizeof buf, "tail -40 %s", s->log);
        static char log[1 << 14];
        test_run_command(buf, log, sizeof log);
        fprintf(stderr, "server exit %d:\n%s\n", st, log);
    }
    remove(s->config);
    remove(s->log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* curl against the server: `args` before the URL, the path after the port; returns curl's status. */
int serve_curl(const srv *s, const char *args, const char *path, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, CURL " -s --max-time 120 %s http://127.0.0.1:%d%s", args, s->port, path);
    return test_run_command(cmd, out, cap);
}

/* POSTs a JSON body (written to a file to keep the shell out of it) with -i; status and body. */
int serve_post(const srv *s, const char *path, const char *body, char *out, size_t cap, char **json) {
    char file[128], args[512];
    snprintf(file, sizeof file, "/tmp/vkslm-test-body-%d.json", (int)getpid());
    FILE *f = fopen(file, "w");
    fputs(body, f);
    fclose(f);
    snprintf(args, sizeof args, "-i -H 'Content-Type: application/json' --data-binary @%s", file);
    CU_ASSERT_EQUAL(serve_curl(s, args, path, out, cap), 0);
    remove(file);
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    char *b = strstr(out, "\r\n\r\n");
    *json = b ? b + 4 : out;
    return status;
}

cJSON *serve_get(cJSON *o, const char *a, const char *b) {
    cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

int serve_health_validation(const srv *s) {
    static char h[4096];
    CU_ASSERT_EQUAL(serve_curl(s, "", "/health", h, sizeof h), 0);
    cJSON *j = cJSON_Parse(h);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(j, "status", NULL)), "ok");
    int v = (int)cJSON_GetNumberValue(serve_get(j, "validation_messages", NULL));
    cJSON_Delete(j);
    return v;
}


int serve_connect(const srv *s, const char *from) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, from, &a.sin_addr);
    struct sockaddr_in to = a;
    to.sin_port = htons((uint16_t)s->port);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int serve_raw_on(int fd, const char *req, size_t n, char *out, size_t cap, int timeout_ms) {
    out[0] = 0;
    for (size_t sent = 0; sent < n;) {
        ssize_t k = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    size_t got = 0;
    double end = now_ms() + timeout_ms;
    while (got + 1 < cap) {
        double left = end - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t k = recv(fd, out + got, cap - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        out[got] = 0;
    }
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

int serve_raw(const srv *s, const char *req, size_t n, char *out, size_t cap, int timeout_ms) {
    int fd = serve_connect(s, "127.0.0.1");
    if (fd < 0)
        return 0;
    int st = serve_raw_on(fd, req, n, out, cap, timeout_ms);
    close(fd);
    return st;
}

double serve_metric(const srv *s, const char *key) {
    static char m[1 << 16];
    if (serve_curl(s, "", "/metrics", m, sizeof m) != 0)
        return -1;
    const char *at = strstr(m, key);
    return at ? atof(at + strlen(key)) : -1;
}

int serve_tests_unavailable(void) {
    if (!test_data_dir()) {
        test_skip("../shared/testdata not found");
        return test_in_ci() ? 1 : 0;
    }
    if (system(CURL " --version >/dev/null 2>&1") != 0) {
        test_skip("curl not found");
        return test_in_ci() ? 1 : 0;
    }
    return -1;
}

int serve_request(char *out, size_t cap, const char *path, const char *body) {
    return snprintf(out, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n%s", path, strlen(body), body);
}
