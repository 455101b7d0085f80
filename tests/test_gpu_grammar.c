/* Grammar-constrained generation through vkslm_generate (params.grammar) on random-weight models, whose
 * unconstrained output is noise: every output of 12 bounded schemas x 5 seeds (temperature 1) parses and
 * validates against its schema (tests/util_schema.c, independent of the compiler); JSON mode gives an
 * object whenever the model ends, and a prefix of one when max_tokens cuts it (stop reason length); greedy
 * with a grammar is reproducible; grammar_root picks the start rule; a bad grammar fails the call with its
 * line:column and leaves the session working; and the CLI's --grammar and --json-schema (run and chat). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/runtime/grammar.h"
#include "tests/harness.h"
#include "tests/util_models.h"
#include "tests/util_schema.h"

static vkslm_model *model;
static vkslm_session *session;

static void t_load(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    model = test_model_load("models/llama-2-tiny-random.gguf");
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 512;
    CU_ASSERT_EQUAL_FATAL(vkslm_session_create(model, &sp, &session), VKSLM_OK);
}

/* One generation from an empty session; the result's text copied into out. */
static vkslm_status gen(const vkslm_generate_params *gp, char *out, size_t cap, vkslm_generate_result *r) {
    vkslm_session_rewind(session, 0);
    vkslm_status st = vkslm_generate(session, "The answer:", gp, r);
    snprintf(out, cap, "%s", st == VKSLM_OK ? r->text : "");
    return st;
}

static void t_schemas_seeds(void) {
    if (!session)
        return;
    int n = 0;
    for (size_t i = 0; test_bounded_schemas[i]; i++) {
        const char *schema = test_bounded_schemas[i];
        char *g = NULL;
        CU_ASSERT_EQUAL_FATAL(vkslm_json_schema_to_grammar(schema, strlen(schema), &g), VKSLM_OK);
        for (uint64_t seed = 1; seed <= 5; seed++) {
            vkslm_generate_params gp = vkslm_generate_default_params();
            gp.temperature = 1.0f;
            gp.seed = seed;
            gp.max_tokens = 96;
            gp.grammar = g;
            vkslm_generate_result r;
            char text[2048], why[256];
            CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_OK);
            CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_EOG);
            int ok = test_schema_valid_text(schema, text, why, sizeof why);
            if (!ok || r.stop_reason != VKSLM_STOP_EOG)
                printf("schema %zu seed %llu: %s: %s (%s)\n", i, (unsigned long long)seed, vkslm_stop_reason_str(r.stop_reason),
                       text, why);
            CU_ASSERT_EQUAL(ok, 1);
            n += ok;
        }
        vkslm_string_free(g);
    }
    printf("%d outputs valid\n", n);
    /* unconstrained, the same model writes no JSON */
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.temperature = 1.0f;
    gp.seed = 1;
    gp.max_tokens = 16;
    vkslm_generate_result r;
    char text[2048], why[256];
    CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(test_schema_valid_text(test_bounded_schemas[0], text, why, sizeof why), 0);
}

/* JSON mode: any object. Noise rarely closes a free string, so a cut output must be a prefix of one. */
static void t_json_mode(void) {
    if (!session)
        return;
    char *g = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_json_schema_to_grammar("{\"type\":\"object\"}", 17, &g), VKSLM_OK);
    vkslm_grammar *pg;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_parse(g, NULL, &pg), VKSLM_OK);
    int ended = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        vkslm_generate_params gp = vkslm_generate_default_params();
        gp.temperature = 1.0f;
        gp.seed = seed;
        gp.max_tokens = 40;
        gp.grammar = g;
        vkslm_generate_result r;
        char text[4096];
        CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_OK);
        if (r.stop_reason == VKSLM_STOP_EOG) {
            cJSON *v = cJSON_ParseWithOpts(text, NULL, 1);
            CU_ASSERT_TRUE(cJSON_IsObject(v));
            cJSON_Delete(v);
            ended++;
        } else {
            CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_LENGTH);
            CU_ASSERT_EQUAL(r.n_tokens, 40);
            vkslm_gmatch *m;
            CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(pg, &m), VKSLM_OK);
            CU_ASSERT_TRUE(vkslm_gmatch_accept(m, text, strlen(text)));
            CU_ASSERT_FALSE(vkslm_gmatch_complete(m));
            vkslm_gmatch_free(m);
        }
    }
    printf("JSON mode: %d of 5 ended within 40 tokens\n", ended);
    vkslm_grammar_free(pg);
    vkslm_string_free(g);
}

