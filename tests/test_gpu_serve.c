/* vkslm serve over real HTTP on 127.0.0.1, with curl as the client: chat and completions whole and
 * streamed, the labelled routing fixture with rules off, error statuses and objects, 8 concurrent streams
 * against a lone one, eviction and reload under a small budget, a full context, an overloaded expert,
 * and the server still up (and clean under validation) after all of it. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_serve.h"

static char buf[1 << 20];

/* The streamed events of an SSE body: the concatenated text, the last chunk (caller frees), whether it
 * ended with [DONE]. */
static cJSON *parse_stream(const char *body, int chat, char *text, size_t cap, int *done, int *first_role) {
    cJSON *last = NULL;
    *done = 0;
    *first_role = 0;
    text[0] = 0;
    int n = 0;
    for (const char *p = body; (p = strstr(p, "data: ")); p += 6) {
        const char *end = strstr(p, "\n\n");
        if (!end)
            break;
        if (strncmp(p + 6, "[DONE]", 6) == 0) {
            *done = 1;
            break;
        }
        cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
        CU_ASSERT_PTR_NOT_NULL(ev);
        if (!ev)
            break;
        cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "choices"), 0);
        cJSON *piece = chat ? serve_get(c0, "delta", "content") : cJSON_GetObjectItemCaseSensitive(c0, "text");
        if (n++ == 0 && chat)
            *first_role = cJSON_IsString(serve_get(c0, "delta", "role"));
        if (cJSON_IsString(piece) && strlen(text) + strlen(piece->valuestring) < cap)
            strcat(text, piece->valuestring);
        cJSON_Delete(last);
        last = ev;
    }
    return last;
}

static int tokens_equal(cJSON *a, cJSON *b) {
    if (!cJSON_IsArray(a) || !cJSON_IsArray(b) || cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
        return 0;
    for (int i = 0; i < cJSON_GetArraySize(a); i++)
        if (cJSON_GetArrayItem(a, i)->valueint != cJSON_GetArrayItem(b, i)->valueint)
            return 0;
    return 1;
}

static srv main_srv;

static const char *story_chat = "{\"model\": \"stories\", \"messages\": [{\"role\": \"user\", \"content\": "
                                "\"Once upon a time\"}], \"max_tokens\": 16}";

static void test_chat_whole_and_streamed(void) {
    char *json;
    CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/chat/completions", story_chat, buf, sizeof buf, &json), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "X-Vkslm-Expert: stories"));
    cJSON *r = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "object", NULL)), "chat.completion");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "expert", NULL)), "stories");
    cJSON *c0 = cJSON_GetArrayItem(serve_get(r, "choices", NULL), 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(c0, "message", "role")), "assistant");
    const char *content = cJSON_GetStringValue(serve_get(c0, "message", "content"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(content);
    CU_ASSERT(strlen(content) > 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(c0, "finish_reason", NULL)), "length");
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(r, "usage", "completion_tokens")), 16);
    int pt = (int)cJSON_GetNumberValue(serve_get(r, "usage", "prompt_tokens"));
    CU_ASSERT(pt > 4);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(r, "usage", "total_tokens")), pt + 16);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(r, "vkslm", "tokens")), 16);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(serve_get(r, "vkslm", "route"), "method", NULL)), "explicit");
    /* the same request streamed: the same text and tokens, chunk by chunk */
    char body[512];
    snprintf(body, sizeof body, "%.*s, \"stream\": true}", (int)strlen(story_chat) - 1, story_chat);
    static char text[8192];
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/chat/completions", body, buf, sizeof buf, &json), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Type: text/event-stream"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "X-Vkslm-Expert: stories"));
    int done, role;
    cJSON *last = parse_stream(json, 1, text, sizeof text, &done, &role);
    CU_ASSERT(done);
    CU_ASSERT(role);
    CU_ASSERT_STRING_EQUAL(text, content);
    cJSON *l0 = cJSON_GetArrayItem(serve_get(last, "choices", NULL), 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(l0, "finish_reason", NULL)), "length");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(last, "object", NULL)), "chat.completion.chunk");
    CU_ASSERT(tokens_equal(serve_get(last, "vkslm", "tokens"), serve_get(r, "vkslm", "tokens")));
    cJSON_Delete(last);
    cJSON_Delete(r);
    /* completions: stories260K continues its prompt as the reference does */
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/completions",
                         "{\"model\": \"stories\", \"prompt\": \"Once upon a time\", \"max_tokens\": 8}", buf,
                         sizeof buf, &json),
                    200);
    r = cJSON_Parse(json);
    c0 = cJSON_GetArrayItem(serve_get(r, "choices", NULL), 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "object", NULL)), "text_completion");
    const char *t = cJSON_GetStringValue(serve_get(c0, "text", NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(strncmp(t, ", there was a little", 20) == 0);
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/completions",
                         "{\"model\": \"stories\", \"prompt\": \"Once upon a time\", \"max_tokens\": 8, \"stream\": true}",
                         buf, sizeof buf, &json),
                    200);
    last = parse_stream(json, 0, text, sizeof text, &done, &role);
    CU_ASSERT(done);
    CU_ASSERT(strncmp(text, ", there was a little", 20) == 0);
    cJSON_Delete(last);
}

