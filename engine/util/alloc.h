/* Host allocation goes through these macros so an embedder can override them (define them before
 * building the library). */
#ifndef VKSLM_UTIL_ALLOC_H
#define VKSLM_UTIL_ALLOC_H
#include <stdlib.h>
#ifndef VKSLM_MALLOC
#define VKSLM_MALLOC(n) malloc(n)
#define VKSLM_CALLOC(n, s) calloc((n), (s))
#define VKSLM_REALLOC(p, n) realloc((p), (n))
#define VKSLM_FREE(p) free(p)
#endif

#include <stddef.h>

#include "engine/util/error.h"

/* Grows the array *p of *cap elements of `elem` bytes to hold at least `need`, doubling from 64. */
static inline vkslm_status vkslm_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return VKSLM_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = VKSLM_REALLOC(*p, c * elem);
    if (!q)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory (%zu elements of %zu bytes)", c, elem);
    *p = q;
    *cap = c;
    return VKSLM_OK;
}
#endif
