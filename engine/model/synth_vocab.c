/* A synthetic byte-level BPE ("gpt2") vocabulary: the 256 byte tokens in GPT-2's byte-to-character
 * mapping, the architecture's special tokens, then merges built from an alphabet of common characters
 * ordered by English letter frequency: first every pair (most common pairs first), then pairs extended by
 * one character. Every merge joins two existing tokens into a new, distinct one, so the vocabulary is
 * valid for any size from vkslm_synth_vocab_min() up to vkslm_synth_vocab_max(). */
#include <string.h>

#include "engine/model/synth.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

/* The merge alphabet (bytes), most common first; ' ' and '\n' appear as GPT-2's 'Ġ' and 'Ċ'. */
static const char alphabet[] = " etaoinshrdlcumwfgypbvkjxqzTASHIWBCMOPRDFENLGYUKJVQXZ\n.,'-0123456789";
#define N_ALPHA ((uint32_t)(sizeof alphabet - 1))
#define N_PAIRS (N_ALPHA * N_ALPHA)

/* The special tokens after the bytes: BOS (256) and EOS (257) first. llama.cpp's vocabulary loader looks
 * some up by text: a model whose name says phi3 must have <s>, </s>, <unk> and <|endoftext|> (it sets their
 * attributes), so phi3 files carry Phi-3's own; <|endoftext|> is then the EOS, one llama.cpp knows ends
 * generation. */
typedef struct special_token {
    const char *text;
    int32_t type; /* 2 unknown, 3 control */
} special_token;
static const special_token generic_specials[] = {{"<|bos|>", 3}, {"<|eos|>", 3}};
static const special_token phi3_specials[] = {{"<s>", 3}, {"<|endoftext|>", 3}, {"</s>", 3}, {"<unk>", 2}};

static const special_token *specials(vkslm_arch arch, uint32_t *n) {
    if (arch == VKSLM_ARCH_PHI3) {
        *n = sizeof phi3_specials / sizeof *phi3_specials;
        return phi3_specials;
    }
    *n = sizeof generic_specials / sizeof *generic_specials;
    return generic_specials;
}

uint32_t vkslm_synth_vocab_min(vkslm_arch arch) {
    uint32_t n;
    specials(arch, &n);
    return 256 + n;
}

uint32_t vkslm_synth_vocab_max(vkslm_arch arch) { return vkslm_synth_vocab_min(arch) + N_PAIRS + N_PAIRS * N_ALPHA; }

/* GPT-2's byte-to-character map: printable Latin-1 bytes stand for themselves, the others get code
 * points from 256 up in byte order. Writes the UTF-8 and returns its length (1 or 2). */
static int byte_char(uint8_t b, char out[2]) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = b;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            cp += !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE));
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

static int sb_put(strbuf *s, const char *p, size_t n) {
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 16;
        while (cap < s->len + n)
            cap *= 2;
        char *np = VKSLM_REALLOC(s->p, cap);
        if (!np)
            return 0;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return 1;
}

/* Rank r of the N_ALPHA x N_ALPHA pairs (i, j) visited along anti-diagonals i + j = 0, 1, ..., so pairs
 * of common characters come first. */
static void diag_pair(uint32_t r, uint32_t *i, uint32_t *j) {
    for (uint32_t s = 0; s <= 2 * (N_ALPHA - 1); s++) {
        uint32_t lo = s < N_ALPHA ? 0 : s - N_ALPHA + 1, hi = s < N_ALPHA ? s : N_ALPHA - 1;
        if (r <= hi - lo) {
            *i = lo + r;
            *j = s - *i;
            return;
        }
        r -= hi - lo + 1;
    }
    *i = *j = 0; /* not reached for r < N_PAIRS */
}

/* The k-th merge in rank order as (left, right) alphabet sequences: first the pairs, then each pair
 * token (in pair rank order) extended by every character. */
static void merge_parts(uint32_t k, uint32_t left[2], int *n_left, uint32_t *right) {
    if (k < N_PAIRS) {
        diag_pair(k, &left[0], right);
        *n_left = 1;
        return;
    }
    k -= N_PAIRS;
    diag_pair(k / N_ALPHA, &left[0], &left[1]);
    *n_left = 2;
    *right = k % N_ALPHA;
}

static size_t alpha_utf8(uint32_t a, char *out) { return (size_t)byte_char((uint8_t)alphabet[a], out); }

