/* Helpers the op families share: argument checks and how many rows one dispatch may cover. */
#ifndef VKSLM_OPS_OP_UTIL_H
#define VKSLM_OPS_OP_UTIL_H

#include "engine/ops/tensor.h"
#include "engine/util/error.h"

/* Fails unless t is present, of `type`, element-aligned and holds at least `n` elements. */
static inline vkslm_status vkslm_op_check(const char *op, const char *which, const vkslm_tensor *t, uint32_t type,
                                          uint64_t n) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s is missing", op, which);
    if (t->type != type)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: tensor %s has type %u, expected %u", op, which, t->type, type);
    uint64_t es = type == VKSLM_TYPE_F16 ? 2u : 4u;
    if (t->offset % es)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s offset %llu is not element-aligned", op, which,
                          (unsigned long long)t->offset);
    if (vkslm_tensor_nelems(t) < n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s has %llu elements, needs %llu", op, which,
                          (unsigned long long)vkslm_tensor_nelems(t), (unsigned long long)n);
    if (t->offset + n * es > t->buf->size)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s runs past the end of its buffer", op, which);
    return VKSLM_OK;
}

/* The most rows of `row_bytes` each that one binding may cover (bindable range minus alignment slack),
 * at most `cap`; 0 when a single row does not fit. */
static inline uint64_t vkslm_op_rows_fit(const vkslm_vk *vk, uint64_t row_bytes, uint64_t cap) {
    uint64_t slack = vkslm_vk_get_caps(vk)->min_storage_offset_align + 4;
    uint64_t range = vkslm_vk_max_range(vk);
    if (row_bytes == 0)
        return cap;
    uint64_t r = range > slack ? (range - slack) / row_bytes : 0;
    return r < cap ? r : cap;
}

#endif
