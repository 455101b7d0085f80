/* vkslm serve with LoRA experts: a config whose experts name "base" and "lora" serves each adapter expert
 * (its completion is `vkslm run --lora`'s), /v1/models shows "base", /health's device memory holds the base
 * once; bad "base"/"lora" configs stop the start with a message. Real HTTP on 127.0.0.1. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/util_serve.h"

static char buf[1 << 18];

static void tmp(char *b, size_t cap, const char *tag) {
    snprintf(b, cap, "%s/vkslm_test_srvlora_%s_%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag,
             (int)getpid());
}

/* The "text" of `vkslm run --json` with these arguments (malloc'd). */
static char *run_text(const char *args) {
    static char out[1 << 16];
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s run %s --json 2>/dev/null", VKSLM_CLI, args);
    CU_ASSERT_FATAL(test_run_command(cmd, out, sizeof out) == 0);
    cJSON *j = cJSON_Parse(out);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
    char *r = strdup(t ? t : "");
    cJSON_Delete(j);
    return r;
}

/* The completion text of expert `model` for the prompt (greedy, 8 tokens), malloc'd. */
static char *complete(const srv *s, const char *model) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"prompt\": \"Once upon a time\", \"max_tokens\": 8, \"temperature\": 0}", model);
    char *json;
    int st = serve_post(s, "/v1/completions", body, buf, sizeof buf, &json);
    CU_ASSERT_EQUAL(st, 200);
    cJSON *j = cJSON_Parse(json);
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
    char *r = strdup(t ? t : "");
    cJSON_Delete(j);
    return r;
}

