/* Tokenizer properties: detokenize(tokenize(x)) == x for the lossless tokenizers (SentencePiece with
 * byte fallback, byte-level BPE) on the vocab cases, random text and random bytes; the streaming
 * detokenizer agrees with the whole-string one (repaired: U+FFFD for what is not UTF-8) and only ever
 * returns whole, valid UTF-8 characters;
 * special tokens, BOS/EOS, output capacity; no input crashes any tokenizer. */
#define _GNU_SOURCE /* memmem */
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/unicode_data.h"
#include "tests/tok_util.h"

static const char *const vocabs[] = {"bert-bge", "deepseek-coder", "deepseek-llm", "falcon",  "gpt-2",
                                     "llama-bpe", "llama-spm",     "mpt",          "phi-3",   "qwen2",
                                     "refact",   "starcoder",      "gpt-neox",     "baichuan"};
#define N_VOCABS (sizeof vocabs / sizeof vocabs[0])

static vkslm_tokenizer *load_vocab(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    return tok_load(rel);
}

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0, adv; i < n; i += adv)
        if (vkslm_utf8_decode(s + i, n - i, &adv) == VKSLM_UC_INVALID)
            return 0;
    return 1;
}

static int lossless(const vkslm_tokenizer *t) { return vkslm_tokenizer_model(t) != VKSLM_TOK_WPM; }

