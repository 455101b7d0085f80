/* vkslm serve's "response_format" on a random-weight model (its free output is noise): json_schema
 * answers validate against their schema, whole and streamed, on both endpoints; json_object answers parse
 * to an object when the model ends them (finish_reason "stop") and stop with "length" otherwise; "text"
 * leaves the output free; an unsupported schema keyword, an unknown type or key, a missing schema get 400
 * with param "response_format" and the reason. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_schema.h"
#include "tests/util_serve.h"

static char buf[1 << 20];
static srv s;

static void test_start(void) {
    char c[2048];
    snprintf(c, sizeof c,
             "{\"host\": \"127.0.0.1\",\n"
             " \"experts\": [\n"
             "  {\"name\": \"rand\", \"model\": \"%s/models/llama-2-tiny-random.gguf\", \"context\": 512, \"parallel\": 2,\n"
             "   \"template\": \"llama2\", \"sampling\": {\"max_tokens\": 64, \"temperature\": 1}}]}\n",
             test_data_dir());
    CU_ASSERT_FATAL(serve_start(&s, c, 1) > 0);
}

/* A chat request (or completions when prompt) with a response_format; the status, the answer in *out. */
static int ask(int chat, const char *format, int seed, int stream, int max_tokens, cJSON **out) {
    char body[8192];
    snprintf(body, sizeof body,
             "{\"model\": \"rand\", %s, \"seed\": %d, \"stream\": %s, \"max_tokens\": %d, \"response_format\": %s}",
             chat ? "\"messages\": [{\"role\": \"user\", \"content\": \"Answer in JSON.\"}]" : "\"prompt\": \"JSON:\"",
             seed, stream ? "true" : "false", max_tokens, format);
    char *json;
    int status = serve_post(&s, chat ? "/v1/chat/completions" : "/v1/completions", body, buf, sizeof buf, &json);
    if (!stream || status != 200) {
        *out = cJSON_Parse(json);
        return status;
    }
    /* streamed: the deltas joined into one whole-answer shape {"choices": [{"message": {"content": ...},
     * "finish_reason": ...}]} */
    static char text[1 << 16];
    size_t n = 0;
    const char *finish = NULL;
    char fin[32] = "";
    for (char *line = strstr(json, "data: "); line; line = strstr(line + 1, "\ndata: ")) {
        char *start = line[0] == '\n' ? line + 7 : line + 6;
        char *end = strchr(start, '\n');
        if (!end || strncmp(start, "[DONE]", 6) == 0)
            break;
        *end = 0;
        cJSON *ev = cJSON_Parse(start);
        *end = '\n';
        cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "choices"), 0);
        const char *piece = chat ? cJSON_GetStringValue(serve_get(serve_get(ch, "delta", NULL), "content", NULL))
                                 : cJSON_GetStringValue(serve_get(ch, "text", NULL));
        if (piece && n + strlen(piece) < sizeof text) {
            memcpy(text + n, piece, strlen(piece));
            n += strlen(piece);
        }
        if ((finish = cJSON_GetStringValue(serve_get(ch, "finish_reason", NULL))))
            snprintf(fin, sizeof fin, "%s", finish);
        cJSON_Delete(ev);
    }
    text[n] = 0;
    cJSON *o = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(o, "choices"), *c0 = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c0);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c0, "message"), "content", text);
    cJSON_AddStringToObject(c0, "finish_reason", fin);
    *out = o;
    return status;
}

static const char *content(cJSON *o, int chat) {
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    return chat ? cJSON_GetStringValue(serve_get(serve_get(c0, "message", NULL), "content", NULL))
                : cJSON_GetStringValue(serve_get(c0, "text", NULL));
}

static const char *finish_of(cJSON *o) {
    return cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0),
                                          "finish_reason", NULL));
}

