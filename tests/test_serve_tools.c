/* The server's tool calling on strings (examples/vkslm/serve_tools.c, compiled into this test): the model's
 * output parsed into OpenAI's tool_calls for the three call syntaxes (Hermes/Qwen <tool_call>, Llama 3 JSON,
 * Mistral [TOOL_CALLS]), text that is not a call left as text, streaming that holds back exactly what may
 * begin a call, the request checks (limits, tool_choice), the syntax chosen by the
 * template's text, and the grammar that wraps each function's schema grammar in its call syntax. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/vkslm/serve_tools.h"
#include "tests/harness.h"

static const char *const names[] = {"get_weather", "search"};

/* the arguments of call i, and its name */
static const char *call_args(const cJSON *calls, int i, const char **name, const char **id) {
    const cJSON *c = cJSON_GetArrayItem(calls, i);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(c, "type")->valuestring, "function");
    *name = cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring;
    *id = cJSON_GetObjectItemCaseSensitive(c, "id")->valuestring;
    return cJSON_GetObjectItemCaseSensitive(fn, "arguments")->valuestring;
}

static bool alnum(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static const struct parse_case {
    serve_tool_format format;
    const char *text;
    bool parallel;
    int n_calls;              /* -1: text */
    const char *content;      /* NULL: none */
    const char *name0, *args0, *args1;
} parse_cases[] = {
    {SERVE_TOOLS_HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>",
     true, 1, NULL, "get_weather", "{\"location\":\"Paris\"}", NULL},
    {SERVE_TOOLS_HERMES, "Let me check.\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"a \\\"b\\\"\", "
                         "\"limit\": 3}}\n</tool_call>",
     true, 1, "Let me check.", "search", "{\"query\":\"a \\\"b\\\"\",\"limit\":3}", NULL},
    {SERVE_TOOLS_HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>\n"
                         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Rome\"}}\n</tool_call>",
     true, 2, NULL, "get_weather", "{\"location\":\"Paris\"}", "{\"location\":\"Rome\"}"},
    {SERVE_TOOLS_HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>\n"
                         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Rome\"}}\n</tool_call>",
     false, 1, NULL, "get_weather", "{\"location\":\"Paris\"}", NULL},
    /* the closing tag may be missing at the very end (a stop string ate it) */
    {SERVE_TOOLS_HERMES, "<tool_call>{\"name\": \"search\", \"arguments\": {}}", true, 1, NULL, "search", "{}", NULL},
    /* arguments the model wrote as a JSON string stay that string */
    {SERVE_TOOLS_HERMES, "<tool_call>{\"name\": \"search\", \"arguments\": \"{\\\"query\\\": 1}\"}</tool_call>", true, 1,
     NULL, "search", "{\"query\": 1}", NULL},
    {SERVE_TOOLS_HERMES, "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>", true, -1, NULL, NULL,
     NULL, NULL},                                                            /* not a function of the request */
    {SERVE_TOOLS_HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"argu", true, -1, NULL, NULL, NULL, NULL}, /* cut */
    {SERVE_TOOLS_HERMES, "<tool_call>{\"name\": \"search\", \"arguments\": {}} trailing", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_HERMES, "Paris is sunny.", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_HERMES, "<tool_call>{\"name\": \"search\"}</tool_call>", true, -1, NULL, NULL, NULL, NULL}, /* no args */
    {SERVE_TOOLS_LLAMA3, "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\", \"days\": 2}}", true, 1,
     NULL, "get_weather", "{\"location\":\"Paris\",\"days\":2}", NULL},
    {SERVE_TOOLS_LLAMA3, " <|python_tag|>{\"name\": \"search\", \"arguments\": {\"query\": \"x\"}}", true, 1, NULL,
     "search", "{\"query\":\"x\"}", NULL},
    {SERVE_TOOLS_LLAMA3, "{\"name\": \"search\", \"parameters\": {\"query\": \"x\"}}; {\"name\": \"get_weather\", "
                         "\"parameters\": {\"location\": \"y\"}}",
     true, 2, NULL, "search", "{\"query\":\"x\"}", "{\"location\":\"y\"}"},
    {SERVE_TOOLS_LLAMA3, "Sure: {\"name\": \"search\", \"parameters\": {}}", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_LLAMA3, "{\"name\": \"search\", \"parameters\": {}} and more", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_LLAMA3, "{\"answer\": 42}", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_MISTRAL, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}]", true, 1,
     NULL, "get_weather", "{\"location\":\"Paris\"}", NULL},
    {SERVE_TOOLS_MISTRAL, "[{\"name\": \"search\", \"arguments\": {\"query\": \"q\"}}, {\"name\": \"get_weather\", "
                          "\"arguments\": {\"location\": \"L\"}}]",
     true, 2, NULL, "search", "{\"query\":\"q\"}", "{\"location\":\"L\"}"},
    {SERVE_TOOLS_MISTRAL, "[1, 2, 3]", true, -1, NULL, NULL, NULL, NULL},
    {SERVE_TOOLS_MISTRAL, "The list [a, b]", true, -1, NULL, NULL, NULL, NULL},
};

