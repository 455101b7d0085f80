/* Grammars and JSON schemas (docs/grammar.md), without a device: the parser (syntax, errors with
 * line:column, left recursion, undefined rules), the matcher on whole strings and on UTF-8 split over
 * pieces, the schema compiler on valid and invalid instances and its refusals, and the sampler stage on
 * real vocabularies (vocabulary-only loads) driven by random logits: noise, so that only the grammar makes
 * the output valid. Every output is checked with the independent validator of tests/util_schema.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/grammar.h"
#include "engine/util/clock.h"
#include "tests/harness.h"
#include "tests/util_schema.h"

/* Whole-string match: the text is a sentence of the grammar. split > 0 feeds it in pieces of that many
 * bytes (cutting characters). */
static int matches(const char *grammar, const char *text, size_t split) {
    vkslm_grammar *g = NULL;
    if (vkslm_grammar_parse(grammar, NULL, &g) != VKSLM_OK) {
        printf("grammar does not parse: %s\n", vkslm_last_error());
        return -1;
    }
    vkslm_gmatch *m = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(g, &m), VKSLM_OK);
    size_t n = strlen(text), step = split ? split : (n ? n : 1);
    int ok = 1;
    for (size_t i = 0; ok && i < n; i += step)
        ok = vkslm_gmatch_accept(m, text + i, i + step > n ? n - i : step);
    ok = ok && vkslm_gmatch_complete(m);
    vkslm_gmatch_free(m);
    vkslm_grammar_free(g);
    return ok;
}

static void t_syntax(void) {
    const char *g = "# a comment\n"
                    "root ::= greeting (\", \" name)? \"!\"{1,3}\n"
                    "greeting ::= \"hi\" | \"hello\"   # alternatives\n"
                    "name ::= [A-Z] [a-z]* | \"x\"+ \n";
    CU_ASSERT_EQUAL(matches(g, "hi!", 0), 1);
    CU_ASSERT_EQUAL(matches(g, "hello, Bob!!!", 0), 1);
    CU_ASSERT_EQUAL(matches(g, "hello, xxx!", 0), 1);
    CU_ASSERT_EQUAL(matches(g, "hello, Bob!!!!", 0), 0);
    CU_ASSERT_EQUAL(matches(g, "hello, bob!", 0), 0);
    CU_ASSERT_EQUAL(matches(g, "hello", 0), 0); /* a prefix: not complete */
    CU_ASSERT_EQUAL(matches(g, "hey!", 0), 0);
    /* classes, negation, any, escapes, counts */
    const char *g2 = "root ::= [^\"\\\\]{2} . \"\\x41\\u00e9\\n\" [0-9]{2,} [a-c-]?\n";
    CU_ASSERT_EQUAL(matches(g2, "ab\xe2\x82\xac" "A\xc3\xa9\n12", 0), 1);
    CU_ASSERT_EQUAL(matches(g2, "ab\xe2\x82\xac" "A\xc3\xa9\n12345-", 0), 1);
    CU_ASSERT_EQUAL(matches(g2, "a\"xA\xc3\xa9\n12", 0), 0);
    CU_ASSERT_EQUAL(matches(g2, "abxA\xc3\xa9\n1", 0), 0);
    /* multi-line alternatives, nested groups, right recursion */
    const char *g3 = "root ::= list\nlist ::= item\n  | item \",\" list\nitem ::= ( \"(\" ( \"a\" | \"b\" )* \")\" )\n";
    CU_ASSERT_EQUAL(matches(g3, "(ab),(),(bba)", 0), 1);
    CU_ASSERT_EQUAL(matches(g3, "(ab),", 0), 0);
}

