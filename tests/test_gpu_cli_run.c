/* `vkslm run --json`, `--dump-logits`, `vkslm score --json` and `vkslm perplexity --json` as scripts use
 * them, on stories260K against the reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_refs.h"

static char out[1 << 18];

static void test_run_json_and_dump(void) {
    TEST_REQUIRE_DATA();
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load("stories260K.short", &ref) == 0);
    char model[1024], cmd[4096];
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    const char *dump = "/tmp/vkslm-test-dump.f32";
    snprintf(cmd, sizeof cmd, "%s run -m %s -p \"%s\" -n 16 --json --dump-logits %s 2>&1", VKSLM_CLI, model,
             ref.prompt, dump);
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    /* the prompt tokens and the first 12 greedy tokens are the reference's */
    char want[1024] = "\"prompt_tokens\": [";
    for (uint32_t i = 0; i < ref.n_prompt; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? ", " : "", ref.prompt_tokens[i]);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    snprintf(want, sizeof want, "\"tokens\": [");
    for (uint32_t i = 0; i < 12; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? ", " : "", ref.greedy[i]);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"stop_reason\": \"length\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"text\": \", there was a little girl"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"tg_tps\": "));
    /* the dumped logits: n_vocab floats close to the exact reference */
    FILE *f = fopen(dump, "rb");
    CU_ASSERT_FATAL(f != NULL);
    float *l = malloc((ref.n_vocab + 1) * sizeof *l);
    size_t n = fread(l, sizeof *l, ref.n_vocab + 1, f);
    fclose(f);
    remove(dump);
    CU_ASSERT_EQUAL(n, ref.n_vocab);
    float *exact = test_ref_logits("stories260K.short", ref.n_vocab, 1);
    CU_ASSERT_FATAL(exact != NULL);
    CU_ASSERT(test_nmse(l, exact, ref.n_vocab) < 1e-4);
    free(l);
    free(exact);
}

static void test_score_and_perplexity(void) {
    TEST_REQUIRE_DATA();
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load("stories260K.short", &ref) == 0);
    char model[1024], cmd[4096], ids[512] = "";
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    for (uint32_t i = 0; i < ref.n_prompt; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", ref.prompt_tokens[i]);
    snprintf(cmd, sizeof cmd, "%s score -m %s --tokens \"[%s]\" --top 3 --json 2>/dev/null", VKSLM_CLI, model, ids);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, out, sizeof out), 0);
    CU_ASSERT_EQUAL(strncmp(out, "{\"positions\": [[[", 17), 0);
    /* one list per position; the last one starts with the reference's top logit */
    int lists = 0;
    for (const char *p = strstr(out, "[["); p; p = strstr(p + 2, "[["))
        lists++;
    CU_ASSERT_EQUAL(lists, (int)ref.n_prompt);
    char want[64];
    snprintf(want, sizeof want, "[[%d, ", ref.top8[0]);
    const char *last = NULL;
    for (const char *p = strstr(out, "[["); p; p = strstr(p + 2, "[["))
        last = p;
    CU_ASSERT_FATAL(last != NULL);
    CU_ASSERT_EQUAL(strncmp(last, want, strlen(want)), 0);

    /* perplexity of a short story the model knows well: low, finite */
    const char *text = "/tmp/vkslm-test-story.txt";
    FILE *f = fopen(text, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 6; i++)
        fputs("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
              "One day, she saw a big, red ball. She wanted to play with it, but it was too high. ", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s perplexity -m %s -f %s --ctx 64 --json 2>/dev/null", VKSLM_CLI, model, text);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, out, sizeof out), 0);
    remove(text);
    const char *p = strstr(out, "\"perplexity\": ");
    CU_ASSERT_FATAL(p != NULL);
    double ppl = strtod(p + 14, NULL);
    printf("\n  stories260K perplexity on its own story: %.3f", ppl);
    CU_ASSERT(ppl > 1.0 && ppl < 20.0); /* a uniform guess over 512 tokens would be 512 */
}

int main(void) {
    static const vkslm_test tests[] = {
        {"vkslm run --json and --dump-logits reproduce the reference", test_run_json_and_dump},
        {"vkslm score --json and vkslm perplexity --json", test_score_and_perplexity},
        {NULL, NULL},
    };
    return test_run_suite("gpu_cli_run", tests);
}
