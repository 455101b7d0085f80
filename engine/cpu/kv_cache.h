/* Plain-C reference of the KV-cache write (engine/ops/kv_cache.h has the layout): src f32
 * [n_tokens][n_head][head_dim] (token rows src_token_stride elements apart) into dst, one layer's K or V
 * as f32 [n_head][n_ctx][head_dim], rows pos[t]; positions outside [0, n_ctx) are skipped. Values are
 * rounded to f16 precision when round_f16 (what an F16 cache stores). */
#ifndef VKSLM_CPU_KV_CACHE_H
#define VKSLM_CPU_KV_CACHE_H
#include <stdint.h>

void vkslm_cpu_kv_write(float *dst, const float *src, const int32_t *pos, uint32_t head_dim, uint32_t n_ctx,
                        uint32_t n_head, uint32_t n_tokens, uint64_t src_token_stride, int round_f16);
#endif
