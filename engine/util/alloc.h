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
#endif
