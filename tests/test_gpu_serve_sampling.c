/* vkslm serve's sampling keys over real HTTP on 127.0.0.1 (curl): logprobs (chat and completions, whole and
 * streamed) against the log-softmax of the model's logits from the token-level API, logit_bias forcing and
 * banning, n = 2 with a seed (each choice reproducible, choice i as a lone request with seed + i, streamed
 * with indexes), stream_options.include_usage, echo, and 400s naming the key for bad values. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_models.h"
#include "tests/util_serve.h"

static char buf[1 << 20];
static srv sv;

static const char config[] =
    "{\"experts\": [{\"name\": \"stories\", \"model\": \"%s\", \"role\": \"stories\", \"context\": 256, "
    "\"parallel\": 2, \"sampling\": {\"temperature\": 0, \"max_tokens\": 8}}]}";

static void test_start(void) {
    TEST_REQUIRE_DATA();
    char path[1024], cfg[2048];
    snprintf(cfg, sizeof cfg, config, test_data_path(path, sizeof path, "models/stories260K.gguf"));
    CU_ASSERT_FATAL(serve_start(&sv, cfg, 1) > 0);
}

/* POSTs body; asserts the status and returns the parsed JSON body (caller frees). */
static cJSON *post(const char *path, const char *body, int want) {
    char *json;
    int status = serve_post(&sv, path, body, buf, sizeof buf, &json);
    if (status != want)
        fprintf(stderr, "\n%s -> %d: %s\n", body, status, json);
    CU_ASSERT_EQUAL_FATAL(status, want);
    cJSON *r = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

/* The events of a streamed answer as one JSON array (caller frees); asserts it ended with [DONE]. */
static cJSON *post_stream(const char *path, const char *body) {
    char *json;
    CU_ASSERT_EQUAL_FATAL(serve_post(&sv, path, body, buf, sizeof buf, &json), 200);
    cJSON *events = cJSON_CreateArray();
    int done = 0;
    for (const char *p = json; (p = strstr(p, "data: ")); p += 6) {
        const char *end = strstr(p, "\n\n");
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        if (strncmp(p + 6, "[DONE]", 6) == 0) {
            done = 1;
            break;
        }
        cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(ev, "error"));
        cJSON_AddItemToArray(events, ev);
    }
    CU_ASSERT(done);
    return events;
}

static cJSON *choice(cJSON *r, int i) { return cJSON_GetArrayItem(serve_get(r, "choices", NULL), i); }

/* The log-softmax (double) of the logits that predict gen[i] after prompt + gen[0..i). */
static double reference_lp(vkslm_model *m, const int32_t *prompt, size_t np, cJSON *gen, int i, int32_t token) {
    vkslm_session *s;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);
    vkslm_batch *b = vkslm_batch_init((uint32_t)(np + (size_t)i));
    for (size_t k = 0; k < np + (size_t)i; k++)
        vkslm_batch_add(b, k < np ? prompt[k] : cJSON_GetArrayItem(gen, (int)(k - np))->valueint, (uint32_t)k, 0,
                        k + 1 == np + (size_t)i);
    CU_ASSERT_FATAL(vkslm_decode(s, b) == VKSLM_OK);
    const float *l = vkslm_logits_ith(s, -1);
    int32_t nv = vkslm_model_n_vocab(m);
    double max = -INFINITY, sum = 0;
    for (int32_t t = 0; t < nv; t++)
        max = l[t] > max ? l[t] : max;
    for (int32_t t = 0; t < nv; t++)
        sum += exp(l[t] - max);
    double lp = l[token] - max - log(sum);
    vkslm_batch_free(b);
    vkslm_session_free(s);
    return lp;
}

