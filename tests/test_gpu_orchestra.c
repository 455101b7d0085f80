/* The orchestra's residency and semantic routing through the C API (no HTTP): experts naming one file
 * share one loaded model, sessions are reused, an idle model is evicted for another and reloads with the
 * same greedy tokens, a budget too small is a clear error, a busy expert times out, and a router model
 * gives every expert a probability. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/clock.h"
#include "engine/router/semantic.h"
#include "engine/runtime/api_internal.h"
#include "tests/harness.h"
#include "vkslm.h"

static char stories[1024], phi3[1024];

static vkslm_orchestra *make(uint64_t budget, uint32_t sessions, uint32_t timeout_ms, const char *router) {
    static const char *const ex_a[] = {"a story about a cat"}, *const ex_b[] = {"fix my python code"};
    vkslm_expert_desc d[3] = {
        {.name = "tales", .model_path = stories, .role = "stories", .examples = ex_a, .n_examples = 1,
         .n_ctx = 128, .max_sessions = sessions},
        {.name = "tales2", .model_path = stories, .role = "more stories", .n_ctx = 64, .max_sessions = sessions},
        {.name = "code", .model_path = phi3, .role = "programming", .examples = ex_b, .n_examples = 1, .n_ctx = 128},
    };
    vkslm_orchestra_params p = vkslm_orchestra_default_params();
    p.memory_budget = budget;
    p.queue_timeout_ms = timeout_ms;
    p.router_model = router;
    p.disable_rules = true;
    p.model.validate = true;
    vkslm_orchestra *o = NULL;
    vkslm_status st = vkslm_orchestra_create(d, 3, &p, &o);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
    return o;
}

/* Greedy tokens of prompt on a session of expert e. */
static size_t greedy(vkslm_orchestra *o, size_t e, int32_t *out, size_t cap) {
    vkslm_sequence *s = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, e, &s), VKSLM_OK);
    int32_t ids[32];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(vkslm_model_tokenize(vkslm_sequence_model(s), "Once upon a time", 16, -1, false, ids, 32, &n),
                          VKSLM_OK);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = (int32_t)cap;
    vkslm_generate_result r;
    CU_ASSERT_EQUAL_FATAL(vkslm_sequence_generate(s, ids, n, &gp, &r), VKSLM_OK);
    memcpy(out, r.tokens, r.n_tokens * sizeof *out);
    vkslm_orchestra_release(o, e, s);
    return r.n_tokens;
}

static void test_sharing_and_reuse(void) {
    TEST_REQUIRE_DATA();
    vkslm_orchestra *o = make(1ull << 30, 2, 0, NULL);
    vkslm_sequence *a = NULL, *b = NULL, *c = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 0, &a), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 1, &b), VKSLM_OK);
    CU_ASSERT_PTR_EQUAL(vkslm_sequence_model(a), vkslm_sequence_model(b)); /* one file, one model */
    CU_ASSERT_EQUAL(vkslm_sequence_n_ctx(a), 128);
    CU_ASSERT_EQUAL(vkslm_sequence_n_ctx(b), 64);
    vkslm_expert_stats st;
    CU_ASSERT_EQUAL(vkslm_orchestra_expert_stats(o, 1, &st), VKSLM_OK);
    CU_ASSERT(st.loaded);
    CU_ASSERT_EQUAL(st.loads, 1);
    CU_ASSERT_EQUAL(st.active, 1);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 4;
    vkslm_generate_result r;
    CU_ASSERT_EQUAL(vkslm_sequence_generate(a, (const int32_t[]){1, 400, 401}, 3, &gp, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(r.n_cached_tokens, 0);
    vkslm_orchestra_release(o, 0, a);
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 0, &c), VKSLM_OK);
    /* the next request that begins the same way finds those tokens cached */
    CU_ASSERT_EQUAL(vkslm_sequence_generate(c, (const int32_t[]){1, 400, 401, 402}, 4, &gp, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(r.n_cached_tokens, 3);
    vkslm_sequence *d = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 2, &d), VKSLM_OK);
    CU_ASSERT_PTR_NOT_EQUAL(vkslm_sequence_model(d), vkslm_sequence_model(c));
    CU_ASSERT_PTR_EQUAL(vkslm_sequence_model(d)->vk, vkslm_sequence_model(c)->vk); /* one device for all */
    vkslm_orchestra_release(o, 2, d);
    vkslm_orchestra_release(o, 0, c);
    vkslm_orchestra_release(o, 1, b);
    CU_ASSERT_EQUAL(vkslm_orchestra_expert_stats(o, 0, &st), VKSLM_OK);
    CU_ASSERT_EQUAL(st.sessions, 2); /* the scheduler's sequences */
    CU_ASSERT_EQUAL(st.active, 0);
    uint64_t used = 0, budget = 0;
    vkslm_orchestra_memory(o, &used, &budget);
    CU_ASSERT(used > 0 && used <= budget);
    CU_ASSERT_EQUAL(vkslm_orchestra_validation_messages(o), 0);
    vkslm_orchestra_free(o);
}

