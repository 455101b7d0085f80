/* WordPiece (tokenizer.ggml.model "bert"), as BERT-style embedding models (bge) use it.
 * Normaliser (Hugging Face's BertNormalizer): control characters dropped, CJK ideographs isolated,
 * accents stripped (NFD without non-spacing marks), lower case. Pre-tokenizer: split on whitespace,
 * every punctuation character is a word of its own. Each word is then cut greedily into the longest
 * vocabulary pieces; GGUF stores word-initial pieces with a "▁" prefix and continuations ("##x" in
 * BERT's vocab.txt) bare. A word with no full cover, or longer than 100 characters, is [UNK]. */
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/tokenizer/unicode_data.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define WPM_MAX_WORD_CHARS 100

typedef struct wpm_ctx {
    const vkslm_tokenizer *t;
    vkslm_idvec *out;
    char *word; /* "▁" + the word's normalised UTF-8 */
    size_t len, cap;
    size_t n_chars;
} wpm_ctx;

static vkslm_status append(wpm_ctx *c, uint32_t cp) {
    if (c->len + 4 > c->cap) {
        size_t cap = c->cap * 2 + 64;
        char *w = VKSLM_REALLOC(c->word, cap);
        if (!w)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
        c->word = w;
        c->cap = cap;
    }
    c->len += vkslm_utf8_encode(cp, c->word + c->len);
    c->n_chars++;
    return VKSLM_OK;
}

static vkslm_status finish_word(wpm_ctx *c) {
    const vkslm_tokenizer *t = c->t;
    if (c->n_chars == 0)
        return VKSLM_OK;
    size_t n = c->len, start = c->out->n, chars = c->n_chars;
    c->len = 3, c->n_chars = 0; /* keep the "▁" for the next word */
    if (chars > WPM_MAX_WORD_CHARS)
        return t->unk >= 0 ? vkslm_idvec_push(c->out, t->unk) : VKSLM_OK;
    for (size_t i = 0; i < n;) {
        size_t j = i + t->max_token_len < n ? i + t->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--) {
            id = vkslm_strpool_find(&t->pool, c->word + i, j - i);
            if (id >= 0 && id < t->n_vocab)
                break;
            id = -1;
        }
        if (id < 0) { /* no cover: the whole word is unknown */
            c->out->n = start;
            break;
        }
        VKSLM_TRY(vkslm_idvec_push(c->out, id));
        i = j;
    }
    if (c->out->n == start && t->unk >= 0)
        return vkslm_idvec_push(c->out, t->unk);
    return VKSLM_OK;
}

/* A character of normalised text: punctuation is a word of its own, others extend the word. */
static vkslm_status put_char(wpm_ctx *c, uint32_t cp) {
    if (vkslm_uc_flags(cp) & VKSLM_UC_PUNCT) {
        VKSLM_TRY(finish_word(c));
        VKSLM_TRY(append(c, cp));
        return finish_word(c);
    }
    return append(c, cp);
}

vkslm_status vkslm_wpm_encode(const vkslm_tokenizer *t, const char *text, size_t len, vkslm_idvec *out) {
    wpm_ctx c = {.t = t, .out = out};
    vkslm_status st = VKSLM_OK;
    c.word = VKSLM_MALLOC(64);
    if (!c.word)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    c.cap = 64;
    memcpy(c.word, "\xE2\x96\x81", 3);
    c.len = 3;
    for (size_t i = 0; i < len && st == VKSLM_OK;) {
        size_t adv;
        uint32_t cp = vkslm_utf8_decode(text + i, len - i, &adv);
        i += adv;
        if (cp == VKSLM_UC_INVALID || cp == 0 || cp == 0xFFFD)
            continue;
        unsigned f = vkslm_uc_flags(cp);
        if (f & VKSLM_UC_WHITESPACE) {
            st = finish_word(&c);
            continue;
        }
        if (f & VKSLM_UC_CONTROL)
            continue;
        int cjk = vkslm_uc_is_cjk(cp);
        if (cjk && (st = finish_word(&c)) != VKSLM_OK)
            break;
        uint32_t base[3];
        int nb = vkslm_uc_strip_accents(cp, base);
        for (int k = 0; k < nb && st == VKSLM_OK; k++) {
            uint32_t low[2];
            int nl = vkslm_uc_lower(base[k], low);
            for (int m = 0; m < nl && st == VKSLM_OK; m++)
                st = put_char(&c, low[m]);
        }
        if (cjk && st == VKSLM_OK)
            st = finish_word(&c);
    }
    if (st == VKSLM_OK)
        st = finish_word(&c);
    VKSLM_FREE(c.word);
    return st;
}
