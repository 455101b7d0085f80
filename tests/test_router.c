/* The orchestra's router without a device: explicit names, keyword and pattern rules, BM25 routing of
 * the labelled fixture (tests/data/route_fixture.tsv) with rules off, the fallback, and bad configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/router/lexical.h"
#include "tests/harness.h"
#include "vkslm.h"

static const char *const story_ex[] = {"Tell me a story about a little girl and her dog",
                                       "Write a bedtime story about a brave dragon"};
static const char *const code_ex[] = {"Write a Python function that reverses a list",
                                      "Why does my C program crash with a segmentation fault?"};
static const char *const story_kw[] = {"story", "once upon a time"};
static const char *const code_kw[] = {"python", "c++"};

static vkslm_expert_desc experts[2] = {
    {.name = "stories", .model_path = "/nonexistent/a.gguf", .role = "writes children's stories",
     .examples = story_ex, .n_examples = 2, .keywords = story_kw, .n_keywords = 2},
    {.name = "code", .model_path = "/nonexistent/b.gguf", .role = "programming help", .examples = code_ex,
     .n_examples = 2, .keywords = code_kw, .n_keywords = 2, .pattern = "#include\\s*<"},
};

static vkslm_orchestra *make(int rules, const char *fallback, float min_conf) {
    vkslm_orchestra_params p = vkslm_orchestra_default_params();
    p.disable_rules = !rules;
    p.fallback = fallback;
    p.min_confidence = min_conf;
    p.memory_budget = 1 << 30; /* no device query */
    vkslm_orchestra *o = NULL;
    vkslm_status st = vkslm_orchestra_create(experts, 2, &p, &o);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
    return o;
}

static void test_explicit_and_rules(void) {
    vkslm_orchestra *o = make(1, NULL, 0);
    vkslm_route_decision d;
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "code", "a story", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.expert, 1);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_EXPLICIT);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "nope", "x", &d), VKSLM_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "nope"));
    /* keywords: whole words, case-insensitive, punctuation literal */
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", "ONCE UPON A TIME, a frog", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.expert, 0);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_RULE);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, NULL, "I write C++ daily", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.expert, 1);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_RULE);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, NULL, "storyteller pythonic", &d), VKSLM_OK); /* not whole words */
    CU_ASSERT_NOT_EQUAL(d.method, VKSLM_ROUTE_RULE);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, NULL, "what does #include <stdio.h> do", &d), VKSLM_OK); /* pattern */
    CU_ASSERT_EQUAL(d.expert, 1);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_RULE);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, NULL, "\xff\xfe invalid utf-8 \xc3", &d), VKSLM_OK); /* no crash */
    vkslm_orchestra_free(o);
}

static void test_lexical_and_fallback(void) {
    vkslm_orchestra *o = make(0, "code", 0);
    vkslm_route_decision d;
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", "a dragon at bedtime", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_LEXICAL);
    CU_ASSERT_EQUAL(d.expert, 0);
    CU_ASSERT_EQUAL(d.n_scores, 2);
    CU_ASSERT(d.scores[0] > 0.99f && d.scores[1] < 0.01f);
    CU_ASSERT(d.route_ms >= 0);
    /* words of no expert: the fallback */
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", "zzz qqq", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_FALLBACK);
    CU_ASSERT_EQUAL(d.expert, 1);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", "", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_FALLBACK);
    vkslm_orchestra_free(o);
    /* a confidence threshold that an even split misses */
    o = make(0, "stories", 0.9f);
    CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", "write a story in python", &d), VKSLM_OK);
    CU_ASSERT_EQUAL(d.method, VKSLM_ROUTE_FALLBACK);
    CU_ASSERT_EQUAL(d.expert, 0);
    vkslm_orchestra_free(o);
}

static void test_bad_configs(void) {
    vkslm_orchestra_params p = vkslm_orchestra_default_params();
    p.memory_budget = 1 << 30;
    vkslm_orchestra *o = NULL;
    vkslm_expert_desc bad[2] = {experts[0], experts[1]};
    bad[1].pattern = "([unclosed";
    CU_ASSERT_EQUAL(vkslm_orchestra_create(bad, 2, &p, &o), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "expert code: pattern at offset"));
    CU_ASSERT_PTR_NULL(o);
    bad[1] = experts[1];
    bad[1].name = "stories";
    CU_ASSERT_EQUAL(vkslm_orchestra_create(bad, 2, &p, &o), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "used twice"));
    bad[1].name = "auto";
    CU_ASSERT_EQUAL(vkslm_orchestra_create(bad, 2, &p, &o), VKSLM_ERR_INVALID_ARG);
    bad[1] = experts[1];
    bad[1].model_path = NULL;
    CU_ASSERT_EQUAL(vkslm_orchestra_create(bad, 2, &p, &o), VKSLM_ERR_INVALID_ARG);
    p.fallback = "nobody";
    CU_ASSERT_EQUAL(vkslm_orchestra_create(experts, 2, &p, &o), VKSLM_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(vkslm_orchestra_create(experts, 0, &p, &o), VKSLM_ERR_INVALID_ARG);
    vkslm_orchestra_free(NULL);
    /* a model that does not exist fails at first use, with the path in the message */
    p.fallback = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_create(experts, 2, &p, &o), VKSLM_OK);
    vkslm_sequence *s = NULL;
    CU_ASSERT_NOT_EQUAL(vkslm_orchestra_acquire(o, 0, &s), VKSLM_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "/nonexistent/a.gguf"));
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_NOT_EQUAL(vkslm_orchestra_acquire(o, 7, &s), VKSLM_OK);
    vkslm_orchestra_free(o);
}