static void test_parse_forms(void) {
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *pc = &parse_cases[i];
        char *content = (char *)1;
        cJSON *calls = serve_tools_parse_text(pc->format, pc->text, names, 2, pc->parallel, 42 + i, &content);
        int got = calls ? cJSON_GetArraySize(calls) : -1;
        if (got != pc->n_calls)
            printf("\n  case %zu (%s): %d calls, want %d\n", i, pc->text, got, pc->n_calls);
        CU_ASSERT_EQUAL(got, pc->n_calls);
        if (pc->n_calls < 0) {
            CU_ASSERT_PTR_NULL(content);
            continue;
        }
        if (pc->content) {
            CU_ASSERT_STRING_EQUAL(content ? content : "(null)", pc->content);
        } else {
            CU_ASSERT_PTR_NULL(content);
        }
        for (int k = 0; k < got && k < 2; k++) {
            const char *name, *id, *args = call_args(calls, k, &name, &id);
            if (k == 0)
                CU_ASSERT_STRING_EQUAL(name, pc->name0);
            CU_ASSERT_STRING_EQUAL(args, k == 0 ? pc->args0 : pc->args1);
            if (pc->format == SERVE_TOOLS_MISTRAL) { /* the only ids Mistral's template takes back */
                CU_ASSERT_EQUAL(strlen(id), 9);
                CU_ASSERT_TRUE(alnum(id));
            } else {
                CU_ASSERT_EQUAL(strlen(id), 29);
                CU_ASSERT_EQUAL(strncmp(id, "call_", 5), 0);
                CU_ASSERT_TRUE(alnum(id + 5));
            }
        }
        if (got == 2) { /* distinct ids */
            const char *n0, *n1, *id0, *id1;
            call_args(calls, 0, &n0, &id0);
            call_args(calls, 1, &n1, &id1);
            CU_ASSERT_STRING_NOT_EQUAL(id0, id1);
        }
        free(content);
        cJSON_Delete(calls);
    }
}

static cJSON *request(const char *json) {
    cJSON *root = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    return root;
}

#define TOOLS "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}," \
              "{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"d\"}}]"

