/* Top-k (argmax: k = 1) over vocabulary-sized rows, on f32 tensors a of ne {n, rows...}.
 * Top-k runs in passes: each invocation keeps the best k of `chunk` entries of its row, and passes
 * repeat on those candidates until one invocation covers a row; so work is parallel across the row and
 * no invocation scans more than 1024 entries. Argmax passes give each workgroup 4096 entries (coalesced,
 * subgroup reductions). Order: value descending, ties to the lower index; NaN counts as -inf. */
#ifndef VKSLM_OPS_SELECT_H
#define VKSLM_OPS_SELECT_H

#include "engine/ops/tensor.h"

#define VKSLM_TOPK_MAX 64

/* Push constants, declared identically in shaders/select_topk.comp and shaders/select_argmax.comp. */
typedef struct vkslm_topk_push {
    uint32_t ncols, in_stride, in_off, ids_off, chunk, k, out_stride, out_off, oid_off, col0, inv0, sorted;
    uint32_t th_off, th_stride, use_th, pad;
} vkslm_topk_push;
_Static_assert(sizeof(vkslm_topk_push) == 64, "must match shaders/select_topk.comp and shaders/select_argmax.comp");

/* Bytes of device scratch that top-k / argmax over `rows` rows of n needs (a VKSLM_MEM_DEVICE buffer). */
uint64_t vkslm_op_topk_scratch_bytes(uint64_t n, uint64_t rows, uint32_t k);

/* ids (I32 [k, rows]) and values (F32 [k, rows], or NULL) of each row's k largest entries, best first
 * (the lowest index first among equal values); 1 <= k <= min(n, VKSLM_TOPK_MAX); k = 1 is the argmax.
 * scratch: vkslm_op_topk_scratch_bytes(n, rows, k) bytes. */
vkslm_status vkslm_op_topk(vkslm_cmd *c, const vkslm_tensor *ids, const vkslm_tensor *values, const vkslm_tensor *a,
                           uint32_t k, const vkslm_buf *scratch);
#endif