static void count_word(const char *w, void *user) {
    char *out = user;
    strcat(out, w);
    strcat(out, "|");
}

static void test_words(void) {
    char out[256] = "";
    vkslm_words("The Reviews of MY code, it's 42 x-rays; caf\xc3\xa9s", count_word, out);
    CU_ASSERT_STRING_EQUAL(out, "review|code|42|ray|caf\xc3\xa9|");
}

/* The shared orchestra config's experts route the labelled fixture (18 of 20 at least). */
static void test_fixture(void) {
    static const char *const names[4] = {"stories", "code", "documents", "sentiment"};
    /* the role and examples of examples/orchestra/orchestra.json, read as the server would */
    char cmd[1024], *cfg_out = malloc(1 << 16);
    snprintf(cmd, sizeof cmd, "cat %s/examples/orchestra/orchestra.json", VKSLM_SOURCE_DIR);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, cfg_out, 1 << 16), 0);
    /* pull "role" and "examples" per expert out of the JSON with plain string scanning (the server's
     * own parsing is tested over HTTP in test_gpu_serve) */
    vkslm_expert_desc d[4];
    memset(d, 0, sizeof d);
    static char *ex_store[4][16];
    const char *p = cfg_out;
    for (int e = 0; e < 4; e++) {
        char key[64];
        snprintf(key, sizeof key, "\"name\": \"%s\"", names[e]);
        p = strstr(cfg_out, key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        d[e].name = names[e];
        d[e].model_path = "/nonexistent.gguf";
        const char *r = strstr(p, "\"role\": \"") + 9;
        d[e].role = strndup(r, (size_t)(strchr(r, '"') - r));
        const char *x = strstr(p, "\"examples\": [") + 13, *end = strchr(x, ']');
        size_t n = 0;
        while ((x = strchr(x, '"')) && x < end && n < 16) {
            const char *q = strchr(x + 1, '"');
            ex_store[e][n++] = strndup(x + 1, (size_t)(q - x - 1));
            x = q + 1;
        }
        d[e].examples = (const char *const *)ex_store[e];
        d[e].n_examples = n;
        CU_ASSERT(n >= 5);
    }
    vkslm_orchestra_params prm = vkslm_orchestra_default_params();
    prm.disable_rules = true;
    prm.memory_budget = 1 << 30;
    vkslm_orchestra *o = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_orchestra_create(d, 4, &prm, &o), VKSLM_OK);
    snprintf(cmd, sizeof cmd, "grep -v '^#' %s/tests/data/route_fixture.tsv", VKSLM_SOURCE_DIR);
    char *fx = malloc(1 << 16);
    CU_ASSERT_EQUAL_FATAL(test_run_command(cmd, fx, 1 << 16), 0);
    int total = 0, right = 0;
    for (char *line = strtok(fx, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
        *tab = 0;
        vkslm_route_decision dec;
        CU_ASSERT_EQUAL(vkslm_orchestra_route(o, "auto", tab + 1, &dec), VKSLM_OK);
        int ok = strcmp(vkslm_orchestra_expert_name(o, (size_t)dec.expert), line) == 0;
        if (!ok)
            printf("  misrouted to %s (%s, %.2f): %s\n", vkslm_orchestra_expert_name(o, (size_t)dec.expert),
                   vkslm_route_method_str(dec.method), dec.confidence, tab + 1);
        right += ok;
        total++;
    }
    printf("  fixture: %d of %d routed as labelled\n", right, total);
    CU_ASSERT_EQUAL(total, 20);
    CU_ASSERT(right >= 18);
    vkslm_orchestra_free(o);
    for (int e = 0; e < 4; e++) {
        free((void *)d[e].role);
        for (size_t k = 0; k < d[e].n_examples; k++)
            free(ex_store[e][k]);
    }
    free(fx);
    free(cfg_out);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"explicit names and keyword/pattern rules", test_explicit_and_rules},
        {"lexical (BM25) routing, fallback and threshold", test_lexical_and_fallback},
        {"bad configs are refused with a message", test_bad_configs},
        {"words: lowercase, stop words, plurals, UTF-8", test_words},
        {"the labelled fixture routes with rules off", test_fixture},
        {NULL, NULL},
    };
    return test_run_suite("router", tests);
}
