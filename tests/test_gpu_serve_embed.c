/* POST /v1/embeddings over real HTTP: float and base64 encodings give the same vectors, which have unit norm;
 * identical inputs give identical vectors and a batch equals single calls (strings and token ids); usage counts
 * the tokens the vocabulary gives; bad requests get 400 (404 for an unknown expert) with the key named, and the
 * server stays up and clean. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_serve.h"
#include "vkslm.h"

#define N_EMBD 64 /* stories260K's */

static char buf[1 << 20];
static srv main_srv;

static void test_start(void) {
    char c[2048];
    snprintf(c, sizeof c,
             "{\"host\": \"127.0.0.1\",\n"
             " \"experts\": [\n"
             "  {\"name\": \"stories\", \"model\": \"%s/models/stories260K.gguf\", \"context\": 32, \"parallel\": 2},\n"
             "  {\"name\": \"qwen\", \"model\": \"%s/models/tiny-qwen2-random.gguf\", \"context\": 64}]}\n",
             test_data_dir(), test_data_dir());
    CU_ASSERT_FATAL(serve_start(&main_srv, c, 1) > 0);
}

/* POSTs body to /v1/embeddings; the status, and the parsed answer in *out (caller frees). */
static int post(const char *body, cJSON **out) {
    char *json;
    int status = serve_post(&main_srv, "/v1/embeddings", body, buf, sizeof buf, &json);
    *out = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL(*out);
    return status;
}

static int b64_value(char c) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* Decodes base64 little-endian float32s into v (cap floats); the count, or -1 when malformed. */
static int from_base64(const char *s, float *v, int cap) {
    size_t len = strlen(s), nb = 0;
    if (len % 4)
        return -1;
    unsigned char *raw = malloc(len);
    for (size_t i = 0; i < len; i += 4) {
        int q[4];
        for (int k = 0; k < 4; k++)
            q[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
        if (q[0] < 0 || q[1] < 0 || q[2] < 0 || q[3] < 0) {
            free(raw);
            return -1;
        }
        unsigned w = (unsigned)q[0] << 18 | (unsigned)q[1] << 12 | (unsigned)q[2] << 6 | (unsigned)q[3];
        raw[nb++] = (unsigned char)(w >> 16);
        if (s[i + 2] != '=')
            raw[nb++] = (unsigned char)(w >> 8);
        if (s[i + 3] != '=')
            raw[nb++] = (unsigned char)w;
    }
    int n = (int)(nb / 4);
    for (int i = 0; i < n && i < cap; i++) {
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 | (uint32_t)raw[4 * i + 2] << 16 |
                     (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&v[i], &u, 4);
    }
    free(raw);
    return nb % 4 ? -1 : n;
}

/* Vector i of an answer (float or base64) into v; its length. */
static int vector_of(cJSON *r, int i, float *v) {
    cJSON *d = cJSON_GetArrayItem(serve_get(r, "data", NULL), i);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(d, "object", NULL)), "embedding");
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(d, "index", NULL)), i);
    cJSON *e = serve_get(d, "embedding", NULL);
    if (cJSON_IsString(e))
        return from_base64(e->valuestring, v, N_EMBD);
    int n = cJSON_GetArraySize(e);
    for (int k = 0; k < n && k < N_EMBD; k++)
        v[k] = (float)cJSON_GetArrayItem(e, k)->valuedouble;
    return n;
}

static double norm_of(const float *v) {
    double s = 0;
    for (int i = 0; i < N_EMBD; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static int prompt_tokens(cJSON *r) { return (int)cJSON_GetNumberValue(serve_get(r, "usage", "prompt_tokens")); }

/* The token count of text with the vocabulary's start token, as the server tokenizes it. */
static size_t count_tokens(const char *text) {
    char path[1024];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    CU_ASSERT_FATAL(vkslm_model_load(test_data_path(path, sizeof path, "models/stories260K.gguf"), &mp, &m) ==
                    VKSLM_OK);
    int32_t ids[256];
    size_t n = 0;
    CU_ASSERT(vkslm_model_tokenize_special(m, text, strlen(text), true, false, ids, 256, &n) == VKSLM_OK);
    vkslm_model_free(m);
    return n;
}

static void test_float_and_base64(void) {
    cJSON *f, *b;
    CU_ASSERT_EQUAL_FATAL(post("{\"input\": \"Once upon a time\", \"user\": \"u1\"}", &f), 200);
    CU_ASSERT_EQUAL_FATAL(post("{\"model\": \"stories\", \"input\": \"Once upon a time\", \"encoding_format\": "
                               "\"base64\", \"dimensions\": 64}",
                               &b),
                          200);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(f, "object", NULL)), "list");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(f, "model", NULL)), "stories"); /* absent: the first */
    float vf[N_EMBD], vb[N_EMBD];
    CU_ASSERT_EQUAL(vector_of(f, 0, vf), N_EMBD);
    CU_ASSERT_EQUAL(vector_of(b, 0, vb), N_EMBD);
    CU_ASSERT(memcmp(vf, vb, sizeof vf) == 0);
    CU_ASSERT(fabs(norm_of(vf) - 1) < 1e-5);
    size_t n = count_tokens("Once upon a time");
    CU_ASSERT(n >= 2);
    CU_ASSERT_EQUAL(prompt_tokens(f), (int)n);
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(f, "usage", "total_tokens")), (int)n);
    cJSON_Delete(f);
    cJSON_Delete(b);
}

