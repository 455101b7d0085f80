/* The scheduler (vkslm.h): concurrent requests decoded together give each the tokens it gets alone;
 * prompts that begin like a free sequence's cache reuse it (and give the same tokens as a cold prefill);
 * long prompts are prefilled in chunks; a stopped request leaves the batch; a full context stops. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_models.h"
#include "vkslm.h"

#define N_REQ 8
#define N_GEN 16

static vkslm_scheduler *scheduler(vkslm_model *m, uint32_t n_seq, uint32_t n_ctx, uint32_t n_batch,
                                  uint32_t max_prefill) {
    vkslm_scheduler_params p = vkslm_scheduler_default_params();
    p.n_seq = n_seq;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.max_prefill = max_prefill;
    vkslm_scheduler *s = NULL;
    vkslm_status st = vkslm_scheduler_create(m, &p, &s);
    if (st != VKSLM_OK)
        fprintf(stderr, "scheduler: %s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return s;
}

/* The greedy tokens of ids alone in a fresh session. */
static size_t alone(vkslm_model *m, const int32_t *ids, size_t n, int32_t max_tokens, int32_t *out) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 256;
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = max_tokens;
    vkslm_generate_result r;
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, ids, n, &gp, &r) == VKSLM_OK);
    memcpy(out, r.tokens, r.n_tokens * sizeof *out);
    size_t k = r.n_tokens;
    vkslm_session_free(s);
    return k;
}

typedef struct request {
    vkslm_scheduler *sch;
    int32_t ids[128];
    size_t n;
    int32_t max_tokens;
    int32_t got[64];
    size_t n_got, cached;
    vkslm_stop_reason stop;
    vkslm_status st;
    int stop_after; /* on_token returns false after this many pieces (0: never) */
    int pieces;
} request;

static bool count_piece(const char *piece, void *user) {
    (void)piece;
    request *r = user;
    r->pieces++;
    return !(r->stop_after && r->pieces >= r->stop_after);
}

static void *run_request(void *arg) {
    request *r = arg;
    vkslm_sequence *q = NULL;
    r->st = vkslm_scheduler_acquire(r->sch, &q);
    if (r->st != VKSLM_OK)
        return NULL;
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = r->max_tokens;
    gp.on_token = count_piece;
    gp.user_data = r;
    vkslm_generate_result res;
    r->st = vkslm_sequence_generate(q, r->ids, r->n, &gp, &res);
    if (r->st == VKSLM_OK) {
        r->n_got = res.n_tokens;
        memcpy(r->got, res.tokens, res.n_tokens * sizeof(int32_t));
        r->cached = res.n_cached_tokens;
        r->stop = res.stop_reason;
    }
    vkslm_scheduler_release(r->sch, q);
    return NULL;
}

static void make_prompt(request *r, int32_t nv, uint32_t salt, size_t n) {
    r->ids[0] = 1; /* BOS */
    for (size_t i = 1; i < n; i++)
        r->ids[i] = 2 + (int32_t)((i * 131u + salt * 977u + (i * i * salt) % 61u) % (uint32_t)(nv - 2));
    r->n = n;
}

/* 8 concurrent requests with prompts of different lengths; one prefilled in chunks of 8 */
static void test_concurrent_equals_alone(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    int32_t nv = vkslm_model_n_vocab(m);
    vkslm_scheduler *sch = scheduler(m, N_REQ, 256, 32, 8);
    static request req[N_REQ];
    pthread_t th[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        memset(&req[i], 0, sizeof req[i]);
        req[i].sch = sch;
        req[i].max_tokens = N_GEN;
        make_prompt(&req[i], nv, (uint32_t)i + 1, 5 + (size_t)i * 9); /* 5 .. 68 tokens */
    }
    for (int i = 0; i < N_REQ; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, run_request, &req[i]) == 0);
    for (int i = 0; i < N_REQ; i++)
        pthread_join(th[i], NULL);
    vkslm_scheduler_stats stats;
    vkslm_scheduler_stats_get(sch, &stats);
    printf("\n  %llu steps, %llu rows (%llu decode rows), largest step %u rows", (unsigned long long)stats.steps,
           (unsigned long long)stats.rows, (unsigned long long)stats.decode_rows, stats.max_rows);
    CU_ASSERT(stats.max_rows <= 32);
    CU_ASSERT(stats.steps < (uint64_t)N_REQ * N_GEN); /* requests shared steps */
    CU_ASSERT_EQUAL(stats.active, 0);
    for (int i = 0; i < N_REQ; i++) {
        CU_ASSERT_EQUAL_FATAL(req[i].st, VKSLM_OK);
        int32_t want[64];
        size_t nw = alone(m, req[i].ids, req[i].n, N_GEN, want);
        CU_ASSERT_EQUAL(req[i].n_got, nw);
        CU_ASSERT(memcmp(req[i].got, want, nw * sizeof *want) == 0);
    }
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_scheduler_free(sch);
    vkslm_model_free(m);
}

