/* vkslm_generate end to end on a model whose tokens are known in advance (tests/util_forced.h): byte
 * tokens that form ill-formed UTF-8 come out repaired (one U+FFFD per maximal subpart) in every on_token
 * piece and in result->text, greedy (on-device argmax) and sampled alike; a character split over byte
 * tokens comes out whole; stop strings still match, never inside a character; a prompt with ill-formed
 * bytes comes back valid from vkslm_model_detokenize; NaN logits fail greedy and sampled decoding with
 * the same status and message; vkslm run --json writes the repaired text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_data.h"
#include "loaders/gguf.h"
#include "tests/harness.h"
#include "tests/util_forced.h"
#include "vkslm.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */
#define LLAMA "\xF0\x9F\xA6\x99"

/* Valid UTF-8, by the tokenizer's decoder (not the code under test). */
static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0, adv; i < n; i += adv)
        if (vkslm_utf8_decode(s + i, n - i, &adv) == VKSLM_UC_INVALID)
            return 0;
    return 1;
}

static vkslm_model *load(test_forced_file *f) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load_memory(f->bytes, f->size, &mp, &m);
    if (st != VKSLM_OK)
        fprintf(stderr, "load: %s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return m;
}

typedef struct pieces {
    char text[256];
    size_t len;
    int n, bad;
} pieces;

static bool collect(const char *piece, void *user) {
    pieces *p = user;
    size_t n = strlen(piece);
    if (n == 0 || !valid_utf8(piece, n) || p->len + n >= sizeof p->text) {
        p->bad++;
        return true;
    }
    memcpy(p->text + p->len, piece, n + 1);
    p->len += n;
    p->n++;
    return true;
}

static const char prompt[] = "x\xE2\x82y";

/* The last token of the prompt as the model's tokenizer splits it. */
static int32_t last_prompt_token(const test_forced_file *f) {
    vkslm_gguf *g = NULL;
    vkslm_tokenizer *t = NULL;
    int32_t ids[16], last = -1;
    size_t n = 0;
    if (vkslm_gguf_open_memory(f->bytes, f->size, &g) == VKSLM_OK && vkslm_tokenizer_load(g, &t) == VKSLM_OK &&
        vkslm_tokenize(t, prompt, strlen(prompt), 1, 0, ids, 16, &n) == VKSLM_OK && n > 0)
        last = ids[n - 1];
    vkslm_tokenizer_free(t);
    vkslm_gguf_close(g);
    return last;
}

/* Generates 8 forced tokens after the prompt; checks pieces against the text; returns the status. */
static vkslm_status run(vkslm_session *s, float temperature, const char *stop, vkslm_generate_result *r, pieces *p) {
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 8;
    gp.temperature = temperature;
    gp.seed = 3;
    gp.on_token = collect;
    gp.user_data = p;
    const char *const stops[1] = {stop};
    gp.stop = stops;
    gp.n_stop = stop ? 1 : 0;
    memset(p, 0, sizeof *p);
    CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
    vkslm_status st = vkslm_generate(s, prompt, &gp, r);
    if (st != VKSLM_OK)
        fprintf(stderr, "generate: %s\n", vkslm_last_error());
    CU_ASSERT_EQUAL(p->bad, 0); /* no empty, incomplete or ill-formed piece */
    CU_ASSERT(valid_utf8(r->text, r->text_len));
    CU_ASSERT(p->len == r->text_len && memcmp(p->text, r->text, p->len) == 0);
    return st;
}

static void test_byte_tokens_come_out_valid(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    test_forced_file f;
    CU_ASSERT_FATAL(test_forced_open(&f) == 0);
    /* after the prompt: E2 82 'y' F0 9F A6 99 E2 as byte tokens: an unfinished euro sign, y, a llama emoji
     * split over four tokens, and a lead byte that the end of generation leaves unfinished */
    static const unsigned char bytes[] = {0xE2, 0x82, 'y', 0xF0, 0x9F, 0xA6, 0x99, 0xE2};
    int32_t chain[9];
    chain[0] = last_prompt_token(&f);
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", bytes[i]);
        chain[i + 1] = test_forced_token(&f, name);
        CU_ASSERT_FATAL(chain[i + 1] >= 0);
        CU_ASSERT_FATAL(i == 7 || chain[i + 1] != chain[0]); /* the sources must be distinct */
    }
    CU_ASSERT_FATAL(chain[0] >= 0);
    CU_ASSERT_FATAL(test_forced_chain(&f, chain, chain + 1, 8) == 0);
    vkslm_model *m = load(&f);
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);

    static const char want[] = R "y" LLAMA R;
    for (int sampled = 0; sampled < 2; sampled++) { /* on-device argmax, then the CPU sampler */
        vkslm_generate_result r;
        pieces p;
        CU_ASSERT_EQUAL(run(s, sampled ? 0.1f : 0.0f, NULL, &r, &p), VKSLM_OK); /* margin 8 / 0.1: certain */
        CU_ASSERT_EQUAL(r.n_tokens, 8);
        CU_ASSERT(r.n_tokens == 8 && memcmp(r.tokens, chain + 1, 8 * sizeof *r.tokens) == 0);
        CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_LENGTH);
        CU_ASSERT(r.text_len == strlen(want) && memcmp(r.text, want, r.text_len) == 0);
        CU_ASSERT_EQUAL(p.n, 3); /* R "y" when 'y' proves E2 82 unfinished, the llama, the final R */
    }

    /* a stop string completed by the fourth byte of a character */
    vkslm_generate_result r;
    pieces p;
    CU_ASSERT_EQUAL(run(s, 0.0f, LLAMA, &r, &p), VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_STRING);
    CU_ASSERT(r.text_len == 4 && memcmp(r.text, R "y", 4) == 0);
    /* a stop string that starts inside a character never matches there (nor cuts the text) */
    CU_ASSERT_EQUAL(run(s, 0.0f, "\x9F\xA6", &r, &p), VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_LENGTH);
    CU_ASSERT(r.text_len == strlen(want) && memcmp(r.text, want, r.text_len) == 0);
    /* the replacement character is text like any other */
    CU_ASSERT_EQUAL(run(s, 0.0f, "y" LLAMA R, &r, &p), VKSLM_OK);
    CU_ASSERT_EQUAL(r.stop_reason, VKSLM_STOP_STRING);
    CU_ASSERT(r.text_len == 3 && memcmp(r.text, R, 3) == 0);

    vkslm_session_free(s);
    vkslm_model_free(m);

    /* the CLI's JSON: the same text, replacements written as \ufffd */
    char path[] = "/tmp/vkslm-forced-XXXXXX", cmd[1024], out[4096];
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, f.bytes, f.size) == (ssize_t)f.size);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p \"$(printf 'x\\342\\202y')\" -n 8 --json 2>/dev/null", VKSLM_CLI,
             path);
    CU_ASSERT_EQUAL(test_run_command(cmd, out, sizeof out), 0);
    unlink(path);
    CU_ASSERT(valid_utf8(out, strlen(out)));
    if (!strstr(out, "\"text\": \"\\ufffdy" LLAMA "\\ufffd\""))
        fprintf(stderr, "vkslm run --json: %s\n", out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"text\": \"\\ufffdy" LLAMA "\\ufffd\""));
    test_forced_close(&f);
}