/* A client that goes away mid-stream stops its generation and gives its session back. */
/* A client that leaves mid-stream: once its first event came, it resets the connection; the generation
 * stops within a token or two (not at the context's end) and the session is released. Nothing here
 * depends on how fast the machine generates. */
static void test_client_disconnect(void) {
    const char *key = "vkslm_tokens_total{expert=\"stories\",kind=\"completion\"} ";
    double before = serve_metric(&main_srv, key);
    CU_ASSERT_FATAL(before >= 0);
    const char *body = "{\"model\": \"stories\", \"prompt\": \"Once\", \"max_tokens\": 100000, \"stream\": true}";
    char req[512];
    int n = serve_request(req, sizeof req, "/v1/completions", body);
    int fd = serve_connect(&main_srv, "127.0.0.1");
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t got = 0;
    buf[0] = 0;
    for (int i = 0; i < 1200 && !strstr(buf, "data: "); i++) { /* the first event (at most 60 s) */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t k = recv(fd, buf + got, 4096, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = 0;
        }
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(buf, "data: "));
    struct linger lg = {1, 0}; /* close with a reset: the server's next write fails */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    int idle = 0;
    for (int i = 0; i < 1200 && !idle; i++) {
        usleep(50000);
        idle = serve_metric(&main_srv, "vkslm_expert_active{expert=\"stories\"} ") == 0;
    }
    CU_ASSERT(idle); /* the session went back */
    double made = serve_metric(&main_srv, key) - before;
    printf("  the abandoned stream stopped after %.0f tokens (the context holds 512)\n", made);
    CU_ASSERT(made >= 1 && made < 500);
    char *json;
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"Once\", \"max_tokens\": 2}",
                               buf, sizeof buf, &json),
                    200);
}

static void test_models_health_metrics(void) {
    CU_ASSERT_EQUAL(serve_curl(&main_srv, "", "/v1/models", buf, sizeof buf), 0);
    cJSON *r = cJSON_Parse(buf);
    cJSON *data = serve_get(r, "data", NULL);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(data), 5);
    const char *want[] = {"stories", "code", "documents", "sentiment", "auto"};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(data, i), "id", NULL)), want[i]);
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(serve_health_validation(&main_srv), 0);
    CU_ASSERT_EQUAL(serve_curl(&main_srv, "", "/metrics", buf, sizeof buf), 0);
    const char *lines[] = {"# TYPE vkslm_requests_total counter",
                           "vkslm_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}",
                           "vkslm_route_decisions_total{expert=\"stories\",method=\"explicit\"}",
                           "vkslm_request_duration_seconds_bucket{expert=\"stories\",le=\"+Inf\"}",
                           "vkslm_tokens_total{expert=\"stories\",kind=\"completion\"}",
                           "vkslm_cost_per_million_queries{expert=\"stories\",currency=\"USD\"}",
                           "\nvkslm_device_memory_bytes ",
                           "vkslm_validation_messages_total 0"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, lines[i]));
        if (!strstr(buf, lines[i]))
            fprintf(stderr, "missing in /metrics: %s\n", lines[i]);
    }
    /* a positive cost: stories has served requests */
    const char *cost = strstr(buf, "vkslm_cost_per_million_queries{expert=\"stories\"");
    CU_ASSERT(cost && atof(strchr(cost, '}') + 1) > 0);
}

