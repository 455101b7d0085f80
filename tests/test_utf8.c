/* UTF-8 repair (CPU only): vkslm_utf8_sanitize on a table of valid and ill-formed sequences (one U+FFFD per
 * maximal subpart, Unicode 3.9), its capacity rules, agreement with an independent reference on every short
 * byte string, and the streaming detokenizer fed byte tokens one at a time: it never returns an incomplete
 * or ill-formed sequence, and its text is the repaired whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/unicode_data.h"
#include "engine/util/utf8.h"
#include "tests/tok_util.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

typedef struct utf8_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} utf8_case;

static const utf8_case cases[] = {
    {"", 0, ""},
    {"plain ASCII", 0, "plain ASCII"},
    {"\xC3\xA9t\xC3\xA9", 0, "\xC3\xA9t\xC3\xA9"},                    /* 2-byte */
    {"\xE2\x82\xAC", 0, "\xE2\x82\xAC"},                              /* 3-byte: euro */
    {"\xF0\x9F\xA6\x99 \xF4\x8F\xBF\xBF", 0, "\xF0\x9F\xA6\x99 \xF4\x8F\xBF\xBF"}, /* emoji, U+10FFFF */
    {"\xEF\xBF\xBD", 0, R},                                           /* U+FFFD itself */
    {"a\0b", 3, "a\0b"},                                              /* NUL is a character */
    {"\xC3", 0, R},                                                   /* truncated 2-byte at the end */
    {"\xC3z", 0, R "z"},                                              /* ... before ASCII */
    {"x\xE2\x82y", 0, "x" R "y"},                                     /* truncated 3-byte: one U+FFFD */
    {"x\xE2\x82", 0, "x" R},
    {"\xE2\x82\xE2\x82\xAC", 0, R "\xE2\x82\xAC"},                    /* truncated, then whole */
    {"\xF0\x9F\xA6z", 0, R "z"},                                      /* truncated 4-byte */
    {"\xF0\x9F", 0, R},
    {"\x80", 0, R},                                                   /* lone continuation */
    {"\x80\xBF", 0, R R},                                             /* each one its own subpart */
    {"\xC0\x80", 0, R R},                                             /* overlong NUL: C0 is never a lead */
    {"\xC1\xBF", 0, R R},
    {"\xE0\x80\x80", 0, R R R},                                       /* overlong 3-byte */
    {"\xE0\x9F\xBF", 0, R R R},
    {"\xF0\x8F\xBF\xBF", 0, R R R R},                                 /* overlong 4-byte */
    {"\xED\xA0\x80", 0, R R R},                                       /* surrogate U+D800 */
    {"\xED\xBF\xBF", 0, R R R},                                       /* surrogate U+DFFF */
    {"\xED\x9F\xBF", 0, "\xED\x9F\xBF"},                              /* U+D7FF is fine */
    {"\xF4\x90\x80\x80", 0, R R R R},                                 /* U+110000 */
    {"\xF5\x80\x80\x80", 0, R R R R},
    {"\xFF", 0, R},
    {"\xFE", 0, R},
    {"\xFE\xFF", 0, R R},
    {"\xE1\x80\xC2", 0, R R},                                         /* truncated, truncated at the end */
    /* Unicode 3.9, table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
    {"a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d", 0, "a" R R R "b" R "c" R R "d"},
};
#define N_CASES (sizeof cases / sizeof *cases)

static size_t case_len(const utf8_case *c) { return c->len ? c->len : strlen(c->in); }
static size_t want_len(const utf8_case *c) { return c->len ? c->len : strlen(c->want); } /* NUL case: same */

static void test_sanitize_table(void) {
    for (size_t i = 0; i < N_CASES; i++) {
        const utf8_case *c = &cases[i];
        char out[64];
        memset(out, 'X', sizeof out);
        size_t n = vkslm_utf8_sanitize(c->in, case_len(c), out, sizeof out);
        int ok = n == want_len(c) && memcmp(out, c->want, n) == 0 && out[n] == 0;
        if (!ok)
            fprintf(stderr, "  case %zu: got %zu bytes, want %zu\n", i, n, want_len(c));
        CU_ASSERT(ok);
        CU_ASSERT(vkslm_utf8_valid(out, n));
        CU_ASSERT_EQUAL(vkslm_utf8_sanitize(c->in, case_len(c), NULL, 0), n); /* length only */
    }
}

