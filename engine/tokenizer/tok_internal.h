/* The tokenizer's internals, shared by its source files (not part of the API). */
#ifndef VKSLM_TOKENIZER_TOK_INTERNAL_H
#define VKSLM_TOKENIZER_TOK_INTERNAL_H

#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/tok_map.h"
#include "engine/tokenizer/tokenizer.h"

#define VKSLM_TOK_MAX_EOG 16

struct vkslm_tokenizer {
    vkslm_tok_model model;
    char pre[64];
    int32_t n_vocab;
    /* Ids 0..n_vocab-1 are the vocabulary; BPE appends the merge halves that are not tokens. */
    vkslm_strpool pool;
    float *scores;    /* [n_vocab] SPM merge priority (higher first) */
    uint8_t *attr;    /* [n_vocab] VKSLM_TOKATTR_* */
    char *pieces;     /* decoded bytes of every token, back to back */
    uint32_t *piece_off, *piece_len; /* [n_vocab] */
    vkslm_pairmap merges; /* BPE: (left id, right id) -> rank, result id */
    vkslm_pretok *pretok; /* BPE */

    int32_t bos, eos, eot, unk, sep, pad, cls, mask;
    int32_t eog[VKSLM_TOK_MAX_EOG];
    int n_eog;
    int add_bos, add_eos, add_sep, add_space_prefix, ignore_merges;
    int spm_word_split; /* SPM: no token has a "▁" after another character (see spm.c) */

    int32_t byte_tok[256];    /* SPM: byte fallback token; BPE: pool id of the byte's stand-in char */
    char byte_chr[256][2];    /* BPE: UTF-8 of the code point that stands for each byte */
    uint8_t byte_chr_len[256];
    uint8_t unbyte[512];      /* BPE: stand-in code point (< 512) -> byte */
    uint8_t is_byte_chr[512];

    /* Tokens matched in raw text before tokenizing (control, user-defined, unknown): longest first,
     * one per distinct text; special_pool maps a text to its index in this list. */
    int32_t *specials;
    int32_t n_specials;
    vkslm_strpool special_pool;
    uint32_t *special_lens; /* the distinct lengths, longest first */
    int32_t n_special_lens;
    uint8_t special_lead[256]; /* bit 1: a user-defined token starts with this byte; bit 2: any special */
    size_t max_token_len;
};

typedef struct vkslm_idvec {
    int32_t *v;
    size_t n, cap;
} vkslm_idvec;

vkslm_status vkslm_idvec_push(vkslm_idvec *v, int32_t id);

/* Per-model encoders: append the ids of one fragment of plain text to out. */
/* prefix_space: put "▁" in front (the vocabulary adds a space prefix and the text starts a fragment) */
vkslm_status vkslm_spm_encode(const vkslm_tokenizer *t, const char *text, size_t len, int prefix_space,
                              vkslm_idvec *out);
vkslm_status vkslm_bpe_encode(const vkslm_tokenizer *t, const char *text, size_t len, vkslm_idvec *out);
vkslm_status vkslm_wpm_encode(const vkslm_tokenizer *t, const char *text, size_t len, vkslm_idvec *out);

/* BPE: the 256 byte stand-in characters of GPT-2's byte-level alphabet (fills byte_chr, unbyte). */
void vkslm_bpe_init_bytes(vkslm_tokenizer *t);
/* BPE: the bytes a byte-level token text stands for, written to out (capacity >= n); returns length. */
size_t vkslm_bpe_decode_text(const vkslm_tokenizer *t, const char *s, size_t n, char *out);

#endif