static void t_utf8_split(void) {
    const char *g = "root ::= \"\xc3\xa9t\xc3\xa9 \" [\\u4e00-\\u9fff]+ \"\xf0\x9f\x98\x80\"\n";
    const char *ok = "\xc3\xa9t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80";
    for (size_t split = 0; split <= 4; split++)
        CU_ASSERT_EQUAL(matches(g, ok, split), 1);
    CU_ASSERT_EQUAL(matches(g, "\xc3\xa9t\xc3\xa9 abc\xf0\x9f\x98\x80", 1), 0);
    /* ill-formed UTF-8 is refused even where the grammar takes anything */
    CU_ASSERT_EQUAL(matches("root ::= .*\n", "a\x80", 0), 0);
    CU_ASSERT_EQUAL(matches("root ::= .*\n", "\xc0\xaf", 1), 0);
    CU_ASSERT_EQUAL(matches("root ::= .*\n", "\xed\xa0\x80", 1), 0); /* a surrogate */
    /* a partial character whose every completion the grammar refuses stops at its first byte */
    vkslm_grammar *g2;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_parse("root ::= [a-z\\u00e0]\n", NULL, &g2), VKSLM_OK);
    vkslm_gmatch *m;
    CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(g2, &m), VKSLM_OK);
    CU_ASSERT_FALSE(vkslm_gmatch_accept(m, "\xe4", 1)); /* three-byte characters start at U+1000 */
    CU_ASSERT_TRUE(vkslm_gmatch_accept(m, "\xc3", 1));
    CU_ASSERT_FALSE(vkslm_gmatch_complete(m));
    CU_ASSERT_FALSE(vkslm_gmatch_accept(m, "\xa1", 1)); /* U+00E1: not in the class; the state stays */
    CU_ASSERT_TRUE(vkslm_gmatch_accept(m, "\xa0", 1));
    CU_ASSERT_TRUE(vkslm_gmatch_done(m));
    vkslm_gmatch_free(m);
    vkslm_grammar_free(g2);
}

static void expect_error(const char *grammar, const char *root, const char *where, const char *what) {
    vkslm_grammar *g = NULL;
    vkslm_status st = vkslm_grammar_parse(grammar, root, &g);
    CU_ASSERT_EQUAL(st, VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(g);
    const char *e = vkslm_last_error();
    if (!strstr(e, where) || !strstr(e, what)) {
        printf("grammar %s: got \"%s\", wanted \"%s\" and \"%s\"\n", grammar, e, where, what);
        CU_FAIL("error message");
    }
}

static void t_errors(void) {
    expect_error("root ::= a b\na ::= \"x\"\n", NULL, "grammar 1:12:", "undefined rule 'b'");
    expect_error("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"\n", NULL, "grammar 2:1:", "left-recursive");
    expect_error("root ::= a\na ::= b? root \"x\"\nb ::= \"y\"\n", NULL, "grammar 1:1:", "left-recursive");
    expect_error("root ::= (\"a\"?)*\n", NULL, "grammar 1:", "left-recursive");
    expect_error("root ::= \"abc\n", NULL, "grammar 1:10:", "unterminated string");
    expect_error("root ::= [a-\n", NULL, "grammar 1:10:", "class");
    expect_error("root ::= ( \"a\" \n", NULL, "grammar 1:10:", "')'");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", NULL, "grammar 2:1:", "defined twice");
    expect_error("start ::= \"a\"\n", NULL, "grammar", "no rule 'root'");
    expect_error("start ::= \"a\"\n", "begin", "grammar", "no rule 'begin'");
    expect_error("root ::= \"a\"{3,2}\n", NULL, "grammar 1:13:", "below the smallest");
    expect_error("root ::= \"a\"{100000}\n", NULL, "grammar 1:14:", "above");
    expect_error("root ::= \"a\"**\n", NULL, "grammar 1:14:", "two operators");
    expect_error("root ::= \"\\q\"\n", NULL, "grammar 1:11:", "unknown escape");
    expect_error("root ::= @\n", NULL, "grammar 1:10:", "unexpected '@'");
    expect_error("root ::= \"a\" )\n", NULL, "grammar 1:14:", "')' without");
    /* an ambiguous grammar whose ways to go on double with every "(": refused past the bound, not slow */
    vkslm_grammar *amb;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_parse("root ::= \"(\" root \")\" | \"(\" root \"]\" | \"\"\n", NULL, &amb),
                          VKSLM_OK);
    vkslm_gmatch *am;
    CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(amb, &am), VKSLM_OK);
    CU_ASSERT_TRUE(vkslm_gmatch_accept(am, "((((((((", 8)); /* 256 ways */
    CU_ASSERT_FALSE(vkslm_gmatch_accept(am, "((((", 4));    /* 4096 */
    CU_ASSERT_EQUAL(vkslm_gmatch_error(am), VKSLM_ERR_TOO_COMPLEX);
    CU_ASSERT_FALSE(vkslm_gmatch_accept(am, ")", 1));
    vkslm_gmatch_reset(am);
    CU_ASSERT_TRUE(vkslm_gmatch_accept(am, "(()]", 4) && vkslm_gmatch_complete(am));
    vkslm_gmatch_free(am);
    vkslm_grammar_free(amb);
    /* a chosen start rule */
    vkslm_grammar *g;
    CU_ASSERT_EQUAL(vkslm_grammar_parse("a ::= \"x\"\nb ::= a \"y\"\n", "b", &g), VKSLM_OK);
    vkslm_grammar_free(g);
}

