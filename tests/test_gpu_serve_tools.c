/* vkslm serve's tool calling over real HTTP, with random-weight models and the three call syntaxes: the
 * qwen2 model with its own chat template (Qwen 3's, Hermes <tool_call>), the llama3 model with the published
 * Llama 3.2 template and the mistral-style model with Mistral Nemo's: the tools reach the prompt (the server's prompt has the tokens of the template rendered with
 * them, counted in-process), tool calls and tool results in the conversation are accepted and rendered,
 * tool_choice required and a named function give tool_calls whose arguments parse and validate against the
 * function's parameters in whole and streamed answers (grammar-constrained: the random model's own output is
 * noise), and what cannot work is refused with 400: tools for a template that does not read them (stories,
 * chatml), the deprecated functions / function_call, tools on /v1/completions, bad tool_choice, too many
 * tools. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_serve.h"
#include "vkslm.h"

static char buf[1 << 20];
static srv main_srv;

#define TOOLS                                                                                                          \
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather in a city\","           \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\",\"maxLength\":12},"      \
    "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7},\"unit\":{\"enum\":[\"c\",\"f\"]}},"                \
    "\"required\":[\"location\",\"days\"],\"additionalProperties\":false}}},"                                       \
    "{\"type\":\"function\",\"function\":{\"name\":\"search\",\"parameters\":{\"type\":\"object\",\"properties\":"     \
    "{\"query\":{\"type\":\"string\",\"maxLength\":16},\"safe\":{\"type\":\"boolean\"}},\"required\":[\"query\"],"    \
    "\"additionalProperties\":false}}}]"

/* The experts: the qwen2 model with its own template, and random models given the published Llama 3.2 and
 * Mistral Nemo templates (the config's "template" text), one for each call syntax. */
static const struct {
    const char *name, *model, *tmpl; /* tmpl: a template of ../shared/testdata/chat, NULL: the model's own */
} experts[] = {
    {"qwen", "tiny-qwen2-random", NULL},
    {"llama", "tiny-llama3-random", "meta-llama-Llama-3.2-3B-Instruct"},
    {"mistral", "tiny-mistral-style-random", "mistralai-Mistral-Nemo-Instruct-2407"},
};
#define N_EXPERTS (sizeof experts / sizeof experts[0])
static char *templates[N_EXPERTS];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char tmp[1 << 16];
    size_t n = fread(tmp, 1, sizeof tmp - 1, f);
    fclose(f);
    tmp[n] = 0;
    return strdup(tmp);
}

static void test_start(void) {
    cJSON *cfg = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(cfg, "experts");
    cJSON_AddStringToObject(cfg, "host", "127.0.0.1");
    char path[512], rel[256];
    for (size_t i = 0; i < N_EXPERTS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", experts[i].name);
        snprintf(rel, sizeof rel, "models/%s.gguf", experts[i].model);
        cJSON_AddStringToObject(e, "model", test_data_path(path, sizeof path, rel));
        cJSON_AddNumberToObject(e, "context", 1024);
        if (experts[i].tmpl) {
            snprintf(rel, sizeof rel, "chat/%s.jinja", experts[i].tmpl);
            templates[i] = slurp(test_data_path(path, sizeof path, rel));
            cJSON_AddStringToObject(e, "template", templates[i]);
        }
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(e, "sampling"), "max_tokens", 4);
        cJSON_AddItemToArray(list, e);
    }
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "name", "stories");
    cJSON_AddStringToObject(st, "model", test_data_path(path, sizeof path, "models/stories260K.gguf"));
    cJSON_AddNumberToObject(st, "context", 256);
    cJSON_AddItemToArray(list, st);
    char *text = cJSON_Print(cfg);
    CU_ASSERT_FATAL(serve_start(&main_srv, text, 1) > 0);
    free(text);
    cJSON_Delete(cfg);
}

static int post(const char *body, cJSON **out) {
    char *json;
    int status = serve_post(&main_srv, "/v1/chat/completions", body, buf, sizeof buf, &json);
    *out = cJSON_Parse(json);
    return status;
}

static int prompt_tokens(const cJSON *resp) {
    return (int)cJSON_GetNumberValue(serve_get((cJSON *)resp, "usage", "prompt_tokens"));
}