/* Tokenizes s, checks the round trip (where lossless) and the streaming detokenizer. Returns 1 if OK. */
static int check_text(const vkslm_tokenizer *t, const char *name, const char *s, size_t len, int add_special) {
    size_t n;
    int32_t *ids = tok_run(t, s, len, add_special, 0, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= ids[i] >= 0 && ids[i] < vkslm_tokenizer_n_vocab(t);
    size_t cap = len * 4 + 64, dlen;
    char *back = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    ok &= vkslm_detokenize(t, ids, n, 0, 1, back, cap, &dlen) == VKSLM_OK;
    /* SentencePiece reads a literal "▁" as a space, and puts a space in front of the text that follows
     * a special token (Phi-3's </s> is user-defined, so it is matched even in plain text) */
    int has_escape = vkslm_tokenizer_model(t) == VKSLM_TOK_SPM && memmem(s, len, "\xE2\x96\x81", 3);
    for (size_t i = 0; i < n && vkslm_tokenizer_model(t) == VKSLM_TOK_SPM; i++)
        has_escape |= (vkslm_token_attr(t, ids[i]) & VKSLM_TOKATTR_USER_DEFINED) != 0;
    if (ok && lossless(t) && !has_escape && (dlen != len || memcmp(back, s, len) != 0)) {
        fprintf(stderr, "  %s: round trip of %zu bytes gave %zu bytes back\n", name, len, dlen);
        ok = 0;
    }
    /* streaming: the same text (repaired where the bytes are not UTF-8), never a partial character */
    size_t full_len;
    ok &= vkslm_detokenize(t, ids, n, 0, 0, back, cap, &full_len) == VKSLM_OK;
    char *repaired = malloc(3 * full_len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(repaired);
    size_t repaired_len = vkslm_utf8_sanitize(back, full_len, repaired, 3 * full_len + 1);
    vkslm_detok *d;
    CU_ASSERT_FATAL(vkslm_detok_create(t, 0, &d) == VKSLM_OK);
    size_t stream_cap = 3 * full_len + 1, at = 0;
    char *stream = malloc(stream_cap);
    for (size_t i = 0; i <= n && ok; i++) {
        const char *piece;
        size_t plen;
        ok &= (i < n ? vkslm_detok_push(d, ids[i], &piece, &plen) : vkslm_detok_flush(d, &piece, &plen)) == VKSLM_OK;
        if (!ok || at + plen > stream_cap) {
            ok = 0;
            break;
        }
        if (!valid_utf8(piece, plen)) {
            fprintf(stderr, "  %s: streaming returned a partial character\n", name);
            ok = 0;
        }
        memcpy(stream + at, piece, plen);
        at += plen;
    }
    if (ok && (at != repaired_len || memcmp(stream, repaired, at) != 0)) {
        fprintf(stderr, "  %s: streaming detokenizer disagrees with detokenize\n", name);
        ok = 0;
    }
    vkslm_detok_free(d);
    free(stream);
    free(repaired);
    free(back);
    free(ids);
    return ok;
}

static void test_roundtrip_vocab_cases(void) {
    TEST_REQUIRE_DATA();
    char path[1024];
    size_t len;
    char *inp = tok_read_file(test_data_path(path, sizeof path, "vocab/ggml-vocab-llama-bpe.gguf.inp"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inp);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    for (size_t v = 0; v < N_VOCABS; v++) {
        vkslm_tokenizer *t = load_vocab(vocabs[v]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int pass = 0, total = 0;
        for (char *at = inp, *end; (end = strstr(at, sep)) != NULL; at = end + sizeof sep - 1, total++)
            pass += check_text(t, vocabs[v], at, (size_t)(end - at), total & 1);
        CU_ASSERT_EQUAL(pass, total);
        vkslm_tokenizer_free(t);
    }
    free(inp);
}

/* Random text: words, spaces, digits, punctuation, multi-byte characters, control characters. */
static size_t random_text(vkslm_rng *r, char *buf, size_t cap) {
    static const char *const parts[] = {"the", " ", "  ", "\n", "\t", "\r\n", "Hello", "'s", "'LL", "123", "4567",
                                        ".", "...", "!?", "(", ")", "\"", "é", "ü", "Ж", "щ", "中文", "日本",
                                        "한국", "ক", "🦙", "😀", "\xE2\x80\x8D", "\xEF\xB8\x8F", "\x01", "ǅ",
                                        "ﬁ", "$", "~", "<s>", "</s>", "<|endoftext|>", "<think>", "õ", "ÿ",
                                        "        ", "\xC2\xA0", "x", "ab", "Über"};
    size_t n = 0, words = (uint32_t)(vkslm_rng_u64(r) >> 32) % 40;
    for (size_t w = 0; w < words; w++) {
        const char *p = parts[(uint32_t)(vkslm_rng_u64(r) >> 32) % (sizeof parts / sizeof parts[0])];
        size_t l = strlen(p);
        if (n + l > cap)
            break;
        memcpy(buf + n, p, l);
        n += l;
    }
    return n;
}

static void test_roundtrip_random(void) {
    TEST_REQUIRE_DATA();
    vkslm_rng r;
    test_rng(&r, 11);
    char buf[1024];
    for (size_t v = 0; v < N_VOCABS; v++) {
        vkslm_tokenizer *t = load_vocab(vocabs[v]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int pass = 0, total = 300;
        for (int k = 0; k < total; k++) {
            size_t len = random_text(&r, buf, sizeof buf);
            pass += check_text(t, vocabs[v], buf, len, k & 1);
        }
        if (pass != total)
            fprintf(stderr, "  %s: %d/%d random texts\n", vocabs[v], pass, total);
        CU_ASSERT_EQUAL(pass, total);
        vkslm_tokenizer_free(t);
    }
}

/* The bytes a vocabulary can represent on their own (byte-level vocabularies trained on UTF-8 often
 * lack the bytes that never occur in it, such as 0xC0 and 0xF5..0xFF; llama.cpp drops those). */
static void covered_bytes(const vkslm_tokenizer *t, uint8_t covered[256]) {
    for (int b = 0; b < 256; b++) {
        char c = (char)b, back[64];
        int32_t ids[16];
        size_t n, len;
        covered[b] = vkslm_tokenize(t, &c, 1, 0, 0, ids, 16, &n) == VKSLM_OK &&
                     vkslm_detokenize(t, ids, n, 0, 1, back, sizeof back, &len) == VKSLM_OK && len == 1 && back[0] == c;
    }
}

/* Random bytes (mostly invalid UTF-8): never a crash or an error; lossless tokenizers round-trip every
 * input made of bytes the vocabulary covers. */
static void test_random_bytes(void) {
    TEST_REQUIRE_DATA();
    vkslm_rng r;
    test_rng(&r, 12);
    char buf[512];
    int inputs = 0;
    for (size_t v = 0; v < N_VOCABS; v++) {
        vkslm_tokenizer *t = load_vocab(vocabs[v]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        uint8_t covered[256];
        covered_bytes(t, covered);
        int n_covered = 0;
        for (int b = 0; b < 256; b++)
            n_covered += covered[b];
        if (lossless(t))
            CU_ASSERT(n_covered >= 200);
        int pass = 0, total = 250;
        for (int k = 0; k < total; k++) {
            size_t len = (uint32_t)(vkslm_rng_u64(&r) >> 32) % sizeof buf;
            unsigned mode = (uint32_t)(vkslm_rng_u64(&r) >> 32) % 3; /* any byte, high bytes only, ASCII with stray high bytes */
            for (size_t i = 0; i < len; i++) {
                uint32_t x = (uint32_t)(vkslm_rng_u64(&r) >> 32);
                buf[i] = (char)(mode == 0 ? x : mode == 1 ? 0x80 | x : (x % 7 == 0 ? 0x80 | x : 0x20 + x % 95));
                if (!covered[(unsigned char)buf[i]])
                    buf[i] = (char)(0x80 | (x >> 8)); /* keep it invalid UTF-8, but representable */
                if (!covered[(unsigned char)buf[i]])
                    buf[i] = ' ';
            }
            size_t n;
            int32_t *ids = tok_run(t, buf, len, k & 1, (k >> 1) & 1, &n);
            CU_ASSERT_PTR_NOT_NULL(ids);
            free(ids);
            pass += check_text(t, vocabs[v], buf, len, 0);
            inputs++;
        }
        CU_ASSERT_EQUAL(pass, total);
        vkslm_tokenizer_free(t);
    }
    printf("\n  %d random byte strings\n", inputs);
}

static int32_t *ids_of(const vkslm_tokenizer *t, const char *s, int add_special, int parse_special, size_t *n) {
    return tok_run(t, s, strlen(s), add_special, parse_special, n);
}

static void test_special_tokens(void) {
    TEST_REQUIRE_DATA();
    size_t n;
    int32_t *ids;
    vkslm_tokenizer *t = load_vocab("llama-bpe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(vkslm_token_bos(t), 128000);
    CU_ASSERT_EQUAL(vkslm_token_eot(t), 128009);
    CU_ASSERT(vkslm_token_is_eog(t, 128009) && vkslm_token_is_eog(t, 128001) && !vkslm_token_is_eog(t, 128000));
    ids = ids_of(t, "a<|eot_id|>b", 1, 1, &n); /* parsed: BOS a <|eot_id|> b */
    CU_ASSERT(ids && n == 4 && ids[0] == 128000 && ids[2] == 128009);
    free(ids);
    ids = ids_of(t, "a<|eot_id|>b", 0, 0, &n); /* not parsed: plain text, no BOS */
    CU_ASSERT(ids && n > 3);
    for (size_t i = 0; ids && i < n; i++)
        CU_ASSERT(ids[i] < 128000);
    free(ids);
    size_t len;
    vkslm_token_to_piece(t, 128009, 0, &len);
    CU_ASSERT_EQUAL(len, 0);
    const char *p = vkslm_token_to_piece(t, 128009, 1, &len);
    CU_ASSERT(len == 10 && memcmp(p, "<|eot_id|>", 10) == 0);
    /* capacity: the full count comes back with VKSLM_ERR_LIMIT */
    int32_t small[2] = {-1, -1};
    CU_ASSERT_EQUAL(vkslm_tokenize(t, "one two three four", 18, 1, 0, small, 2, &n), VKSLM_ERR_LIMIT);
    CU_ASSERT(n == 5 && small[0] == 128000 && small[1] >= 0);
    vkslm_tokenizer_free(t);

    t = load_vocab("qwen2"); /* user-defined tokens are matched even without parse_special */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    ids = ids_of(t, "x<think>y", 1, 0, &n);
    CU_ASSERT(ids && n == 3 && ids[1] == 151667);
    free(ids);
    ids = ids_of(t, "<|im_start|>", 1, 0, &n);
    CU_ASSERT(ids && n > 1);
    free(ids);
    ids = ids_of(t, "<|im_start|>", 1, 1, &n);
    CU_ASSERT(ids && n == 1 && ids[0] == 151644);
    free(ids);
    vkslm_tokenizer_free(t);

    t = load_vocab("llama-spm"); /* BOS, the space prefix after a special token */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    ids = ids_of(t, "Hello</s>Hello", 1, 1, &n);
    CU_ASSERT(ids && n == 4 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 2 && ids[3] == 15043);
    free(ids);
    /* streaming: a 4-byte character spread over four byte tokens comes out whole, once */
    ids = ids_of(t, "🦙", 0, 0, &n);
    CU_ASSERT_FATAL(ids && n == 5); /* "▁" then <0xF0> <0x9F> <0xA6> <0x99> */
    vkslm_detok *d;
    CU_ASSERT_FATAL(vkslm_detok_create(t, 0, &d) == VKSLM_OK);
    size_t lens[5];
    const char *txt = NULL;
    for (size_t i = 0; i < 5; i++)
        vkslm_detok_push(d, ids[i], &txt, &lens[i]);
    CU_ASSERT(lens[0] == 1 && lens[1] == 0 && lens[2] == 0 && lens[3] == 0 && lens[4] == 4);
    CU_ASSERT(memcmp(txt, "🦙", 4) == 0);
    vkslm_detok_push(d, ids[1], &txt, &lens[0]); /* a lone lead byte is held, then flushed as U+FFFD */
    CU_ASSERT_EQUAL(lens[0], 0);
    vkslm_detok_flush(d, &txt, &lens[0]);
    CU_ASSERT(lens[0] == 3 && memcmp(txt, "\xEF\xBF\xBD", 3) == 0);
    vkslm_detok_free(d);
    free(ids);
    vkslm_tokenizer_free(t);

    t = load_vocab("bert-bge"); /* CLS ... SEP */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    ids = ids_of(t, "Hello, World", 1, 0, &n);
    CU_ASSERT(ids && n == 5 && ids[0] == 101 && ids[1] == 7592 && ids[2] == 1010 && ids[4] == 102);
    free(ids);
    ids = ids_of(t, "[CLS] x", 0, 1, &n);
    CU_ASSERT(ids && n == 2 && ids[0] == 101);
    free(ids);
    vkslm_tokenizer_free(t);
}

typedef struct pieces {
    char text[16][32];
    int n;
} pieces;

static vkslm_status collect(const char *s, size_t n, void *user) {
    pieces *p = user;
    if (p->n < 16 && n < 32) {
        memcpy(p->text[p->n], s, n);
        p->text[p->n][n] = '\0';
    }
    p->n++;
    return VKSLM_OK;
}

static void test_pretokenizers(void) {
    static const char *const names[] = {"default", "llama-bpe", "llama3", "qwen2", "gpt-2", "mpt", "starcoder",
                                        "refact", "smollm", "deepseek-llm", "deepseek-coder", "falcon", "olmo",
                                        "command-r", "dbrx", "smaug-bpe", "stablelm2", "jais", "codeshell", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        vkslm_pretok *p = NULL;
        CU_ASSERT_EQUAL(vkslm_pretok_create(names[i], &p), VKSLM_OK);
        vkslm_pretok_free(p);
    }
    vkslm_pretok *p = NULL;
    CU_ASSERT_EQUAL(vkslm_pretok_create("no-such-pre", &p), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(p);
    /* SmolLM: digits one by one, then GPT-2's pattern */
    CU_ASSERT_FATAL(vkslm_pretok_create("smollm", &p) == VKSLM_OK);
    pieces got = {0};
    const char *s = "abc 123 don't  x";
    CU_ASSERT(vkslm_pretok_split(p, s, strlen(s), collect, &got) == VKSLM_OK);
    static const char *const want[] = {"abc", " ", "1", "2", "3", " don", "'t", " ", " x"};
    CU_ASSERT_EQUAL(got.n, 9);
    for (int i = 0; i < 9 && i < got.n; i++)
        CU_ASSERT_STRING_EQUAL(got.text[i], want[i]);
    vkslm_pretok_free(p);
    /* Llama 3: digits in threes, case-insensitive contractions */
    CU_ASSERT_FATAL(vkslm_pretok_create("llama-bpe", &p) == VKSLM_OK);
    memset(&got, 0, sizeof got);
    s = "12345 I'LL";
    CU_ASSERT(vkslm_pretok_split(p, s, strlen(s), collect, &got) == VKSLM_OK);
    static const char *const want3[] = {"123", "45", " I", "'LL"};
    CU_ASSERT_EQUAL(got.n, 4);
    for (int i = 0; i < 4 && i < got.n; i++)
        CU_ASSERT_STRING_EQUAL(got.text[i], want3[i]);
    vkslm_pretok_free(p);
}

static void test_unicode_helpers(void) {
    uint32_t out[3];
    CU_ASSERT(vkslm_uc_strip_accents(0xE9, out) == 1 && out[0] == 'e');     /* é */
    CU_ASSERT(vkslm_uc_strip_accents(0x1EC7, out) == 1 && out[0] == 'e');   /* ệ */
    CU_ASSERT(vkslm_uc_strip_accents(0x301, out) == 0);                     /* combining acute */
    CU_ASSERT(vkslm_uc_strip_accents(0xAC01, out) == 3 && out[2] == 0x11A8); /* 각 */
    CU_ASSERT(vkslm_uc_lower(0x411, out) == 1 && out[0] == 0x431);          /* Б */
    CU_ASSERT(vkslm_uc_lower(0x130, out) == 2 && out[0] == 'i' && out[1] == 0x307);
    CU_ASSERT(vkslm_uc_flags(0x3000) & VKSLM_UC_WHITESPACE);
    CU_ASSERT(vkslm_uc_flags(0x200D) & VKSLM_UC_CONTROL);
    CU_ASSERT(vkslm_uc_flags('$') & VKSLM_UC_PUNCT);
    CU_ASSERT(vkslm_uc_flags(0x3001) & VKSLM_UC_PUNCT);
    CU_ASSERT_FALSE(vkslm_uc_flags('a'));
    size_t adv;
    CU_ASSERT_EQUAL(vkslm_utf8_decode("\xC0\x80", 2, &adv), VKSLM_UC_INVALID); /* overlong */
    CU_ASSERT_EQUAL(vkslm_utf8_decode("\xED\xA0\x80", 3, &adv), VKSLM_UC_INVALID); /* surrogate */
    CU_ASSERT(vkslm_utf8_decode("\xF0\x9F\xA6\x99", 4, &adv) == 0x1F999 && adv == 4);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"vocab cases round-trip and stream on every vocabulary", test_roundtrip_vocab_cases},
        {"random text round-trips and streams", test_roundtrip_random},
        {"random bytes: no crash, lossless round trip", test_random_bytes},
        {"special tokens, BOS/EOS, capacity, streaming", test_special_tokens},
        {"pre-tokenizers compile and split", test_pretokenizers},
        {"unicode helpers", test_unicode_helpers},
        {NULL, NULL},
    };
    return test_run_suite("tokenizer properties", tests);
}
