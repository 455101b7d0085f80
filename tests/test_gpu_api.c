/* The public API end to end (vkslm.h): generation against the references, chunked prefill, threads,
 * stop conditions, seeded sampling, rewind, the three ways to load, and clean refusals. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_models.h"
#include "tests/util_refs.h"
#include "vkslm.h"

static vkslm_session *new_session(vkslm_model *m, uint32_t n_ctx, uint32_t n_batch) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    return s;
}

/* Greedy generation reproduces llama.cpp's greedy tokens where the model's choices are clear. */
static void check_greedy(const char *ref_name, size_t must_match) {
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load(ref_name, &ref) == 0);
    char rel[300];
    snprintf(rel, sizeof rel, "models/%s", ref.model);
    vkslm_model *m = test_model_load(rel);
    vkslm_session *s = new_session(m, 256, 0);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = (int32_t)ref.n_greedy;
    vkslm_generate_result r;
    CU_ASSERT_FATAL(vkslm_generate(s, ref.prompt, &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL(r.n_prompt_tokens, ref.n_prompt);
    for (size_t i = 0; i < ref.n_prompt && i < r.n_prompt_tokens; i++)
        CU_ASSERT_EQUAL(r.prompt_tokens[i], ref.prompt_tokens[i]);
    size_t same = 0;
    while (same < r.n_tokens && same < ref.n_greedy && r.tokens[same] == ref.greedy[same])
        same++;
    printf("\n  %s: %zu of %u greedy tokens as llama.cpp: \"%.60s\"", ref_name, same, ref.n_greedy, r.text);
    CU_ASSERT(same >= must_match);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

static void test_greedy_matches_reference(void) {
    TEST_REQUIRE_DATA();
    check_greedy("stories260K.short", 12); /* the trained model writes its story */
    check_greedy("tiny-qwen2-random.short", 8);
}

/* Prefill in one step, in chunks of 5, and token by token give the same logits. */
static void test_chunked_prefill(void) {
    TEST_REQUIRE_DATA();
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load("tiny-llama3-random.long", &ref) == 0);
    vkslm_model *m = test_model_load("models/tiny-llama3-random.gguf");
    uint32_t nv = (uint32_t)vkslm_model_n_vocab(m);
    float *one = malloc(nv * sizeof *one);
    static const uint32_t batches[] = {128, 5, 1};
    for (int i = 0; i < 3; i++) {
        vkslm_session *s = new_session(m, 256, batches[i]);
        CU_ASSERT_FATAL(vkslm_session_eval(s, ref.prompt_tokens, ref.n_prompt) == VKSLM_OK);
        const float *l = vkslm_session_logits(s);
        CU_ASSERT_FATAL(l != NULL);
        CU_ASSERT_EQUAL(vkslm_session_n_past(s), ref.n_prompt);
        if (i == 0)
            memcpy(one, l, nv * sizeof *one);
        else {
            double e = test_nmse(l, one, nv);
            printf("\n  batch %u vs one prefill: NMSE %.2e", batches[i], e);
            CU_ASSERT(e <= 1e-6);
        }
        vkslm_session_free(s);
    }
    free(one);
    vkslm_model_free(m);
}

typedef struct thread_job {
    vkslm_model *model;
    const char *prompt;
    int32_t tokens[24];
    size_t n;
    vkslm_status st;
} thread_job;

static void *run_job(void *arg) {
    thread_job *j = arg;
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 128;
    vkslm_session *s = NULL;
    j->st = vkslm_session_create(j->model, &sp, &s);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 24;
    vkslm_generate_result r;
    for (int rep = 0; rep < 2 && j->st == VKSLM_OK; rep++) {
        vkslm_session_rewind(s, 0);
        j->st = vkslm_generate(s, j->prompt, &gp, &r);
        if (j->st == VKSLM_OK) {
            j->n = r.n_tokens;
            memcpy(j->tokens, r.tokens, r.n_tokens * sizeof *r.tokens);
        }
    }
    vkslm_session_free(s);
    return NULL;
}

/* Two sessions of one model on two threads at once give what each gives alone. */
static void test_two_threads(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/tiny-qwen2-random.gguf");
    thread_job alone[2] = {{m, "Once upon a time", {0}, 0, 0}, {m, "The quick brown fox", {0}, 0, 0}};
    thread_job both[2] = {alone[0], alone[1]};
    run_job(&alone[0]);
    run_job(&alone[1]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, run_job, &both[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(both[i].st, VKSLM_OK);
        CU_ASSERT_EQUAL(both[i].n, 24);
        CU_ASSERT_EQUAL(memcmp(both[i].tokens, alone[i].tokens, sizeof alone[i].tokens), 0);
    }
    CU_ASSERT_NOT_EQUAL(memcmp(alone[0].tokens, alone[1].tokens, sizeof alone[0].tokens), 0);
    vkslm_model_free(m);
}

static int pieces_seen;
static bool stop_after_three(const char *piece, void *user) {
    (void)piece;
    (void)user;
    return ++pieces_seen < 3;
}

static void test_stop_conditions(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    vkslm_session *s = new_session(m, 64, 0);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 40;
    vkslm_generate_result r;
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_LENGTH);
    CU_ASSERT_EQUAL(r.n_tokens, 40);
    char full[1024];
    snprintf(full, sizeof full, "%s", r.text);
    CU_ASSERT(strlen(full) > 20);

    /* a stop string from the middle of that text: generation ends before it, and it is not in the text */
    char stop[8];
    memcpy(stop, full + 12, 5);
    stop[5] = 0;
    const char *stops[] = {"zzzz-never", stop};
    gp.stop = stops;
    gp.n_stop = 2;
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_STRING);
    CU_ASSERT_PTR_NULL(strstr(r.text, stop));
    CU_ASSERT_EQUAL(strncmp(r.text, full, r.text_len), 0);
    CU_ASSERT(r.text_len <= 12);

    /* the callback stops it */
    gp.n_stop = 0;
    gp.on_token = stop_after_three;
    pieces_seen = 0;
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_CALLBACK);
    CU_ASSERT_EQUAL(pieces_seen, 3);

    /* the context fills up: 64 positions, a 5-token prompt */
    gp.on_token = NULL;
    gp.max_tokens = 0;
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    if (r.stop_reason != VKSLM_STOP_EOG) {
        CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_CONTEXT);
        CU_ASSERT_EQUAL(r.n_prompt_tokens + r.n_tokens, 64);
        CU_ASSERT_EQUAL(vkslm_session_n_past(s), 64);
    }
    /* a prompt longer than the context is refused before any work */
    char longp[2048];
    memset(longp, 0, sizeof longp);
    for (int i = 0; i < 60; i++)
        strcat(longp, "the cat ");
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_generate(s, longp, &gp, &r), VKSLM_ERR_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "does not fit the context"));
    CU_ASSERT_EQUAL(vkslm_session_n_past(s), 0);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