/* The tokens of expert e's template rendered for messages and tools, in-process. */
static size_t expected_tokens(size_t e, const char *messages_json, const char *tools_json) {
    char path[512], rel[256];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    snprintf(rel, sizeof rel, "models/%s.gguf", experts[e].model);
    CU_ASSERT_EQUAL_FATAL(vkslm_model_load(test_data_path(path, sizeof path, rel), &mp, &m), VKSLM_OK);
    size_t n = 0;
    CU_ASSERT_EQUAL(vkslm_chat_tokenize_json(m, templates[e], messages_json, tools_json, true, false, NULL, 0, &n),
                    VKSLM_ERR_LIMIT);
    vkslm_model_free(m);
    return n;
}

/* The tools are rendered: the prompt has exactly the template's tokens with them (many more than without). */
static void test_tools_reach_the_prompt(void) {
    const char *msgs = "[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]";
    for (size_t e = 0; e < N_EXPERTS; e++) {
        char body[4096];
        cJSON *with, *without;
        snprintf(body, sizeof body, "{\"model\": \"%s\", \"messages\": %s, \"tools\": %s}", experts[e].name, msgs,
                 TOOLS);
        CU_ASSERT_EQUAL_FATAL(post(body, &with), 200);
        snprintf(body, sizeof body, "{\"model\": \"%s\", \"messages\": %s}", experts[e].name, msgs);
        CU_ASSERT_EQUAL_FATAL(post(body, &without), 200);
        printf("\n  %s: prompt tokens: %d with the tools, %d without", experts[e].name, prompt_tokens(with),
               prompt_tokens(without));
        CU_ASSERT_EQUAL((size_t)prompt_tokens(with), expected_tokens(e, msgs, TOOLS));
        CU_ASSERT_TRUE(prompt_tokens(with) > prompt_tokens(without) + 100);
        /* auto: the random model writes no call, so the answer is text */
        cJSON *msg = serve_get(cJSON_GetArrayItem(serve_get(with, "choices", NULL), 0), "message", NULL);
        CU_ASSERT_TRUE(cJSON_IsString(serve_get(msg, "content", NULL)));
        /* tool_choice none: the tools are not rendered */
        cJSON *none;
        snprintf(body, sizeof body,
                 "{\"model\": \"%s\", \"messages\": %s, \"tools\": %s, \"tool_choice\": \"none\"}", experts[e].name,
                 msgs, TOOLS);
        CU_ASSERT_EQUAL_FATAL(post(body, &none), 200);
        CU_ASSERT_EQUAL(prompt_tokens(none), prompt_tokens(without));
        cJSON_Delete(with);
        cJSON_Delete(without);
        cJSON_Delete(none);
    }
    printf("\n");
}

/* A call and its result go back through the template (the model's is Qwen 3's): OpenAI's string arguments
 * become the object the template writes with tojson, and the calls-only turn's null content "". */
static void test_tool_results_rendered(void) {
    const char *request_msgs =
        "[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\",\\\"days\\\":1}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny, 21 C\"}]";
    const char *template_msgs =
        "[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":{\"location\":\"Paris\",\"days\":1}}}]},"
        "{\"role\":\"tool\",\"content\":\"sunny, 21 C\",\"tool_call_id\":\"call_1\"}]";
    char body[8192];
    for (int with_tools = 0; with_tools < 2; with_tools++) {
        cJSON *r;
        snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": %s%s%s}", request_msgs,
                 with_tools ? ", \"tools\": " : "", with_tools ? TOOLS : "");
        int status = post(body, &r);
        if (status != 200)
            printf("\n  %s\n", buf);
        CU_ASSERT_EQUAL_FATAL(status, 200);
        CU_ASSERT_EQUAL((size_t)prompt_tokens(r), expected_tokens(0, template_msgs, with_tools ? TOOLS : NULL));
        cJSON_Delete(r);
    }
    /* Mistral's template takes back calls with its nine-character ids only; others are its refusal, a 400 */
    static const char *const ids[] = {"a1B2c3D4e", "call_1"};
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body,
                 "{\"model\": \"mistral\", \"tools\": %s, \"messages\": [{\"role\":\"user\",\"content\":\"Paris?\"},"
                 "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":"
                 "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\",\\\"days\\\":1}\"}}]},"
                 "{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"sunny\"}]}",
                 TOOLS, ids[k], ids[k]);
        cJSON *r;
        int status = post(body, &r);
        CU_ASSERT_EQUAL(status, k == 0 ? 200 : 400);
        if (k == 1) {
            const char *msg = cJSON_GetStringValue(serve_get(serve_get(r, "error", NULL), "message", NULL));
            CU_ASSERT_PTR_NOT_NULL(msg ? strstr(msg, "length 9") : NULL);
        }
        cJSON_Delete(r);
    }
}

