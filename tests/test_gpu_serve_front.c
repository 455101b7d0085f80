/* vkslm serve's front: every request key OpenAI knows is implemented, accepted as metadata or refused with
 * 400 naming it (never silently ignored); API keys (401 without a right one, /health public, keys from the
 * config, a key file, the environment and --api-key); CORS preflight; config errors that stop the start
 * with a message; `serve -m` with two models (explicit names, auto to the first, unknown 404);
 * /v1/models/{id} and its created time; /health per expert. Real HTTP on 127.0.0.1. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_serve.h"

static char buf[1 << 20];
static srv main_srv;
static char key_file[256];

#define KEY_CFG "cfg-key-12345678"
#define KEY_FILE "file-key-12345678"
#define KEY_ENV "env-key-12345678"
#define KEY_CLI "cli-key-12345678"

/* A raw request on s with optional extra header lines; the status, and *body at the answer's body. */
static int request(const srv *s, const char *method, const char *path, const char *headers, const char *body,
                   char **out_body) {
    static char req[1 << 19];
    size_t len = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, path,
                     headers ? headers : "");
    if (body)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", len);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", body ? body : "");
    int st = serve_raw(s, req, (size_t)n, buf, sizeof buf, 60000);
    char *b = strstr(buf, "\r\n\r\n");
    *out_body = b ? b + 4 : buf;
    return st;
}

#define AUTH "Authorization: Bearer " KEY_CFG "\r\n"

static int post(const char *path, const char *body, char **out) { return request(&main_srv, "POST", path, AUTH, body, out); }

/* The error object's field, or "" (cJSON of the body is freed at the next call). */
static const char *err_field(const char *body, const char *field) {
    static cJSON *last;
    cJSON_Delete(last);
    last = cJSON_Parse(body);
    const char *v = cJSON_GetStringValue(serve_get(serve_get(last, "error", NULL), field, NULL));
    return v ? v : "";
}

static void test_start(void) {
    snprintf(key_file, sizeof key_file, "/tmp/vkslm-test-keys-%d.txt", (int)getpid());
    FILE *f = fopen(key_file, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("# keys of the test\n\n   " KEY_FILE "  \n", f);
    fclose(f);
    static char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"host\": \"127.0.0.1\", \"api_keys\": [\"" KEY_CFG "\"], \"api_key_file\": \"%s\",\n"
             " \"cors_origins\": [\"https://ok.example\"],\n"
             " \"experts\": [{\"name\": \"stories\", \"model\": \"%s/models/stories260K.gguf\", \"context\": 256,\n"
             "   \"parallel\": 2, \"sampling\": {\"max_tokens\": 4}}]}\n",
             key_file, test_data_dir());
    setenv("VKSLM_API_KEY", KEY_ENV, 1);
    const char *extra[] = {"--api-key", KEY_CLI, NULL};
    CU_ASSERT_FATAL(serve_start_args(&main_srv, cfg, 1, extra) > 0);
    unsetenv("VKSLM_API_KEY");
}