/* completions: logprobs match the engine's log-softmax; whole and streamed agree */
static void test_completion_logprobs(void) {
    TEST_REQUIRE_DATA();
    const char *prompt = "Once upon a time";
    cJSON *r = post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"logprobs\": 3}", 200);
    cJSON *lp = serve_get(choice(r, 0), "logprobs", NULL), *gen = serve_get(r, "vkslm", "tokens");
    cJSON *toks = serve_get(lp, "tokens", NULL), *vals = serve_get(lp, "token_logprobs", NULL);
    cJSON *tops = serve_get(lp, "top_logprobs", NULL), *offs = serve_get(lp, "text_offset", NULL);
    int n = cJSON_GetArraySize(gen);
    CU_ASSERT_EQUAL_FATAL(n, 8);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(toks), n);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(vals), n);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(tops), n);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(offs), n);
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    int32_t ids[32];
    size_t np = 0;
    CU_ASSERT_FATAL(vkslm_model_tokenize(m, prompt, strlen(prompt), -1, false, ids, 32, &np) == VKSLM_OK);
    CU_ASSERT_EQUAL((size_t)serve_get(r, "usage", "prompt_tokens")->valueint, np);
    const char *text = cJSON_GetStringValue(serve_get(choice(r, 0), "text", NULL));
    for (int i = 0; i < n; i++) {
        double v = cJSON_GetArrayItem(vals, i)->valuedouble;
        CU_ASSERT(v <= 0);
        CU_ASSERT(fabs(v - reference_lp(m, ids, np, gen, i, cJSON_GetArrayItem(gen, i)->valueint)) < 2e-3);
        /* greedy: the chosen token is the best of the (3) alternatives, with the same value */
        cJSON *d = cJSON_GetArrayItem(tops, i);
        CU_ASSERT_EQUAL(cJSON_GetArraySize(d), 3);
        const char *tok = cJSON_GetStringValue(cJSON_GetArrayItem(toks, i));
        cJSON *mine = cJSON_GetObjectItemCaseSensitive(d, tok);
        CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
        CU_ASSERT_EQUAL(mine->valuedouble, v);
        cJSON *x;
        cJSON_ArrayForEach(x, d) CU_ASSERT(x->valuedouble <= v);
        /* the token's text is at its offset */
        int off = cJSON_GetArrayItem(offs, i)->valueint;
        CU_ASSERT(strncmp(text + off, tok, strlen(tok)) == 0);
    }
    vkslm_model_free(m);
    /* streamed: the chunks' logprobs join into the whole answer's */
    cJSON *ev = post_stream("/v1/completions", "{\"prompt\": \"Once upon a time\", \"logprobs\": 3, \"stream\": true}");
    cJSON *all_toks = cJSON_CreateArray(), *all_vals = cJSON_CreateArray(), *e;
    cJSON_ArrayForEach(e, ev) {
        cJSON *l = serve_get(choice(e, 0), "logprobs", NULL);
        cJSON *t;
        cJSON_ArrayForEach(t, serve_get(l, "tokens", NULL)) cJSON_AddItemToArray(all_toks, cJSON_Duplicate(t, 0));
        cJSON_ArrayForEach(t, serve_get(l, "token_logprobs", NULL))
            cJSON_AddItemToArray(all_vals, cJSON_Duplicate(t, 0));
    }
    CU_ASSERT(cJSON_Compare(all_toks, toks, 1));
    CU_ASSERT(cJSON_Compare(all_vals, vals, 1));
    cJSON_Delete(all_toks);
    cJSON_Delete(all_vals);
    cJSON_Delete(ev);
    cJSON_Delete(r);
}

