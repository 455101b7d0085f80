/* vkslm serve: a request's work (routing, waiting for a session, generation) runs on a thread of its own
 * while libmicrohttpd suspends the connection, so that the HTTP threads never wait on a model. The worker
 * hands back either a whole answer or a stream of server-sent events; each time it has something, it
 * resumes the connection, and the access handler (whole) or the stream's reader (events) takes it from
 * there. A reader with nothing to send suspends the connection again.
 *
 * A job is freed when its three holders let go: the worker (when it returns), the connection (its request
 * ended: the answer left, or the client did), and a stream's response object (when libmicrohttpd drops it).
 * The connection is only ever resumed by whoever finds it suspended under the job's lock, and it is never
 * touched after it let go, so the worker cannot race libmicrohttpd's own clean-up. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "serve.h"

struct serve_job {
    server *sv;
    struct MHD_Connection *c; /* NULL once the connection let go */
    int ep, fd;
    serve_job_fn fn;
    void *ctx;
    void (*free_ctx)(void *);
    pthread_mutex_t lock;
    int refs;      /* worker, connection, stream response */
    int suspended; /* we suspended the connection and nobody resumed it yet */
    int ready;     /* the worker decided the answer: reply or stream */
    int cancelled; /* SERVE_CANCEL_* */
    int running;   /* the worker has not returned */
    /* a whole answer */
    unsigned status;
    char *body;
    char expert[128];
    /* a stream: bytes not yet sent are buf[off, len); done when no more will come */
    int stream, done, oom;
    char *buf;
    size_t off, len, cap;
    serve_job *prev, *next; /* in sv->jobs */
};

void serve_jobs_init(server *sv) {
    pthread_mutex_init(&sv->jobs_lock, NULL);
    pthread_cond_init(&sv->jobs_cond, NULL);
}

void serve_jobs_free(server *sv) {
    pthread_cond_destroy(&sv->jobs_cond);
    pthread_mutex_destroy(&sv->jobs_lock);
}

/* Drops one holder (job lock held; released here). */
static void unref(serve_job *j) {
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (!last)
        return;
    server *sv = j->sv;
    pthread_mutex_lock(&sv->jobs_lock);
    if (j->prev)
        j->prev->next = j->next;
    else
        sv->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    sv->n_live--;
    pthread_cond_broadcast(&sv->jobs_cond);
    pthread_mutex_unlock(&sv->jobs_lock);
    if (j->free_ctx)
        j->free_ctx(j->ctx);
    free(j->body);
    free(j->buf);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Wakes the connection if we put it to sleep (job lock held). */
static void wake(serve_job *j) {
    if (j->suspended && j->c) {
        j->suspended = 0;
        MHD_resume_connection(j->c);
    }
}

static const char no_answer[] =
    "{\"error\":{\"message\":\"the request ended without an answer\",\"type\":\"server_error\",\"param\":null,"
    "\"code\":null}}";

static void *worker(void *arg) {
    serve_job *j = arg;
    j->fn(j, j->ctx);
    pthread_mutex_lock(&j->lock);
    if (!j->ready) { /* nobody to answer (499, as nginx counts it), or a worker that forgot: a fault */
        j->ready = 1;
        j->status = j->cancelled == SERVE_CANCEL_CLIENT ? 499 : 500;
        j->body = strdup(no_answer);
    }
    if (j->stream)
        j->done = 1;
    j->running = 0;
    wake(j);
    pthread_mutex_unlock(&j->lock);
    server *sv = j->sv; /* lock order: sv->jobs_lock before a job's lock, never inside it */
    pthread_mutex_lock(&sv->jobs_lock);
    sv->n_running--;
    pthread_cond_broadcast(&sv->jobs_cond);
    pthread_mutex_unlock(&sv->jobs_lock);
    pthread_mutex_lock(&j->lock);
    unref(j);
    return NULL;
}

serve_job *serve_job_start(server *sv, struct MHD_Connection *c, int ep, serve_job_fn fn, void *ctx,
                           void (*free_ctx)(void *)) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (free_ctx)
            free_ctx(ctx);
        return NULL;
    }
    j->sv = sv;
    j->c = c;
    j->ep = ep;
    j->fn = fn;
    j->ctx = ctx;
    j->free_ctx = free_ctx;
    j->refs = 2;
    j->running = 1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    j->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_lock(&sv->jobs_lock); /* held until linked: the worker's end takes it before unlinking */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (sv->draining || pthread_create(&t, &attr, worker, j) != 0) {
        pthread_attr_destroy(&attr);
        pthread_mutex_unlock(&sv->jobs_lock);
        goto fail;
    }
    pthread_attr_destroy(&attr);
    j->next = sv->jobs;
    if (sv->jobs)
        sv->jobs->prev = j;
    sv->jobs = j;
    sv->n_running++;
    sv->n_live++;
    pthread_mutex_unlock(&sv->jobs_lock);
    return j;
