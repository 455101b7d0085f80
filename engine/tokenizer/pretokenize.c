/* The pre-tokenizer patterns of llama.cpp's BPE vocabularies, compiled with PCRE2 (UTF, UCP, JIT). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/pretokenize.h"

#include <pcre2.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define MAX_PATTERNS 6

/* Patterns as published in the models' tokenizer.json files (and llama.cpp). */
#define PAT_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define PAT_LLAMA3                                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PAT_QWEN2                                                                                      \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PAT_CJK "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+"

typedef struct pretok_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    const char *patterns[MAX_PATTERNS];
    int ignore_merges, add_bos;
} pretok_def;

static const pretok_def defs[] = {
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", PAT_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0},
    {"llama3|llama-v3|llama-bpe|falcon3|dbrx|smaug-bpe", {PAT_LLAMA3}, 1, 1},
    {"deepseek-llm",
     {"[\\r\\n]",
      "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}\\x{1c4}-"
      "\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}\\x{37f}\\x{386}"
      "\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}"
      "\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}"
      "\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}"
      "\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}\\x{1f50}-\\x{1f57}\\x{1f59}\\x{1f5b}"
      "\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-\\x{1fc4}"
      "\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-\\x{1ff4}"
      "\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}"
      "\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}\\x{2145}-"
      "\\x{2149}\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}"
      "\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}\\x{a771}-\\x{a787}"
      "\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}"
      "\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-"
      "\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+",
      "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+", "\\s+$", PAT_CJK,
      "\\p{N}+"},
     0, 0},
    {"deepseek-coder", {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", PAT_CJK, "\\p{N}"}, 0, 0},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", PAT_GPT2, "[0-9][0-9][0-9]"}, 0, 0},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {"\\p{N}", PAT_GPT2}, 0, 0},
    {"gpt-2|phi-2|jina-es|jina-de|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code|roberta-bpe|mpt|olmo|jais",
     {PAT_GPT2},
     0,
     0},
    {"qwen2|deepseek-r1-qwen|stablelm2", {PAT_QWEN2}, 0, 0},
};

struct vkslm_pretok {
    const pretok_def *def;
    pcre2_code *code[MAX_PATTERNS];
    int n;
};

static int name_in(const char *names, const char *name) {
    size_t n = strlen(name);
    for (const char *p = names;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

vkslm_status vkslm_pretok_create(const char *name, vkslm_pretok **out) {
    *out = NULL;
    if (!name || !*name)
        name = "default";
    const pretok_def *def = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0] && !def; i++)
        if (name_in(defs[i].names, name))
            def = &defs[i];
    if (!def)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "tokenizer: unknown pre-tokenizer '%s' (tokenizer.ggml.pre)", name);
    vkslm_pretok *p = VKSLM_CALLOC(1, sizeof *p);
    if (!p)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    p->def = def;
    for (int i = 0; i < MAX_PATTERNS && def->patterns[i]; i++) {
        int err;
        PCRE2_SIZE at;
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
        p->code[i] = pcre2_compile((PCRE2_SPTR)def->patterns[i], PCRE2_ZERO_TERMINATED, opts, &err, &at, NULL);
        if (!p->code[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            vkslm_pretok_free(p);
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer '%s' pattern %d: %s at %zu", name, i,
                              (const char *)msg, (size_t)at);
        }
        pcre2_jit_compile(p->code[i], PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
        p->n = i + 1;
    }
    *out = p;
    return VKSLM_OK;
}

void vkslm_pretok_free(vkslm_pretok *p) {
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        pcre2_code_free(p->code[i]);
    VKSLM_FREE(p);
}

int vkslm_pretok_ignores_merges(const vkslm_pretok *p) { return p->def->ignore_merges; }
int vkslm_pretok_adds_bos(const vkslm_pretok *p) { return p->def->add_bos; }

typedef struct split_ctx {
    const vkslm_pretok *p;
    pcre2_match_data *md;
    vkslm_piece_fn fn;
    void *user;
} split_ctx;

static vkslm_status split_stage(split_ctx *c, int stage, const char *s, size_t n) {
    if (n == 0)
        return VKSLM_OK;
    if (stage == c->p->n)
        return c->fn(s, n, c->user);
    pcre2_code *code = c->p->code[stage];
    size_t pos = 0, gap = 0; /* gap: start of the text not yet emitted */
    while (pos < n) {
        int rc = pcre2_match(code, (PCRE2_SPTR)s, n, pos, 0, c->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return vkslm_fail(VKSLM_ERR_FORMAT, "tokenizer: pre-tokenizer match failed (PCRE2 error %d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t start = ov[0], end = ov[1];
        if (end <= start) { /* empty match: move on by one byte, it splits nothing */
            pos = start + 1;
            continue;
        }
        VKSLM_TRY(split_stage(c, stage + 1, s + gap, start - gap));
        VKSLM_TRY(split_stage(c, stage + 1, s + start, end - start));
        pos = gap = end;
    }
    return split_stage(c, stage + 1, s + gap, n - gap);
}

vkslm_status vkslm_pretok_split(const vkslm_pretok *p, const char *text, size_t len, vkslm_piece_fn fn, void *user) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    split_ctx c = {p, md, fn, user};
    vkslm_status st = split_stage(&c, 0, text, len);
    pcre2_match_data_free(md);
    return st;
}
