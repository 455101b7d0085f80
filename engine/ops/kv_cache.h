/* The KV cache layout, shared by the KV write (engine/ops/kv_cache.c) and attention.
 *
 * One cache holds K and V of every layer, each element F16 (default) or F32:
 *
 *   cache buffer = [layer][K|V][kv_head][pos][head_dim]
 *
 * so for one layer and one of K/V, the tensor is ne = {head_dim, n_ctx, n_kv_head}: a head's rows for
 * consecutive positions are contiguous (attention over one head streams one block), and element
 * (layer, which, h, pos, d) sits at element index
 *
 *   (((layer * 2 + which) * n_kv_head + h) * n_ctx + pos) * head_dim + d      (which: 0 = K, 1 = V)
 *
 * K and V share head_dim (every supported architecture has head_dim_k == head_dim_v). head_dim must be
 * even (an f16 pair never straddles a row, so devices without 16-bit storage write packed words).
 *
 * The KV write copies the rows of the current tokens, src ne = {head_dim, n_kv_head, n_tokens} (f32,
 * the layout the K/V projections produce), into the cache at positions[t] (int32 on the device, one
 * per token, distinct, each < n_ctx; out-of-range positions are skipped, not written). */
#ifndef VKSLM_OPS_KV_CACHE_H
#define VKSLM_OPS_KV_CACHE_H

#include "engine/ops/rope.h"
#include "engine/ops/tensor.h"

typedef struct vkslm_kv_layout {
    uint32_t n_layer, n_kv_head, n_ctx, head_dim;
    uint32_t type; /* VKSLM_TYPE_F16 or VKSLM_TYPE_F32 */
} vkslm_kv_layout;

#define VKSLM_KV_K 0u
#define VKSLM_KV_V 1u

static inline uint64_t vkslm_kv_elem_bytes(const vkslm_kv_layout *l) { return l->type == VKSLM_TYPE_F16 ? 2u : 4u; }
/* Bytes of one layer's K (or V): n_kv_head * n_ctx * head_dim elements. */
static inline uint64_t vkslm_kv_part_bytes(const vkslm_kv_layout *l) {
    return (uint64_t)l->n_kv_head * l->n_ctx * l->head_dim * vkslm_kv_elem_bytes(l);
}
/* Bytes of the whole cache. */
static inline uint64_t vkslm_kv_bytes(const vkslm_kv_layout *l) { return vkslm_kv_part_bytes(l) * 2u * l->n_layer; }
/* Byte offset (from the cache's start) of row (layer, which, h, pos). */
static inline uint64_t vkslm_kv_row_offset(const vkslm_kv_layout *l, uint32_t layer, uint32_t which, uint32_t h,
                                           uint32_t pos) {
    return vkslm_kv_part_bytes(l) * (2u * (uint64_t)layer + which) +
           ((uint64_t)h * l->n_ctx + pos) * l->head_dim * vkslm_kv_elem_bytes(l);
}
/* The tensor view of one layer's K or V: ne = {head_dim, n_ctx, n_kv_head}. */
static inline vkslm_tensor vkslm_kv_tensor(const vkslm_kv_layout *l, const vkslm_buf *cache, uint64_t cache_offset,
                                           uint32_t layer, uint32_t which) {
    vkslm_tensor t = {cache, cache_offset + vkslm_kv_row_offset(l, layer, which, 0, 0), l->type,
                      {l->head_dim, l->n_ctx, l->n_kv_head, 1}};
    return t;
}

/* Push constants, declared identically in shaders/kv_cache.comp. */
typedef struct vkslm_kv_write_push {
    uint32_t head_dim, n_ctx, n_head, n_tokens; /* n_head: heads in this dispatch */
    uint32_t src_off, dst_off, pos_off;         /* element offsets into the bound ranges */
    uint32_t h0;                                /* first head of this dispatch */
    uint32_t src_head_stride;                   /* elements between heads of src (head_dim) */
    uint32_t src_token_stride;                  /* elements between tokens of src */
    uint32_t rope_heads;                        /* rope variants: heads h0 + h below this rotate */
    vkslm_rope_args rope;                       /* rope variants: the rotation (engine/ops/rope.h) */
    uint32_t seq_stride;                        /* many sequences: dst elements between sequences (0: one) */
    uint32_t seq_off;                           /* element offset of the sequence ids in their binding */
    uint32_t n_seq;                             /* sequences dst holds: ids at or past it are skipped */
    uint32_t q_heads;                           /* src heads below it are q heads, roped into qd (else 0) */
    uint32_t q_off, q_token_stride;             /* qd: element offset, elements between tokens */
    uint32_t pad;
} vkslm_kv_write_push;
_Static_assert(sizeof(vkslm_kv_write_push) == 108, "must match shaders/kv_cache.comp");

