#include "engine/cpu/kv_cache.h"

#include "engine/util/half.h"

void vkslm_cpu_kv_write(float *dst, const float *src, const int32_t *pos, uint32_t head_dim, uint32_t n_ctx,
                        uint32_t n_head, uint32_t n_tokens, uint64_t src_token_stride, int round_f16) {
    for (uint32_t t = 0; t < n_tokens; t++) {
        if (pos[t] < 0 || (uint32_t)pos[t] >= n_ctx)
            continue;
        for (uint32_t h = 0; h < n_head; h++)
            for (uint32_t i = 0; i < head_dim; i++) {
                float v = src[t * src_token_stride + (uint64_t)h * head_dim + i];
                dst[((uint64_t)h * n_ctx + (uint32_t)pos[t]) * head_dim + i] =
                    round_f16 ? vkslm_f16_to_f32(vkslm_f32_to_f16(v)) : v;
            }
    }
}