/* stories260K takes about 2 MiB with a session, and a load of tiny-phi3 is estimated at 17.2 MiB (file +
 * 1/16 + 8 MiB for a session): 17.5 MiB holds either, not both */
#define BUDGET_ONE (35ull << 19)

static void test_eviction_and_reload(void) {
    TEST_REQUIRE_DATA();
    vkslm_orchestra *o = make(BUDGET_ONE, 2, 0, NULL);
    int32_t t1[16], t2[16], t3[8];
    size_t n1 = greedy(o, 0, t1, 16);
    CU_ASSERT_EQUAL(n1, 16);
    CU_ASSERT_EQUAL(greedy(o, 2, t3, 8), 8); /* phi3 needs the room */
    vkslm_expert_stats st;
    vkslm_orchestra_expert_stats(o, 0, &st);
    CU_ASSERT(!st.loaded);
    CU_ASSERT_EQUAL(st.evictions, 1);
    CU_ASSERT_EQUAL(greedy(o, 0, t2, 16), 16);
    CU_ASSERT_EQUAL(memcmp(t1, t2, sizeof t1), 0);
    vkslm_orchestra_expert_stats(o, 0, &st);
    CU_ASSERT_EQUAL(st.loads, 2);
    uint64_t used = 0;
    vkslm_orchestra_memory(o, &used, NULL);
    printf("  after the reload: %.2f MiB in use of %.2f\n", used / 1048576.0, BUDGET_ONE / 1048576.0);
    CU_ASSERT(used <= BUDGET_ONE);
    CU_ASSERT_EQUAL(vkslm_orchestra_validation_messages(o), 0);
    vkslm_orchestra_free(o);
    /* a budget no model fits */
    o = make(1ull << 20, 2, 0, NULL);
    vkslm_sequence *s = NULL;
    CU_ASSERT_EQUAL(vkslm_orchestra_acquire(o, 0, &s), VKSLM_ERR_OUT_OF_DEVICE_MEMORY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "budget"));
    vkslm_orchestra_free(o);
}

static void test_busy_times_out(void) {
    TEST_REQUIRE_DATA();
    vkslm_orchestra *o = make(1ull << 30, 1, 150, NULL);
    vkslm_sequence *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 0, &a), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_orchestra_acquire(o, 0, &b), VKSLM_ERR_BUSY); /* the one session is out */
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(vkslm_orchestra_acquire(o, 1, &b), VKSLM_OK);     /* another expert of the file is not */
    vkslm_orchestra_release(o, 1, b);
    vkslm_orchestra_release(o, 0, a);
    CU_ASSERT_EQUAL(vkslm_orchestra_acquire(o, 0, &b), VKSLM_OK);
    vkslm_orchestra_release(o, 0, b);
    vkslm_orchestra_free(o);
}

typedef struct waiter {
    vkslm_orchestra *o;
    vkslm_status st;
    double ms;
} waiter;

static void *wait_for_session(void *arg) {
    waiter *w = arg;
    vkslm_sequence *s = NULL;
    double t0 = vkslm_now_ms();
    w->st = vkslm_orchestra_acquire(w->o, 0, &s);
    w->ms = vkslm_now_ms() - t0;
    if (s)
        vkslm_orchestra_release(w->o, 0, s);
    return NULL;
}

/* Shutdown wakes a request waiting for a session (its timeout is 10 minutes) and refuses new ones. */
static void test_shutdown_wakes_waiters(void) {
    TEST_REQUIRE_DATA();
    vkslm_orchestra *o = make(1ull << 30, 1, 600000, NULL);
    vkslm_sequence *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_acquire(o, 0, &a), VKSLM_OK);
    waiter w = {o, VKSLM_OK, 0};
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, wait_for_session, &w), 0);
    vkslm_expert_stats st;
    for (int i = 0; i < 3000; i++) { /* until it waits */
        CU_ASSERT_EQUAL(vkslm_orchestra_expert_stats(o, 0, &st), VKSLM_OK);
        if (st.waiting == 1)
            break;
        usleep(1000);
    }
    CU_ASSERT_EQUAL(st.waiting, 1);
    vkslm_orchestra_shutdown(o);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.st, VKSLM_ERR_BUSY);
    CU_ASSERT(w.ms < 300000); /* woken, not timed out */
    CU_ASSERT_EQUAL(vkslm_orchestra_acquire(o, 1, &b), VKSLM_ERR_BUSY); /* nothing new after shutdown */
    CU_ASSERT_PTR_NULL(b);
    vkslm_orchestra_release(o, 0, a);
    vkslm_orchestra_free(o);
}

