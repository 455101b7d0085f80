/* Log-probabilities and logit bias in generation, n choices from one prefilled prompt, and `vkslm score
 * --logprobs`, on stories260K: each generated token's logprob (and its top alternatives) equals the
 * log-softmax of the logits that the token-level API (vkslm_decode, vkslm_logits_ith) gives for the same
 * prompt and tokens; the streamed on_tokens calls hand over every token once with the same entries; a bias
 * forces or bans a token while the logprobs stay those of the raw logits; choices generated at once after
 * vkslm_sequence_prefill reuse the prompt's KV and equal a lone generation. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_models.h"

#define MODEL "models/stories260K.gguf"
#define TOL 2e-3 /* logits of a batched decode and of generation's steps differ by rounding */

/* The log-softmax rows (double) that a fresh session gives for prompt + gen: row i predicts gen[i]. */
static double *reference_logprobs(vkslm_model *m, const int32_t *prompt, size_t np, const int32_t *gen, size_t ng) {
    const int32_t nv = vkslm_model_n_vocab(m);
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 256;
    vkslm_session *s;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    vkslm_batch *b = vkslm_batch_init((uint32_t)(np + ng));
    for (size_t i = 0; i < np + ng; i++)
        vkslm_batch_add(b, i < np ? prompt[i] : gen[i - np], (uint32_t)i, 0, i + 1 >= np);
    CU_ASSERT_FATAL(vkslm_decode(s, b) == VKSLM_OK);
    double *out = malloc((size_t)ng * nv * sizeof *out);
    for (size_t i = 0; i < ng; i++) {
        const float *l = vkslm_logits_ith(s, (int32_t)(np - 1 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        double max = -INFINITY, sum = 0;
        for (int32_t t = 0; t < nv; t++)
            max = l[t] > max ? l[t] : max;
        for (int32_t t = 0; t < nv; t++)
            sum += exp(l[t] - max);
        for (int32_t t = 0; t < nv; t++)
            out[i * nv + t] = l[t] - max - log(sum);
    }
    vkslm_batch_free(b);
    vkslm_session_free(s);
    return out;
}

/* Every entry against the reference rows: the token's logprob, the top list sorted, its values, and no
 * token left out that beats its last entry. */
static void check_entries(vkslm_model *m, const int32_t *prompt, size_t np, const vkslm_generate_result *r, int k) {
    const int32_t nv = vkslm_model_n_vocab(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->logprobs);
    double *ref = reference_logprobs(m, prompt, np, r->tokens, r->n_tokens);
    for (size_t i = 0; i < r->n_tokens; i++) {
        const vkslm_token_logprobs *e = &r->logprobs[i];
        const double *row = ref + i * nv;
        CU_ASSERT_EQUAL(e->token, r->tokens[i]);
        CU_ASSERT(e->logprob <= 0);
        CU_ASSERT(fabs(e->logprob - row[e->token]) < TOL);
        CU_ASSERT_EQUAL(e->n_top, k);
        for (int j = 0; j < e->n_top; j++) {
            CU_ASSERT(fabs(e->top_logprobs[j] - row[e->top_ids[j]]) < TOL);
            if (j)
                CU_ASSERT(e->top_logprobs[j] <= e->top_logprobs[j - 1]);
            if (e->top_ids[j] == e->token)
                CU_ASSERT_EQUAL(e->top_logprobs[j], e->logprob);
        }
        for (int32_t t = 0; k > 0 && t < nv; t++) {
            int listed = 0;
            for (int j = 0; j < e->n_top; j++)
                listed |= e->top_ids[j] == t;
            if (!listed)
                CU_ASSERT(row[t] <= e->top_logprobs[k - 1] + TOL);
        }
    }
    free(ref);
}

static size_t tokenize(vkslm_model *m, const char *text, int32_t *ids, size_t cap) {
    size_t n = 0;
    CU_ASSERT_FATAL(vkslm_model_tokenize(m, text, strlen(text), 1, false, ids, cap, &n) == VKSLM_OK);
    return n;
}

static vkslm_session *new_session(vkslm_model *m) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 256;
    vkslm_session *s;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    return s;
}

static void test_logprobs_match_logits(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    int32_t prompt[64];
    size_t np = tokenize(m, "Once upon a time, there was a little", prompt, 64);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 12;
    /* greedy without logprobs (the device's argmax), then with them: the same tokens */
    vkslm_session *s = new_session(m);
    vkslm_generate_result r;
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    CU_ASSERT_PTR_NULL(r.logprobs);
    int32_t plain[12];
    size_t n_plain = r.n_tokens;
    memcpy(plain, r.tokens, n_plain * sizeof *plain);
    vkslm_session_free(s);
    gp.logprobs = true;
    gp.top_logprobs = 5;
    s = new_session(m);
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(r.n_tokens, n_plain);
    CU_ASSERT_EQUAL(memcmp(r.tokens, plain, n_plain * sizeof *plain), 0);
    for (size_t i = 0; i < r.n_tokens; i++) /* greedy: the token is the best */
        CU_ASSERT_EQUAL(r.logprobs[i].top_ids[0], r.tokens[i]);
    check_entries(m, prompt, np, &r, 5);
    vkslm_session_free(s);
    /* sampled at temperature 1.5 with top-k: the logprobs stay those of the raw logits */
    gp.temperature = 1.5f;
    gp.top_k = 20;
    gp.seed = 11;
    gp.top_logprobs = 20;
    s = new_session(m);
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    check_entries(m, prompt, np, &r, 20);
    gp.top_logprobs = 21;
    CU_ASSERT_EQUAL(vkslm_generate_tokens(s, prompt, np, &gp, &r), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

typedef struct collected {
    char text[4096];
    int32_t ids[256];
    vkslm_token_logprobs lp[256];
    size_t n, calls, empty_calls;
} collected;

static bool collect(const char *piece, const int32_t *ids, const vkslm_token_logprobs *lp, size_t n, void *user) {
    collected *c = user;
    CU_ASSERT_FATAL(c->n + n <= 256);
    strcat(c->text, piece);
    memcpy(c->ids + c->n, ids, n * sizeof *ids);
    if (lp)
        memcpy(c->lp + c->n, lp, n * sizeof *lp);
    c->n += n;
    c->calls++;
    c->empty_calls += !*piece;
    return true;
}

/* on_tokens hands over every token once, in order, with the result's entries; with a stop string too */
static void test_streamed_tokens(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    int32_t prompt[64];
    size_t np = tokenize(m, "Once upon a time", prompt, 64);
    vkslm_session *s = new_session(m);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 24;
    gp.logprobs = true;
    gp.top_logprobs = 3;
    gp.on_tokens = collect;
    static collected c;
    for (int with_stop = 0; with_stop < 2; with_stop++) {
        static char stop[64];
        memset(&c, 0, sizeof c);
        gp.user_data = &c;
        vkslm_generate_result r;
        CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
        CU_ASSERT_EQUAL(c.n, r.n_tokens);
        CU_ASSERT_EQUAL(memcmp(c.ids, r.tokens, r.n_tokens * sizeof *c.ids), 0);
        CU_ASSERT_EQUAL(memcmp(c.lp, r.logprobs, r.n_tokens * sizeof *c.lp), 0);
        CU_ASSERT_STRING_EQUAL(c.text, r.text);
        if (with_stop) {
            CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_STRING);
        } else {
            /* a stop string from the middle of this text: the next run stops there */
            CU_ASSERT_FATAL(r.text_len > 12);
            snprintf(stop, sizeof stop, "%.4s", r.text + r.text_len / 2);
            static const char *stops[1];
            stops[0] = stop;
            gp.stop = stops;
            gp.n_stop = 1;
        }
        CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    }
    vkslm_session_free(s);
    vkslm_model_free(m);
}

/* +100 forces a token, -100 bans the greedy one; the logprobs are still the raw logits' */
static void test_logit_bias(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    int32_t prompt[64];
    size_t np = tokenize(m, "Once upon a time", prompt, 64);
    vkslm_session *s = new_session(m);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 6;
    gp.logprobs = true;
    vkslm_generate_result r;
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    int32_t greedy = r.tokens[0];
    vkslm_logit_bias ban = {greedy, -100}, force = {300, 100};
    gp.logit_bias = &ban;
    gp.n_logit_bias = 1;
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    for (size_t i = 0; i < r.n_tokens; i++)
        CU_ASSERT_NOT_EQUAL(r.tokens[i], greedy);
    gp.logit_bias = &force;
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &r) == VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(r.n_tokens, 6);
    for (size_t i = 0; i < r.n_tokens; i++)
        CU_ASSERT_EQUAL(r.tokens[i], 300);
    check_entries(m, prompt, np, &r, 0);
    CU_ASSERT(r.logprobs[0].logprob < -1); /* the model does not expect it: the bias is not in the logprob */
    vkslm_logit_bias outside = {vkslm_model_n_vocab(m), 1};
    gp.logit_bias = &outside;
    CU_ASSERT_EQUAL(vkslm_generate_tokens(s, prompt, np, &gp, &r), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

typedef struct job {
    vkslm_sequence *seq;
    const int32_t *ids;
    size_t n;
    vkslm_generate_params gp;
    vkslm_generate_result r;
    vkslm_status st;
    int32_t tokens[32];
} job;

static void *run_job(void *arg) {
    job *j = arg;
    j->st = vkslm_sequence_generate(j->seq, j->ids, j->n, &j->gp, &j->r);
    if (j->st == VKSLM_OK)
        memcpy(j->tokens, j->r.tokens, j->r.n_tokens * sizeof *j->tokens);
    return NULL;
}

/* three choices at once after a prefill: the later ones copy the prompt's KV (n_cached_tokens) and every
 * choice gives the lone session's tokens (greedy) */
static void test_prefilled_choices(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    int32_t prompt[64];
    size_t np = tokenize(m, "Once upon a time, there was a girl named Lily. She", prompt, 64);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 16;
    vkslm_session *s = new_session(m);
    vkslm_generate_result lone;
    CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, np, &gp, &lone) == VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(lone.stop_reason, VKSLM_STOP_LENGTH); /* the step count below assumes it */
    vkslm_scheduler_params sp = vkslm_scheduler_default_params();
    sp.n_seq = 4;
    sp.n_ctx = 128;
    vkslm_scheduler *sch;
    CU_ASSERT_FATAL(vkslm_scheduler_create(m, &sp, &sch) == VKSLM_OK);
    job jobs[3];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_FATAL(vkslm_scheduler_acquire(sch, &jobs[i].seq) == VKSLM_OK);
        jobs[i].ids = prompt;
        jobs[i].n = np;
        jobs[i].gp = gp;
    }
    size_t cached = 99;
    CU_ASSERT_FATAL(vkslm_sequence_prefill(jobs[0].seq, prompt, np, &cached) == VKSLM_OK);
    CU_ASSERT_EQUAL(cached, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(jobs[i].st, VKSLM_OK);
        CU_ASSERT_EQUAL(jobs[i].r.n_cached_tokens, np - 1); /* prefilled slot or a copy of it */
        CU_ASSERT_EQUAL_FATAL(jobs[i].r.n_tokens, lone.n_tokens);
        CU_ASSERT_EQUAL(memcmp(jobs[i].tokens, lone.tokens, lone.n_tokens * sizeof *lone.tokens), 0);
    }
    vkslm_scheduler_stats st;
    vkslm_scheduler_stats_get(sch, &st);
    /* the prompt ran once: the prefill's np - 1 rows, then each choice's last prompt token and its tokens */
    CU_ASSERT_EQUAL(st.rows, (np - 1) + 3 * lone.n_tokens);
    for (int i = 0; i < 3; i++)
        vkslm_scheduler_release(sch, jobs[i].seq);
    vkslm_scheduler_free(sch);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

/* `vkslm score --logprobs`: each row's values are the logits less one constant (its log-sum-exp), <= 0,
 * and equal the log-softmax of the session's logits for the same ids */
static void test_cli_score_logprobs(void) {
    TEST_REQUIRE_DATA();
    char path[1024], cmd[2048];
    static char plain[1 << 16], lp[1 << 16];
    test_data_path(path, sizeof path, MODEL);
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens \"1 403 407 261 300\" --top 8 --json 2>/dev/null", VKSLM_CLI,
             path);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, plain, sizeof plain), 0);
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens \"1 403 407 261 300\" --top 8 --json --logprobs 2>/dev/null",
             VKSLM_CLI, path);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, lp, sizeof lp), 0);
    cJSON *a = cJSON_Parse(plain), *b = cJSON_Parse(lp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    cJSON *pa = cJSON_GetObjectItem(a, "positions"), *pb = cJSON_GetObjectItem(b, "positions");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(pa), 5);
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(pb), 5);
    const int32_t prompt[5] = {1, 403, 407, 261, 300};
    vkslm_model *m = test_model_load(MODEL);
    double *ref = reference_logprobs(m, prompt, 1, prompt + 1, 4); /* rows 0..3 predict tokens 1..4 */
    const int32_t nv = vkslm_model_n_vocab(m);
    for (int i = 0; i < 5; i++) {
        cJSON *ra = cJSON_GetArrayItem(pa, i), *rb = cJSON_GetArrayItem(pb, i);
        CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(rb), 8);
        double shift = 0;
        for (int j = 0; j < 8; j++) {
            cJSON *ea = cJSON_GetArrayItem(ra, j), *eb = cJSON_GetArrayItem(rb, j);
            int id = cJSON_GetArrayItem(eb, 0)->valueint;
            double v = cJSON_GetArrayItem(eb, 1)->valuedouble, logit = cJSON_GetArrayItem(ea, 1)->valuedouble;
            CU_ASSERT_EQUAL(id, cJSON_GetArrayItem(ea, 0)->valueint);
            CU_ASSERT(v <= 0);
            if (j == 0)
                shift = logit - v;
            CU_ASSERT(fabs(logit - v - shift) < 1e-3);
            if (i < 4)
                CU_ASSERT(fabs(v - ref[(size_t)i * nv + id]) < TOL);
        }
        CU_ASSERT(shift > 0 || shift < 0); /* a real log-sum-exp was subtracted */
    }
    free(ref);
    cJSON_Delete(a);
    cJSON_Delete(b);
    vkslm_model_free(m);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"generated tokens' logprobs and top alternatives equal the log-softmax of the logits",
         test_logprobs_match_logits},
        {"on_tokens hands over every token and logprob once, stop string or not", test_streamed_tokens},
        {"logit bias forces and bans; logprobs stay the raw logits'", test_logit_bias},
        {"n choices after a prefill share the prompt's KV and equal a lone run", test_prefilled_choices},
        {"vkslm score --logprobs prints the log-softmax of the logits", test_cli_score_logprobs},
        {NULL, NULL},
    };
    return test_run_suite("gpu_logprobs", tests);
}