static void test_auth(void) {
    char *b;
    struct {
        const char *headers;
        int status;
    } cases[] = {
        {"", 401},
        {"Authorization: Bearer wrong-key-12345678\r\n", 401},
        {"Authorization: Bearer " KEY_CFG "x\r\n", 401},
        {"Authorization: Bearer cfg-key-1234567\r\n", 401},
        {"Authorization: Basic " KEY_CFG "\r\n", 401},
        {"Authorization: Bearer " KEY_CFG "\r\n", 200},
        {"Authorization: Bearer " KEY_FILE "\r\n", 200},
        {"Authorization: Bearer " KEY_ENV "\r\n", 200},
        {"Authorization: bearer " KEY_CLI "\r\n", 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = request(&main_srv, "GET", "/v1/models", cases[i].headers, NULL, &b);
        CU_ASSERT_EQUAL(st, cases[i].status);
        if (st == 401) {
            CU_ASSERT_STRING_EQUAL(err_field(b, "code"), "invalid_api_key");
            CU_ASSERT_STRING_EQUAL(err_field(b, "type"), "invalid_request_error");
            CU_ASSERT_PTR_NOT_NULL(strstr(buf, "WWW-Authenticate: Bearer"));
        }
        if (st != cases[i].status)
            fprintf(stderr, "auth case %zu: %d %s\n", i, st, buf);
    }
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/health", "", NULL, &b), 200); /* public by default */
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/metrics", "", NULL, &b), 401);
    CU_ASSERT_EQUAL(request(&main_srv, "POST", "/v1/completions", "", "{\"prompt\": \"Once\"}", &b), 401);
    CU_ASSERT_EQUAL(post("/v1/completions", "{\"prompt\": \"Once\"}", &b), 200);
}

static void test_cors(void) {
    char *b;
    /* a preflight carries no key; an allowed origin gets the methods and headers */
    int st = request(&main_srv, "OPTIONS", "/v1/chat/completions",
                     "Origin: https://ok.example\r\nAccess-Control-Request-Method: POST\r\n"
                     "Access-Control-Request-Headers: authorization, content-type\r\n", NULL, &b);
    CU_ASSERT_EQUAL(st, 204);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Allow-Origin: https://ok.example"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Allow-Methods: GET, POST, OPTIONS"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Allow-Headers: Content-Type, Authorization"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Max-Age:"));
    st = request(&main_srv, "OPTIONS", "/v1/chat/completions", "Origin: https://evil.example\r\n", NULL, &b);
    CU_ASSERT_EQUAL(st, 403);
    CU_ASSERT_PTR_NULL(strstr(buf, "Access-Control-Allow-Origin"));
    /* the call itself: the page may read its answer, a refusal included */
    st = request(&main_srv, "GET", "/v1/models", "Origin: https://ok.example\r\n" AUTH, NULL, &b);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Allow-Origin: https://ok.example"));
    st = request(&main_srv, "GET", "/v1/models", "Origin: https://ok.example\r\n", NULL, &b);
    CU_ASSERT_EQUAL(st, 401);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Access-Control-Allow-Origin: https://ok.example"));
}

static const char chat_head[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";
static const char comp_head[] = "{\"prompt\": \"Once upon a time\"";

/* One request with `extra` (", key: value") added to a minimal chat or completions body. */
static int with_key(int chat, const char *extra, char **b) {
    static char body[1 << 16];
    snprintf(body, sizeof body, "%s%s}", chat ? chat_head : comp_head, extra);
    return post(chat ? "/v1/chat/completions" : "/v1/completions", body, b);
}

/* Every refused key gets 400 unsupported_parameter naming it, on both endpoints. */
static void test_refused_keys(void) {
    struct {
        const char *key, *value;
        int only; /* 0: refused by both endpoints; 1: by chat only; 2: by completions only */
    } keys[] = {
        {"top_logprobs", "2", 2},
        {"echo", "true", 1},
        {"best_of", "2", 1},
        {"suffix", "\"end\"", 1},
        {"tools", "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]", 2}, /* chat: test_gpu_serve_tools */
        {"tool_choice", "\"auto\"", 2},
        {"parallel_tool_calls", "false", 2},
        {"functions", "[{\"name\": \"f\"}]", 0},
        {"function_call", "\"auto\"", 0},
        {"audio", "{\"voice\": \"alloy\", \"format\": \"wav\"}", 0},
        {"prediction", "{\"type\": \"content\", \"content\": \"x\"}", 0},
        {"reasoning_effort", "\"low\"", 0},
    };
    for (int chat = 0; chat < 2; chat++)
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            if (keys[i].only && keys[i].only != 2 - chat)
                continue;
            char extra[512], *b;
            snprintf(extra, sizeof extra, ", \"%s\": %s", keys[i].key, keys[i].value);
            int st = with_key(chat, extra, &b);
            int ok = st == 400 && strcmp(err_field(b, "param"), keys[i].key) == 0 &&
                     strcmp(err_field(b, "code"), "unsupported_parameter") == 0 &&
                     strstr(err_field(b, "message"), "not supported");
            CU_ASSERT(ok);
            if (!ok)
                fprintf(stderr, "%s %s: %d %s\n", chat ? "chat" : "completions", keys[i].key, st, b);
        }
    /* a key of the other endpoint, modalities other than text (completions have none), too many messages */
    char *b;
    CU_ASSERT_EQUAL(with_key(1, ", \"prompt\": \"x\"", &b), 400);
    CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "prompt");
    CU_ASSERT_EQUAL(with_key(0, ", \"messages\": []", &b), 400);
    CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "messages");
    CU_ASSERT_EQUAL(with_key(1, ", \"modalities\": [\"text\", \"audio\"]", &b), 400);
    CU_ASSERT_STRING_EQUAL(err_field(b, "code"), "unsupported_value");
    CU_ASSERT_EQUAL(with_key(0, ", \"modalities\": [\"text\"]", &b), 400);
    CU_ASSERT_EQUAL(with_key(1, ", \"service_tier\": \"flex\"", &b), 400);
    CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "service_tier");
    CU_ASSERT_EQUAL(with_key(1, ", \"n\": 17", &b), 400);
    CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "n");
    static char many[1 << 18];
    size_t m = (size_t)snprintf(many, sizeof many, "{\"messages\": [");
    for (int i = 0; i < 4097; i++)
        m += (size_t)snprintf(many + m, sizeof many - m, "%s{\"role\": \"user\", \"content\": \"\"}", i ? "," : "");
    snprintf(many + m, sizeof many - m, "]}");
    CU_ASSERT_EQUAL(post("/v1/chat/completions", many, &b), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(err_field(b, "message"), "at most 4096"));
    if (!strstr(err_field(b, "message"), "at most 4096"))
        fprintf(stderr, "4097 messages: %.300s\n", b);
}

