/* Hash maps for the tokenizers: a string pool (id -> bytes, bytes -> id) and a map from a pair of
 * ids to a merge (rank, result). Open addressing, power-of-two tables kept at most half full. */
#ifndef VKSLM_TOKENIZER_TOK_MAP_H
#define VKSLM_TOKENIZER_TOK_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

typedef struct vkslm_strpool_slot {
    uint32_t hash;
    int32_t id; /* -1: empty */
} vkslm_strpool_slot;

typedef struct vkslm_strpool {
    char *bytes; /* all strings, back to back */
    size_t n_bytes, cap_bytes;
    uint32_t *off, *len; /* per id */
    int32_t n, cap;
    vkslm_strpool_slot *slots;
    uint32_t mask; /* slots - 1 */
    uint32_t used; /* distinct strings mapped */
} vkslm_strpool;

/* Appends a string as the next id (*id gets it); the text then maps to this id, replacing an earlier
 * id with the same text (as llama.cpp's token_to_id does). */
vkslm_status vkslm_strpool_push(vkslm_strpool *p, const char *s, size_t n, int32_t *id);
/* The id whose text is s[0..n), or -1. */
int32_t vkslm_strpool_find(const vkslm_strpool *p, const char *s, size_t n);
/* find, or push when absent. */
vkslm_status vkslm_strpool_intern(vkslm_strpool *p, const char *s, size_t n, int32_t *id);
static inline const char *vkslm_strpool_str(const vkslm_strpool *p, int32_t id, size_t *n) {
    *n = p->len[id];
    return p->bytes + p->off[id];
}
void vkslm_strpool_free(vkslm_strpool *p);

typedef struct vkslm_merge {
    uint64_t key; /* (left << 32 | right); UINT64_MAX: empty */
    int32_t rank;
    int32_t result; /* pool id of left+right, or -1 */
} vkslm_merge;

typedef struct vkslm_pairmap {
    vkslm_merge *slots;
    uint32_t mask, used;
} vkslm_pairmap;

/* Adds a merge unless the pair already has one (the first, lowest rank wins). */
vkslm_status vkslm_pairmap_put(vkslm_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result);
const vkslm_merge *vkslm_pairmap_get(const vkslm_pairmap *m, int32_t left, int32_t right);
void vkslm_pairmap_free(vkslm_pairmap *m);

uint64_t vkslm_hash_bytes(const char *s, size_t n);
#endif
