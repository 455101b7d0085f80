/* Tokenizers built from a GGUF file's tokenizer.ggml.* metadata:
 *   "llama" SentencePiece-style BPE over scores, with byte fallback (<0xNN>) and the "▁" space;
 *   "gpt2"  byte-level BPE over merge ranks, after a regex pre-tokenizer (tokenizer.ggml.pre; PCRE2);
 *   "bert"  WordPiece with BERT's normaliser (lower case, accents stripped, CJK and punctuation split).
 * Results match llama.cpp and Hugging Face tokenizers on ../shared/testdata/vocab.
 *
 *     vkslm_tokenizer *tok;
 *     if (vkslm_tokenizer_load(gguf, &tok) != VKSLM_OK) ...          // the GGUF may be closed after
 *     int32_t ids[64]; size_t n;
 *     vkslm_tokenize(tok, "Hello", 5, 1, 0, ids, 64, &n);             // BOS where the vocab adds one
 *
 * A loaded tokenizer is immutable: any number of threads may use it at once. */
#ifndef VKSLM_TOKENIZER_TOKENIZER_H
#define VKSLM_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "loaders/gguf.h"
#include "vkslm.h"

typedef struct vkslm_tokenizer vkslm_tokenizer;

typedef enum vkslm_tok_model {
    VKSLM_TOK_SPM = 1, /* tokenizer.ggml.model "llama" */
    VKSLM_TOK_BPE = 2, /* "gpt2" */
    VKSLM_TOK_WPM = 3  /* "bert" */
} vkslm_tok_model;

/* Token attributes (from tokenizer.ggml.token_type, plus strip flags). */
enum {
    VKSLM_TOKATTR_NORMAL = 1 << 0,
    VKSLM_TOKATTR_UNKNOWN = 1 << 1,
    VKSLM_TOKATTR_CONTROL = 1 << 2,
    VKSLM_TOKATTR_USER_DEFINED = 1 << 3,
    VKSLM_TOKATTR_UNUSED = 1 << 4,
    VKSLM_TOKATTR_BYTE = 1 << 5,
    VKSLM_TOKATTR_LSTRIP = 1 << 6, /* when matched in text, eat the whitespace before it */
    VKSLM_TOKATTR_RSTRIP = 1 << 7  /* ... and after it */
};

vkslm_status vkslm_tokenizer_load(const vkslm_gguf *g, vkslm_tokenizer **out);
void vkslm_tokenizer_free(vkslm_tokenizer *tok);

vkslm_tok_model vkslm_tokenizer_model(const vkslm_tokenizer *tok);
const char *vkslm_tokenizer_pre(const vkslm_tokenizer *tok); /* pre-tokenizer name ("" for none) */
int32_t vkslm_tokenizer_n_vocab(const vkslm_tokenizer *tok);
/* Special ids, -1 where the vocabulary has none. */
int32_t vkslm_token_bos(const vkslm_tokenizer *tok);
int32_t vkslm_token_eos(const vkslm_tokenizer *tok);
int32_t vkslm_token_eot(const vkslm_tokenizer *tok);
int32_t vkslm_token_unk(const vkslm_tokenizer *tok);
int vkslm_tokenizer_adds_bos(const vkslm_tokenizer *tok);
int vkslm_tokenizer_adds_eos(const vkslm_tokenizer *tok);
/* True for ids that end generation: EOS, EOT and the known end-of-turn control tokens. */
int vkslm_token_is_eog(const vkslm_tokenizer *tok, int32_t id);
unsigned vkslm_token_attr(const vkslm_tokenizer *tok, int32_t id); /* 0 for an invalid id */
/* The token's text as stored in the vocabulary (byte-level BPE tokens in their Ġ-encoded form). */
const char *vkslm_token_text(const vkslm_tokenizer *tok, int32_t id, size_t *len);
/* The exact id of a vocabulary text, or -1. */
int32_t vkslm_token_find(const vkslm_tokenizer *tok, const char *text, size_t len);

/* Tokenizes text[0..len) (any bytes: invalid UTF-8 is tokenized, never rejected).
 * add_special: add BOS/EOS (BERT: CLS/SEP) where the vocabulary asks for them.
 * parse_special: control tokens written in the text ("<|eot_id|>") become their ids; otherwise they
 * are tokenized as plain text. User-defined tokens are always matched, as llama.cpp does.
 * Writes at most cap ids; *n_out gets the full count. VKSLM_ERR_LIMIT when cap was too small. */
vkslm_status vkslm_tokenize(const vkslm_tokenizer *tok, const char *text, size_t len, int add_special,
                            int parse_special, int32_t *out, size_t cap, size_t *n_out);

/* A byte range of a text. */
typedef struct vkslm_text_range {
    size_t off, len;
} vkslm_text_range;

/* vkslm_tokenize, except that with parse_special a control token is recognised only where its text lies
 * entirely inside one of special_ok[0..n_special_ok) (sorted, not overlapping; adjacent ranges should be
 * merged: a token spanning two is refused); elsewhere the text is tokenized as with parse_special off
 * (user-defined tokens still match). The text is still tokenized as a whole: with every control token
 * inside the ranges the ids equal vkslm_tokenize's. special_ok NULL: no restriction (vkslm_tokenize);
 * non-NULL with n_special_ok 0: no control token anywhere. */
vkslm_status vkslm_tokenize_ranges(const vkslm_tokenizer *tok, const char *text, size_t len, int add_special,
                                   int parse_special, const vkslm_text_range *special_ok, size_t n_special_ok,
                                   int32_t *out, size_t cap, size_t *n_out);

/* The bytes a token stands for. Control and unknown tokens give "" unless `special`. The view stays
 * valid while the tokenizer lives. Byte tokens and byte-level pieces may be partial UTF-8. */
const char *vkslm_token_to_piece(const vkslm_tokenizer *tok, int32_t id, int special, size_t *len);

/* Joins the pieces of ids into buf (at most cap bytes, not NUL-terminated); *len_out gets the full
 * length (VKSLM_ERR_LIMIT if it did not fit). The bytes are raw (byte tokens may leave invalid UTF-8), so
 * that detokenize(tokenize(x)) == x for any bytes; text for callers goes through vkslm_utf8_repair
 * (vkslm_model_detokenize does). With strip_space, the space a SentencePiece vocabulary
 * put in front of the text is dropped (the first piece after an optional BOS loses one leading ' '),
 * so that detokenize(tokenize(x)) == x. */
vkslm_status vkslm_detokenize(const vkslm_tokenizer *tok, const int32_t *ids, size_t n, int special, int strip_space,
                              char *buf, size_t cap, size_t *len_out);

/* Streaming detokenizer: push tokens one at a time and get back valid UTF-8 only. Bytes of a character
 * split over several tokens are held until it is complete (or proven ill-formed); each maximal ill-formed
 * subpart becomes U+FFFD. The concatenated output equals vkslm_utf8_sanitize of vkslm_detokenize's bytes. */
typedef struct vkslm_detok vkslm_detok;
vkslm_status vkslm_detok_create(const vkslm_tokenizer *tok, int special, vkslm_detok **out);
/* *text gets the newly completed text (NUL-terminated, valid until the next call on d), *len its bytes. */
vkslm_status vkslm_detok_push(vkslm_detok *d, int32_t id, const char **text, size_t *len);
/* Whatever is still held back (an unfinished sequence at the end of the stream: U+FFFD), then resets. */
vkslm_status vkslm_detok_flush(vkslm_detok *d, const char **text, size_t *len);
void vkslm_detok_free(vkslm_detok *d);

#endif