static void refused(const char *cfg_path, const char *text, const char *want) {
    static char cmd[4096], out[8192];
    FILE *f = fopen(cfg_path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s serve --port 0 --config %s 2>&1", VKSLM_CLI, cfg_path);
    int rc = test_run_command(cmd, out, sizeof out);
    int ok = rc != 0 && strstr(out, want);
    CU_ASSERT(ok);
    if (!ok)
        fprintf(stderr, "%s: rc %d, %s\n", text, rc, out);
}

static void test_serve_lora(void) {
    char model[1024], a[512], b[512], other[512], cfg_path[512], cmd[4096], cfg[8192];
    snprintf(model, sizeof model, "%s/models/stories260K.gguf", test_data_dir());
    tmp(a, sizeof a, "a.gguf");
    tmp(b, sizeof b, "b.gguf");
    tmp(other, sizeof other, "other.gguf");
    tmp(cfg_path, sizeof cfg_path, "cfg.json");
    snprintf(cmd, sizeof cmd, "%s mkmodel --lora-of %s --rank 8 -o %s >/dev/null 2>&1 && %s mkmodel --lora-of %s "
             "--rank 4 --seed 5 -o %s >/dev/null 2>&1", VKSLM_CLI, model, a, VKSLM_CLI, model, b);
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(cfg, sizeof cfg,
             "{\"host\": \"127.0.0.1\", \"experts\": [\n"
             " {\"name\": \"tales-a\", \"base\": \"%s\", \"lora\": [{\"path\": \"%s\"}], \"context\": 64, \"parallel\": 1},\n"
             " {\"name\": \"tales-b\", \"base\": \"%s\", \"lora\": [{\"path\": \"%s\", \"scale\": 0.5}], \"context\": 64,"
             " \"parallel\": 1},\n"
             " {\"name\": \"plain\", \"model\": \"%s\", \"context\": 64, \"parallel\": 1}]}\n",
             model, a, model, b, model);
    srv s;
    CU_ASSERT_FATAL(serve_start(&s, cfg, 1) > 0);
    char *got_a = complete(&s, "tales-a"), *got_b = complete(&s, "tales-b"), *got_p = complete(&s, "plain");
    snprintf(cmd, sizeof cmd, "-m %s -p \"Once upon a time\" -n 8 --lora %s", model, a);
    char *want_a = run_text(cmd);
    snprintf(cmd, sizeof cmd, "-m %s -p \"Once upon a time\" -n 8 --lora %s:0.5", model, b);
    char *want_b = run_text(cmd);
    printf("\n  tales-a \"%s\"\n  tales-b \"%s\"\n  plain   \"%s\"", got_a, got_b, got_p);
    CU_ASSERT_STRING_EQUAL(got_a, want_a);
    CU_ASSERT_STRING_EQUAL(got_b, want_b);
    CU_ASSERT(strcmp(got_a, got_p) != 0 && strcmp(got_b, got_p) != 0);
    free(got_a);
    free(got_b);
    free(got_p);
    free(want_a);
    free(want_b);
    /* /v1/models: "base" on the adapter experts only */
    CU_ASSERT_FATAL(serve_curl(&s, "-s", "/v1/models", buf, sizeof buf) == 0);
    cJSON *j = cJSON_Parse(buf), *it;
    int with_base = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "data")) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "id"));
        const char *base = cJSON_GetStringValue(cJSON_GetObjectItem(it, "base"));
        if (id && !strncmp(id, "tales-", 6)) {
            CU_ASSERT(base && !strcmp(base, "stories260K"));
            with_base++;
        } else
            CU_ASSERT(base == NULL);
    }
    CU_ASSERT_EQUAL(with_base, 2);
    cJSON_Delete(j);
    CU_ASSERT_EQUAL(serve_health_validation(&s), 0);
    CU_ASSERT_EQUAL(serve_stop(&s), 0);
    /* refusals before the start */
    static const struct {
        const char *fmt, *want;
    } bad[] = {
        {"{\"experts\": [{\"name\": \"x\", \"model\": \"%s\", \"base\": \"%s\", \"lora\": [{\"path\": \"%s\"}]}]}",
         "\"model\" and \"base\" together"},
        {"{\"experts\": [{\"name\": \"x\", \"model\": \"%s\", \"lora\": [{\"path\": \"%s\"}]}]}%.0s",
         "\"lora\" needs \"base\""},
        {"{\"experts\": [{\"name\": \"x\", \"base\": \"%s\"}]}%.0s%.0s", "\"lora\" must be an array"},
        {"{\"experts\": [{\"name\": \"x\", \"base\": \"%s\", \"lora\": [{\"path\": \"%s\", \"scael\": 1}]}]}%.0s",
         "unknown key \"scael\" (did you mean \"scale\"?)"},
        {"{\"experts\": [{\"name\": \"x\", \"base\": \"%s\", \"lora\": [{\"path\": \"%s\"}]}]}%.0s",
         "expert x: lora[0]"},
    };
    snprintf(cmd, sizeof cmd, "%s mkmodel --arch llama --layers 1 --dim 64 --ffn 128 --heads 4 --kv-heads 4 --vocab "
             "512 --type F32 -o %s.base >/dev/null 2>&1 && %s mkmodel --lora-of %s.base -o %s >/dev/null 2>&1",
             VKSLM_CLI, other, VKSLM_CLI, other, other);
    CU_ASSERT_FATAL(system(cmd) == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i < 3)
            snprintf(cfg, sizeof cfg, bad[i].fmt, model, model, a);
        else
            snprintf(cfg, sizeof cfg, bad[i].fmt, model, i == 4 ? other : a, a);
        refused(cfg_path, cfg, bad[i].want);
    }
    snprintf(cmd, sizeof cmd, "%s.base", other);
    remove(cmd);
    remove(a);
    remove(b);
    remove(other);
    remove(cfg_path);
    printf("\n");
}

int main(void) {
    int skip = serve_tests_unavailable();
    if (skip >= 0)
        return skip;
    static const vkslm_test tests[] = {
        {"serve_lora", test_serve_lora},
        {NULL, NULL},
    };
    return test_run_suite("gpu_serve_lora", tests);
}
