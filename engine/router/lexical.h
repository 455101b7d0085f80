/* Lexical routing: BM25 similarity of a request to each expert's document (its role and examples),
 * needing no model. Words are lowercased runs of letters and digits (bytes >= 0x80 count as letters),
 * common English stop words and single letters are dropped and a plural "s" is cut. */
#ifndef VKSLM_ROUTER_LEXICAL_H
#define VKSLM_ROUTER_LEXICAL_H

#include <stddef.h>

#include "vkslm.h"

typedef struct vkslm_bm25 vkslm_bm25;

/* docs[i] is expert i's text. */
vkslm_status vkslm_bm25_create(const char *const *docs, size_t n_docs, vkslm_bm25 **out);
void vkslm_bm25_free(vkslm_bm25 *b);
/* BM25 score of the query against every document (scores[n_docs]); returns their sum. */
double vkslm_bm25_score(const vkslm_bm25 *b, const char *query, float *scores);

/* Calls fn for every word of text (lowercased, stop words dropped) in w (NUL-terminated, at most 63
 * bytes; longer words are cut). */
void vkslm_words(const char *text, void (*fn)(const char *w, void *user), void *user);
#endif
