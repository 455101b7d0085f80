/* Test helpers for vkslm serve (util_serve.c). */
#ifndef VKSLM_TEST_UTIL_SERVE_H
#define VKSLM_TEST_UTIL_SERVE_H
#include <stddef.h>
#include <sys/types.h>

struct cJSON;

typedef struct srv {
    pid_t pid;
    int port;
    char config[256], log[256];
} srv;

/* curl runs without LD_PRELOAD: CI preloads libasan for the sanitizer pass, and curl hangs with it */
#define CURL "env -u LD_PRELOAD curl"

/* The example config (examples/orchestra/orchestra.json) with the test-data paths made absolute, then
 * each (from, to) pair of repl applied (malloc'd). */
char *serve_example_config(const char *const *repl, size_t n_repl);
/* Starts `vkslm serve` on the config text (port 0) with any extra arguments (NULL-terminated, may be
 * NULL); the port, or 0 after a message. tag keeps the temporary files of servers apart. config_text NULL:
 * no --config (the extra arguments name the models with -m). */
int serve_start_args(srv *s, const char *config_text, int tag, const char *const *extra);
int serve_start(srv *s, const char *config_text, int tag);
/* SIGTERM, then the exit status (0: a clean shutdown, and no leak under ASan). */
int serve_stop(srv *s);
/* curl against the server: `args` before the URL, the path after the port; returns curl's status. */
int serve_curl(const srv *s, const char *args, const char *path, char *out, size_t cap);
/* POSTs a JSON body with -i; the status, and *json points at the body inside out. */
int serve_post(const srv *s, const char *path, const char *body, char *out, size_t cap, char **json);
/* o[a] or o[a][b]. */
struct cJSON *serve_get(struct cJSON *o, const char *a, const char *b);
/* GET /health: asserts status "ok"; returns its validation message count. */
int serve_health_validation(const srv *s);
/* A TCP connection to the server from the local address `from` ("127.0.0.1", "127.0.0.2", ...); -1 on
 * failure. */
int serve_connect(const srv *s, const char *from);
/* Sends n raw bytes on fd and reads the answer until the server closes or timeout_ms passes; returns the
 * HTTP status (0: no status line came) and leaves the NUL-terminated bytes read in out. */
int serve_raw_on(int fd, const char *req, size_t n, char *out, size_t cap, int timeout_ms);
/* The same on a new connection from 127.0.0.1, closed after. */
int serve_raw(const srv *s, const char *req, size_t n, char *out, size_t cap, int timeout_ms);
/* -1 when the server tests can run (test data and curl found), else the exit code for main (after a
 * SKIP line; under CI a failure). */
int serve_tests_unavailable(void);
/* "POST path HTTP/1.1" with Host and Content-Length, then the body, into out; the length. */
int serve_request(char *out, size_t cap, const char *path, const char *body);
/* The number after `key` in GET /metrics, or -1. */
double serve_metric(const srv *s, const char *key);
#endif