static void test_request_checks(void) {
    static const struct { const char *body; const char *param, *why; } bad[] = {
        {"{\"tools\": {}}", "tools", "must be an array"},
        {"{\"tools\": [{\"type\": \"code\"}]}", "tools", "every tool"},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a b\"}}]}", "tools", "\"name\""},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\", \"strict\": true}}]}", "tools",
         "\"strict\": true is not supported"},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\", \"examples\": []}}]}", "tools",
         "\"examples\", which is not supported"},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\"}}, {\"type\": \"function\", \"function\": "
         "{\"name\": \"a\"}}]}", "tools", "twice"},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\", \"parameters\": 3}}]}", "tools",
         "parameters"},
        {"{\"tools\": " TOOLS ", \"tool_choice\": \"always\"}", "tool_choice", "must be"},
        {"{\"tools\": " TOOLS ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"nope\"}}}",
         "tool_choice", "not in \"tools\""},
        {"{\"tool_choice\": \"required\"}", "tool_choice", "needs \"tools\""},
        {"{\"tools\": " TOOLS ", \"parallel_tool_calls\": 1}", "parallel_tool_calls", "true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *root = request(bad[i].body);
        serve_tools *t = NULL;
        const char *param = NULL;
        const char *why = serve_tools_parse(root, &t, &param);
        CU_ASSERT_PTR_NOT_NULL(why);
        if (why) {
            CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
            CU_ASSERT_STRING_EQUAL(param ? param : "(null)", bad[i].param);
        }
        serve_tools_free(t);
        cJSON_Delete(root);
    }
    /* limits: 129 tools, 64 KiB of schemas */
    for (int lim = 0; lim < 2; lim++) {
        cJSON *root = cJSON_CreateObject(), *tools = cJSON_AddArrayToObject(root, "tools");
        for (int k = 0; k < (lim ? 3 : 129); k++) {
            char name[16];
            snprintf(name, sizeof name, "f%d", k);
            cJSON *tool = cJSON_CreateObject(), *fn = cJSON_AddObjectToObject(tool, "function");
            cJSON_AddStringToObject(tool, "type", "function");
            cJSON_AddStringToObject(fn, "name", name);
            cJSON *params = cJSON_AddObjectToObject(fn, "parameters");
            if (lim) {
                char *big = malloc(30000);
                memset(big, 'x', 29999);
                big[29999] = 0;
                cJSON_AddStringToObject(params, "description", big);
                free(big);
            }
            cJSON_AddItemToArray(tools, tool);
        }
        serve_tools *t = NULL;
        const char *param = NULL, *why = serve_tools_parse(root, &t, &param);
        CU_ASSERT_PTR_NOT_NULL(why ? strstr(why, lim ? "64 KiB" : "more than 128") : NULL);
        serve_tools_free(t);
        cJSON_Delete(root);
    }
    /* right: no tools and no tool messages is the plain path; tools, or tool messages alone, are not */
    static const struct { const char *body; bool state, active; } good[] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", false, false},
        {"{\"tools\": " TOOLS "}", true, true},
        {"{\"tools\": " TOOLS ", \"tool_choice\": \"none\"}", true, false},
        {"{\"tools\": []}", true, false},
        {"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\", \"strict\": false}}]}", true, true},
        {"{\"messages\": [{\"role\": \"tool\", \"tool_call_id\": \"c\", \"content\": \"r\"}]}", true, false},
        {"{\"tools\": " TOOLS ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"search\"}}, "
         "\"parallel_tool_calls\": false}", true, true},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cJSON *root = request(good[i].body);
        serve_tools *t = NULL;
        const char *param = NULL;
        CU_ASSERT_PTR_NULL(serve_tools_parse(root, &t, &param));
        CU_ASSERT_EQUAL(t != NULL, good[i].state);
        CU_ASSERT_EQUAL(serve_tools_active(t), good[i].active);
        serve_tools_free(t);
        cJSON_Delete(root);
    }
}