static void test_routing_fixture(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -v '^#' %s/tests/data/route_fixture.tsv", VKSLM_SOURCE_DIR);
    static char fx[1 << 14];
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, fx, sizeof fx), 0);
    int total = 0, right = 0;
    for (char *line = strtok(fx, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
        *tab = 0;
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "model", "auto");
        cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", tab + 1);
        cJSON_AddItemToArray(msgs, m);
        cJSON_AddNumberToObject(req, "max_tokens", 1);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        char *json;
        static char out[1 << 16];
        int status = serve_post(&main_srv, "/v1/chat/completions", body, out, sizeof out, &json);
        free(body);
        CU_ASSERT_EQUAL(status, 200);
        char hdr[128];
        snprintf(hdr, sizeof hdr, "X-Vkslm-Expert: %s\r\n", line);
        cJSON *r = cJSON_Parse(json);
        const char *got = cJSON_GetStringValue(serve_get(r, "expert", NULL));
        int ok = got && strcmp(got, line) == 0 && strstr(out, hdr) != NULL;
        if (!ok)
            printf("  routed to %s, labelled %s: %s\n", got ? got : "?", line, tab + 1);
        CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(serve_get(r, "vkslm", "route"), "method", NULL)),
                               "lexical");
        cJSON_Delete(r);
        right += ok;
        total++;
    }
    printf("  auto routing: %d of %d requests on the labelled expert\n", right, total);
    CU_ASSERT_EQUAL(total, 20);
    CU_ASSERT(right >= 18);
}

static void test_errors(void) {
    char *json;
    struct {
        const char *path, *body;
        int status;
        const char *code;
    } cases[] = {
        {"/v1/chat/completions", "{\"model\": \"nobody\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
         404, "model_not_found"},
        {"/v1/chat/completions", "{\"model\": \"stories\", \"messages\": [", 400, "invalid_json"},
        {"/v1/chat/completions", "[1, 2]", 400, "invalid_request"},
        {"/v1/chat/completions", "{\"model\": \"stories\"}", 400, "invalid_request"},
        {"/v1/chat/completions", "{\"model\": \"stories\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400,
         "invalid_request"},
        {"/v1/completions", "{\"model\": \"stories\", \"prompt\": \"x\", \"temperature\": \"hot\"}", 400,
         "invalid_request"},
        {"/v1/nothing", "{}", 404, "not_found"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = serve_post(&main_srv, cases[i].path, cases[i].body, buf, sizeof buf, &json);
        CU_ASSERT_EQUAL(st, cases[i].status);
        cJSON *r = cJSON_Parse(json);
        cJSON *e = serve_get(r, "error", NULL);
        CU_ASSERT(cJSON_IsString(serve_get(e, "message", NULL)));
        CU_ASSERT(cJSON_IsString(serve_get(e, "type", NULL)));
        const char *code = cJSON_GetStringValue(serve_get(e, "code", NULL));
        CU_ASSERT(code && strcmp(code, cases[i].code) == 0);
        if (st != cases[i].status || !code || strcmp(code, cases[i].code) != 0)
            fprintf(stderr, "case %zu: %d %s\n", i, st, json);
        cJSON_Delete(r);
    }
    /* a prompt longer than the expert's context (stories: 512 tokens) */
    size_t n = 40000;
    char *big = malloc(n + 128);
    size_t m = (size_t)sprintf(big, "{\"model\": \"stories\", \"prompt\": \"");
    while (m < n)
        m += (size_t)sprintf(big + m, "the cat sat on the mat ");
    strcpy(big + m, "\"}");
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/completions", big, buf, sizeof buf, &json), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"code\":\"context_length_exceeded\""));
    free(big);
    /* a body over max_body_bytes (the test config sets 65536) */
    n = 70000;
    big = malloc(n + 64);
    m = (size_t)sprintf(big, "{\"model\": \"stories\", \"prompt\": \"");
    memset(big + m, 'a', n - m);
    strcpy(big + n, "\"}");
    CU_ASSERT_EQUAL(serve_post(&main_srv, "/v1/completions", big, buf, sizeof buf, &json), 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"code\":\"request_too_large\""));
    free(big);
    /* a GET where POST is needed */
    CU_ASSERT_EQUAL(serve_curl(&main_srv, "-i", "/v1/chat/completions", buf, sizeof buf), 0);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 405", 12) == 0);
    CU_ASSERT_EQUAL(serve_health_validation(&main_srv), 0); /* still up */
}

