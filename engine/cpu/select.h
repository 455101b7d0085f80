/* Plain-C reference of top-k and argmax (the oracle for engine/ops/select.c: shaders/select_*.comp), and
 * a row's log-softmax at one index (the log-probability of a token: perplexity, the router). Order for
 * top-k: value descending, ties to the lower index, NaN as -inf. */
#ifndef VKSLM_CPU_SELECT_H
#define VKSLM_CPU_SELECT_H
#include <stdint.h>

/* log softmax(a)[id] of one row of n, in double (the log-probability of token id under logits a). */
double vkslm_cpu_log_softmax_at(const float *a, uint64_t n, uint64_t id);
/* ids[r*k + t], values[r*k + t]: the t-th best entry of row r (values may be NULL). */
void vkslm_cpu_topk(int32_t *ids, float *values, const float *a, uint64_t n, uint64_t rows, uint32_t k);
#endif
