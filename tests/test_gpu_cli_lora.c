/* LoRA from the command line on stories260K: `mkmodel --lora-of` writes an adapter; `run --lora A:S` gives
 * the tokens of `lora-merge`'s file; score, perplexity, chat and bench (--parallel, adapters spread over the
 * sequences) take --lora; bad --lora values are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

static char out[1 << 17];

static void tmp(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_clilora_%s_%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag,
             (int)getpid());
}

static int run(const char *cmd) {
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "\n%s\n-> %d: %s\n", cmd, rc, out);
    return rc;
}

/* The "tokens" array of a run --json output, copied into buf. */
static void tokens_of(char *buf, size_t cap) {
    const char *t = strstr(out, "\"tokens\": [");
    CU_ASSERT_FATAL(t != NULL);
    const char *e = strchr(t, ']');
    CU_ASSERT_FATAL(e != NULL && (size_t)(e - t) < cap);
    memcpy(buf, t, (size_t)(e - t));
    buf[e - t] = 0;
}

static void test_cli_lora(void) {
    TEST_REQUIRE_DATA();
    char model[1024], a[512], b[512], merged[512], text[512], cmd[4096];
    char plain[1024], adapted[1024], baked[1024];
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    tmp(a, sizeof a, "a.gguf");
    tmp(b, sizeof b, "b.gguf");
    tmp(merged, sizeof merged, "merged.gguf");
    tmp(text, sizeof text, "text.txt");
    snprintf(cmd, sizeof cmd, "%s mkmodel --lora-of %s --rank 8 --alpha 16 -o %s 2>&1", VKSLM_CLI, model, a);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s mkmodel --lora-of %s --rank 4 --targets attn_v,ffn_down --seed 2 -o %s 2>&1",
             VKSLM_CLI, model, b);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    /* run with the adapter = run on the merged file, and both differ from the base */
    snprintf(cmd, sizeof cmd, "%s run -m %s -p \"Once upon a time\" -n 12 --json 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    tokens_of(plain, sizeof plain);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p \"Once upon a time\" -n 12 --json --lora %s:0.7 2>&1", VKSLM_CLI,
             model, a);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    tokens_of(adapted, sizeof adapted);
    snprintf(cmd, sizeof cmd, "%s lora-merge %s %s:0.7 -o %s 2>&1", VKSLM_CLI, model, a, merged);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p \"Once upon a time\" -n 12 --json 2>&1", VKSLM_CLI, merged);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    tokens_of(baked, sizeof baked);
    printf("\n  base    %s\n  adapter %s\n  merged  %s", plain, adapted, baked);
    CU_ASSERT_STRING_EQUAL(adapted, baked);
    CU_ASSERT(strcmp(plain, adapted) != 0);
    /* score and perplexity take it (two adapters at once) and their numbers move */
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens 1,400,300,200 --top 1 --json --lora %s --lora %s:0.5 2>&1",
             VKSLM_CLI, model, a, b);
    CU_ASSERT_EQUAL(run(cmd), 0);
    char with[2048];
    size_t wl = strlen(out) < sizeof with - 1 ? strlen(out) : sizeof with - 1;
    memcpy(with, out, wl);
    with[wl] = 0;
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens 1,400,300,200 --top 1 --json 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(run(cmd), 0);
    CU_ASSERT(strcmp(with, out) != 0);
    FILE *f = fopen(text, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("Once upon a time, there was a little girl named Lily. She liked to play outside in the park.\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s perplexity -m %s -f %s --ctx 16 --json --lora %s 2>&1", VKSLM_CLI, model, text, a);
    CU_ASSERT_EQUAL(run(cmd), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "perplexity"));
    snprintf(cmd, sizeof cmd, "echo hello | %s chat -m %s -n 4 --temp 0 --template chatml --lora %s:0.3 2>&1", VKSLM_CLI, model, a);
    CU_ASSERT_EQUAL(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 4 -r 1 --parallel 3 -o json --lora %s --lora %s 2>&1",
             VKSLM_CLI, model, a, b);
    CU_ASSERT_EQUAL(run(cmd), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"parallel\""));
    /* refusals: a missing file, an empty path, a model as an adapter, and a bad mkmodel target */
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hi -n 2 --lora /nonexistent.gguf 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--lora"));
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hi -n 2 --lora :0.5 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens 1,2 --lora %s 2>&1", VKSLM_CLI, model, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not an adapter"));
    snprintf(cmd, sizeof cmd, "%s mkmodel --lora-of %s --targets attn_qkv -o %s 2>&1", VKSLM_CLI, model, b);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "attn_qkv"));
    remove(a);
    remove(b);
    remove(merged);
    remove(text);
    printf("\n");
}

int main(void) {
    static const vkslm_test tests[] = {
        {"cli_lora", test_cli_lora},
        {NULL, NULL},
    };
    return test_run_suite("gpu_cli_lora", tests);
}