static void test_detokenize_is_valid(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    test_forced_file f;
    CU_ASSERT_FATAL(test_forced_open(&f) == 0);
    vkslm_model *m = load(&f);
    int32_t ids[16];
    size_t n = 0, len = 0;
    CU_ASSERT_FATAL(vkslm_model_tokenize(m, prompt, strlen(prompt), 0, false, ids, 16, &n) == VKSLM_OK);
    char text[64];
    CU_ASSERT_EQUAL(vkslm_model_detokenize(m, ids, n, text, sizeof text, &len), VKSLM_OK);
    CU_ASSERT(len == strlen(text) && valid_utf8(text, len));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "x" R "y")); /* E2 82: one maximal subpart */
    /* too small: whole characters only, NUL-terminated, the full length reported */
    size_t at = (size_t)(strstr(text, R) - text), full = len;
    CU_ASSERT_EQUAL(vkslm_model_detokenize(m, ids, n, text, at + 2, &len), VKSLM_OK);
    CU_ASSERT_EQUAL(len, full);
    CU_ASSERT_EQUAL(strlen(text), at);
    /* the byte tokens alone */
    int32_t lone[2] = {test_forced_token(&f, "<0xE2>"), test_forced_token(&f, "<0x82>")};
    CU_ASSERT_EQUAL(vkslm_model_detokenize(m, lone, 2, text, sizeof text, &len), VKSLM_OK);
    CU_ASSERT(len == 3 && strcmp(text, R) == 0);
    vkslm_model_free(m);
    test_forced_close(&f);
}

static void test_nan_logits_fail_alike(void) {
    TEST_REQUIRE_DATA();
    TEST_REQUIRE_GPU(test_gpu());
    test_forced_file f;
    CU_ASSERT_FATAL(test_forced_open(&f) == 0);
    CU_ASSERT_FATAL(test_forced_fill(&f, "output_norm.weight", NAN) == 0); /* every logit NaN */
    vkslm_model *m = load(&f);
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);
    vkslm_status st[2];
    char msg[2][512];
    for (int sampled = 0; sampled < 2; sampled++) {
        vkslm_generate_params gp = vkslm_generate_default_params();
        gp.max_tokens = 4;
        gp.temperature = sampled ? 0.8f : 0.0f;
        vkslm_generate_result r;
        CU_ASSERT_FATAL(vkslm_session_rewind(s, 0) == VKSLM_OK);
        st[sampled] = vkslm_generate(s, "Once upon a time", &gp, &r);
        snprintf(msg[sampled], sizeof msg[sampled], "%s", vkslm_last_error());
        CU_ASSERT_EQUAL(r.n_tokens, 0);
    }
    if (st[0] != VKSLM_ERR_FORMAT || st[1] != VKSLM_ERR_FORMAT)
        fprintf(stderr, "greedy: %d \"%s\"; sampled: %d \"%s\"\n", (int)st[0], msg[0], (int)st[1], msg[1]);
    CU_ASSERT_EQUAL(st[0], VKSLM_ERR_FORMAT);
    CU_ASSERT_EQUAL(st[1], VKSLM_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(msg[0], msg[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg[0], "NaN"));
    vkslm_session_free(s);
    vkslm_model_free(m);
    test_forced_close(&f);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"byte tokens: valid pieces and text, characters whole, stop strings", test_byte_tokens_come_out_valid},
        {"vkslm_model_detokenize repairs ill-formed bytes, cuts whole characters", test_detokenize_is_valid},
        {"NaN logits: greedy and sampled generation fail alike", test_nan_logits_fail_alike},
        {NULL, NULL},
    };
    return test_run_suite("gpu_forced_generate", tests);
}
