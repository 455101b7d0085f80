/* Random weight matrices of every weight type for the GPU kernel tests. */
#ifndef VKSLM_TEST_UTIL_WEIGHTS_H
#define VKSLM_TEST_UTIL_WEIGHTS_H
#include <stdint.h>

#include "engine/util/rng.h"

/* Every weight type the kernels decode, and their count. */
extern const uint32_t test_weight_types[];
extern const int test_n_weight_types;

/* Quick mode: sanitizer builds (CI runs every suite again under ASan+UBSan, where lavapipe's shader
 * compiles run several times slower) or env VKSLM_TEST_QUICK=1. The sweeps then cover only F16, Q4_0,
 * Q8_0, Q4_K and Q6_K: the host code is the same for every type, and the full sweep runs unsanitized. */
int test_quick(void);
/* True when weight type test_weight_types[t] is swept (every type, or in quick mode the five above). */
int test_weight_type_swept(int t);

/* n_rows rows of k elements of `type` (malloc'd, vkslm_type_row_bytes(type, k) bytes per row, plus 4
 * spare bytes). Types with a CPU quantizer quantize uniform random floats in [-1, 1); Q2_K, Q3_K, IQ4_NL
 * and IQ4_XS get random bytes with small random positive f16 super-scales. */
uint8_t *test_random_weights(vkslm_rng *r, uint32_t type, uint64_t n_rows, uint64_t k);
/* Bytes of a row. */
uint64_t test_row_bytes(uint32_t type, uint64_t k);
#endif