/* A key in no entry of the table: 400 unknown_parameter naming it; in a message too. */
static void test_unknown_keys(void) {
    char *b;
    for (int chat = 0; chat < 2; chat++) {
        CU_ASSERT_EQUAL(with_key(chat, ", \"temprature\": 0.5", &b), 400);
        CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "temprature");
        CU_ASSERT_STRING_EQUAL(err_field(b, "code"), "unknown_parameter");
        CU_ASSERT_EQUAL(with_key(chat, ", \"x\": null", &b), 400); /* null or not, a key we do not know */
        CU_ASSERT_STRING_EQUAL(err_field(b, "param"), "x");
    }
    const char *msgs[][2] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\", \"colour\": \"red\"}]}", "messages[0].colour"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\", \"function_call\": {}}]}", "messages[0].function_call"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}",
         "messages"},
    };
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        int st = post("/v1/chat/completions", msgs[i][0], &b);
        CU_ASSERT_EQUAL(st, 400);
        CU_ASSERT_STRING_EQUAL(err_field(b, "param"), msgs[i][1]);
    }
}

/* Metadata keys, and refused keys given the value that asks for nothing, are answered. */
static void test_accepted_keys(void) {
    const char *extras[] = {
        ", \"user\": \"u-1\", \"metadata\": {\"team\": \"a\"}, \"store\": false, \"service_tier\": \"auto\"",
        ", \"service_tier\": \"default\", \"store\": true",
        ", \"logprobs\": false, \"logit_bias\": {}, \"echo\": false, \"best_of\": 1, \"n\": 1, \"top_logprobs\": 0",
        ", \"response_format\": {\"type\": \"text\"}, \"tools\": [], \"tool_choice\": \"none\"",
        ", \"tools\": null, \"stream_options\": null, \"audio\": null, \"max_completion_tokens\": 2, \"top_k\": 3, "
        "\"min_p\": 0.1, \"repetition_penalty\": 1.1",
    };
    for (int chat = 0; chat < 2; chat++)
        for (size_t i = 0; i < sizeof extras / sizeof *extras; i++) {
            char *b;
            int st = with_key(chat, extras[i], &b);
            CU_ASSERT_EQUAL(st, 200);
            if (st != 200)
                fprintf(stderr, "%s accepted %zu: %d %s\n", chat ? "chat" : "completions", i, st, b);
        }
    char *b;
    CU_ASSERT_EQUAL(with_key(1, ", \"modalities\": [\"text\"]", &b), 200);
    CU_ASSERT_EQUAL(post("/v1/chat/completions",
                         "{\"messages\": [{\"role\": \"user\", \"name\": \"ann\", \"content\": [{\"type\": \"text\", "
                         "\"text\": \"hi\"}]}], \"max_tokens\": 2}", &b), 200);
    /* max_completion_tokens wins over max_tokens */
    CU_ASSERT_EQUAL(with_key(0, ", \"max_tokens\": 4, \"max_completion_tokens\": 2", &b), 200);
    cJSON *r = cJSON_Parse(b);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(serve_get(r, "usage", NULL), "completion_tokens", NULL)), 2);
    cJSON_Delete(r);
}

