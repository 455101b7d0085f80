/* libFuzzer target for the tokenizers. The vocabularies of ../shared/testdata/vocab (VKSLM_TESTDATA
 * overrides the folder) are loaded once; the first input byte picks the vocabulary and the flags
 * (add_special, parse_special), the rest is the text: any bytes, invalid UTF-8 included. Each input is
 * tokenized, every id checked, detokenized whole and through the streaming detokenizer (the two must
 * agree), and byte-level BPE / SentencePiece inputs free of special tokens must round-trip wherever
 * the vocabulary covers all 256 bytes. ASan/UBSan report the rest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"
#include "loaders/gguf.h"

#ifndef VKSLM_TESTDATA_DIR
#define VKSLM_TESTDATA_DIR "../shared/testdata"
#endif

static const char *const names[] = {"llama-spm", "llama-bpe", "qwen2",  "gpt-2",          "bert-bge",
                                    "falcon",    "mpt",       "phi-3",  "deepseek-coder", "deepseek-llm",
                                    "starcoder", "refact"};
#define N_NAMES (sizeof names / sizeof names[0])
static vkslm_tokenizer *toks[N_NAMES];
static int full_bytes[N_NAMES]; /* the vocabulary has a token for each of the 256 bytes */

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *dir = getenv("VKSLM_TESTDATA");
    if (!dir || !*dir)
        dir = VKSLM_TESTDATA_DIR;
    for (size_t i = 0; i < N_NAMES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", dir, names[i]);
        vkslm_gguf *g = NULL;
        if (vkslm_gguf_open_file(path, &g) != VKSLM_OK || vkslm_tokenizer_load(g, &toks[i]) != VKSLM_OK) {
            fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, vkslm_last_error());
            abort();
        }
        vkslm_gguf_close(g);
        full_bytes[i] = 1;
        for (int b = 0; b < 256; b++) {
            char c = (char)b, back[16];
            int32_t ids[8];
            size_t n, len;
            full_bytes[i] &= vkslm_tokenize(toks[i], &c, 1, 0, 0, ids, 8, &n) == VKSLM_OK &&
                             vkslm_detokenize(toks[i], ids, n, 0, 1, back, sizeof back, &len) == VKSLM_OK &&
                             len == 1 && back[0] == c;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t which = data[0] % N_NAMES;
    int add_special = (data[0] >> 4) & 1, parse_special = (data[0] >> 5) & 1;
    const vkslm_tokenizer *t = toks[which];
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n = 0;
    check(vkslm_tokenize(t, text, len, add_special, parse_special, NULL, 0, &n) == (n ? VKSLM_ERR_LIMIT : VKSLM_OK));
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t n2 = 0;
    check(ids && vkslm_tokenize(t, text, len, add_special, parse_special, ids, n, &n2) == VKSLM_OK && n2 == n);
    int special_seen = 0;
    for (size_t i = 0; i < n; i++) {
        check(ids[i] >= 0 && ids[i] < vkslm_tokenizer_n_vocab(t));
        special_seen |= (vkslm_token_attr(t, ids[i]) &
                         (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_USER_DEFINED | VKSLM_TOKATTR_UNKNOWN)) != 0;
    }
    size_t cap = len * 4 + 256, whole = 0, stripped = 0, at = 0;
    char *buf = malloc(cap), *stream = malloc(3 * cap + 1), *repaired = malloc(3 * cap + 1);
    check(buf && stream && repaired);
    check(vkslm_detokenize(t, ids, n, 1, 0, buf, cap, &whole) == VKSLM_OK);
    size_t repaired_len = vkslm_utf8_sanitize(buf, whole, repaired, 3 * cap + 1); /* what streaming gives */
    vkslm_detok *d = NULL;
    check(vkslm_detok_create(t, 1, &d) == VKSLM_OK);
    for (size_t i = 0; i <= n; i++) {
        const char *piece;
        size_t plen;
        check((i < n ? vkslm_detok_push(d, ids[i], &piece, &plen) : vkslm_detok_flush(d, &piece, &plen)) == VKSLM_OK);
        check(at + plen <= 3 * cap);
        memcpy(stream + at, piece, plen);
        at += plen;
    }
    vkslm_detok_free(d);
    check(at == repaired_len && memcmp(stream, repaired, at) == 0);
    vkslm_tok_model model = vkslm_tokenizer_model(t);
    if (full_bytes[which] && model != VKSLM_TOK_WPM && !special_seen && !add_special) {
        check(vkslm_detokenize(t, ids, n, 0, 1, buf, cap, &stripped) == VKSLM_OK);
        int escape = model == VKSLM_TOK_SPM && len >= 3 && memmem(text, len, "\xE2\x96\x81", 3) != NULL;
        check(escape || (stripped == len && memcmp(buf, text, len) == 0));
    }
    free(buf);
    free(stream);
    free(repaired);
    free(ids);
    return 0;
}