/* ---- JSON schemas --------------------------------------------------------------------------------- */
typedef struct schema_case {
    const char *schema;
    const char *valid[8];
    const char *invalid[8];
} schema_case;

static const schema_case CASES[] = {
    {"{\"type\":\"object\"}", {"{}", "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", "{ \"x\": true }"},
     {"[]", "{\"a\":}", "{\"a\":1,}", "{  }", "\"s\""}},
    {"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":3},\"age\":{\"type\":\"integer\","
     "\"minimum\":0,\"maximum\":120}},\"required\":[\"name\"],\"additionalProperties\":false}",
     {"{\"name\":\"Bo\"}", "{\"name\":\"Bob\",\"age\":120}", "{\n\"name\": \"\",\n\"age\": 7\n}"},
     {"{\"age\":3}", "{\"name\":\"Bobby\"}", "{\"name\":\"B\",\"age\":121}", "{\"age\":3,\"name\":\"B\"}",
      "{\"name\":\"B\",\"age\":-1}", "{\"name\":\"B\",\"age\":07}"}},
    {"{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",3,null]},\"minItems\":1,\"maxItems\":3}",
     {"[\"red\"]", "[3,null,\"green\"]", "[ 3 ]"}, {"[]", "[\"blue\"]", "[3,3,3,3]", "[\"red\",]"}},
    {"{\"type\":\"integer\",\"minimum\":-45,\"maximum\":1234}",
     {"-45", "0", "9", "10", "999", "1234", "-7"}, {"-46", "1235", "2000", "-0", "01", "1.5"}},
    {"{\"type\":\"integer\",\"exclusiveMinimum\":10}", {"11", "999999"}, {"10", "-5", "0"}},
    {"{\"type\":\"number\",\"minimum\":-2,\"maximum\":3}", {"3", "3.0", "-2", "-1.999", "0.5", "2.75"},
     {"3.01", "-2.5", "4", "1e2"}},
    {"{\"type\":\"string\",\"pattern\":\"^[a-z]{2,3}-(x|yy)[0-9]?$\"}", {"\"ab-x\"", "\"abc-yy7\""},
     {"\"a-x\"", "\"ab-y\"", "\"ab-x77\"", "\"Ab-x\""}},
    {"{\"type\":\"string\",\"pattern\":\"q\\\"\\\\\\\\\"}", {"\"q\\\"\\\\\"", "\"zzq\\\"\\\\zz\""}, {"\"q\\\"\"", "\"q\""}},
    {"{\"type\":[\"string\",\"null\"],\"minLength\":2,\"maxLength\":2}",
     {"null", "\"ab\"", "\"\\u00e9\\n\"", "\"\\ud83d\\ude00x\""},
     {"\"a\"", "\"abc\"", "1", "\"\\ud800x\"", "\"\\u0000x\"", "\"\\ude00x\""}},
    {"{\"anyOf\":[{\"type\":\"boolean\"},{\"const\":{\"k\":[1,2]}}]}", {"true", "false", "{\"k\":[1,2]}"},
     {"{\"k\":[1]}", "null"}},
    {"{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
     "\"next\":{\"oneOf\":[{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},\"required\":[\"v\",\"next\"]}},"
     "\"$ref\":\"#/$defs/node\"}",
     {"{\"v\":1,\"next\":null}", "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"}, {"{\"v\":1}", "{\"v\":10,\"next\":null}"}},
    {"{\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"null\"},\"c\":{}},\"title\":\"t\",\"description\":\"d\"}",
     {"{}", "{\"b\":null}", "{\"a\":true,\"c\":[{}]}", "{\"a\":false,\"b\":null,\"c\":1}"},
     {"{\"b\":null,\"a\":true}", "{\"d\":1}", "{,}"}},
    {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5}}",
     {"{}", "{\"x\":5,\"y\":0}"}, {"{\"x\":6}"}},
};