static void expect_400(const char *body, const char *path, const char *param, const char *why) {
    char *json;
    int status = serve_post(&main_srv, path, body, buf, sizeof buf, &json);
    CU_ASSERT_EQUAL(status, 400);
    cJSON *r = cJSON_Parse(json);
    const char *msg = cJSON_GetStringValue(serve_get(serve_get(r, "error", NULL), "message", NULL));
    const char *p = cJSON_GetStringValue(serve_get(serve_get(r, "error", NULL), "param", NULL));
    if (!msg || !strstr(msg, why))
        printf("\n  %s: %s\n", body, json);
    CU_ASSERT_PTR_NOT_NULL(msg ? strstr(msg, why) : NULL);
    if (param)
        CU_ASSERT_STRING_EQUAL(p ? p : "(null)", param);
    cJSON_Delete(r);
}

static void test_refusals(void) {
    char body[8192];
    snprintf(body, sizeof body, "{\"model\": \"stories\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], "
             "\"tools\": %s}", TOOLS);
    expect_400(body, "/v1/chat/completions", NULL, "does not take tools");
    expect_400("{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"functions\": [{\"name\": \"f\"}]}",
               "/v1/chat/completions", "functions", "not supported");
    expect_400("{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"function_call\": \"auto\"}",
               "/v1/chat/completions", "function_call", "not supported");
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"prompt\": \"x\", \"tools\": %s}", TOOLS);
    expect_400(body, "/v1/completions", "tools", "not supported by /v1/completions");
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], "
             "\"tools\": %s, \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"nope\"}}}", TOOLS);
    expect_400(body, "/v1/chat/completions", "tool_choice", "not in \"tools\"");
    expect_400("{\"model\": \"qwen\", \"messages\": [{\"role\":\"tool\",\"content\":\"x\"}]}", "/v1/chat/completions",
               "messages", "tool_call_id");
    /* 129 tools */
    size_t n = (size_t)snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":"
                                "\"x\"}], \"tools\": [");
    for (int i = 0; i < 129; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"type\":\"function\",\"function\":{\"name\":\"f%d\"}}",
                              i ? "," : "", i);
    snprintf(body + n, sizeof body - n, "]}");
    expect_400(body, "/v1/chat/completions", "tools", "more than 128");
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], "
             "\"tools\": %s, \"n\": 2, \"stream\": true}", TOOLS);
    expect_400(body, "/v1/chat/completions", "n", "answered whole only");
    /* a forced call whose schema the grammar compiler refuses; a forced call beside response_format */
    expect_400("{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"tool_choice\": "
               "\"required\", \"tools\": [{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
               "{\"type\":\"object\",\"patternProperties\":{\"^a\":{}}}}}]}",
               "/v1/chat/completions", NULL, "function \"f\": its parameters");
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], "
             "\"tools\": %s, \"tool_choice\": \"required\", \"response_format\": {\"type\": \"json_object\"}}", TOOLS);
    expect_400(body, "/v1/chat/completions", "tool_choice", "response_format");
}