fail:
    if (free_ctx)
        free_ctx(ctx);
    pthread_mutex_destroy(&j->lock);
    free(j);
    return NULL;
}

/* ---- the connection's side ---------------------------------------------------------------------- */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    serve_job *j = cls;
    (void)pos;
    pthread_mutex_lock(&j->lock);
    ssize_t n;
    if (j->off < j->len) {
        size_t k = j->len - j->off < max ? j->len - j->off : max;
        memcpy(out, j->buf + j->off, k);
        j->off += k;
        if (j->off == j->len)
            j->off = j->len = 0;
        n = (ssize_t)k;
    } else if (j->done || j->oom) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else { /* nothing yet: sleep until the worker has more */
        MHD_suspend_connection(j->c);
        j->suspended = 1;
        n = 0;
    }
    pthread_mutex_unlock(&j->lock);
    return n;
}

static void stream_free(void *cls) {
    serve_job *j = cls;
    pthread_mutex_lock(&j->lock);
    unref(j);
}

int serve_job_answer(serve_job *j) {
    pthread_mutex_lock(&j->lock);
    if (!j->ready) {
        MHD_suspend_connection(j->c);
        j->suspended = 1;
        pthread_mutex_unlock(&j->lock);
        return MHD_YES;
    }
    struct MHD_Response *r;
    unsigned status = j->stream ? 200 : j->status;
    if (status == 499) { /* the client left (or half-closed): close without an answer */
        pthread_mutex_unlock(&j->lock);
        serve_metrics_request(&j->sv->metrics, j->ep, 499);
        return MHD_NO;
    }
    if (j->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free);
        if (r) {
            j->refs++;
            MHD_add_response_header(r, "Content-Type", "text/event-stream");
            MHD_add_response_header(r, "Cache-Control", "no-cache");
        }
    } else {
        const char *body = j->body ? j->body : "{}";
        r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
        if (r)
            MHD_add_response_header(r, "Content-Type", "application/json");
    }
    if (r)
        serve_add_cors(j->sv, j->c, r);
    if (r && j->expert[0])
        MHD_add_response_header(r, "X-Vkslm-Expert", j->expert);
    if (r && j->sv->draining)
        MHD_add_response_header(r, "Connection", "close");
    pthread_mutex_unlock(&j->lock);
    if (!r)
        return MHD_NO;
    int ok = MHD_queue_response(j->c, status, r);
    MHD_destroy_response(r);
    serve_metrics_request(&j->sv->metrics, j->ep, (int)status);
    return ok;
}

void serve_job_detach(serve_job *j) {
    pthread_mutex_lock(&j->lock);
    j->c = NULL;
    j->suspended = 0;
    if (j->running && !j->cancelled)
        j->cancelled = SERVE_CANCEL_CLIENT;
    unref(j);
}

/* ---- the worker's side -------------------------------------------------------------------------- */
void serve_job_reply(serve_job *j, unsigned status, cJSON *body, const char *expert) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    pthread_mutex_lock(&j->lock);
    if (!j->ready && !j->stream) {
        j->ready = 1;
        j->status = text ? status : 500;
        j->body = text ? text
                       : strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                                "\"code\":null}}");
        text = NULL;
        if (expert)
            snprintf(j->expert, sizeof j->expert, "%s", expert);
        wake(j);
    }
    pthread_mutex_unlock(&j->lock);
    free(text);
}

void serve_job_error(serve_job *j, unsigned status, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_job_reply(j, status, serve_error_object(status, code, NULL, msg), NULL);
}