vkslm_status vkslm_synth_vocab_write(vkslm_gguf_writer *w, vkslm_arch arch, uint32_t n_vocab) {
    const uint32_t n_fixed = vkslm_synth_vocab_min(arch);
    if (n_vocab < n_fixed || n_vocab > vkslm_synth_vocab_max(arch))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "synthetic vocabulary: %u tokens (%u..%u possible)", n_vocab, n_fixed,
                          vkslm_synth_vocab_max(arch));
    uint32_t n_special;
    const special_token *special = specials(arch, &n_special);
    uint32_t n_merges = n_vocab - n_fixed;
    strbuf tok = {0}, mrg = {0};
    uint64_t *tok_off = VKSLM_MALLOC((size_t)n_vocab * 2 * sizeof *tok_off);
    uint64_t *mrg_off = VKSLM_MALLOC(((size_t)n_merges * 2 + 1) * sizeof *mrg_off);
    int32_t *types = VKSLM_MALLOC((size_t)n_vocab * sizeof *types);
    const char **tok_s = VKSLM_MALLOC((size_t)n_vocab * sizeof *tok_s);
    const char **mrg_s = VKSLM_MALLOC(((size_t)n_merges + 1) * sizeof *mrg_s);
    vkslm_status st = VKSLM_OK;
    int ok = tok_off && mrg_off && types && tok_s && mrg_s;
    for (uint32_t id = 0; ok && id < n_vocab; id++) {
        char u[8];
        size_t start = tok.len;
        types[id] = 1; /* normal */
        if (id < 256) {
            ok = sb_put(&tok, u, (size_t)byte_char((uint8_t)id, u));
        } else if (id < n_fixed) {
            ok = sb_put(&tok, special[id - 256].text, strlen(special[id - 256].text));
            types[id] = special[id - 256].type;
        } else {
            uint32_t left[2], right;
            int nl;
            merge_parts(id - n_fixed, left, &nl, &right);
            size_t ms = mrg.len;
            for (int i = 0; ok && i < nl; i++)
                ok = sb_put(&tok, u, alpha_utf8(left[i], u)) && sb_put(&mrg, u, alpha_utf8(left[i], u));
            ok = ok && sb_put(&tok, u, alpha_utf8(right, u)) && sb_put(&mrg, " ", 1) &&
                 sb_put(&mrg, u, alpha_utf8(right, u));
            mrg_off[2 * (id - n_fixed)] = ms;
            mrg_off[2 * (id - n_fixed) + 1] = mrg.len - ms;
        }
        tok_off[2 * id] = start;
        tok_off[2 * id + 1] = tok.len - start;
    }
    if (!ok) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    /* the buffers no longer move: turn offsets into pointers, reusing the offset arrays for lengths */
    uint64_t *tok_len = tok_off, *mrg_len = mrg_off;
    for (uint32_t i = 0; i < n_vocab; i++) {
        tok_s[i] = tok.p + tok_off[2 * i];
        tok_len[i] = tok_off[2 * i + 1];
    }
    for (uint32_t i = 0; i < n_merges; i++) {
        mrg_s[i] = mrg.p + mrg_off[2 * i];
        mrg_len[i] = mrg_off[2 * i + 1];
    }
    st = vkslm_gguf_write_str(w, "tokenizer.ggml.model", "gpt2");
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_str(w, "tokenizer.ggml.pre", "gpt-2");
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_arr_str(w, "tokenizer.ggml.tokens", tok_s, tok_len, n_vocab);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_arr(w, "tokenizer.ggml.token_type", VKSLM_GGUF_INT32, types, n_vocab);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_arr_str(w, "tokenizer.ggml.merges", mrg_s, mrg_len, n_merges);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_u32(w, "tokenizer.ggml.bos_token_id", 256);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_u32(w, "tokenizer.ggml.eos_token_id", 257);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_bool(w, "tokenizer.ggml.add_bos_token", 1);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_bool(w, "tokenizer.ggml.add_eos_token", 0);
done:
    VKSLM_FREE(tok.p);
    VKSLM_FREE(mrg.p);
    VKSLM_FREE(tok_off);
    VKSLM_FREE(mrg_off);
    VKSLM_FREE(types);
    VKSLM_FREE(tok_s);
    VKSLM_FREE(mrg_s);
    return st;
}