/* The arguments of a get_weather or search call validate against its parameters. */
static bool valid_args(const char *name, const char *args) {
    cJSON *a = cJSON_Parse(args);
    bool ok = cJSON_IsObject(a);
    const cJSON *x;
    if (ok && strcmp(name, "get_weather") == 0) {
        const cJSON *loc = cJSON_GetObjectItemCaseSensitive(a, "location");
        const cJSON *days = cJSON_GetObjectItemCaseSensitive(a, "days");
        ok = cJSON_IsString(loc) && strlen(loc->valuestring) <= 48 && cJSON_IsNumber(days) &&
             days->valuedouble == (double)(int)days->valuedouble && days->valuedouble >= 1 && days->valuedouble <= 7;
        cJSON_ArrayForEach(x, a) {
            if (strcmp(x->string, "unit") == 0)
                ok &= cJSON_IsString(x) && (strcmp(x->valuestring, "c") == 0 || strcmp(x->valuestring, "f") == 0);
            else
                ok &= strcmp(x->string, "location") == 0 || strcmp(x->string, "days") == 0;
        }
    } else if (ok && strcmp(name, "search") == 0) {
        ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "query"));
        cJSON_ArrayForEach(x, a) ok &= (strcmp(x->string, "query") == 0 && cJSON_IsString(x)) ||
                                       (strcmp(x->string, "safe") == 0 && cJSON_IsBool(x));
    } else {
        ok = false;
    }
    if (!ok)
        printf("\n  %s(%s) does not validate\n", name, args);
    cJSON_Delete(a);
    return ok;
}

/* tool_choice required and a named function: each answer is a call whose arguments validate, whole and
 * streamed (the deltas joined), over several seeds. */
static void test_forced_calls(void) {
    int calls = 0, valid = 0;
    for (size_t e = 0; e < N_EXPERTS; e++)
    for (int seed = 1; seed <= 2; seed++) {
        char whole_call[4300] = "";
        for (int stream = 0; stream < 2; stream++) {
            const char *choice = seed % 2 ? "\"required\""
                                          : "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}";
            char body[8192], *json;
            snprintf(body, sizeof body,
                     "{\"model\": \"%s\", \"messages\": [{\"role\":\"user\",\"content\":\"Weather in Paris?\"}], "
                     "\"tools\": %s, \"tool_choice\": %s, \"temperature\": 1, \"seed\": %d, \"max_tokens\": 200, "
                     "\"parallel_tool_calls\": false, \"stream\": %s}",
                     experts[e].name, TOOLS, choice, seed, stream ? "true" : "false");
            CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/chat/completions", body, buf, sizeof buf, &json), 200);
            char name[128] = "", args[4096] = "", id[64] = "";
            const char *finish = NULL;
            cJSON *last = NULL;
            if (!stream) {
                cJSON *r = cJSON_Parse(json);
                cJSON *c0 = cJSON_GetArrayItem(serve_get(r, "choices", NULL), 0);
                cJSON *call = cJSON_GetArrayItem(serve_get(c0, "message", "tool_calls"), 0);
                CU_ASSERT_TRUE(cJSON_IsNull(serve_get(c0, "message", "content")));
                snprintf(name, sizeof name, "%s", cJSON_GetStringValue(serve_get(call, "function", "name")) ?: "");
                snprintf(args, sizeof args, "%s", cJSON_GetStringValue(serve_get(call, "function", "arguments")) ?: "");
                snprintf(id, sizeof id, "%s", cJSON_GetStringValue(serve_get(call, "id", NULL)) ?: "");
                CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(serve_get(call, "type", NULL)) ?: "", "function");
                CU_ASSERT_EQUAL(cJSON_GetArraySize(serve_get(c0, "message", "tool_calls")), 1);
                last = r;
                finish = cJSON_GetStringValue(serve_get(c0, "finish_reason", NULL));
            } else { /* the deltas of call 0: id, type and name first, arguments in pieces */
                for (const char *p = json; (p = strstr(p, "data: ")); p += 6) {
                    const char *end = strstr(p, "\n\n");
                    if (!end || strncmp(p + 6, "[DONE]", 6) == 0)
                        break;
                    cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
                    cJSON *c0 = cJSON_GetArrayItem(serve_get(ev, "choices", NULL), 0);
                    cJSON *d = cJSON_GetArrayItem(serve_get(c0, "delta", "tool_calls"), 0);
                    if (d) {
                        CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(serve_get(d, "index", NULL)), 0);
                        const char *s;
                        if ((s = cJSON_GetStringValue(serve_get(d, "id", NULL))))
                            snprintf(id, sizeof id, "%s", s);
                        if ((s = cJSON_GetStringValue(serve_get(d, "function", "name"))))
                            snprintf(name, sizeof name, "%s", s);
                        if ((s = cJSON_GetStringValue(serve_get(d, "function", "arguments"))))
                            strncat(args, s, sizeof args - strlen(args) - 1);
                    }
                    CU_ASSERT_FALSE(cJSON_IsString(serve_get(c0, "delta", "content")) &&
                                    *cJSON_GetStringValue(serve_get(c0, "delta", "content")));
                    cJSON_Delete(last);
                    last = ev;
                }
                cJSON *c0 = cJSON_GetArrayItem(serve_get(last, "choices", NULL), 0);
                finish = cJSON_GetStringValue(serve_get(c0, "finish_reason", NULL));
            }
            CU_ASSERT_STRING_EQUAL(finish ? finish : "(null)", "tool_calls");
            if (strcmp(experts[e].name, "mistral") == 0) { /* the only ids Mistral's template takes back */
                CU_ASSERT_EQUAL(strlen(id), 9);
            } else {
                CU_ASSERT_EQUAL(strncmp(id, "call_", 5), 0);
            }
            if (seed % 2 == 0)
                CU_ASSERT_STRING_EQUAL(name, "get_weather");
            char this_call[4300];
            snprintf(this_call, sizeof this_call, "%s(%s)", name, args);
            if (stream) { /* the same seed: the streamed deltas join to the whole answer's call */
                CU_ASSERT_STRING_EQUAL(this_call, whole_call);
            } else {
                snprintf(whole_call, sizeof whole_call, "%s", this_call);
            }
            if (seed == 1)
                printf("\n  %s%s: %s %s(%s)", experts[e].name, stream ? " streamed" : "", id, name, args);
            calls++;
            valid += valid_args(name, args);
            cJSON_Delete(last);
        }
    }
    printf("\n  forced calls: %d of %d have arguments that validate\n", valid, calls);
    CU_ASSERT_EQUAL(valid, calls);
}