static void t_schema_cases(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const schema_case *c = &CASES[i];
        char *g = NULL;
        vkslm_status st = vkslm_json_schema_to_grammar(c->schema, strlen(c->schema), &g);
        if (st != VKSLM_OK) {
            printf("schema %zu: %s\n", i, vkslm_last_error());
            CU_FAIL("schema compiles");
            continue;
        }
        char why[256];
        for (int k = 0; k < 8 && c->valid[k]; k++) {
            int m = matches(g, c->valid[k], 1);
            if (m != 1)
                printf("schema %zu: the grammar refuses valid %s\n%s", i, c->valid[k], g);
            CU_ASSERT_EQUAL(m, 1);
            CU_ASSERT_EQUAL(test_schema_valid_text(c->schema, c->valid[k], why, sizeof why), 1);
        }
        for (int k = 0; k < 8 && c->invalid[k]; k++) {
            int m = matches(g, c->invalid[k], 0);
            if (m != 0)
                printf("schema %zu: the grammar takes invalid %s\n", i, c->invalid[k]);
            CU_ASSERT_EQUAL(m, 0);
        }
        vkslm_string_free(g);
    }
}

static void expect_refused(const char *schema, vkslm_status want, const char *what) {
    char *g = (char *)"untouched";
    vkslm_status st = vkslm_json_schema_to_grammar(schema, strlen(schema), &g);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NULL(g);
    if (st != want || !strstr(vkslm_last_error(), what)) {
        printf("schema %s: status %d \"%s\", wanted %d with \"%s\"\n", schema, st, vkslm_last_error(), want, what);
        CU_FAIL("refusal");
    }
}