static void t_greedy_root_cut(void) {
    if (!session)
        return;
    const char *g = "# two rules; the start is chosen by grammar_root\n"
                    "start ::= \"[\" item (\",\" item){2} \"]\"\n"
                    "item ::= [a-z] [0-9]?\n";
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.grammar = g;
    gp.grammar_root = "start";
    gp.max_tokens = 32;
    vkslm_generate_result r;
    char a[256], b[256];
    CU_ASSERT_EQUAL(gen(&gp, a, sizeof a, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_EOG); /* done: nothing may follow "]" */
    CU_ASSERT_EQUAL(gen(&gp, b, sizeof b, &r), VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(a, b);
    vkslm_grammar *pg;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_parse(g, "start", &pg), VKSLM_OK);
    vkslm_gmatch *m;
    CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(pg, &m), VKSLM_OK);
    CU_ASSERT_TRUE(vkslm_gmatch_accept(m, a, strlen(a)) && vkslm_gmatch_complete(m));
    vkslm_gmatch_free(m);
    vkslm_grammar_free(pg);
    printf("greedy: %s\n", a);
    /* max_tokens cuts a long constrained output: stop reason length */
    gp.grammar = "root ::= \"\\\"\" [a-z ]{30,40} \"\\\"\"\n";
    gp.grammar_root = NULL;
    gp.max_tokens = 3;
    CU_ASSERT_EQUAL(gen(&gp, a, sizeof a, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_LENGTH);
    CU_ASSERT_EQUAL(r.n_tokens, 3);
    CU_ASSERT_EQUAL(a[0], '"');
}

static void t_bad_grammar(void) {
    if (!session)
        return;
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.grammar = "root ::= \"a\" undefined-rule\n";
    vkslm_generate_result r;
    char text[256];
    CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "grammar 1:14: undefined rule 'undefined-rule'"));
    gp.grammar = "root ::= \"a\"\n";
    gp.grammar_root = "nothing";
    CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "no rule 'nothing'"));
    /* the session still works */
    gp.grammar_root = NULL;
    CU_ASSERT_EQUAL(gen(&gp, text, sizeof text, &r), VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(text, "a");
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_EOG);
}

static void t_cli(void) {
    if (!session)
        return;
    char gpath[64], spath[64], cmd[1024], out[8192];
    snprintf(gpath, sizeof gpath, "/tmp/vkslm-test-grammar-%d.gbnf", (int)getpid());
    snprintf(spath, sizeof spath, "/tmp/vkslm-test-schema-%d.json", (int)getpid());
    FILE *f = fopen(gpath, "w");
    fputs("root ::= \"color: \" (\"red\" | \"green\" | \"blue\") \"\\n\"\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, VKSLM_CLI " run -m %s/models/llama-2-tiny-random.gguf -p 'Pick:' --temp 1 --seed 3 "
             "--grammar %s --json 2>/dev/null", test_data_dir(), gpath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
    CU_ASSERT_TRUE_FATAL(cJSON_IsString(t));
    CU_ASSERT_TRUE(!strcmp(t->valuestring, "color: red\n") || !strcmp(t->valuestring, "color: green\n") ||
                   !strcmp(t->valuestring, "color: blue\n"));
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(j, "stop_reason")->valuestring, "eog");
    cJSON_Delete(j);
    /* a schema */
    const char *schema = test_bounded_schemas[5];
    f = fopen(spath, "w");
    fputs(schema, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, VKSLM_CLI " run -m %s/models/llama-2-tiny-random.gguf -p 'JSON:' --temp 1 --seed 4 "
             "--json-schema %s --json 2>/dev/null", test_data_dir(), spath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 0);
    j = cJSON_Parse(out);
    t = cJSON_GetObjectItemCaseSensitive(j, "text");
    char why[256];
    CU_ASSERT_TRUE_FATAL(cJSON_IsString(t));
    CU_ASSERT_EQUAL(test_schema_valid_text(schema, t->valuestring, why, sizeof why), 1);
    cJSON_Delete(j);
    /* chat: every reply follows the grammar (chat ends each reply with a newline) */
    f = fopen(gpath, "w");
    fputs("root ::= [a-z]{1,5} \".\"\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "printf 'hi\\nagain\\nonce more\\n' | " VKSLM_CLI " chat -m %s/models/tiny-qwen2-random.gguf "
             "--template chatml --seed 5 --grammar %s 2>/dev/null", test_data_dir(), gpath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 0);
    int replies = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line), k = 0;
        while (k < n && line[k] >= 'a' && line[k] <= 'z')
            k++;
        CU_ASSERT_TRUE(k >= 1 && k <= 5 && k + 1 == n && line[k] == '.');
        replies++;
    }
    CU_ASSERT_EQUAL(replies, 3);
    /* refusals: an unsupported schema keyword, a bad grammar, both options */
    f = fopen(spath, "w");
    fputs("{\"type\":\"string\",\"format\":\"email\"}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, VKSLM_CLI " run -m %s/models/llama-2-tiny-random.gguf -p x --json-schema %s 2>&1",
             test_data_dir(), spath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "'format'"));
    f = fopen(gpath, "w");
    fputs("root ::= [a-z\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, VKSLM_CLI " run -m %s/models/llama-2-tiny-random.gguf -p x --grammar %s 2>&1",
             test_data_dir(), gpath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "grammar 1:10:"));
    snprintf(cmd, sizeof cmd, VKSLM_CLI " run -m %s/models/llama-2-tiny-random.gguf -p x --grammar %s "
             "--json-schema %s 2>&1", test_data_dir(), gpath, spath);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "give one"));
    unlink(gpath);
    unlink(spath);
}

static void t_free(void) {
    vkslm_session_free(session);
    vkslm_model_free(model);
    session = NULL;
    model = NULL;
}

int main(void) {
    static const vkslm_test tests[] = {
        {"load", t_load},
        {"schemas_seeds", t_schemas_seeds},
        {"json_mode", t_json_mode},
        {"greedy_root_cut", t_greedy_root_cut},
        {"bad_grammar", t_bad_grammar},
        {"cli", t_cli},
        {"free", t_free},
        {NULL, NULL},
    };
    return test_run_suite("gpu_grammar", tests);
}
