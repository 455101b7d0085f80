/* A real model file edited in memory so that what it generates is known in advance: stories260K.gguf (llama
 * arch, all F32, a SentencePiece vocabulary with the 256 byte tokens), loaded with vkslm_model_load_memory. */
#ifndef VKSLM_TESTS_UTIL_FORCED_H
#define VKSLM_TESTS_UTIL_FORCED_H

#include <stddef.h>
#include <stdint.h>

typedef struct test_forced_file {
    unsigned char *bytes; /* the whole GGUF file (malloc'd; must outlive a model loaded from it) */
    size_t size;
} test_forced_file;

/* Reads <testdata>/models/stories260K.gguf; 0 on success (failures are printed). */
int test_forced_open(test_forced_file *f);
void test_forced_close(test_forced_file *f);
/* The id of a vocabulary entry ("<0xE2>", "▁Once"), or -1. */
int32_t test_forced_token(const test_forced_file *f, const char *text);
/* Makes greedy decoding a fixed chain: after token from[i] the model gives to[i] (from[] distinct,
 * n <= n_embd). Attention and feed-forward outputs become zero, so the residual stream is the embedding
 * of the current token; from[i]'s embedding is the unit vector i, every other embedding zero, and the
 * output matrix maps unit vector i to a logit of 8 (after the RMS norm) for to[i], 0 for every other id.
 * Returns 0 on success. */
int test_forced_chain(test_forced_file *f, const int32_t *from, const int32_t *to, size_t n);
/* Sets every element of the F32 tensor `name` to v; 0 on success. */
int test_forced_fill(test_forced_file *f, const char *name, float v);
#endif