static void t_schema_refusals(void) {
    expect_refused("{\"type\":\"string\",\"format\":\"date\"}", VKSLM_ERR_UNSUPPORTED, "'format'");
    expect_refused("{\"type\":\"object\",\"patternProperties\":{}}", VKSLM_ERR_UNSUPPORTED, "'patternProperties'");
    expect_refused("{\"not\":{\"type\":\"null\"}}", VKSLM_ERR_UNSUPPORTED, "'not'");
    expect_refused("{\"if\":{},\"then\":{}}", VKSLM_ERR_UNSUPPORTED, "'if'");
    expect_refused("{\"properties\":{\"a\":{\"allOf\":[]}}}", VKSLM_ERR_UNSUPPORTED, "#/properties/a");
    expect_refused("{\"type\":\"number\",\"minimum\":0.5}", VKSLM_ERR_UNSUPPORTED, "integers");
    expect_refused("{\"type\":\"string\",\"pattern\":\"a\\\\bc\"}", VKSLM_ERR_UNSUPPORTED, "pattern");
    expect_refused("{\"type\":\"string\",\"pattern\":\"a(?=b)\"}", VKSLM_ERR_UNSUPPORTED, "pattern");
    expect_refused("{\"type\":\"string\",\"pattern\":\"a*?\"}", VKSLM_ERR_UNSUPPORTED, "lazy");
    expect_refused("{\"$ref\":\"http://x/y\"}", VKSLM_ERR_UNSUPPORTED, "$ref");
    expect_refused("{\"$ref\":\"#/$defs/missing\"}", VKSLM_ERR_INVALID_ARG, "no definition");
    expect_refused("{\"type\":\"object\",\"required\":[\"x\"]}", VKSLM_ERR_UNSUPPORTED, "\"x\"");
    expect_refused("{\"type\":\"strin\"}", VKSLM_ERR_INVALID_ARG, "strin");
    expect_refused("{\"type\":\"object\"", VKSLM_ERR_INVALID_ARG, "not JSON");
    expect_refused("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", VKSLM_ERR_INVALID_ARG, "between");
    expect_refused("{\"type\":\"string\",\"maxLength\":100000}", VKSLM_ERR_UNSUPPORTED, "maxLength");
    expect_refused("false", VKSLM_ERR_INVALID_ARG, "nothing matches");
}

/* ---- the stage on real vocabularies, with noise for logits ------------------------------------------ */
static vkslm_model *vocab_model(const char *rel) {
    char path[1024];
    vkslm_model_params mp = vkslm_model_default_params();
    mp.vocab_only = true;
    vkslm_model *m = NULL;
    CU_ASSERT_EQUAL(vkslm_model_load(test_data_path(path, sizeof path, rel), &mp, &m), VKSLM_OK);
    return m;
}

/* Samples with the grammar from random logits until an end of generation (or the grammar is done, or
 * max tokens); the text into out. Returns the stop: 1 ended, 0 cut. */
static int noise_run(vkslm_model *m, const char *grammar, uint64_t seed, int max_tokens, char *out, size_t cap,
                     double *ms_per_token) {
    vkslm_sampler *stage = NULL, *chain = vkslm_sampler_chain_init();
    vkslm_gmatch *gm = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_stage(m, grammar, NULL, &stage, &gm), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(chain, stage), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(chain, vkslm_sampler_init_dist(seed)), VKSLM_OK);
    int32_t n_vocab = (int32_t)vkslm_model_n_vocab(m);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    vkslm_rng r;
    vkslm_rng_seed(&r, seed * 7919 + 1);
    size_t len = 0;
    int ended = 0;
    double t0 = vkslm_now_ms();
    int steps = 0;
    out[0] = 0;
    for (; steps < max_tokens; steps++) {
        if (vkslm_gmatch_done(gm)) {
            ended = 1;
            break;
        }
        for (int32_t i = 0; i < n_vocab; i++)
            logits[i] = 3.0f * vkslm_rng_f32(&r);
        int32_t id = vkslm_sampler_sample_logits(chain, logits, n_vocab);
        if (id < 0)
            printf("after \"%s\": %s\n", out, vkslm_last_error());
        CU_ASSERT_TRUE_FATAL(id >= 0);
        if (vkslm_model_token_is_eog(m, id)) {
            ended = 1;
            break;
        }
        size_t n;
        const char *p = vkslm_model_token_piece(m, id, false, &n);
        CU_ASSERT_TRUE(n > 0);
        if (len + n + 1 < cap) {
            memcpy(out + len, p, n);
            len += n;
            out[len] = 0;
        }
    }
    *ms_per_token = steps ? (vkslm_now_ms() - t0) / steps : 0;
    CU_ASSERT_EQUAL(vkslm_gmatch_error(gm), VKSLM_OK);
    free(logits);
    vkslm_sampler_free(chain);
    return ended;
}