static void test_concurrent_streams(void) {
    const char *body = "{\"model\": \"stories\", \"prompt\": \"The little dog\", \"max_tokens\": 24, \"stream\": true}";
    char file[128], cmd[1024];
    snprintf(file, sizeof file, "/tmp/vkslm-test-stream-%d.json", (int)getpid());
    FILE *f = fopen(file, "w");
    fputs(body, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, CURL " -s -N --max-time 120 --data-binary @%s http://127.0.0.1:%d/v1/completions", file,
             main_srv.port);
    static char lone_text[8192], text[8192];
    CU_ASSERT_EQUAL(test_run_command(cmd, buf, sizeof buf), 0);
    int done, role;
    cJSON *lone = parse_stream(buf, 0, lone_text, sizeof lone_text, &done, &role);
    CU_ASSERT_FATAL(done && lone != NULL);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(lone, "vkslm", "tokens")), 24);
    enum { N = 8 };
    FILE *p[N];
    for (int i = 0; i < N; i++)
        p[i] = popen(cmd, "r"); /* all eight start before any is read */
    int same = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        size_t n = fread(buf, 1, sizeof buf - 1, p[i]);
        buf[n] = 0;
        CU_ASSERT_EQUAL(pclose(p[i]), 0);
        cJSON *last = parse_stream(buf, 0, text, sizeof text, &done, &role);
        int ok = done && last && tokens_equal(serve_get(last, "vkslm", "tokens"), serve_get(lone, "vkslm", "tokens")) &&
                 strcmp(text, lone_text) == 0;
        same += ok;
        cJSON_Delete(last);
    }
    printf("  %d of %d concurrent streams got the lone client's tokens\n", same, N);
    CU_ASSERT_EQUAL(same, N);
    cJSON_Delete(lone);
    remove(file);
}

/* A request that begins like an earlier one reuses its cache and says so, as OpenAI does, in
 * usage.prompt_tokens_details.cached_tokens; the answer is the same as a cold one's. */
