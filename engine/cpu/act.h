/* Plain-C reference of the gated activations (the oracle for engine/ops/act.c: shaders/act.comp), f32,
 * computed in double: silu(x) = x / (1 + e^-x), gelu in its tanh form. */
#ifndef VKSLM_CPU_ACT_H
#define VKSLM_CPU_ACT_H
#include <stdint.h>

/* d[r][i] = act(gate[r][i]) * up[r][i], rows of n; up == NULL: gate rows are fused [gate | up] of 2n. */
void vkslm_cpu_swiglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows);
void vkslm_cpu_geglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows);
#endif