static void test_sanitize_capacity(void) {
    char out[8];
    /* "ab€": 5 bytes; with room for 4 + NUL the euro does not fit, and is not cut */
    memset(out, 'X', sizeof out);
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize("ab\xE2\x82\xAC", 5, out, 5), 5);
    CU_ASSERT_STRING_EQUAL(out, "ab");
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize("ab\xE2\x82\xAC", 5, out, 6), 5);
    CU_ASSERT_STRING_EQUAL(out, "ab\xE2\x82\xAC");
    /* a replacement character is not cut either; nothing after the cut is written */
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize("a\xFFz", 3, out, 3), 5);
    CU_ASSERT_STRING_EQUAL(out, "a");
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize("abc", 3, out, 1), 3);
    CU_ASSERT_STRING_EQUAL(out, "");
    out[0] = 'X';
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize("abc", 3, out, 0), 3); /* cap 0: nothing written */
    CU_ASSERT_EQUAL(out[0], 'X');
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize(NULL, 0, NULL, 0), 0);
    /* the bound: every byte ill-formed gives 3 bytes */
    char bad[16], big[3 * sizeof bad + 1];
    memset(bad, 0xFF, sizeof bad);
    CU_ASSERT_EQUAL(vkslm_utf8_sanitize(bad, sizeof bad, big, sizeof big), 3 * sizeof bad);
}

/* ---- an independent reference: the tokenizer's decoder (code point ranges, not byte ranges) ---------- */
static size_t declared_len(unsigned char c) {
    return c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
}

/* s[0..len) can be completed to a character: with all-0x80 or all-0xBF continuation bytes, one works. */
static int completable(const unsigned char *s, size_t len, size_t need) {
    for (int pad = 0; pad < 2; pad++) {
        char buf[4];
        memcpy(buf, s, len);
        memset(buf + len, pad ? 0xBF : 0x80, need - len);
        size_t adv;
        if (vkslm_utf8_decode(buf, need, &adv) != VKSLM_UC_INVALID && adv == need)
            return 1;
    }
    return 0;
}

static size_t ref_sanitize(const unsigned char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0, adv; i < n;) {
        if (vkslm_utf8_decode((const char *)s + i, n - i, &adv) != VKSLM_UC_INVALID) {
            memcpy(out + o, s + i, adv);
            o += adv, i += adv;
            continue;
        }
        size_t need = declared_len(s[i]), k = 1; /* the longest completable prefix, at least one byte */
        while (k + 1 < need && i + k + 1 <= n && completable(s + i, k + 1, need))
            k++;
        memcpy(out + o, R, 3);
        o += 3, i += k;
    }
    return o;
}

/* Returns 1 when sanitize, the reference and byte-at-a-time streaming repair agree on s. */
static int agree(const unsigned char *s, size_t n) {
    char a[64], b[64], c[64];
    size_t na = vkslm_utf8_sanitize((const char *)s, n, a, sizeof a), nb = ref_sanitize(s, n, b), nc = 0;
    char held[8];
    size_t nh = 0;
    for (size_t i = 0; i <= n; i++) { /* as the detokenizer: held bytes + one more, hold an unfinished tail */
        if (i < n)
            held[nh++] = (char)s[i];
        size_t used, w = vkslm_utf8_repair(held, nh, c + nc, i < n, &used);
        if (!vkslm_utf8_valid(c + nc, w))
            return 0;
        nc += w;
        memmove(held, held + used, nh - used);
        nh -= used;
    }
    return na == nb && nb == nc && memcmp(a, b, na) == 0 && memcmp(b, c, nb) == 0 && vkslm_utf8_valid(a, na);
}

