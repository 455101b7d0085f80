#include "engine/model/weight_tiles.h"

#include <string.h>

#include "engine/ops/op.h"
#include "loaders/ggml_types.h"

uint32_t vkslm_tile_block_bytes(uint32_t type) {
    const vkslm_type_traits *ti = vkslm_type_info(type);
    if (!ti || !ti->block_bytes || !vkslm_weights_supported(type))
        return 0;
    return ti->block_elems == 1 ? 32u * ti->block_bytes : ti->block_bytes;
}

int vkslm_tile_ok(uint32_t type, uint64_t k, uint64_t rows, uint32_t t) {
    const vkslm_type_traits *ti = vkslm_type_info(type);
    if (t < 2 || !ti || !ti->block_bytes || !vkslm_tile_block_bytes(type) || rows == 0 || rows % t)
        return 0;
    uint64_t unit = ti->block_elems == 1 ? 32 : ti->block_elems;
    return k > 0 && k % 32 == 0 && k % unit == 0;
}

void vkslm_tile_pack(void *dst, const void *src, uint32_t type, uint64_t k, uint64_t rows, uint32_t t) {
    const vkslm_type_traits *ti = vkslm_type_info(type);
    const uint64_t bb = vkslm_tile_block_bytes(type);
    const uint64_t nb = k / (ti->block_elems == 1 ? 32 : ti->block_elems), rb = nb * bb;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (uint64_t r0 = 0; r0 < rows; r0 += t) /* tile by tile */
        for (uint64_t r = 0; r < t; r++)
            for (uint64_t b = 0; b < nb; b++)
                memcpy(d + r0 * rb + (b * t + r) * bb, s + (r0 + r) * rb + b * bb, bb);
}