static void noise_schemas(const char *rel, int seeds) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = vocab_model(rel);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    double worst = 0;
    for (size_t i = 0; test_bounded_schemas[i]; i++) {
        char *g = NULL;
        CU_ASSERT_EQUAL_FATAL(vkslm_json_schema_to_grammar(test_bounded_schemas[i], strlen(test_bounded_schemas[i]), &g), VKSLM_OK);
        for (int seed = 1; seed <= seeds; seed++) {
            char text[4096], why[256];
            double ms;
            int ended = noise_run(m, g, (uint64_t)seed, 200, text, sizeof text, &ms);
            worst = ms > worst ? ms : worst;
            CU_ASSERT_TRUE(ended);
            int ok = test_schema_valid_text(test_bounded_schemas[i], text, why, sizeof why);
            if (!ok || !ended)
                printf("%s schema %zu seed %d: %s (%s)\n", rel, i, seed, text, ended ? why : "not ended");
            CU_ASSERT_EQUAL(ok, 1);
        }
        vkslm_string_free(g);
    }
    printf("%s: at most %.1f ms per token (grammar and sampling)\n", rel, worst);
    vkslm_model_free(m);
}

static void t_noise_spm(void) { noise_schemas("vocab/ggml-vocab-llama-spm.gguf", 5); }
static void t_noise_qwen2(void) { noise_schemas("vocab/ggml-vocab-qwen2.gguf", 2); }

/* JSON mode on noise, plus a hand-written grammar: every ended output is complete; strings of free text
 * may run past the token budget, and then the text is a prefix the grammar still accepts. */
static void t_noise_json_mode(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = vocab_model("vocab/ggml-vocab-llama-spm.gguf");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char *g = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_json_schema_to_grammar("{\"type\":\"object\"}", 17, &g), VKSLM_OK);
    vkslm_grammar *pg;
    CU_ASSERT_EQUAL_FATAL(vkslm_grammar_parse(g, NULL, &pg), VKSLM_OK);
    for (int seed = 1; seed <= 5; seed++) {
        char text[8192];
        double ms;
        int ended = noise_run(m, g, (uint64_t)seed, 300, text, sizeof text, &ms);
        if (ended) {
            cJSON *v = cJSON_ParseWithOpts(text, NULL, 1);
            CU_ASSERT_TRUE(cJSON_IsObject(v));
            cJSON_Delete(v);
        } else { /* a prefix of some object */
            vkslm_gmatch *gm;
            CU_ASSERT_EQUAL_FATAL(vkslm_gmatch_create(pg, &gm), VKSLM_OK);
            CU_ASSERT_TRUE(vkslm_gmatch_accept(gm, text, strlen(text)));
            vkslm_gmatch_free(gm);
        }
    }
    vkslm_grammar_free(pg);
    vkslm_string_free(g);
    /* a grammar file's kind: lines of words, then the end */
    char text[4096];
    double ms;
    int ended = noise_run(m, "root ::= ( [a-z]{1,4} \"\\n\" ){2} \"END\"\n", 3, 100, text, sizeof text, &ms);
    CU_ASSERT_TRUE(ended);
    CU_ASSERT_EQUAL(matches("root ::= ( [a-z]{1,4} \"\\n\" ){2} \"END\"\n", text, 0), 1);
    /* the public constructor: a bad grammar is NULL with the position */
    CU_ASSERT_PTR_NULL(vkslm_sampler_init_grammar(m, "root ::= x\n", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "1:10"));
    vkslm_sampler *s = vkslm_sampler_init_grammar(m, "root ::= \"a\"\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    vkslm_sampler_free(s);
    vkslm_model_free(m);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"syntax", t_syntax},
        {"utf8_split", t_utf8_split},
        {"errors", t_errors},
        {"schema_cases", t_schema_cases},
        {"schema_refusals", t_schema_refusals},
        {"noise_spm", t_noise_spm},
        {"noise_qwen2", t_noise_qwen2},
        {"noise_json_mode", t_noise_json_mode},
        {NULL, NULL},
    };
    return test_run_suite("grammar", tests);
}
