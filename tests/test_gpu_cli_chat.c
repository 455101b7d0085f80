/* `vkslm chat` as a user runs it, on the tiny models in ../shared/testdata/models: /reset gives the same
 * greedy reply as a fresh start, Gemma's published template refusing --system is reported and worked
 * around, and the errors (no template, unknown template name, a message larger than the context, a
 * template that fails: exit 1 with its message, whether at the first rendering or a later turn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

/* Runs cmd with its standard error joined to the captured output. */
static int run(const char *cmd, char *out, size_t cap) {
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    return test_run_command(full, out, cap);
}

static bool no_vulkan(int rc, const char *out) {
    if (rc != 0 && (strstr(out, "No usable Vulkan") || strstr(out, "no Vulkan") || strstr(out, "VK_ERROR"))) {
        test_skip("no Vulkan device");
        return true;
    }
    return false;
}

static void test_reset_repeats_reply(void) {
    TEST_REQUIRE_DATA();
    char cmd[2048], model[512];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "printf 'Hello there\\n/reset\\nHello there\\n/exit\\nnot read\\n' | %s chat -m %s --temp 0 -n 8",
             VKSLM_CLI, test_data_path(model, sizeof model, "models/tiny-qwen2-random.gguf"));
    int rc = run(cmd, out, sizeof out);
    if (no_vulkan(rc, out))
        return;
    CU_ASSERT_EQUAL(rc, 0);
    const char *mark = "(the conversation is forgotten)\n";
    char *sep = strstr(out, mark);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sep);
    *sep = 0;
    const char *second = sep + strlen(mark);
    CU_ASSERT_TRUE(strlen(out) > 1);
    CU_ASSERT_STRING_EQUAL(out, second); /* the same greedy reply after /reset */
    CU_ASSERT_PTR_NULL(strstr(second, "not read"));
}

static void test_system_refused_by_gemma(void) {
    TEST_REQUIRE_DATA();
    char cmd[2048], model[512], tmpl[512];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "printf 'Hi\\n' | %s chat -m %s --template %s --system 'Be brief' --temp 0 -n 2", VKSLM_CLI,
             test_data_path(model, sizeof model, "models/tiny-gemma-random.gguf"),
             test_data_path(tmpl, sizeof tmpl, "chat/google-gemma-2-2b-it.jinja"));
    int rc = run(cmd, out, sizeof out);
    if (no_vulkan(rc, out))
        return;
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "System role not supported"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "the system text goes in front of the first user message"));
}

static void test_errors(void) {
    TEST_REQUIRE_DATA();
    char cmd[2048], model[512];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "%s chat -m %s </dev/null", VKSLM_CLI,
             test_data_path(model, sizeof model, "models/stories260K.gguf"));
    int rc = run(cmd, out, sizeof out);
    if (no_vulkan(rc, out))
        return;
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "has no tokenizer.chat_template"));

    snprintf(cmd, sizeof cmd, "%s chat -m %s --template nonesuch </dev/null", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not a built-in template"));

    /* a message larger than the context is refused, and the program goes on to the next one */
    snprintf(cmd, sizeof cmd,
             "printf '%%0300d\\nHi\\n' 0 | %s chat -m %s --template chatml --ctx 64 --temp 0 -n 2", VKSLM_CLI,
             test_data_path(model, sizeof model, "models/tiny-qwen2-random.gguf"));
    CU_ASSERT_EQUAL(run(cmd, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no longer fits the context of 64 tokens; /reset"));
}

/* Writes text to a fresh file under /tmp; returns its path (static). */
static const char *temp_template(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/vkslm-test-tmpl-XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_template_errors_exit_1(void) {
    TEST_REQUIRE_DATA();
    char cmd[2048], model[512];
    static char out[1 << 16];
    test_data_path(model, sizeof model, "models/tiny-qwen2-random.gguf");
    /* too deep (this once exited 0: the interpreter's limit and "the buffer is too small" shared a status) */
    char deep[512] = "{{ ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 100; i++)
        strcat(deep, ")");
    strcat(deep, " }}");
    const char *path = temp_template(deep);
    snprintf(cmd, sizeof cmd, "printf 'Hi\n' | %s chat -m %s --template %s --temp 0 -n 2", VKSLM_CLI, model, path);
    int rc = run(cmd, out, sizeof out);
    unlink(path);
    if (no_vulkan(rc, out))
        return;
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "line 1, column"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nested deeper than 64 levels"));
    /* a 60000-term chain (once a crash) */
    static char chain[400000];
    strcpy(chain, "{{ 1");
    for (int i = 0; i < 60000; i++)
        strcat(chain + 4 + i * 4, " + 1");
    strcat(chain, " }}");
    path = temp_template(chain);
    snprintf(cmd, sizeof cmd, "printf 'Hi\n' | %s chat -m %s --template %s --temp 0 -n 2", VKSLM_CLI, model, path);
    rc = run(cmd, out, sizeof out);
    unlink(path);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nested deeper than 64 levels"));
    /* fine for the first message, too much text for the second: exit 1, after the first reply */
    path = temp_template("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content * (10000000 if m.content == "
                         "'big' else 1) }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n");
    snprintf(cmd, sizeof cmd, "printf 'Hi\nbig\nnot read\n' | %s chat -m %s --template %s --temp 0 -n 2", VKSLM_CLI,
             model, path);
    rc = run(cmd, out, sizeof out);
    unlink(path);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exceeds 16 MiB"));
    /* a template that refuses a later message */
    path = temp_template("{% for m in messages %}{% if m.content == 'boom' %}{{ raise_exception('no boom') }}{% endif %}"
                         "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n");
    snprintf(cmd, sizeof cmd, "printf 'Hi\nboom\n' | %s chat -m %s --template %s --temp 0 -n 2", VKSLM_CLI, model, path);
    rc = run(cmd, out, sizeof out);
    unlink(path);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "chat template refused the conversation: no boom"));
}

int main(void) {
    static const vkslm_test tests[] = {
        {"/reset gives the fresh greedy reply", test_reset_repeats_reply},
        {"Gemma refuses --system: reported, folded into the first message", test_system_refused_by_gemma},
        {"errors: no template, unknown name, message over the context", test_errors},
        {"a failing template exits 1 with its message", test_template_errors_exit_1},
        {NULL, NULL}};
    return test_run_suite("cli_chat", tests);
}