static void test_cached_tokens(void) {
    const char *first = "{\"model\": \"stories\", \"prompt\": \"Tim and his sister went to the park to play\", "
                        "\"max_tokens\": 6, \"temperature\": 0}";
    char *json;
    static char again[1 << 16];
    CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/completions", first, buf, sizeof buf, &json), 200);
    cJSON *a = cJSON_Parse(json);
    CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/completions", first, again, sizeof again, &json), 200);
    cJSON *b = cJSON_Parse(json);
    CU_ASSERT_FATAL(a && b);
    cJSON *details = serve_get(serve_get(b, "usage", NULL), "prompt_tokens_details", "cached_tokens");
    int prompt = serve_get(b, "usage", "prompt_tokens")->valueint;
    CU_ASSERT_FATAL(cJSON_IsNumber(details));
    printf("  the same prompt again: %d of %d prompt tokens cached\n", details->valueint, prompt);
    CU_ASSERT_EQUAL(details->valueint, prompt - 1); /* all but the last, which gives the logits */
    const char *ta = cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "choices"), 0), "text", NULL));
    const char *tb = cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "choices"), 0), "text", NULL));
    CU_ASSERT_FATAL(ta && tb);
    CU_ASSERT_STRING_EQUAL(ta, tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* A second server: a budget that holds one model (stories260K with a session takes about 2 MiB, a load
 * of tiny-phi3 is estimated at 17.2 MiB), a short context, one session for documents. */
static void test_budget_context_overload(void) {
    const char *repl[] = {"\"memory_budget_mb\": 1024", "\"memory_budget_mb\": 18",
                          "\"context\": 512,\n      \"parallel\": 4", "\"context\": 64,\n      \"parallel\": 4",
                          "\"parallel\": 2,\n      \"sampling\": {\"temperature\": 0, \"max_tokens\": 256}\n    },\n    {\n"
                          "      \"name\": \"sentiment\"",
                          "\"parallel\": 1,\n      \"sampling\": {\"temperature\": 0, \"max_tokens\": 256}\n    },\n    {\n"
                          "      \"name\": \"sentiment\"",
                          "\"queue_timeout_ms\": 120000", "\"queue_timeout_ms\": 60000",
                          "\"max_queue\": 64", "\"max_queue\": 1"};
    char *cfg = serve_example_config(repl, sizeof repl / sizeof *repl);
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\"memory_budget_mb\": 18,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\"context\": 64"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\"parallel\": 1"));
    srv s;
    CU_ASSERT_FATAL(serve_start(&s, cfg, 2) > 0);
    free(cfg);
    const char *req = "{\"model\": \"stories\", \"prompt\": \"Once upon a time\", \"max_tokens\": 12}";
    char *json;
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", req, buf, sizeof buf, &json), 200);
    cJSON *first = cJSON_Parse(json);
    /* documents needs the room: stories is evicted */
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", "{\"model\": \"documents\", \"prompt\": \"hello\", \"max_tokens\": 4}",
                         buf, sizeof buf, &json),
                    200);
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", req, buf, sizeof buf, &json), 200);
    cJSON *again = cJSON_Parse(json);
    CU_ASSERT(tokens_equal(serve_get(first, "vkslm", "tokens"), serve_get(again, "vkslm", "tokens")));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(again, "vkslm", "tokens")), 12);
    cJSON_Delete(first);
    cJSON_Delete(again);
    CU_ASSERT_EQUAL(serve_curl(&s, "", "/metrics", buf, sizeof buf), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "vkslm_expert_evictions_total{expert=\"stories\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "vkslm_expert_loads_total{expert=\"stories\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "vkslm_expert_evictions_total{expert=\"documents\"} 1\n"));
    const char *mem = strstr(buf, "\nvkslm_device_memory_bytes ");
    CU_ASSERT(mem && atof(mem + 27) <= 18.0 * (1 << 20) && atof(mem + 27) > 0);
    /* the context fills: finish_reason "length", stop_reason "context" */
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"Once\", \"max_tokens\": 1000}",
                         buf, sizeof buf, &json),
                    200);
    cJSON *r = cJSON_Parse(json);
    CU_ASSERT_STRING_EQUAL(
        cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(serve_get(r, "choices", NULL), 0), "finish_reason", NULL)),
        "length");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "vkslm", "stop_reason")), "context");
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(r, "usage", "total_tokens")), 64);
    cJSON_Delete(r);
    /* one documents session and a queue of one: a long request runs, one waits, the third is refused
     * (documents is loaded first, so that no request is still waiting for the load when the next comes) */
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", "{\"model\": \"documents\", \"prompt\": \"hi\", \"max_tokens\": 1}", buf,
                         sizeof buf, &json),
                    200);
    char file[128], cmd[1024];
    snprintf(file, sizeof file, "/tmp/vkslm-test-long-%d.json", (int)getpid());
    FILE *f = fopen(file, "w");
    /* long enough (most of documents' 2048-token context) to still run when the third request comes, on any
     * machine this suite runs on: 300 tokens were once enough, until the mat-vec got faster */
    fputs("{\"model\": \"documents\", \"prompt\": \"hello\", \"max_tokens\": 1500}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, CURL " -s -o /dev/null -w '%%{http_code}' --max-time 120 --data-binary @%s "
             "http://127.0.0.1:%d/v1/completions", file, s.port);
    FILE *a = popen(cmd, "r");
    usleep(300000);
    FILE *b = popen(cmd, "r");
    usleep(300000);
    CU_ASSERT_EQUAL(serve_post(&s, "/v1/completions", "{\"model\": \"documents\", \"prompt\": \"hi\", \"max_tokens\": 2}", buf,
                         sizeof buf, &json),
                    503);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"code\":\"overloaded\""));
    char ca[16] = "", cb[16] = "";
    CU_ASSERT(fread(ca, 1, 15, a) > 0);
    CU_ASSERT(fread(cb, 1, 15, b) > 0);
    pclose(a);
    pclose(b);
    CU_ASSERT_STRING_EQUAL(ca, "200");
    CU_ASSERT_STRING_EQUAL(cb, "200");
    remove(file);
    CU_ASSERT_EQUAL(serve_health_validation(&s), 0);
    CU_ASSERT_EQUAL(serve_stop(&s), 0);
}