static void test_models_and_health(void) {
    char *b;
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/v1/models/stories", AUTH, NULL, &b), 200);
    cJSON *m = cJSON_Parse(b);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(m, "id", NULL)), "stories");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(m, "object", NULL)), "model");
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_data_dir());
    struct stat st;
    CU_ASSERT_FATAL(stat(path, &st) == 0);
    CU_ASSERT_EQUAL((long)cJSON_GetNumberValue(serve_get(m, "created", NULL)), (long)st.st_mtime);
    cJSON_Delete(m);
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/v1/models/auto", AUTH, NULL, &b), 200);
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/v1/models/nobody", AUTH, NULL, &b), 404);
    CU_ASSERT_STRING_EQUAL(err_field(b, "code"), "model_not_found");
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/v1/models/", AUTH, NULL, &b), 404);
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/v1/models/stories", "", NULL, &b), 401);
    CU_ASSERT_EQUAL(request(&main_srv, "GET", "/health", "", NULL, &b), 200);
    cJSON *h = cJSON_Parse(b);
    cJSON *e = cJSON_GetArrayItem(serve_get(h, "experts", NULL), 0);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(h, "experts", NULL)), 1);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(e, "name", NULL)), "stories");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(e, "state", NULL)), "loaded"); /* earlier tests loaded it */
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(e, "parallel", NULL)), 2);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(e, "active", NULL)), 0);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(h, "validation_messages", NULL)), 0);
    cJSON_Delete(h);
}

static void test_stop_main(void) {
    CU_ASSERT_EQUAL(serve_stop(&main_srv), 0);
    remove(key_file);
}

/* `serve` with these arguments must exit non-zero with `want` in its output. */
static void refused(const char *args, const char *want) {
    static char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "%s serve --port 0 %s 2>&1", VKSLM_CLI, args);
    int rc = test_run_command(cmd, out, sizeof out);
    int ok = rc != 0 && strstr(out, want);
    CU_ASSERT(ok);
    if (!ok)
        fprintf(stderr, "%s: rc %d, %s\n", args, rc, out);
}

static void test_config_errors(void) {
    char cfg[256], args[512], text[1024];
    snprintf(cfg, sizeof cfg, "/tmp/vkslm-test-front-cfg-%d.json", (int)getpid());
    snprintf(args, sizeof args, "--config %s", cfg);
    const char *d = test_data_dir();
    struct {
        const char *fmt, *want;
    } cases[] = {
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/nothing-here.gguf\"}]}",
         "expert a: cannot read the model"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/README.md\"}]}", "expert a: cannot read the model"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/vocab/ggml-vocab-falcon.gguf\"}]}",
         "expert a: the model"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/vocab/ggml-vocab-llama-spm.gguf\"}]}", "no weights"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}], \"max_conections\": 5}",
         "unknown key \"max_conections\" (did you mean \"max_connections\"?)"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\", \"paralel\": 2}]}",
         "expert a: unknown key \"paralel\" (did you mean \"parallel\"?)"},
        {"{\"router\": {\"fallbak\": \"a\"}, \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "router: unknown key \"fallbak\" (did you mean \"fallback\"?)"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\", \"context\": \"big\"}]}",
         "expert a: \"context\" must be a whole number"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\", \"parallel\": 1.5}]}",
         "expert a: \"parallel\" must be a whole number"},
        {"{\"port\": \"80\", \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "\"port\" must be a whole number"},
        {"{\"api_keys\": \"k\", \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "\"api_keys\" must be an array of strings"},
        {"{\"api_keys\": [\"short\"], \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "8 to 512 printable"},
        {"{\"public_paths\": [\"health\"], \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "\"health\" is not a path"},
        {"{\"api_key_file\": \"no-such-keys.txt\", \"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}]}",
         "\"api_key_file\": cannot read"},
        {"{\"experts\": [{\"name\": \"a\", \"model\": \"%s/models/stories260K.gguf\"}, {\"name\": \"a\", \"model\": "
         "\"x.gguf\"}]}", "expert a: two experts have this name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, cases[i].fmt, d);
        FILE *f = fopen(cfg, "w");
        fputs(text, f);
        fclose(f);
        refused(args, cases[i].want);
    }
    remove(cfg);
    refused("--config x.json -m y.gguf", "do not go together");
    char m[1024];
    snprintf(m, sizeof m, "-m %s/models/stories260K.gguf -m %s/models/stories260K.gguf", d, d);
    refused(m, "would both be the expert \"stories260K\"");
    snprintf(m, sizeof m, "-m %s/vocab/ggml-vocab-falcon.gguf", d);
    refused(m, "\"falcon\", which vkslm does not run");
    snprintf(m, sizeof m, "-m %s/models/stories260K.gguf --api-key 'has space'", d);
    refused(m, "--api-key: an API key must be");
}