static void test_batch_equals_singles(void) {
    static const char *const texts[] = {"The cat sat.", "A dog ran to the park.", "The cat sat."};
    cJSON *batch;
    CU_ASSERT_EQUAL_FATAL(post("{\"model\": \"auto\", \"input\": [\"The cat sat.\", \"A dog ran to the park.\", "
                               "\"The cat sat.\"]}",
                               &batch),
                          200);
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(serve_get(batch, "data", NULL)), 3);
    float vb[3][N_EMBD], vs[N_EMBD];
    int total = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(vector_of(batch, i, vb[i]), N_EMBD);
        CU_ASSERT(fabs(norm_of(vb[i]) - 1) < 1e-5);
        char body[256];
        snprintf(body, sizeof body, "{\"input\": \"%s\"}", texts[i]);
        cJSON *one;
        CU_ASSERT_EQUAL_FATAL(post(body, &one), 200);
        CU_ASSERT_EQUAL(vector_of(one, 0, vs), N_EMBD);
        CU_ASSERT(memcmp(vs, vb[i], sizeof vs) == 0);
        total += prompt_tokens(one);
        cJSON_Delete(one);
    }
    CU_ASSERT(memcmp(vb[0], vb[2], sizeof vb[0]) == 0); /* identical inputs */
    CU_ASSERT(memcmp(vb[0], vb[1], sizeof vb[0]) != 0);
    CU_ASSERT_EQUAL(prompt_tokens(batch), total);
    cJSON_Delete(batch);
    /* token ids: one array, and an array of arrays, equal the text's tokens */
    char path[1024];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    CU_ASSERT_FATAL(vkslm_model_load(test_data_path(path, sizeof path, "models/stories260K.gguf"), &mp, &m) ==
                    VKSLM_OK);
    int32_t ids[64];
    size_t n = 0;
    CU_ASSERT_FATAL(vkslm_model_tokenize_special(m, texts[1], strlen(texts[1]), true, false, ids, 64, &n) == VKSLM_OK);
    vkslm_model_free(m);
    char list[512] = "", body[1024];
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? ", " : "", ids[i]);
    cJSON *t1, *t2;
    snprintf(body, sizeof body, "{\"input\": [%s]}", list);
    CU_ASSERT_EQUAL_FATAL(post(body, &t1), 200);
    snprintf(body, sizeof body, "{\"input\": [[%s], [1, 5, 6]], \"encoding_format\": \"float\"}", list);
    CU_ASSERT_EQUAL_FATAL(post(body, &t2), 200);
    CU_ASSERT_EQUAL(vector_of(t1, 0, vs), N_EMBD);
    CU_ASSERT(memcmp(vs, vb[1], sizeof vs) == 0);
    CU_ASSERT_EQUAL(vector_of(t2, 0, vs), N_EMBD);
    CU_ASSERT(memcmp(vs, vb[1], sizeof vs) == 0);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(t2, "data", NULL)), 2);
    CU_ASSERT_EQUAL(prompt_tokens(t1), (int)n);
    CU_ASSERT_EQUAL(prompt_tokens(t2), (int)n + 3);
    cJSON_Delete(t1);
    cJSON_Delete(t2);
}

static void test_other_expert(void) {
    cJSON *r;
    CU_ASSERT_EQUAL_FATAL(post("{\"model\": \"qwen\", \"input\": [\"hello\", \"world\"]}", &r), 200);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(r, "model", NULL)), "qwen");
    cJSON *e = serve_get(cJSON_GetArrayItem(serve_get(r, "data", NULL), 1), "embedding", NULL);
    double s = 0;
    for (int k = 0; k < cJSON_GetArraySize(e); k++)
        s += cJSON_GetArrayItem(e, k)->valuedouble * cJSON_GetArrayItem(e, k)->valuedouble;
    CU_ASSERT(cJSON_GetArraySize(e) > 0);
    CU_ASSERT(fabs(sqrt(s) - 1) < 1e-5);
    cJSON_Delete(r);
}

