/* Plain-C reference of RoPE (the oracle for shaders/rope.comp), angles in double:
 * pair p < n_rot/2 rotates by theta = pos * base^(-2p/n_rot) * freq_scale / ff[p] (ff may be NULL);
 * neox pairs elements (p, p + n_rot/2), normal pairs (2p, 2p + 1); elements from n_rot on pass through.
 * a and d are [n_tokens][n_heads][head_dim] with rows of a_tstride / d_tstride elements per token. */
#ifndef VKSLM_CPU_ROPE_H
#define VKSLM_CPU_ROPE_H
#include <stdint.h>

void vkslm_cpu_rope(float *d, const float *a, const int32_t *pos, const float *ff, uint32_t head_dim,
                    uint32_t n_heads, uint32_t n_tokens, uint32_t n_rot, int neox, float theta_base,
                    float freq_scale, uint64_t a_tstride, uint64_t d_tstride);
#endif