static void test_semantic(void) {
    TEST_REQUIRE_DATA();
    vkslm_orchestra *o = make(1ull << 30, 2, 0, stories);
    vkslm_route_decision d1, d2;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_route(o, "auto", "Tell me about a little cat", &d1), VKSLM_OK);
    CU_ASSERT_EQUAL(d1.method, VKSLM_ROUTE_SEMANTIC);
    CU_ASSERT_EQUAL(d1.n_scores, 3);
    double sum = 0;
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT(d1.scores[i] > 0 && d1.scores[i] < 1);
        sum += d1.scores[i];
    }
    CU_ASSERT(sum > 0.999 && sum < 1.001);
    CU_ASSERT(d1.confidence == d1.scores[d1.expert]);
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_route(o, NULL, "Tell me about a little cat", &d2), VKSLM_OK);
    CU_ASSERT_EQUAL(d2.expert, d1.expert);
    CU_ASSERT(d2.scores[0] == d1.scores[0] && d2.scores[2] == d1.scores[2]); /* deterministic */
    /* a long request is cut to the router's context, not refused */
    static char big[20000];
    for (size_t i = 0; i + 10 < sizeof big; i += 9)
        memcpy(big + i, "the cat. ", 9);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, NULL, big, &d2), VKSLM_OK);
    CU_ASSERT_EQUAL(d2.method, VKSLM_ROUTE_SEMANTIC);
    printf("  semantic: %s %.3f / %s %.3f / %s %.3f (%.1f ms)\n", vkslm_orchestra_expert_name(o, 0), d1.scores[0],
           vkslm_orchestra_expert_name(o, 1), d1.scores[1], vkslm_orchestra_expert_name(o, 2), d1.scores[2],
           d1.route_ms);
    CU_ASSERT_EQUAL(vkslm_orchestra_validation_messages(o), 0);
    vkslm_orchestra_free(o);
}

/* The router's prompt starts with the same listing of experts every time: later requests reuse its cache
 * and score exactly as a cold router does. */
static void test_semantic_prefix_reuse(void) {
    TEST_REQUIRE_DATA();
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    const vkslm_expert_desc ex[] = {{.name = "cats", .role = "stories about cats"},
                                    {.name = "dogs", .role = "stories about dogs"}};
    vkslm_semantic *warm = NULL, *cold = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_semantic_create(stories, &mp, ex, 2, &warm), VKSLM_OK);
    float p[2], q[2];
    CU_ASSERT_EQUAL_FATAL(vkslm_semantic_score(warm, "Tell me about a little cat", p), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_semantic_reused(warm), 0);
    CU_ASSERT_EQUAL_FATAL(vkslm_semantic_score(warm, "A dog ran to the park", p), VKSLM_OK);
    uint64_t reused = vkslm_semantic_reused(warm);
    printf("  the second request found %llu prompt tokens in the router's cache\n", (unsigned long long)reused);
    CU_ASSERT(reused >= 10);
    CU_ASSERT_EQUAL_FATAL(vkslm_semantic_create(stories, &mp, ex, 2, &cold), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_semantic_score(cold, "A dog ran to the park", q), VKSLM_OK);
    CU_ASSERT(fabsf(p[0] - q[0]) <= 1e-6f && fabsf(p[1] - q[1]) <= 1e-6f);
    vkslm_semantic_free(warm);
    vkslm_semantic_free(cold);
}

/* vkslm_model_params.share_device: a second model on the first one's device outlives it. */
static void test_share_device(void) {
    TEST_REQUIRE_DATA();
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_model_load(stories, &mp, &a), VKSLM_OK);
    mp.share_device = a;
    CU_ASSERT_EQUAL_FATAL(vkslm_model_load(phi3, &mp, &b), VKSLM_OK);
    CU_ASSERT_PTR_EQUAL(a->vk, b->vk);
    uint64_t both = vkslm_model_device_bytes(b);
    vkslm_model_free(a); /* the device stays open for b */
    CU_ASSERT(vkslm_model_device_bytes(b) <= both);
    vkslm_session *s = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_session_create(b, NULL, &s), VKSLM_OK);
    CU_ASSERT(vkslm_session_device_bytes(s) > 0);
    CU_ASSERT_EQUAL(vkslm_session_eval(s, (const int32_t[]){1, 100, 200}, 3), VKSLM_OK);
    CU_ASSERT_PTR_NOT_NULL(vkslm_session_logits(s));
    CU_ASSERT_EQUAL(vkslm_model_validation_messages(b), 0);
    vkslm_session_free(s);
    vkslm_model_free(b);
}

int main(void) {
    if (test_data_dir()) {
        test_data_path(stories, sizeof stories, "models/stories260K.gguf");
        test_data_path(phi3, sizeof phi3, "models/tiny-phi3-random.gguf");
    }
    static const vkslm_test tests[] = {
        {"experts of one file share its model; sessions are kept and rewound", test_sharing_and_reuse},
        {"an idle model is evicted for another and reloads with the same tokens", test_eviction_and_reload},
        {"a busy expert times out with VKSLM_ERR_BUSY", test_busy_times_out},
        {"shutdown wakes a waiting request and refuses new ones", test_shutdown_wakes_waiters},
        {"semantic routing with a router model", test_semantic},
        {"the router's prompt prefix is reused", test_semantic_prefix_reuse},
        {"a model loaded onto another's device outlives it", test_share_device},
        {NULL, NULL},
    };
    return test_run_suite("gpu_orchestra", tests);
}