/* chat: content entries with bytes and top_logprobs; streamed chunks carry the same */
static void test_chat_logprobs(void) {
    TEST_REQUIRE_DATA();
    const char *body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"logprobs\": true, "
                       "\"top_logprobs\": 4%s}";
    char b[512];
    snprintf(b, sizeof b, body, "");
    cJSON *r = post("/v1/chat/completions", b, 200);
    cJSON *content = serve_get(serve_get(choice(r, 0), "logprobs", NULL), "content", NULL);
    int n = cJSON_GetArraySize(content);
    CU_ASSERT_EQUAL(n, serve_get(r, "usage", "completion_tokens")->valueint);
    CU_ASSERT_FATAL(n > 0);
    char joined[1024] = "";
    cJSON *e;
    cJSON_ArrayForEach(e, content) {
        double v = serve_get(e, "logprob", NULL)->valuedouble;
        CU_ASSERT(v <= 0);
        cJSON *top = serve_get(e, "top_logprobs", NULL);
        CU_ASSERT_EQUAL(cJSON_GetArraySize(top), 4);
        CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(top, 0), "token", NULL)),
                               cJSON_GetStringValue(serve_get(e, "token", NULL)));
        CU_ASSERT_EQUAL(serve_get(cJSON_GetArrayItem(top, 0), "logprob", NULL)->valuedouble, v);
        for (int j = 1; j < 4; j++)
            CU_ASSERT(serve_get(cJSON_GetArrayItem(top, j), "logprob", NULL)->valuedouble <=
                      serve_get(cJSON_GetArrayItem(top, j - 1), "logprob", NULL)->valuedouble);
        cJSON *bytes = serve_get(e, "bytes", NULL), *x;
        size_t len = strlen(joined);
        cJSON_ArrayForEach(x, bytes) joined[len++] = (char)x->valueint;
        joined[len] = 0;
    }
    CU_ASSERT_STRING_EQUAL(joined, cJSON_GetStringValue(serve_get(serve_get(choice(r, 0), "message", NULL), "content",
                                                                  NULL)));
    snprintf(b, sizeof b, body, ", \"stream\": true");
    cJSON *ev = post_stream("/v1/chat/completions", b), *streamed = cJSON_CreateArray();
    cJSON_ArrayForEach(e, ev) {
        cJSON *x;
        cJSON_ArrayForEach(x, serve_get(serve_get(choice(e, 0), "logprobs", NULL), "content", NULL))
            cJSON_AddItemToArray(streamed, cJSON_Duplicate(x, 1));
    }
    CU_ASSERT(cJSON_Compare(streamed, content, 1));
    cJSON_Delete(streamed);
    cJSON_Delete(ev);
    cJSON_Delete(r);
}

static const char *text_of(cJSON *r, int i) { return cJSON_GetStringValue(serve_get(choice(r, i), "text", NULL)); }

/* n = 2 with a seed: two choices, each reproducible, choice 1 = a lone request with seed + 1; streamed with
 * indexes and a last usage chunk */
static void test_n_choices(void) {
    TEST_REQUIRE_DATA();
    const char *two = "{\"prompt\": \"Once upon a time\", \"n\": 2, \"seed\": 42, \"temperature\": 1.5, "
                      "\"max_tokens\": 12%s}";
    char b[512];
    snprintf(b, sizeof b, two, "");
    cJSON *a = post("/v1/completions", b, 200), *again = post("/v1/completions", b, 200);
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(serve_get(a, "choices", NULL)), 2);
    CU_ASSERT_EQUAL(serve_get(choice(a, 1), "index", NULL)->valueint, 1);
    CU_ASSERT_STRING_EQUAL(text_of(a, 0), text_of(again, 0));
    CU_ASSERT_STRING_EQUAL(text_of(a, 1), text_of(again, 1));
    CU_ASSERT_STRING_NOT_EQUAL(text_of(a, 0), text_of(a, 1)); /* 12 tokens at temperature 1.5 */
    CU_ASSERT_EQUAL(serve_get(a, "usage", "completion_tokens")->valueint, 24);
    CU_ASSERT_EQUAL(serve_get(a, "usage", "total_tokens")->valueint,
                    24 + serve_get(a, "usage", "prompt_tokens")->valueint);
    cJSON *lone = post("/v1/completions",
                       "{\"prompt\": \"Once upon a time\", \"seed\": 43, \"temperature\": 1.5, \"max_tokens\": 12}", 200);
    CU_ASSERT_STRING_EQUAL(text_of(lone, 0), text_of(a, 1));
    /* streamed: each index's pieces join into that choice's text; then the usage chunk */
    snprintf(b, sizeof b, two, ", \"stream\": true, \"stream_options\": {\"include_usage\": true}");
    cJSON *ev = post_stream("/v1/completions", b), *e;
    char text[2][512] = {"", ""};
    int finished = 0;
    cJSON *last = cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1);
    cJSON_ArrayForEach(e, ev) {
        cJSON *c = choice(e, 0);
        if (!c)
            continue;
        int i = serve_get(c, "index", NULL)->valueint;
        CU_ASSERT_FATAL(i == 0 || i == 1);
        strcat(text[i], cJSON_GetStringValue(serve_get(c, "text", NULL)));
        finished += cJSON_IsString(serve_get(c, "finish_reason", NULL));
    }
    CU_ASSERT_STRING_EQUAL(text[0], text_of(a, 0));
    CU_ASSERT_STRING_EQUAL(text[1], text_of(a, 1));
    CU_ASSERT_EQUAL(finished, 2);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(last, "choices", NULL)), 0);
    CU_ASSERT_EQUAL(serve_get(last, "usage", "completion_tokens")->valueint, 24);
    /* chat, n = 2: two messages */
    cJSON *chat = post("/v1/chat/completions",
                       "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"n\": 2, \"seed\": 1, "
                       "\"temperature\": 1}", 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(chat, "choices", NULL)), 2);
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetStringValue(serve_get(serve_get(choice(chat, 1), "message", NULL), "content", NULL)));
    cJSON_Delete(chat);
    cJSON_Delete(ev);
    cJSON_Delete(lone);
    cJSON_Delete(a);
    cJSON_Delete(again);
}

