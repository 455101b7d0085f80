/* `vkslm embed`: one line of n_embd numbers per input (-p and -f), unit norm, the same text the same line;
 * --json with --pooling last gives exactly vkslm_embed's vector; bad options and a text longer than the
 * context fail with a message. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_models.h"
#include "vkslm.h"

static char out[1 << 18];

/* The numbers of one line (at most cap); the count. */
static int parse_line(const char *line, float *v, int cap) {
    int n = 0;
    char *end;
    for (const char *p = line; *p && *p != '\n';) {
        double x = strtod(p, &end);
        if (end == p)
            break;
        if (n < cap)
            v[n] = (float)x;
        n++;
        p = end;
    }
    return n;
}

static double norm_of(const float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static void test_lines(void) {
    TEST_REQUIRE_DATA();
    char model[1024], cmd[4096];
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    const char *file = "/tmp/vkslm-test-embed.txt";
    FILE *f = fopen(file, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("Once upon a time", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s embed -m %s -p \"Once upon a time\" -p \"A dog ran.\" -f %s", VKSLM_CLI, model, file);
    int rc = test_run_command(cmd, out, sizeof out);
    remove(file);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const char *line[4] = {out, NULL, NULL, NULL};
    int n_lines = 0;
    for (const char *p = out; *p; p++)
        if (*p == '\n' && ++n_lines < 4)
            line[n_lines] = p + 1;
    CU_ASSERT_EQUAL_FATAL(n_lines, 3);
    float v[3][64];
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(parse_line(line[i], v[i], 64), 64);
        CU_ASSERT(fabs(norm_of(v[i], 64) - 1) < 1e-5);
    }
    CU_ASSERT(memcmp(v[0], v[2], sizeof v[0]) == 0); /* the same text from -p and -f */
    CU_ASSERT(memcmp(v[0], v[1], sizeof v[0]) != 0);
}

static void test_json_equals_api(void) {
    TEST_REQUIRE_DATA();
    char model[1024], cmd[4096];
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, "%s embed -m %s -p \"The cat sat on the mat.\" --pooling last --json", VKSLM_CLI, model);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(j, "pooling")), "last");
    CU_ASSERT_EQUAL((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "n_embd")), 64);
    cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
    cJSON *e = cJSON_GetObjectItem(d0, "embedding");
    CU_ASSERT_FATAL(cJSON_GetArraySize(e) == 64);
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);
    float api[64];
    size_t n_tok = 0;
    CU_ASSERT_FATAL(vkslm_embed(s, 0, "The cat sat on the mat.", VKSLM_POOLING_LAST, api, &n_tok) == VKSLM_OK);
    CU_ASSERT_EQUAL((size_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d0, "tokens")), n_tok);
    int same = 1;
    for (int i = 0; i < 64; i++)
        same &= (float)cJSON_GetArrayItem(e, i)->valuedouble == api[i]; /* %.9g reads back as the same float */
    CU_ASSERT(same);
    vkslm_session_free(s);
    vkslm_model_free(m);
    cJSON_Delete(j);
}

static void test_errors(void) {
    TEST_REQUIRE_DATA();
    char model[1024], cmd[4096];
    test_data_path(model, sizeof model, "models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, "%s embed -m %s -p hi --pooling cls 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--pooling must be mean or last"));
    snprintf(cmd, sizeof cmd, "%s embed -m %s 2>&1", VKSLM_CLI, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: vkslm embed"));
    snprintf(cmd, sizeof cmd, "%s embed -m %s --ctx 8 -p \"one two three four five six seven eight nine\" 2>&1",
             VKSLM_CLI, model);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "the context holds 8"));
}

int main(void) {
    static const vkslm_test tests[] = {
        {"one line per input, unit norm, -p and -f agree", test_lines},
        {"--json --pooling last = vkslm_embed", test_json_equals_api},
        {"bad pooling, no input, too long", test_errors},
        {NULL, NULL},
    };
    return test_run_suite("gpu_cli_embed", tests);
}
