/* Token ids back to bytes: pieces are decoded once at load time (vocab.c), so this is lookups and
 * copies. The streaming detokenizer returns valid UTF-8 only: it holds back the bytes of a character split
 * over tokens, and writes U+FFFD for bytes that cannot form one (engine/util/utf8.h). */
#include <string.h>

#include "engine/tokenizer/tok_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/utf8.h"

const char *vkslm_token_to_piece(const vkslm_tokenizer *t, int32_t id, int special, size_t *len) {
    *len = 0;
    if (!t || id < 0 || id >= t->n_vocab)
        return "";
    if (!special && (t->attr[id] & (VKSLM_TOKATTR_CONTROL | VKSLM_TOKATTR_UNKNOWN)))
        return "";
    *len = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

vkslm_status vkslm_detokenize(const vkslm_tokenizer *t, const int32_t *ids, size_t n, int special, int strip_space,
                              char *buf, size_t cap, size_t *len_out) {
    if (!t || (!ids && n) || (!buf && cap) || !len_out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "detokenize: NULL argument");
    size_t total = 0;
    int strip = strip_space && t->model == VKSLM_TOK_SPM && t->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = vkslm_token_to_piece(t, ids[i], special, &len);
        if (i == 0 && ids[i] == t->bos && t->bos >= 0 && strip)
            continue; /* the space follows the BOS: strip it from the next piece */
        if (strip) {
            if (len && p[0] == ' ')
                p++, len--;
            strip = 0;
        }
        if (total < cap)
            memcpy(buf + total, p, len <= cap - total ? len : cap - total);
        total += len;
    }
    *len_out = total;
    if (total > cap)
        return vkslm_fail(VKSLM_ERR_LIMIT, "detokenize: %zu bytes do not fit in %zu", total, cap);
    return VKSLM_OK;
}

struct vkslm_detok {
    const vkslm_tokenizer *tok;
    int special;
    char *buf;        /* held bytes, then the new piece */
    size_t held, cap; /* held: bytes of an unfinished (so far well-formed) character carried over */
    char *out;        /* what the last call returned, NUL-terminated */
    size_t out_cap;
};

vkslm_status vkslm_detok_create(const vkslm_tokenizer *tok, int special, vkslm_detok **out) {
    if (!tok || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "detok_create: NULL argument");
    vkslm_detok *d = VKSLM_CALLOC(1, sizeof *d);
    if (!d)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    d->tok = tok;
    d->special = special;
    *out = d;
    return VKSLM_OK;
}

static vkslm_status reserve(char **p, size_t *cap, size_t need) {
    if (need <= *cap)
        return VKSLM_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    char *q = VKSLM_REALLOC(*p, c);
    if (!q)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory");
    *p = q;
    *cap = c;
    return VKSLM_OK;
}

vkslm_status vkslm_detok_push(vkslm_detok *d, int32_t id, const char **text, size_t *len) {
    if (!d || !text || !len)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "detok_push: NULL argument");
    *text = "", *len = 0;
    size_t n;
    const char *p = vkslm_token_to_piece(d->tok, id, d->special, &n);
    size_t total = d->held + n, used;
    VKSLM_TRY(reserve(&d->buf, &d->cap, total));
    VKSLM_TRY(reserve(&d->out, &d->out_cap, 3 * total + 1));
    if (n)
        memcpy(d->buf + d->held, p, n);
    size_t done = vkslm_utf8_repair(d->buf, total, d->out, 1, &used);
    if (total > used)
        memmove(d->buf, d->buf + used, total - used); /* an unfinished character: at most 3 bytes */
    d->held = total - used;
    d->out[done] = 0;
    *text = d->out;
    *len = done;
    return VKSLM_OK;
}

vkslm_status vkslm_detok_flush(vkslm_detok *d, const char **text, size_t *len) {
    if (!d || !text || !len)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "detok_flush: NULL argument");
    VKSLM_TRY(reserve(&d->out, &d->out_cap, 3 * d->held + 1));
    size_t done = vkslm_utf8_repair(d->buf, d->held, d->out, 0, NULL); /* an unfinished tail: U+FFFD */
    d->out[done] = 0;
    *text = d->out;
    *len = done;
    d->held = 0;
    return VKSLM_OK;
}

void vkslm_detok_free(vkslm_detok *d) {
    if (!d)
        return;
    VKSLM_FREE(d->buf);
    VKSLM_FREE(d->out);
    VKSLM_FREE(d);
}
