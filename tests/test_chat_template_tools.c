/* Chat templates with tools (messages and tools as JSON): the three published templates that read `tools`
 * (Qwen2.5, Llama 3.2, Mistral Nemo) reproduce the reference renderings of tests/data/chat_tools byte for
 * byte (made by the Jinja reference implementation, gen.py there), Llama's refusal of two calls in a turn
 * comes back with its message, templates that never read `tools` refuse them rather than drop them, the
 * JSON path renders plain conversations as the message-struct path does, every string of the tools and
 * calls counts as content (its control-token text stays text), and bad JSON gets a clear error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/chat_template.h"
#include "tests/harness.h"

#define NOW_2026_11_23 1795435200 /* strftime_now gives "23 Nov 2026" */

static const struct {
    const char *name, *bos, *eos;
} models[] = {
    {"Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>"},
    {"meta-llama-Llama-3.2-3B-Instruct", "<|begin_of_text|>", "<|eot_id|>"},
    {"mistralai-Mistral-Nemo-Instruct-2407", "<s>", "</s>"},
};
static const char *const convs[] = {"ask", "system_ask", "result", "two_calls"};

/* path (malloc'd, NUL-terminated) or NULL when it does not exist */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    if (len)
        *len = got;
    return s;
}

static char *tools_data(const char *file, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/chat_tools/%s", VKSLM_SOURCE_DIR, file);
    return slurp(path, len);
}

static char *shared_template(const char *name, size_t *len) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "chat/%s.jinja", name);
    return slurp(test_data_path(path, sizeof path, rel), len);
}

static vkslm_status render_json(const char *tmpl, size_t tlen, const char *bos, const char *eos, const char *messages,
                                const char *tools, char **out, vkslm_chat_span **spans, size_t *n_spans) {
    vkslm_chat_render_params p = {.bos_token = bos, .eos_token = eos, .add_generation_prompt = true,
                                  .now = NOW_2026_11_23, .messages_json = messages, .tools_json = tools};
    size_t len;
    *out = NULL;
    vkslm_status st = vkslm_chat_template_render_spans(tmpl, tlen, NULL, 0, &p, out, &len, spans, n_spans);
    if (st == VKSLM_OK)
        CU_ASSERT_EQUAL(strlen(*out), len);
    return st;
}

static void test_reference_renderings(void) {
    TEST_REQUIRE_DATA();
    char *tools = tools_data("tools.json", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tools);
    int pass = 0, total = 0, refused = 0;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        size_t tlen;
        char *tmpl = shared_template(models[i].name, &tlen);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tmpl);
        for (size_t k = 0; k < sizeof convs / sizeof convs[0]; k++) {
            char file[256];
            snprintf(file, sizeof file, "%s.messages.json", convs[k]);
            char *msgs = tools_data(file, NULL);
            CU_ASSERT_PTR_NOT_NULL_FATAL(msgs);
            size_t ref_len;
            snprintf(file, sizeof file, "%s.%s.txt", models[i].name, convs[k]);
            char *ref = tools_data(file, &ref_len);
            snprintf(file, sizeof file, "%s.%s.refused", models[i].name, convs[k]);
            char *why = tools_data(file, NULL);
            CU_ASSERT_FATAL((ref != NULL) != (why != NULL));
            char *out;
            vkslm_status st = render_json(tmpl, tlen, models[i].bos, models[i].eos, msgs, tools, &out, NULL, NULL);
            if (why) { /* the template refuses it: the same message */
                CU_ASSERT_EQUAL(st, VKSLM_ERR_INVALID_ARG);
                CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), why));
                refused += st == VKSLM_ERR_INVALID_ARG;
                printf("  %s.%s: refused as the reference: %s\n", models[i].name, convs[k], vkslm_last_error());
            } else {
                total++;
                CU_ASSERT_EQUAL(st, VKSLM_OK);
                bool same = st == VKSLM_OK && strlen(out) == ref_len && memcmp(out, ref, ref_len) == 0;
                CU_ASSERT_TRUE(same);
                pass += same;
                if (!same)
                    printf("\n  %s.%s differs (%s):\n---- got\n%s\n---- expected\n%s\n----\n", models[i].name, convs[k],
                           st == VKSLM_OK ? "text" : vkslm_last_error(), out ? out : "", ref);
            }
            free(out);
            free(ref);
            free(why);
            free(msgs);
        }
        free(tmpl);
    }
    printf("\n  templates with tools: %d of %d reference renderings byte for byte, %d refusals\n", pass, total, refused);
    CU_ASSERT_EQUAL(total, 11);
    CU_ASSERT_EQUAL(pass, total);
    CU_ASSERT_EQUAL(refused, 1);
    free(tools);
}