/* Writes src (f32, ne {head_dim, n_kv_head, n_tokens}; token rows src_token_stride elements apart, 0:
 * contiguous, so k or v inside a fused QKV output works) into dst (a vkslm_kv_tensor view: ne {head_dim,
 * n_ctx, n_kv_head}, F16 or F32) at rows positions[t] (I32, n_tokens). Call once for K and once for V. */
vkslm_status vkslm_op_kv_write(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                               const vkslm_tensor *positions, uint64_t src_token_stride);
/* The same write with RoPE applied on the way (k straight from its projection into the cache, one
 * dispatch instead of two): rope and freq_factors as vkslm_op_rope (whose token strides are ignored
 * here), at the same positions. */
vkslm_status vkslm_op_kv_write_rope(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                                    const vkslm_tensor *positions, uint64_t src_token_stride,
                                    const vkslm_tensor *freq_factors, const vkslm_rope_params *rope);
/* K (roped) and V of one layer in one dispatch: kv_src holds a token's K heads then its V heads
 * (ne {head_dim, 2 * n_kv_head, n_tokens}, as in a fused QKV row), k_dst is the layer's K view
 * (vkslm_kv_tensor(..., VKSLM_KV_K)), whose V part follows it in the cache. */
vkslm_status vkslm_op_kv_write_rope_kv(vkslm_cmd *c, const vkslm_tensor *k_dst, const vkslm_tensor *kv_src,
                                       const vkslm_tensor *positions, uint64_t src_token_stride,
                                       const vkslm_tensor *freq_factors, const vkslm_rope_params *rope);

/* The tokens of many sequences in one dispatch: token t goes to sequence ids[t]'s cache, which starts
 * `stride` elements after the previous sequence's; dst (or k_dst) is sequence 0's view, and n_seq
 * sequences follow it in its buffer (a session's layer buffer: engine/model/graph.h). Token rows whose
 * sequence id is outside [0, n_seq) are skipped. */
typedef struct vkslm_kv_seqs {
    const vkslm_tensor *ids; /* I32 (n_tokens) */
    uint32_t n_seq;
    uint64_t stride;
} vkslm_kv_seqs;
/* What vkslm_op_kv_write (rope NULL), vkslm_op_kv_write_rope (rope, kv 0) or vkslm_op_kv_write_rope_kv
 * (rope, kv 1) record, for the tokens of several sequences. */
vkslm_status vkslm_op_kv_write_seqs(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                                    const vkslm_tensor *positions, uint64_t src_token_stride,
                                    const vkslm_tensor *freq_factors, const vkslm_rope_params *rope, int kv,
                                    const vkslm_kv_seqs *seqs);
/* A layer's whole fused QKV output in one dispatch: q roped into q_dst, k roped and v into the cache. src holds
 * a token's q heads, then its k heads, then its v heads (ne {head_dim, n_head + 2 n_kv_head, n_tokens}, token
 * rows src_token_stride elements apart); q_dst is F32 {head_dim, n_head, n_tokens}, contiguous; k_dst is as
 * vkslm_op_kv_write_rope_kv takes it (every kv head of the cache is bound at once). seqs NULL: every token
 * goes to k_dst's sequence; else as vkslm_op_kv_write_seqs. */
vkslm_status vkslm_op_qkv_write(vkslm_cmd *c, const vkslm_tensor *q_dst, const vkslm_tensor *k_dst,
                                const vkslm_tensor *src, const vkslm_tensor *positions, uint64_t src_token_stride,
                                const vkslm_tensor *freq_factors, const vkslm_rope_params *rope,
                                const vkslm_kv_seqs *seqs);
/* Does one binding hold the caches of n_seq sequences `stride` elements apart (each `bytes` long)? */
int vkslm_kv_seqs_fit(const vkslm_vk *vk, uint32_t n_seq, uint64_t stride_bytes, uint64_t bytes);
#endif