static void test_serve_models(void) {
    srv s;
    char a[512], b2[512];
    snprintf(a, sizeof a, "%s/models/stories260K.gguf", test_data_dir());
    snprintf(b2, sizeof b2, "%s/models/tiny-qwen2-random.gguf", test_data_dir());
    const char *extra[] = {"-m", a, "-m", b2, "--ctx", "256", "--parallel", "1", NULL};
    CU_ASSERT_FATAL(serve_start_args(&s, NULL, 2, extra) > 0);
    char *b;
    struct {
        const char *body, *expert;
        int status;
    } cases[] = {
        {"{\"model\": \"tiny-qwen2-random\", \"prompt\": \"Once\", \"max_tokens\": 2}", "tiny-qwen2-random", 200},
        {"{\"model\": \"stories260K\", \"prompt\": \"Once\", \"max_tokens\": 2}", "stories260K", 200},
        {"{\"model\": \"auto\", \"prompt\": \"a tiny qwen2 random\", \"max_tokens\": 2}", "stories260K", 200},
        {"{\"prompt\": \"tiny-qwen2-random\", \"max_tokens\": 2}", "stories260K", 200},
        {"{\"model\": \"stories\", \"prompt\": \"Once\", \"max_tokens\": 2}", NULL, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = request(&s, "POST", "/v1/completions", "", cases[i].body, &b);
        CU_ASSERT_EQUAL(st, cases[i].status);
        cJSON *r = cJSON_Parse(b);
        if (cases[i].expert) {
            CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "model", NULL)), cases[i].expert);
        } else {
            CU_ASSERT_STRING_EQUAL(err_field(b, "code"), "model_not_found");
        }
        cJSON_Delete(r);
    }
    CU_ASSERT_EQUAL(request(&s, "GET", "/v1/models", "", NULL, &b), 200); /* no keys: everything is open */
    cJSON *r = cJSON_Parse(b);
    cJSON *data = serve_get(r, "data", NULL);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(data), 3);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(data, 0), "id", NULL)), "stories260K");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(data, 1), "id", NULL)), "tiny-qwen2-random");
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(request(&s, "GET", "/v1/models/tiny-qwen2-random", "", NULL, &b), 200);
    CU_ASSERT_EQUAL(request(&s, "GET", "/health", "", NULL, &b), 200);
    r = cJSON_Parse(b);
    cJSON *e = serve_get(r, "experts", NULL);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(e), 2);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(cJSON_GetArrayItem(e, 1), "parallel", NULL)), 1);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(cJSON_GetArrayItem(e, 1), "context", NULL)), 256);
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(serve_stop(&s), 0);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"config errors stop the start with the message", test_config_errors},
        {"server starts with API keys from four places", test_start},
        {"401 without a right key; /health public", test_auth},
        {"CORS preflight for allowed origins only", test_cors},
        {"refused keys: 400 naming them", test_refused_keys},
        {"unknown keys: 400 naming them", test_unknown_keys},
        {"metadata keys and values that ask for nothing", test_accepted_keys},
        {"/v1/models/{id} and /health per expert", test_models_and_health},
        {"server stops cleanly", test_stop_main},
        {"serve -m: two models, explicit names, auto to the first", test_serve_models},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve_front", tests);
}