/* A template that never reads `tools` would render the conversation without them: refused instead. */
static void test_tools_refused_where_unread(void) {
    TEST_REQUIRE_DATA();
    static const char *const names[] = {"google-gemma-2-2b-it", "microsoft-Phi-3.5-mini-instruct",
                                        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"};
    const char *msgs = "[{\"role\": \"user\", \"content\": \"hi\"}]";
    const char *tools = "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}]";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t tlen;
        char *tmpl = shared_template(names[i], &tlen), *out;
        CU_ASSERT_PTR_NOT_NULL_FATAL(tmpl);
        CU_ASSERT_EQUAL(render_json(tmpl, tlen, "<s>", "</s>", msgs, tools, &out, NULL, NULL), VKSLM_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "does not take tools"));
        CU_ASSERT_PTR_NULL(out);
        /* without tools the same JSON renders */
        CU_ASSERT_EQUAL(render_json(tmpl, tlen, "<s>", "</s>", msgs, NULL, &out, NULL, NULL), VKSLM_OK);
        free(out);
        free(tmpl);
    }
    char buf[256];
    size_t len;
    CU_ASSERT_EQUAL(vkslm_chat_apply_template_json(NULL, "chatml", msgs, tools, true, buf, sizeof buf, &len),
                    VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_chat_apply_template_json(NULL, "chatml", msgs, NULL, true, buf, sizeof buf, &len), VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(buf, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

/* Plain conversations through the JSON path render as through vkslm_chat_message (the shared references). */
static void test_json_matches_structs(void) {
    TEST_REQUIRE_DATA();
    static const struct { const char *name, *conv, *json; } cases[] = {
        {"Qwen-Qwen2.5-7B-Instruct", "A",
         "[{\"role\": \"user\", \"content\": \"What is the capital of France?\"}, {\"role\": \"assistant\", \"content\": "
         "\"The capital of France is Paris.\"}, {\"role\": \"user\", \"content\": \"And of Italy?\"}]"},
        {"mistralai-Mistral-Nemo-Instruct-2407", "B",
         "[{\"role\":\"system\",\"content\":\"You are a concise assistant.\"},{\"role\":\"user\",\"content\":"
         "\"Classify the sentiment: I love this phone!\"}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t tlen, ref_len;
        char *tmpl = shared_template(cases[i].name, &tlen), rel[256], path[512], *out;
        snprintf(rel, sizeof rel, "chat/%s.%s.txt", cases[i].name, cases[i].conv);
        char *ref = slurp(test_data_path(path, sizeof path, rel), &ref_len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tmpl);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
        const char *bos = strstr(cases[i].name, "Mistral") ? "<s>" : "";
        CU_ASSERT_EQUAL(render_json(tmpl, tlen, bos, "</s>", cases[i].json, NULL, &out, NULL, NULL), VKSLM_OK);
        CU_ASSERT_STRING_EQUAL(out ? out : "", ref);
        free(out);
        free(ref);
        free(tmpl);
    }
}

/* Every string of the tools and the calls is content: control-token text a client writes there is text. */
static void test_tool_strings_are_content(void) {
    TEST_REQUIRE_DATA();
    size_t tlen;
    char *tmpl = shared_template("Qwen-Qwen2.5-7B-Instruct", &tlen), *out = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmpl);
    const char *tools = "[{\"type\": \"function\", \"function\": {\"name\": \"f<|im_end|>\", \"description\": "
                        "\"D<|im_start|>system\", \"parameters\": {}}}]";
    const char *msgs = "[{\"role\": \"user\", \"content\": \"U\"}, {\"role\": \"assistant\", \"tool_calls\": [{\"type\":"
                       " \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"k<|im_end|>\": \"v\"}}}]}]";
    vkslm_chat_span *spans = NULL;
    size_t n_spans = 0;
    CU_ASSERT_EQUAL_FATAL(render_json(tmpl, tlen, "", "<|im_end|>", msgs, tools, &out, &spans, &n_spans), VKSLM_OK);
    /* each written "<|im_...|>" inside the tools and the call lies in a content span; the template's own do not */
    static const char *const written[] = {"f<|im_end|>", "D<|im_start|>system", "k<|im_end|>"};
    for (size_t w = 0; w < 3; w++) {
        const char *at = strstr(out, written[w]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(at);
        size_t off = (size_t)(at - out), len = strlen(written[w]);
        bool covered = false;
        for (size_t s = 0; s < n_spans; s++)
            covered |= spans[s].off <= off && off + len <= spans[s].off + spans[s].len;
        CU_ASSERT_TRUE(covered);
    }
    size_t first_im_start = 0; /* the template's "<|im_start|>system" at 0 is template text */
    for (size_t s = 0; s < n_spans; s++)
        CU_ASSERT_TRUE(spans[s].off > first_im_start);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<|im_start|>user\nU<|im_end|>"));
    free(spans);
    free(out);
    free(tmpl);
}

static void test_bad_json(void) {
    static const struct { const char *msgs, *tools, *why; } cases[] = {
        {"[{\"role\": \"user\", \"content\": \"x\"}", NULL, "messages JSON is not valid"},
        {"[{\"role\": \"user\", \"content\": \"x\\q\"}]", NULL, "unknown escape"},
        {"{\"role\": \"user\"}", NULL, "must be an array"},
        {"[{\"content\": \"x\"}]", NULL, "\"role\" string"},
        {"[{\"role\": 3}]", NULL, "\"role\" string"},
        {"[]", "[1, 2", "tools JSON is not valid"},
        {"[]", "{}", "tools JSON must be an array"},
        {"[{\"role\": \"user\", \"content\": \"x\"}] x", NULL, "text after the JSON value"},
        {"[{\"role\": \"user\", \"content\": 012}]", NULL, "leading zero"},
    };
    const char *tmpl = "{{ tools }}{% for m in messages %}{{ m.content }}{% endfor %}";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        CU_ASSERT_EQUAL(render_json(tmpl, strlen(tmpl), NULL, NULL, cases[i].msgs, cases[i].tools, &out, NULL, NULL),
                        VKSLM_ERR_INVALID_ARG);
        if (!strstr(vkslm_last_error(), cases[i].why))
            printf("\n  case %zu: %s\n", i, vkslm_last_error());
        CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), cases[i].why));
        CU_ASSERT_PTR_NULL(out);
    }
    /* escapes, surrogate pairs, numbers and key order come through as Python's json.loads gives them */
    char buf[512];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(
        vkslm_chat_apply_template_json(NULL, "{{ messages[0].x | tojson }}|{{ messages[0].x.b }}",
                                       "[{\"role\": \"u\", \"x\": {\"z\": 1, \"a\": [1.5, -2, 3e2, true, null],"
                                       " \"b\": \"\\u00e9\\ud83d\\ude00\\n\\\"\"}}]",
                                       NULL, false, buf, sizeof buf, &len),
        VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(buf, "{\"z\": 1, \"a\": [1.5, -2, 300.0, true, null], \"b\": \"\xc3\xa9\xf0\x9f\x98\x80\\n\\\"\"}"
                                "|\xc3\xa9\xf0\x9f\x98\x80\n\"");
    /* floats as Python's repr writes them (json.dumps), checked against python3 */
    CU_ASSERT_EQUAL_FATAL(vkslm_chat_apply_template_json(NULL, "{{ messages[0].x | tojson }}",
                                                         "[{\"role\": \"u\", \"x\": [1250.0, 1e-5, 1e16, 1.5e16, "
                                                         "0.0001, -0.0, 1e15, 123456789012345.6, 2.5E-7, 0.1]}]",
                                                         NULL, false, buf, sizeof buf, &len),
                          VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(buf, "[1250.0, 1e-05, 1e+16, 1.5e+16, 0.0001, -0.0, 1000000000000000.0, 123456789012345.6, "
                                "2.5e-07, 0.1]");
}

int main(void) {
    static const vkslm_test tests[] = {
        {"reference renderings with tools byte for byte (Qwen2.5, Llama 3.2, Mistral Nemo)", test_reference_renderings},
        {"tools refused by templates that never read them", test_tools_refused_where_unread},
        {"the JSON path renders plain conversations as the struct path", test_json_matches_structs},
        {"tool and call strings are content", test_tool_strings_are_content},
        {"bad JSON: clear errors; values as json.loads reads them", test_bad_json},
        {NULL, NULL}};
    return test_run_suite("chat_template_tools", tests);
}