static void test_seeded_sampling_and_rewind(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    vkslm_session *s = new_session(m, 128, 0);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 30;
    gp.temperature = 0.9f;
    gp.top_k = 40;
    gp.top_p = 0.95f;
    gp.seed = 42;
    vkslm_generate_result r;
    int32_t first[30];
    size_t n1;
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    n1 = r.n_tokens;
    memcpy(first, r.tokens, n1 * sizeof *first);
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL(r.n_tokens, n1);
    CU_ASSERT_EQUAL(memcmp(r.tokens, first, n1 * sizeof *first), 0);
    int differ = 0;
    for (uint64_t seed = 43; seed < 46; seed++) {
        gp.seed = seed;
        CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_generate(s, "Once upon a time", &gp, &r) == VKSLM_OK);
        differ += r.n_tokens != n1 || memcmp(r.tokens, first, n1 * sizeof *first) != 0;
    }
    CU_ASSERT(differ > 0);
    /* continuing a session: a second prompt after the first generation */
    uint32_t before = vkslm_session_n_past(s);
    gp.temperature = 0;
    CU_ASSERT_FATAL(vkslm_generate(s, " The end.", &gp, &r) == VKSLM_OK);
    CU_ASSERT(vkslm_session_n_past(s) > before);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

static void test_load_paths_and_refusals(void) {
    TEST_REQUIRE_DATA();
    char path[1024];
    test_data_path(path, sizeof path, "models/stories260K.gguf");
    vkslm_model *a = test_model_load("models/stories260K.gguf");
    int32_t ids[8];
    size_t n_ids = 0;
    CU_ASSERT_FATAL(vkslm_model_tokenize(a, "Once upon a time", 16, -1, false, ids, 8, &n_ids) == VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(n_ids, 5);
    CU_ASSERT_EQUAL(ids[0], 1); /* BOS */
    vkslm_session *sa = new_session(a, 32, 0);
    CU_ASSERT_FATAL(vkslm_session_eval(sa, ids, 5) == VKSLM_OK);
    uint32_t nv = (uint32_t)vkslm_model_n_vocab(a);
    const float *la = vkslm_session_logits(sa);

    /* from memory */
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *mem = malloc((size_t)size);
    CU_ASSERT_FATAL(fread(mem, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    vkslm_model *b = NULL;
    CU_ASSERT_FATAL(vkslm_model_load_memory(mem, (size_t)size, NULL, &b) == VKSLM_OK);
    vkslm_session *sb = new_session(b, 32, 0);
    CU_ASSERT_FATAL(vkslm_session_eval(sb, ids, 5) == VKSLM_OK);
    CU_ASSERT_EQUAL(memcmp(vkslm_session_logits(sb), la, nv * sizeof(float)), 0);

    /* from a descriptor, at an offset inside a bigger file (an Android asset) */
    char tmp[] = "/tmp/vkslm-fd-XXXXXX";
    int fd = mkstemp(tmp);
    CU_ASSERT_FATAL(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    CU_ASSERT_FATAL(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    CU_ASSERT_FATAL(write(fd, mem, (size_t)size) == (ssize_t)size);
    CU_ASSERT_FATAL(write(fd, junk, 100) == 100);
    vkslm_model *c = NULL;
    CU_ASSERT_FATAL(vkslm_model_load_fd(fd, sizeof junk, (uint64_t)size, NULL, &c) == VKSLM_OK);
    close(fd);
    unlink(tmp);
    vkslm_session *sc = new_session(c, 32, 0);
    CU_ASSERT_FATAL(vkslm_session_eval(sc, ids, 5) == VKSLM_OK);
    CU_ASSERT_EQUAL(memcmp(vkslm_session_logits(sc), la, nv * sizeof(float)), 0);
    vkslm_session_free(sc);
    vkslm_model_free(c);
    vkslm_session_free(sb);
    vkslm_model_free(b);
    free(mem);

    /* the default context (sessions, the CLI, orchestra experts): the trained context, at most 4096 */
    CU_ASSERT_EQUAL(vkslm_model_n_ctx_train(a), 2048u);
    CU_ASSERT_EQUAL(vkslm_model_default_n_ctx(a), 2048u);
    vkslm_session *sd = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(a, NULL, &sd) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_session_n_ctx(sd), 2048u);
    vkslm_session_free(sd);
    vkslm_model *l3 = test_model_load("models/tiny-llama3-random.gguf"); /* trained on 131072 */
    CU_ASSERT_EQUAL(vkslm_model_default_n_ctx(l3), VKSLM_DEFAULT_N_CTX);
    vkslm_model_free(l3);
    CU_ASSERT_EQUAL(vkslm_model_default_n_ctx(NULL), VKSLM_DEFAULT_N_CTX);

    /* refusals: a vocab-only file, a missing file, a too-long context, bad token ids */
    vkslm_model *x = NULL;
    CU_ASSERT_NOT_EQUAL(vkslm_model_load(test_data_path(path, sizeof path, "vocab/ggml-vocab-qwen2.gguf"), NULL, &x),
                        VKSLM_OK);
    CU_ASSERT_PTR_NULL(x);
    CU_ASSERT_EQUAL(vkslm_model_load("/nonexistent/model.gguf", NULL, &x), VKSLM_ERR_IO);
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = vkslm_model_n_ctx_train(a) + 1;
    vkslm_session *y = NULL;
    CU_ASSERT_EQUAL(vkslm_session_create(a, &sp, &y), VKSLM_ERR_INVALID_ARG);
    int32_t bad = 1 << 30;
    CU_ASSERT_EQUAL(vkslm_session_eval(sa, &bad, 1), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "outside the vocabulary"));
    CU_ASSERT_EQUAL(vkslm_session_rewind(sa, 999), VKSLM_ERR_INVALID_ARG);
    vkslm_session_free(sa);
    vkslm_model_free(a);
    vkslm_model_free(NULL);
    vkslm_session_free(NULL);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"greedy generation reproduces the reference tokens", test_greedy_matches_reference},
        {"prefill in one step, in chunks and token by token agree", test_chunked_prefill},
        {"two sessions of one model on two threads", test_two_threads},
        {"stop strings, callback, context full, over-long prompt", test_stop_conditions},
        {"seeded sampling is repeatable; rewind; continuing a session", test_seeded_sampling_and_rewind},
        {"loading from path, memory and fd; clean refusals", test_load_paths_and_refusals},
        {NULL, NULL},
    };
    return test_run_suite("gpu_api", tests);
}
