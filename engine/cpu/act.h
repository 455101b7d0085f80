/* Plain-C reference of the activations (the oracle for shaders/act.comp), f32, computed in double. */
#ifndef VKSLM_CPU_ACT_H
#define VKSLM_CPU_ACT_H
#include <stdint.h>

float vkslm_cpu_silu1(float x);
float vkslm_cpu_gelu1(float x); /* tanh form */
void vkslm_cpu_silu(float *d, const float *a, uint64_t n);
void vkslm_cpu_gelu(float *d, const float *a, uint64_t n);
/* d[r][i] = act(gate[r][i]) * up[r][i], rows of n; up == NULL: gate rows are fused [gate | up] of 2n. */
void vkslm_cpu_swiglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows);
void vkslm_cpu_geglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows);
#endif