static void test_bad_requests(void) {
    char many[8192] = "{\"input\": [";
    for (int i = 0; i < 257; i++)
        strcat(many, i ? ", \"a\"" : "\"a\"");
    strcat(many, "]}");
    char long_text[1024] = "{\"input\": \"";
    for (int i = 0; i < 60; i++)
        strcat(long_text, "cat ");
    strcat(long_text, "\"}");
    struct {
        const char *body;
        int status;
        const char *param;
    } cases[] = {
        {"{}", 400, "input"},
        {"{\"input\": 5}", 400, "input"},
        {"{\"input\": []}", 400, "input"},
        {"{\"input\": [[]]}", 400, "input"},
        {"{\"input\": [\"a\", 1]}", 400, "input"},
        {"{\"input\": [1, -2]}", 400, "input"},
        {"{\"input\": [[1, 2], \"a\"]}", 400, "input"},
        {"{\"input\": [1, 99999]}", 400, "input"},
        {"{\"input\": \"a\", \"encoding_format\": \"int8\"}", 400, "encoding_format"},
        {"{\"input\": \"a\", \"dimensions\": 32}", 400, "dimensions"},
        {"{\"input\": \"a\", \"dimensions\": 0}", 400, "dimensions"},
        {"{\"input\": \"a\", \"model\": 3}", 400, "model"},
        {"{\"input\": \"a\", \"user\": 3}", 400, "user"},
        {"{\"input\": \"a\", \"temperature\": 0}", 400, "temperature"},
        {"{\"input\": \"a\", \"model\": \"nope\"}", 404, "model"},
        {many, 400, "input"},
        {long_text, 400, "input"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *r;
        int status = post(cases[i].body, &r);
        const char *param = cJSON_GetStringValue(serve_get(serve_get(r, "error", NULL), "param", NULL));
        int ok = status == cases[i].status && param && strcmp(param, cases[i].param) == 0 &&
                 cJSON_IsString(serve_get(serve_get(r, "error", NULL), "message", NULL));
        if (!ok)
            fprintf(stderr, "case %zu: status %d param %s (expected %d %s)\n", i, status, param ? param : "(none)",
                    cases[i].status, cases[i].param);
        CU_ASSERT(ok);
        cJSON_Delete(r);
    }
    cJSON *unknown;
    CU_ASSERT_EQUAL(post("{\"input\": \"a\", \"temperature\": 0}", &unknown), 400);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(serve_get(unknown, "error", NULL), "code", NULL)),
                           "unknown_parameter");
    cJSON_Delete(unknown);
    CU_ASSERT_EQUAL(serve_curl(&main_srv, "-i", "/v1/embeddings", buf, sizeof buf), 0); /* GET */
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    CU_ASSERT_EQUAL(status, 405);
    /* still serving, and clean */
    cJSON *r;
    CU_ASSERT_EQUAL(post("{\"input\": \"still here\"}", &r), 200);
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(serve_health_validation(&main_srv), 0);
    CU_ASSERT(serve_metric(&main_srv, "vkslm_requests_total{endpoint=\"/v1/embeddings\",status=\"200\"}") >= 1);
}

static void test_stop(void) { CU_ASSERT_EQUAL(serve_stop(&main_srv), 0); }

/* With an API key (and `serve -m`, no config): the endpoint needs the key, as the others do. */
static void test_api_key(void) {
    srv s;
    char model[1024];
    const char *extra[] = {"-m", test_data_path(model, sizeof model, "models/stories260K.gguf"), "--api-key",
                           "embed-test-key-0123456789", NULL};
    CU_ASSERT_FATAL(serve_start_args(&s, NULL, 2, extra) > 0);
    static const char body[] = "-H 'Content-Type: application/json' --data-binary '{\"input\": \"a cat\"}'";
    char args[512];
    int status = 0;
    snprintf(args, sizeof args, "-i %s", body);
    CU_ASSERT_EQUAL(serve_curl(&s, args, "/v1/embeddings", buf, sizeof buf), 0);
    sscanf(buf, "HTTP/1.1 %d", &status);
    CU_ASSERT_EQUAL(status, 401);
    snprintf(args, sizeof args, "-i -H 'Authorization: Bearer embed-test-key-0123456789' %s", body);
    CU_ASSERT_EQUAL(serve_curl(&s, args, "/v1/embeddings", buf, sizeof buf), 0);
    sscanf(buf, "HTTP/1.1 %d", &status);
    CU_ASSERT_EQUAL(status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"model\":\"stories260K\""));
    CU_ASSERT_EQUAL(serve_stop(&s), 0);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"server starts", test_start},
        {"float and base64 agree, unit norm, usage", test_float_and_base64},
        {"a batch equals single calls; token-id inputs", test_batch_equals_singles},
        {"another expert by name", test_other_expert},
        {"bad requests: 400 naming the key, 404, 405", test_bad_requests},
        {"server stops cleanly", test_stop},
        {"an API key is needed when set (serve -m)", test_api_key},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve_embed", tests);
}