static void test_json_schema(void) {
    int checked = 0;
    for (int k = 0; k < 4; k++) {
        const char *schema = test_bounded_schemas[(size_t)k * 3 % 12];
        char fmt[2048];
        snprintf(fmt, sizeof fmt, "{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"t%d\", \"strict\": true, "
                 "\"schema\": %s}}", k, schema);
        for (int seed = 1; seed <= 2; seed++)
            for (int variant = 0; variant < 3; variant++) { /* chat whole, chat streamed, completions */
                int chat = variant < 2, stream = variant == 1;
                cJSON *o = NULL;
                CU_ASSERT_EQUAL(ask(chat, fmt, seed, stream, 64, &o), 200);
                const char *text = stream ? content(o, 1) : content(o, chat);
                char why[256];
                int ok = text && test_schema_valid_text(schema, text, why, sizeof why);
                if (!ok)
                    printf("schema %d seed %d variant %d: %s (%s)\n", k, seed, variant, text ? text : "(none)", why);
                CU_ASSERT_EQUAL(ok, 1);
                CU_ASSERT_STRING_EQUAL(finish_of(o), "stop");
                checked += ok;
                cJSON_Delete(o);
            }
    }
    printf("%d answers valid\n", checked);
}

static void test_json_object(void) {
    int ended = 0;
    for (int seed = 1; seed <= 5; seed++) {
        cJSON *o = NULL;
        CU_ASSERT_EQUAL(ask(1, "{\"type\": \"json_object\"}", seed, 0, 24, &o), 200);
        const char *text = content(o, 1), *fin = finish_of(o);
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        CU_ASSERT_EQUAL(text[0], '{');
        if (fin && strcmp(fin, "stop") == 0) {
            cJSON *v = cJSON_ParseWithOpts(text, NULL, 1);
            CU_ASSERT_TRUE(cJSON_IsObject(v));
            cJSON_Delete(v);
            ended++;
        } else
            CU_ASSERT_STRING_EQUAL(fin, "length");
        cJSON_Delete(o);
    }
    printf("json_object: %d of 5 ended within 24 tokens\n", ended);
    /* "text": unconstrained; the same request without a format gives the same answer */
    cJSON *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL(ask(0, "{\"type\": \"text\"}", 7, 0, 8, &a), 200);
    CU_ASSERT_EQUAL(ask(0, "null", 7, 0, 8, &b), 200);
    CU_ASSERT_STRING_EQUAL(content(a, 0), content(b, 0));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_refusals(void) {
    static const struct {
        const char *format, *what;
    } cases[] = {
        {"{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"type\": \"string\", \"format\": "
         "\"email\"}}}", "'format'"},
        {"{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"type\": \"object\", "
         "\"properties\": {\"a\": {\"not\": {}}}}}}", "'not'"},
        {"{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\"}}", "schema"},
        {"{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {}, \"extra\": 1}}", "json_schema.extra"},
        {"{\"type\": \"yaml\"}", "yaml"},
        {"{\"type\": \"json_object\", \"schema\": {}}", "unknown key"},
        {"\"json\"", "must be an object"},
        {"{\"type\": \"json_schema\", \"json_schema\": {\"schema\": {\"type\": \"integer\", \"minimum\": 3, "
         "\"maximum\": 1}}}", "between"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = NULL;
        CU_ASSERT_EQUAL(ask(i % 2, cases[i].format, 1, 0, 8, &o), 400);
        cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(e, "param", NULL)), "response_format");
        const char *msg = cJSON_GetStringValue(serve_get(e, "message", NULL));
        if (!msg || !strstr(msg, cases[i].what)) {
            printf("case %zu: \"%s\", wanted \"%s\"\n", i, msg ? msg : "(none)", cases[i].what);
            CU_FAIL("message");
        }
        cJSON_Delete(o);
    }
}

static void test_stop(void) {
    CU_ASSERT_EQUAL(serve_health_validation(&s), 0);
    CU_ASSERT_EQUAL(serve_stop(&s), 0);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"server starts", test_start},
        {"json_schema answers validate (chat, streamed, completions)", test_json_schema},
        {"json_object answers are objects; text is free", test_json_object},
        {"bad or unsupported response_format: 400", test_refusals},
        {"server stops cleanly", test_stop},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve_format", tests);
}