/* three n = 2 requests at once on an expert of parallel 2: each gets its two choices (requests that each
 * held one sequence while waiting for a second would wait for each other until the queue timed out) */
static void test_concurrent_n(void) {
    TEST_REQUIRE_DATA();
    char file[128], cmd[2048];
    snprintf(file, sizeof file, "/tmp/vkslm-test-n-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s.json", file);
    FILE *f = fopen(cmd, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{\"prompt\": \"Once upon a time\", \"n\": 2, \"seed\": 5, \"temperature\": 1, \"max_tokens\": 24}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "for i in 1 2 3; do " CURL " -s --max-time 300 -H 'Content-Type: application/json' --data-binary @%s.json "
             "http://127.0.0.1:%d/v1/completions > %s.$i & done; wait; cat %s.1; echo; cat %s.2; echo; cat %s.3; "
             "rm -f %s.json %s.1 %s.2 %s.3",
             file, sv.port, file, file, file, file, file, file, file, file);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, buf, sizeof buf), 0);
    const char *at = buf;
    const char *first = NULL;
    for (int i = 0; i < 3; i++) {
        const char *end = NULL;
        cJSON *r = cJSON_ParseWithOpts(at, &end, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(r, "choices", NULL)), 2);
        CU_ASSERT_EQUAL(serve_get(r, "usage", "completion_tokens")->valueint, 48);
        /* the same request: the same choices */
        const char *t = text_of(r, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        if (!first)
            first = strdup(t);
        else
            CU_ASSERT_STRING_EQUAL(t, first);
        cJSON_Delete(r);
        at = end;
    }
    free((char *)first);
}

/* logit_bias: -100 bans the greedy token, +100 forces another; echo leads with the prompt */
static void test_bias_and_echo(void) {
    TEST_REQUIRE_DATA();
    cJSON *r = post("/v1/completions", "{\"prompt\": \"Once upon a time\"}", 200);
    int greedy = cJSON_GetArrayItem(serve_get(r, "vkslm", "tokens"), 0)->valueint;
    char b[512];
    snprintf(b, sizeof b, "{\"prompt\": \"Once upon a time\", \"logit_bias\": {\"%d\": -100}}", greedy);
    cJSON *banned = post("/v1/completions", b, 200), *x;
    cJSON_ArrayForEach(x, serve_get(banned, "vkslm", "tokens")) CU_ASSERT_NOT_EQUAL(x->valueint, greedy);
    cJSON *forced = post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"logit_bias\": {\"300\": 100}}", 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(forced, "vkslm", "tokens")), 8);
    cJSON_ArrayForEach(x, serve_get(forced, "vkslm", "tokens")) CU_ASSERT_EQUAL(x->valueint, 300);
    cJSON *echo = post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"echo\": true}", 200);
    char want[512];
    snprintf(want, sizeof want, "Once upon a time%s", text_of(r, 0));
    CU_ASSERT_STRING_EQUAL(text_of(echo, 0), want);
    cJSON_Delete(echo);
    cJSON_Delete(forced);
    cJSON_Delete(banned);
    cJSON_Delete(r);
}