static void test_sanitize_matches_reference(void) {
    static const unsigned char alphabet[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                             0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0,
                                             0xF1, 0xF3, 0xF4, 0xF5, 0xFE, 0xFF};
    const size_t na = sizeof alphabet;
    uint64_t bad = 0, total = 0;
    unsigned char s[8];
    for (unsigned x = 0; x < 65536; x++) { /* every 1- and 2-byte string */
        s[0] = (unsigned char)(x >> 8), s[1] = (unsigned char)x;
        bad += !agree(s, 1) + !agree(s, 2);
        total += 2;
    }
    for (size_t len = 3; len <= 4; len++) { /* every 3- and 4-byte string over the boundary bytes */
        size_t count = 1;
        for (size_t i = 0; i < len; i++)
            count *= na;
        for (size_t x = 0; x < count; x++) {
            for (size_t i = 0, y = x; i < len; i++, y /= na)
                s[i] = alphabet[y % na];
            bad += !agree(s, len);
            total++;
        }
    }
    vkslm_rng r;
    test_rng(&r, 1);
    for (int t = 0; t < 200000; t++) { /* random 5..8-byte strings of any bytes */
        size_t len = 5 + vkslm_rng_u64(&r) % 4;
        for (size_t i = 0; i < len; i++)
            s[i] = (unsigned char)vkslm_rng_u64(&r);
        bad += !agree(s, len);
        total++;
    }
    printf("sanitize/reference/streaming agree on %llu of %llu strings\n", (unsigned long long)(total - bad),
           (unsigned long long)total);
    CU_ASSERT_EQUAL(bad, 0);
}

/* ---- the streaming detokenizer over byte tokens ------------------------------------------------ */
static void test_detok_byte_tokens(void) {
    TEST_REQUIRE_DATA();
    vkslm_tokenizer *t = tok_load("vocab/ggml-vocab-llama-spm.gguf"); /* <0x00>..<0xFF> byte tokens */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    int32_t byte_id[256];
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        byte_id[b] = vkslm_token_find(t, name, strlen(name));
        CU_ASSERT_FATAL(byte_id[b] >= 0);
    }
    vkslm_detok *d;
    CU_ASSERT_FATAL(vkslm_detok_create(t, 0, &d) == VKSLM_OK);
    for (size_t i = 0; i < N_CASES; i++) {
        const utf8_case *c = &cases[i];
        char got[64];
        size_t at = 0, n = case_len(c);
        int ok = 1;
        for (size_t k = 0; k <= n; k++) {
            const char *piece;
            size_t plen;
            vkslm_status st = k < n ? vkslm_detok_push(d, byte_id[(unsigned char)c->in[k]], &piece, &plen)
                                    : vkslm_detok_flush(d, &piece, &plen);
            ok &= st == VKSLM_OK && at + plen <= sizeof got && vkslm_utf8_valid(piece, plen);
            if (!ok)
                break;
            memcpy(got + at, piece, plen);
            at += plen;
        }
        ok &= at == want_len(c) && memcmp(got, c->want, at) == 0;
        if (!ok)
            fprintf(stderr, "  detok case %zu: got %zu bytes, want %zu\n", i, at, want_len(c));
        CU_ASSERT(ok);
    }
    /* a character comes out when its last byte arrives, not before; ill-formed bytes as soon as proven so */
    const char *piece;
    size_t lens[4];
    static const unsigned char euro[] = {0xE2, 0x82, 0xAC};
    for (int k = 0; k < 3; k++)
        vkslm_detok_push(d, byte_id[euro[k]], &piece, &lens[k]);
    CU_ASSERT(lens[0] == 0 && lens[1] == 0 && lens[2] == 3 && memcmp(piece, euro, 3) == 0);
    vkslm_detok_push(d, byte_id[0xE2], &piece, &lens[0]);
    vkslm_detok_push(d, byte_id[0x82], &piece, &lens[1]);
    vkslm_detok_push(d, byte_id['y'], &piece, &lens[2]);
    CU_ASSERT(lens[0] == 0 && lens[1] == 0 && lens[2] == 4 && memcmp(piece, R "y", 4) == 0);
    vkslm_detok_push(d, byte_id[0xF0], &piece, &lens[0]);
    vkslm_detok_push(d, byte_id[0x80], &piece, &lens[1]); /* F0 80: overlong, known at once */
    CU_ASSERT(lens[0] == 0 && lens[1] == 6 && memcmp(piece, R R, 6) == 0);
    vkslm_detok_flush(d, &piece, &lens[0]);
    CU_ASSERT_EQUAL(lens[0], 0);
    vkslm_detok_free(d);
    vkslm_tokenizer_free(t);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"sanitize: valid and ill-formed sequences, one U+FFFD per maximal subpart", test_sanitize_table},
        {"sanitize: whole characters within the capacity, NUL, length", test_sanitize_capacity},
        {"sanitize = reference = streaming repair on every short string", test_sanitize_matches_reference},
        {"streaming detokenizer over byte tokens: valid pieces, repaired text", test_detok_byte_tokens},
        {NULL, NULL},
    };
    return test_run_suite("utf8", tests);
}
