/* Regex pre-tokenizers of the byte-level BPE vocabularies (tokenizer.ggml.pre), run through PCRE2
 * with Unicode properties. A pre-tokenizer is a sequence of patterns: each one splits every piece the
 * previous one produced into its matches and the text between them (Hugging Face's "Isolated" split). */
#ifndef VKSLM_TOKENIZER_PRETOKENIZE_H
#define VKSLM_TOKENIZER_PRETOKENIZE_H

#include <stddef.h>

#include "vkslm.h"

typedef struct vkslm_pretok vkslm_pretok;

/* VKSLM_ERR_UNSUPPORTED for a name this build does not know. NULL or "" means "default". */
vkslm_status vkslm_pretok_create(const char *name, vkslm_pretok **out);
void vkslm_pretok_free(vkslm_pretok *p);
/* Whether merges are skipped for pieces that are whole vocabulary tokens (Llama 3). */
int vkslm_pretok_ignores_merges(const vkslm_pretok *p);
/* Whether BOS is added by default (Llama 3). */
int vkslm_pretok_adds_bos(const vkslm_pretok *p);

/* Calls fn on each piece of text[0..len), in order; stops at the first status fn returns that is not
 * VKSLM_OK. Bytes that are not valid UTF-8 never match a pattern: they stay in the pieces between. */
typedef vkslm_status (*vkslm_piece_fn)(const char *piece, size_t len, void *user);
vkslm_status vkslm_pretok_split(const vkslm_pretok *p, const char *text, size_t len, vkslm_piece_fn fn, void *user);

#endif