/* the next turn of a conversation reuses the cache; a shared prefix too; results equal a cold prefill */
static void test_prefix_reuse(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    int32_t nv = vkslm_model_n_vocab(m);
    vkslm_scheduler *sch = scheduler(m, 2, 256, 32, 0);
    request a = {.sch = sch, .max_tokens = 10};
    make_prompt(&a, nv, 3, 30);
    run_request(&a);
    CU_ASSERT_EQUAL_FATAL(a.st, VKSLM_OK);
    CU_ASSERT_EQUAL(a.cached, 0);
    /* turn 2: turn 1's prompt and answer, then new tokens */
    request b = {.sch = sch, .max_tokens = 10};
    memcpy(b.ids, a.ids, a.n * sizeof *a.ids);
    memcpy(b.ids + a.n, a.got, a.n_got * sizeof *a.got);
    b.n = a.n + a.n_got;
    for (int i = 0; i < 6; i++)
        b.ids[b.n++] = 2 + (i * 17) % (nv - 2);
    run_request(&b);
    CU_ASSERT_EQUAL_FATAL(b.st, VKSLM_OK);
    /* everything turn 1 computed: its prompt and its answer but the last token (never fed) */
    CU_ASSERT_EQUAL(b.cached, a.n + a.n_got - 1);
    int32_t want[64];
    size_t nw = alone(m, b.ids, b.n, 10, want);
    CU_ASSERT(b.n_got == nw && memcmp(b.got, want, nw * sizeof *want) == 0);
    /* a prompt that shares only a's first 20 tokens */
    request c = {.sch = sch, .max_tokens = 10};
    memcpy(c.ids, a.ids, 20 * sizeof *a.ids);
    c.n = 20;
    for (int i = 0; i < 7; i++)
        c.ids[c.n++] = 3 + (i * 29) % (nv - 3);
    run_request(&c);
    CU_ASSERT_EQUAL_FATAL(c.st, VKSLM_OK);
    CU_ASSERT_EQUAL(c.cached, 20);
    nw = alone(m, c.ids, c.n, 10, want);
    CU_ASSERT(c.n_got == nw && memcmp(c.got, want, nw * sizeof *want) == 0);
    /* the same prompt again: all but its last token cached */
    request d = c;
    d.n_got = 0;
    run_request(&d);
    CU_ASSERT_EQUAL(d.cached, c.n - 1);
    CU_ASSERT(d.n_got == nw && memcmp(d.got, want, nw * sizeof *want) == 0);
    vkslm_scheduler_stats stats;
    vkslm_scheduler_stats_get(sch, &stats);
    CU_ASSERT_EQUAL(stats.cached_tokens, b.cached + c.cached + d.cached);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_scheduler_free(sch);
    vkslm_model_free(m);
}

/* a request stopped by its callback leaves; a full context stops with VKSLM_STOP_CONTEXT; all lent: busy */
static void test_stop_context_busy(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    int32_t nv = vkslm_model_n_vocab(m);
    vkslm_scheduler *sch = scheduler(m, 2, 40, 16, 0);
    CU_ASSERT_EQUAL(vkslm_scheduler_n_seq(sch), 2);
    CU_ASSERT_EQUAL(vkslm_scheduler_n_ctx(sch), 40);
    request a = {.sch = sch, .max_tokens = 30, .stop_after = 3};
    make_prompt(&a, nv, 5, 10);
    run_request(&a);
    CU_ASSERT_EQUAL(a.st, VKSLM_OK);
    CU_ASSERT_EQUAL(a.stop, VKSLM_STOP_CALLBACK);
    CU_ASSERT(a.n_got <= 4);
    request b = {.sch = sch, .max_tokens = 0};
    make_prompt(&b, nv, 6, 30);
    run_request(&b);
    CU_ASSERT_EQUAL(b.st, VKSLM_OK);
    CU_ASSERT_EQUAL(b.stop, VKSLM_STOP_CONTEXT);
    CU_ASSERT_EQUAL(b.n + b.n_got, 40); /* the last one generated is never fed: it would be position 40 */
    request c = {.sch = sch};
    make_prompt(&c, nv, 7, 41);
    run_request(&c);
    CU_ASSERT_EQUAL(c.st, VKSLM_ERR_LIMIT); /* the prompt alone exceeds the context */
    vkslm_sequence *x, *y, *z;
    CU_ASSERT_EQUAL_FATAL(vkslm_scheduler_acquire(sch, &x), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_scheduler_acquire(sch, &y), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_scheduler_acquire(sch, &z), VKSLM_ERR_BUSY);
    CU_ASSERT(vkslm_sequence_model(x) == m);
    vkslm_scheduler_release(sch, x);
    vkslm_scheduler_release(sch, y);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_scheduler_free(sch);
    vkslm_model_free(m);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"8 concurrent requests = each alone (chunked prefill)", test_concurrent_equals_alone},
        {"prefix reuse: next turn, shared prefix, same prompt = cold", test_prefix_reuse},
        {"callback stop, full context, all sequences lent", test_stop_context_busy},
        {NULL, NULL},
    };
    return test_run_suite("scheduler", tests);
}
