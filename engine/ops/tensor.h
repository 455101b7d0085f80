/* A tensor on the device as the ops see it: a view into a buffer with a type and a shape. */
#ifndef VKSLM_OPS_TENSOR_H
#define VKSLM_OPS_TENSOR_H
#include <stdint.h>

#include "engine/vk/vk.h"
#include "loaders/ggml_types.h"

typedef struct vkslm_tensor {
    const vkslm_buf *buf;
    uint64_t offset;  /* bytes from the start of buf */
    uint32_t type;    /* vkslm_ggml_type */
    uint64_t ne[4];   /* elements per dimension, ne[0] contiguous; unused dims 1 (0 is read as 1) */
    uint32_t tile;    /* weight matrices: 0 or 1, GGUF's layout (row after row); T > 1, rows in tiles of T
                       * (engine/model/weight_tiles.h), which the weight kernels of CPU devices read */
} vkslm_tensor;

static inline uint64_t vkslm_tensor_nelems(const vkslm_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < 4; i++)
        n *= t->ne[i] ? t->ne[i] : 1;
    return n;
}

/* Rows (product of ne[1..3]) of a tensor. */
static inline uint64_t vkslm_tensor_rows(const vkslm_tensor *t) {
    uint64_t ne0 = t->ne[0] ? t->ne[0] : 1;
    return vkslm_tensor_nelems(t) / ne0;
}

/* A flat tensor of n elements. */
static inline vkslm_tensor vkslm_tensor_1d(const vkslm_buf *buf, uint64_t offset, uint32_t type, uint64_t n) {
    vkslm_tensor t = {buf, offset, type, {n, 1, 1, 1}};
    return t;
}
#endif