/* Streamed auto answers: text pieces only (the random model writes no call), ending as the whole answer. */
static void test_stream_auto(void) {
    char body[8192], *json;
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"Hi\"}], "
             "\"tools\": %s, \"max_tokens\": 12, \"stream\": %s}", TOOLS, "false");
    CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/chat/completions", body, buf, sizeof buf, &json), 200);
    cJSON *whole = cJSON_Parse(json);
    const char *want = cJSON_GetStringValue(
        serve_get(cJSON_GetArrayItem(serve_get(whole, "choices", NULL), 0), "message", "content"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    snprintf(body, sizeof body, "{\"model\": \"qwen\", \"messages\": [{\"role\":\"user\",\"content\":\"Hi\"}], "
             "\"tools\": %s, \"max_tokens\": 12, \"stream\": %s}", TOOLS, "true");
    CU_ASSERT_EQUAL_FATAL(serve_post(&main_srv, "/v1/chat/completions", body, buf, sizeof buf, &json), 200);
    char text[4096] = "";
    for (const char *p = json; (p = strstr(p, "data: ")); p += 6) {
        const char *end = strstr(p, "\n\n");
        if (!end || strncmp(p + 6, "[DONE]", 6) == 0)
            break;
        cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
        const char *s = cJSON_GetStringValue(serve_get(cJSON_GetArrayItem(serve_get(ev, "choices", NULL), 0), "delta",
                                                       "content"));
        if (s)
            strncat(text, s, sizeof text - strlen(text) - 1);
        cJSON_Delete(ev);
    }
    CU_ASSERT_STRING_EQUAL(text, want);
    cJSON_Delete(whole);
}

static void test_stop(void) {
    CU_ASSERT_EQUAL(serve_stop(&main_srv), 0);
    for (size_t i = 0; i < N_EXPERTS; i++)
        free(templates[i]);
}

int main(void) {
    int unavailable = serve_tests_unavailable();
    if (unavailable >= 0)
        return unavailable;
    static const vkslm_test tests[] = {
        {"start", test_start},
        {"tools reach the prompt (token count as rendered in-process); none renders none", test_tools_reach_the_prompt},
        {"tool calls and results rendered", test_tool_results_rendered},
        {"refusals: 400 with the key", test_refusals},
        {"required / named function: calls that validate, whole and streamed", test_forced_calls},
        {"streamed auto answers join to the whole", test_stream_auto},
        {"stop", test_stop},
        {NULL, NULL}};
    return test_run_suite("serve_tools", tests);
}