/* bad values get 400 with the key as param */
static void test_bad_values(void) {
    TEST_REQUIRE_DATA();
    static const struct {
        int chat;
        const char *keys, *param;
    } cases[] = {
        {0, "\"n\": 3", "n"}, /* more than the expert's parallel (2) */
        {0, "\"n\": 0", "n"},
        {0, "\"n\": 1.5", "n"},
        {0, "\"logprobs\": 6", "logprobs"},
        {0, "\"logprobs\": true", "logprobs"},
        {0, "\"top_logprobs\": 2", "top_logprobs"},
        {1, "\"logprobs\": 1", "logprobs"},
        {1, "\"top_logprobs\": 2", "top_logprobs"},
        {1, "\"logprobs\": true, \"top_logprobs\": 21", "top_logprobs"},
        {0, "\"logit_bias\": {\"100000\": 1}", "logit_bias"},
        {0, "\"logit_bias\": {\"-1\": 1}", "logit_bias"},
        {0, "\"logit_bias\": {\"ab\": 1}", "logit_bias"},
        {1, "\"logit_bias\": {\"5\": 100.5}", "logit_bias"},
        {1, "\"logit_bias\": [1]", "logit_bias"},
        {0, "\"stream_options\": {\"include_usage\": true}", "stream_options"},
        {1, "\"stream\": true, \"stream_options\": {\"include_usag\": true}", "stream_options"},
        {0, "\"echo\": true, \"logprobs\": 0", "echo"},
        {0, "\"best_of\": 2", "best_of"},
        {0, "\"suffix\": \"The end.\"", "suffix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char b[512];
        snprintf(b, sizeof b, cases[i].chat ? "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], %s}"
                                            : "{\"prompt\": \"Hi\", %s}",
                 cases[i].keys);
        cJSON *r = post(cases[i].chat ? "/v1/chat/completions" : "/v1/completions", b, 400);
        const char *param = cJSON_GetStringValue(serve_get(serve_get(r, "error", NULL), "param", NULL));
        if (!param || strcmp(param, cases[i].param) != 0)
            fprintf(stderr, "\n%s: param %s\n", b, param ? param : "(none)");
        CU_ASSERT(param && strcmp(param, cases[i].param) == 0);
        cJSON_Delete(r);
    }
    /* what is allowed: best_of equal to n, an empty suffix, n = parallel */
    cJSON_Delete(post("/v1/completions", "{\"prompt\": \"Hi\", \"n\": 2, \"best_of\": 2, \"suffix\": \"\"}", 200));
}

static void test_stop(void) {
    TEST_REQUIRE_DATA();
    CU_ASSERT_EQUAL(serve_health_validation(&sv), 0);
    CU_ASSERT_EQUAL(serve_stop(&sv), 0);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"server starts (stories, parallel 2)", test_start},
        {"completions logprobs match the model's log-softmax, whole and streamed", test_completion_logprobs},
        {"chat logprobs: entries, bytes, top_logprobs, whole and streamed", test_chat_logprobs},
        {"n = 2 with a seed: reproducible choices, streamed with indexes and include_usage", test_n_choices},
        {"three n = 2 requests at once on parallel 2 each get two choices", test_concurrent_n},
        {"logit_bias bans and forces; echo", test_bias_and_echo},
        {"bad sampling values get 400 naming the key", test_bad_values},
        {"server stops cleanly", test_stop},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve_sampling", tests);
}