static void test_message_checks(void) {
    static const struct { const char *msg; const char *why; bool optional; } cases[] = {
        {"{\"role\": \"user\", \"content\": \"x\"}", NULL, false},
        {"{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", "
         "\"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}", NULL, true},
        {"{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"r\"}", NULL, false},
        {"{\"role\": \"tool\", \"content\": \"r\"}", "tool_call_id", false},
        {"{\"role\": \"user\", \"tool_call_id\": \"c1\", \"content\": \"r\"}", "belongs to", false},
        {"{\"role\": \"user\", \"content\": \"x\", \"tool_calls\": []}", "belongs to", false},
        {"{\"role\": \"assistant\", \"tool_calls\": []}", "non-empty", false},
        {"{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": "
         "{\"name\": \"f\", \"arguments\": {}}}]}", "arguments", false},
        {"{\"role\": \"user\", \"content\": \"x\", \"name\": 5}", "\"name\"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *m = request(cases[i].msg);
        bool optional = false;
        const char *why = serve_tools_check_message(m, &optional);
        if (cases[i].why) {
            CU_ASSERT_PTR_NOT_NULL(why ? strstr(why, cases[i].why) : NULL);
        } else {
            CU_ASSERT_PTR_NULL(why);
        }
        CU_ASSERT_EQUAL(optional, cases[i].optional);
        cJSON_Delete(m);
    }
}

static void test_format_by_template(void) {
    static const struct { const char *tmpl; serve_tool_format f; } cases[] = {
        {"{{ '<tool_call>' }}<|im_start|>", SERVE_TOOLS_HERMES},
        {"[AVAILABLE_TOOLS]{{ '[TOOL_CALLS]' }}[INST]", SERVE_TOOLS_MISTRAL},
        {"<|start_header_id|>{% if tools %}{% endif %}", SERVE_TOOLS_LLAMA3},
        {"{% for t in tools %}{% endfor %}", SERVE_TOOLS_HERMES},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_ASSERT_EQUAL(serve_tools_format(cases[i].tmpl, strlen(cases[i].tmpl)), cases[i].f);
}

/* the messages JSON for the template: tool keys copied, arguments made objects for tojson templates, absent
 * keys left out, a calls-only turn's content "" unless the template tests it for none */
static void test_template_json(void) {
    cJSON *root = request("{\"tools\": " TOOLS ", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
                          "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call0A1b2\", \"type\": "
                          "\"function\", \"function\": {\"name\": \"search\", \"arguments\": \"{\\\"query\\\": \\\"x\\\"}\"}}]}, "
                          "{\"role\": \"tool\", \"tool_call_id\": \"call0A1b2\", \"name\": \"search\", \"content\": \"r\"}]}");
    serve_tools *t = NULL;
    const char *param;
    CU_ASSERT_PTR_NULL_FATAL(serve_tools_parse(root, &t, &param));
    vkslm_chat_message msgs[] = {{"system", "S"}, {"user", "q"}, {"assistant", NULL}, {"tool", "r"}};
    for (int tojson = 0; tojson < 2; tojson++) {
        const char *tmpl = tojson ? "<tool_call>{{ x | tojson }}" : "{% if m.content is none %}{{ tools }}{% endif %}";
        char *mj, *tj;
        CU_ASSERT_EQUAL_FATAL(serve_tools_template_json(t, cJSON_GetObjectItemCaseSensitive(root, "messages"), msgs, 4, 1,
                                                        tmpl, strlen(tmpl), &mj, &tj), 0);
        const char *want =
            tojson ? "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\","
                     "\"content\":\"\",\"tool_calls\":[{\"id\":\"call0A1b2\",\"type\":\"function\",\"function\":{\"name\":"
                     "\"search\",\"arguments\":{\"query\":\"x\"}}}]},{\"role\":\"tool\",\"content\":\"r\",\"tool_call_id\":"
                     "\"call0A1b2\",\"name\":\"search\"}]"
                   : "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\","
                     "\"content\":null,\"tool_calls\":[{\"id\":\"call0A1b2\",\"type\":\"function\",\"function\":{\"name\":"
                     "\"search\",\"arguments\":\"{\\\"query\\\": \\\"x\\\"}\"}}]},{\"role\":\"tool\",\"content\":\"r\","
                     "\"tool_call_id\":\"call0A1b2\",\"name\":\"search\"}]";
        CU_ASSERT_STRING_EQUAL(mj, want);
        CU_ASSERT_PTR_NOT_NULL(tj ? strstr(tj, "\"name\":\"get_weather\"") : NULL);
        free(mj);
        free(tj);
    }
    serve_tools_free(t);
    cJSON_Delete(root);
}

/* Streaming, piece by piece: the content sent plus the held-back rest is the text outside the calls, and
 * the calls come at the end. */
static void stream_case(const char *tmpl, const char *text, size_t piece, const char *want_sent, const char *want_rest,
                        int want_calls) {
    cJSON *root = request("{\"tools\": " TOOLS "}");
    serve_tools *t = NULL;
    const char *param;
    CU_ASSERT_PTR_NULL_FATAL(serve_tools_parse(root, &t, &param));
    vkslm_chat_message m = {"user", "q"};
    char *mj, *tj;
    CU_ASSERT_EQUAL_FATAL(serve_tools_template_json(t, NULL, &m, 1, 1, tmpl, strlen(tmpl), &mj, &tj), 0);
    free(mj);
    free(tj);
    char sent[1024] = "";
    for (size_t at = 0; at < strlen(text); at += piece) {
        char p[64];
        size_t n = strlen(text + at) < piece ? strlen(text + at) : piece;
        memcpy(p, text + at, n);
        p[n] = 0;
        char *out = serve_tools_stream_feed(t, p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        strcat(sent, out);
        free(out);
    }
    char *rest = NULL;
    cJSON *calls = serve_tools_stream_finish(t, &rest);
    if (strcmp(sent, want_sent) != 0)
        printf("\n  stream of \"%s\" sent \"%s\", want \"%s\"\n", text, sent, want_sent);
    CU_ASSERT_STRING_EQUAL(sent, want_sent);
    CU_ASSERT_STRING_EQUAL(rest ? rest : "", want_rest);
    CU_ASSERT_EQUAL(calls ? cJSON_GetArraySize(calls) : 0, want_calls);
    free(rest);
    cJSON_Delete(calls);
    serve_tools_free(t);
    cJSON_Delete(root);
}

static void test_streaming(void) {
    const char *call = "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"x\"}}\n</tool_call>";
    char text[256];
    snprintf(text, sizeof text, "I will search.\n%s", call);
    for (size_t piece = 1; piece <= 7; piece += 3) {
        stream_case("<tool_call>", text, piece, "I will search.\n", "", 1);
        stream_case("<tool_call>", call, piece, "", "", 1);
        stream_case("<tool_call>", "Just text, no <tool", piece, "Just text, no ", "<tool", 0);
        stream_case("<tool_call>", "a < b and <tool_ca c", piece, "a < b and <tool_ca c", "", 0);
        stream_case("<|start_header_id|>", "{\"name\": \"search\", \"parameters\": {\"query\": \"x\"}}", piece, "", "", 1);
        stream_case("<|start_header_id|>", "  {\"not\": \"a call\"}", piece, "", "  {\"not\": \"a call\"}", 0);
        stream_case("<|start_header_id|>", "Hello {\"name\": 1}", piece, "Hello {\"name\": 1}", "", 0);
        stream_case("[TOOL_CALLS]", "[{\"name\": \"search\", \"arguments\": {\"query\": \"x\"}}]", piece, "", "", 1);
        stream_case("[TOOL_CALLS]", "Plain [text]", piece, "Plain [text]", "", 0);
    }
}

/* The grammar of a forced call: each allowed function's schema grammar (rules renamed fI-...) inside its
 * call syntax; string literals, character classes and repetition counts unchanged. */
static void test_compose_grammar(void) {
    const char *schema = "root ::= \"{\" ws obj \"}\" # comment\nws ::= [ \\t\\]x]?\nobj ::= \"x-y \\\"q\\\"\"{1,3} "
                         "obj2\nobj2 ::= [a-z]";
    const char *grammars[] = {schema, NULL};
    char *g = serve_tools_compose_grammar(SERVE_TOOLS_HERMES, names, grammars, 2, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "tool-call ::= \"<tool_call>\\n{\\\"name\\\": \\\"get_weather\\\", "
                                     "\\\"arguments\\\": \" f0-root \"}\\n</tool_call>\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "\nroot ::= tool-call\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "f0-root ::= \"{\" f0-ws f0-obj \"}\" \n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "f0-ws ::= [ \\t\\]x]?\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "f0-obj ::= \"x-y \\\"q\\\"\"{1,3} f0-obj2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "f0-obj2 ::= [a-z]"));
    CU_ASSERT_PTR_NULL(strstr(g, "search"));
    free(g);
    const char *both[] = {"root ::= \"1\"", "root ::= \"2\""};
    g = serve_tools_compose_grammar(SERVE_TOOLS_MISTRAL, names, both, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "\nroot ::= \"[\" tool-call (\", \" tool-call)* \"]\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, " | \"{\\\"name\\\": \\\"search\\\", \\\"arguments\\\": \" f1-root \"}\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "f1-root ::= \"2\""));
    free(g);
    g = serve_tools_compose_grammar(SERVE_TOOLS_LLAMA3, names, both, 1, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "\\\"parameters\\\": \" f0-root \"}\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(g, "\nroot ::= tool-call\n"));
    free(g);
    const char *none[] = {NULL, NULL};
    CU_ASSERT_PTR_NULL(serve_tools_compose_grammar(SERVE_TOOLS_HERMES, names, none, 2, true));
}

/* The composed grammars of real schemas (vkslm_json_schema_to_grammar) are grammars the engine takes, for
 * each syntax, one function or several, with parallel calls or not. */
static void test_composed_grammar_parses(void) {
    TEST_REQUIRE_DATA();
    static const char *const schemas[] = {
        "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\","
        "\"minimum\":1,\"maximum\":7}},\"required\":[\"location\"],\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},\"tags\":{\"type\":\"array\","
        "\"items\":{\"enum\":[\"a\",\"b\"]}}},\"required\":[\"query\"]}"};
    char *g[2];
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(vkslm_json_schema_to_grammar(schemas[i], strlen(schemas[i]), &g[i]), VKSLM_OK);
    char path[512];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_model_load(test_data_path(path, sizeof path, "models/tiny-qwen2-random.gguf"), &mp, &m),
                          VKSLM_OK);
    int parsed = 0, total = 0;
    for (int f = SERVE_TOOLS_HERMES; f <= SERVE_TOOLS_MISTRAL; f++)
        for (int which = 0; which < 3; which++) /* the first, the second, both */
            for (int parallel = 0; parallel < 2; parallel++) {
                const char *use[2] = {which != 1 ? g[0] : NULL, which != 0 ? g[1] : NULL};
                char *text = serve_tools_compose_grammar((serve_tool_format)f, names, use, 2, parallel);
                CU_ASSERT_PTR_NOT_NULL_FATAL(text);
                vkslm_sampler *s = vkslm_sampler_init_grammar(m, text, NULL);
                if (!s)
                    printf("\n  %s\n%s\n", vkslm_last_error(), text);
                parsed += s != NULL;
                total++;
                vkslm_sampler_free(s);
                free(text);
            }
    printf("\n  %d of %d composed grammars parse\n", parsed, total);
    CU_ASSERT_EQUAL(parsed, total);
    vkslm_model_free(m);
    vkslm_string_free(g[0]);
    vkslm_string_free(g[1]);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"output parsed into tool_calls: Hermes, Llama 3, Mistral; text stays text", test_parse_forms},
        {"request checks: limits, tool_choice", test_request_checks},
        {"message checks: tool_calls, tool_call_id, name", test_message_checks},
        {"call syntax chosen by the template text", test_format_by_template},
        {"the template's messages JSON", test_template_json},
        {"streaming holds back only what may begin a call", test_streaming},
        {"grammar of a forced call", test_compose_grammar},
        {"composed grammars of real schemas parse", test_composed_grammar_parses},
        {NULL, NULL}};
    return test_run_suite("serve_tools", tests);
}