void serve_job_stream_begin(serve_job *j, const char *expert) {
    pthread_mutex_lock(&j->lock);
    if (!j->ready) {
        j->ready = 1;
        j->stream = 1;
        if (expert)
            snprintf(j->expert, sizeof j->expert, "%s", expert);
        wake(j);
    }
    pthread_mutex_unlock(&j->lock);
}

static void push(serve_job *j, const char *s, size_t n) {
    if (j->oom)
        return;
    if (j->len + n > j->cap) {
        size_t cap = (j->len + n) * 2 + 256;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->oom = 1;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

void serve_job_stream_event(serve_job *j, cJSON *obj) {
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    pthread_mutex_lock(&j->lock);
    if (!text) {
        j->oom = 1;
    } else if (j->c) { /* nobody reads a stream whose connection is gone */
        push(j, "data: ", 6);
        push(j, text, strlen(text));
        push(j, "\n\n", 2);
    }
    wake(j);
    pthread_mutex_unlock(&j->lock);
    free(text);
}

void serve_job_stream_end(serve_job *j) {
    pthread_mutex_lock(&j->lock);
    if (j->c)
        push(j, "data: [DONE]\n\n", 14);
    j->done = 1;
    wake(j);
    pthread_mutex_unlock(&j->lock);
}

int serve_job_cancelled(serve_job *j) {
    pthread_mutex_lock(&j->lock);
    /* The client may have closed while its connection sleeps (libmicrohttpd does not watch a suspended
     * connection): a peek at the socket tells. The socket stays open until the connection lets go. */
    if (!j->cancelled && j->c && j->fd >= 0) {
        char b;
        ssize_t n = recv(j->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            j->cancelled = SERVE_CANCEL_CLIENT;
    }
    int why = j->cancelled ? j->cancelled : j->oom ? SERVE_CANCEL_CLIENT : 0;
    pthread_mutex_unlock(&j->lock);
    return why;
}

/* ---- shutdown ----------------------------------------------------------------------------------- */
static int wait_for(server *sv, const size_t *count, double deadline_ms) {
    pthread_mutex_lock(&sv->jobs_lock);
    while (*count) {
        double left = deadline_ms - cli_now_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double ms = left < 100 ? left : 100;
        ts.tv_nsec += (long)(ms * 1e6);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sv->jobs_cond, &sv->jobs_lock, &ts);
    }
    int none = *count == 0;
    pthread_mutex_unlock(&sv->jobs_lock);
    return none;
}

int serve_jobs_wait_running(server *sv, double deadline_ms) { return wait_for(sv, &sv->n_running, deadline_ms); }
int serve_jobs_wait_freed(server *sv, double deadline_ms) { return wait_for(sv, &sv->n_live, deadline_ms); }

void serve_jobs_cancel_all(server *sv) {
    pthread_mutex_lock(&sv->jobs_lock);
    for (serve_job *j = sv->jobs; j; j = j->next) {
        pthread_mutex_lock(&j->lock);
        if (!j->cancelled)
            j->cancelled = SERVE_CANCEL_SHUTDOWN;
        pthread_mutex_unlock(&j->lock);
    }
    pthread_mutex_unlock(&sv->jobs_lock);
}

cJSON *serve_job_body(struct MHD_Connection *c, server *sv, int ep, const char *body, size_t len, int *ret) {
    if (sv->draining) {
        *ret = serve_send_error(c, sv, ep, 503, "shutting_down", "the server is shutting down");
        return NULL;
    }
    char err[256];
    cJSON *root = serve_json_parse(body, len, err, sizeof err);
    if (!root)
        *ret = serve_send_error(c, sv, ep, 400, "invalid_json", "%s", err);
    return root;
}

int serve_job_launch(struct MHD_Connection *c, server *sv, int ep, serve_job_fn fn, void *ctx,
                     void (*free_ctx)(void *), serve_job **job) {
    *job = serve_job_start(sv, c, ep, fn, ctx, free_ctx);
    if (!*job)
        return serve_send_error(c, sv, ep, 503, sv->draining ? "shutting_down" : "overloaded",
                                sv->draining ? "the server is shutting down" : "cannot start a worker thread");
    return serve_job_answer(*job);
}