static void test_stop_main(void) {
    CU_ASSERT_EQUAL(serve_health_validation(&main_srv), 0);
    CU_ASSERT_EQUAL(serve_stop(&main_srv), 0);
}

static void test_bad_config(void) {
    srv s;
    snprintf(buf, sizeof buf, "%s serve --config /nonexistent.json 2>&1", VKSLM_CLI);
    static char out[4096];
    CU_ASSERT_NOT_EQUAL(test_run_command(buf, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "/nonexistent.json"));
    snprintf(s.config, sizeof s.config, "/tmp/vkslm-test-badcfg-%d.json", (int)getpid());
    static char pattern[512];
    snprintf(pattern, sizeof pattern,
             "{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\", \"pattern\": \"(\"}]}",
             test_data_dir());
    const char *bad[] = {"{\"experts\": []}", "{\"experts\": [{\"name\": \"a\"}]}", "{\"experts\": [{\"model\": 3}]}",
                         "not json", pattern,
                         "{\"experts\": [{\"name\": \"a\", \"model\": \"x.gguf\"}], \"max_conections\": 5}",
                         "{\"experts\": [{\"name\": \"a\", \"model\": \"x.gguf\", \"sampling\": {\"temprature\": 1}}]}",
                         "{\"experts\": [{\"name\": \"a\", \"model\": \"x.gguf\", \"template\": \"{{ 1 + }}\"}]}",
                         "{\"experts\": [{\"name\": \"a\", \"model\": \"x.gguf\"}], \"cors_origins\": \"*\"}"};
    const char *want[] = {"\"experts\" must be", "\"model\" (a GGUF path) is required", "\"name\" is required",
                          "not a JSON object", "pattern at offset", "unknown key \"max_conections\"",
                          "unknown key \"temprature\"", "\"template\"", "\"cors_origins\" must be an array"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(s.config, "w");
        fputs(bad[i], f);
        fclose(f);
        snprintf(buf, sizeof buf, "%s serve --config %s --port 0 2>&1", VKSLM_CLI, s.config);
        CU_ASSERT_NOT_EQUAL(test_run_command(buf, out, sizeof out), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, want[i]));
        if (!strstr(out, want[i]))
            fprintf(stderr, "config %zu: %s\n", i, out);
    }
    remove(s.config);
}

static void test_start_main(void) {
    const char *repl[] = {"\"rules\": true", "\"rules\": false", "\"max_body_bytes\": 1048576",
                          "\"max_body_bytes\": 65536"};
    char *cfg = serve_example_config(repl, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\"rules\": false"));
    CU_ASSERT_FATAL(serve_start(&main_srv, cfg, 1) > 0);
    free(cfg);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"a bad config is refused with a message", test_bad_config},
        {"server starts with the example config (rules off)", test_start_main},
        {"chat and completions, whole and streamed", test_chat_whole_and_streamed},
        {"auto routes the labelled fixture", test_routing_fixture},
        {"errors: statuses and error objects", test_errors},
        {"cached_tokens of a repeated prompt", test_cached_tokens},
        {"8 concurrent streams get the lone client's tokens", test_concurrent_streams},
        {"a client gone mid-stream frees its session", test_client_disconnect},
        {"models, health and metrics", test_models_health_metrics},
        {"server stops cleanly", test_stop_main},
        {"budget eviction and reload, full context, overload", test_budget_context_overload},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve", tests);
}
