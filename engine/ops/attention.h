/* Attention over a KV cache (shaders/attention.comp, shaders/attention_combine.comp): flash attention with an
 * online softmax, for one decode token or a prefill chunk of n_tokens new tokens.
 *
 * Shapes (ne[0] contiguous):
 *   q, out   F32        {head_dim, n_head, n_tokens}     token i sits at position p0 + i
 *   k, v     F16 / F32  {head_dim, n_ctx, n_head_kv}     the KV cache of one layer, [kv_head][pos][head_dim]
 * q head hq reads kv head hq / (n_head / n_head_kv) (grouped-query attention; n_head_kv divides n_head).
 * The row of the token at position p sees keys j with j <= p (causal) and, with a sliding window W,
 * p - j < W (the last W positions, itself included). score = (q . k) * scale, then with soft-capping
 * score = softcap * tanh(score / softcap); out = softmax(scores) V.
 *
 * Long key ranges are split across workgroups (flash-decoding) when a scratch tensor is given: each split
 * writes a partial (o, max, sum) and a combine pass merges them. On CPU devices keys split only where a
 * step has fewer than 8 query rows (n_head x tokens), or where the range forces it: the rows already keep
 * the cores busy and the combine pass costs a dispatch. Without scratch, one workgroup walks a
 * row tile's whole key range. K/V bindings larger than the bindable storage range are split by kv head
 * and by key range (which then needs scratch); q/out larger than the range are processed in token chunks.
 * Everything is f32 arithmetic; an f16 cache is read through 16-bit storage or as packed words. */
#ifndef VKSLM_OPS_ATTENTION_H
#define VKSLM_OPS_ATTENTION_H

#include "engine/ops/rope.h"
#include "engine/ops/tensor.h"

typedef struct vkslm_attn_params {
    uint32_t p0;     /* position of the first query token; keys [0, p0 + n_tokens) are read */
    float scale;     /* 0: 1 / sqrt(head_dim) */
    float softcap;   /* 0: no soft-capping */
    uint32_t window; /* 0: no sliding window */
    uint32_t subgroups; /* subgroups per workgroup: 0 chooses (one, where the device has one fixed subgroup
                         * size); more split a workgroup's keys between its subgroups */
} vkslm_attn_params;

/* The largest head_dim the shader supports; head_dim must also be a multiple of 4, and q, k, v start on a
 * multiple of 4 elements. */
#define VKSLM_ATTN_MAX_HEAD_DIM 256u
/* Splits of the key range that a session's scratch allows (engine/model/graph.c sizes it with
 * vkslm_attn_scratch_bytes()). */
#define VKSLM_ATTN_DEFAULT_SPLITS 16u

/* Bytes of f32 scratch that allow up to max_split key splits for a call of n_tokens tokens. */
uint64_t vkslm_attn_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim, uint32_t max_split);

/* Records attention. scratch: NULL, or an F32 tensor (its element count is what it offers); it is
 * written and read by this call only. */
vkslm_status vkslm_op_attention(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q, const vkslm_tensor *k,
                                const vkslm_tensor *v, const vkslm_tensor *scratch, const vkslm_attn_params *params);

/* Attention for the tokens of several sequences in one call (a batch's decode tokens): token i of q sits at
 * position pos[i] of sequence seq[i] and sees that sequence's keys (causal, the window as above). k and v
 * are sequence 0's views (as vkslm_op_attention takes them); sequence s's begin s * stride elements later
 * in the same buffers, n_seq of them. max_pos bounds the positions (the key splits are planned for it). */
typedef struct vkslm_attn_seqs {
    const vkslm_tensor *pos, *seq; /* I32 (n_tokens) each */
    uint32_t n_seq, max_pos;
    uint64_t stride;
} vkslm_attn_seqs;

/* Records that attention (params->p0 must be 0). Fails with VKSLM_ERR_LIMIT where the caches of the
 * n_seq sequences do not fit one binding or a kv head's q heads one workgroup: vkslm_attn_seqs_ok tells
 * beforehand. */
vkslm_status vkslm_op_attention_seqs(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *q,
                                     const vkslm_tensor *k, const vkslm_tensor *v, const vkslm_tensor *scratch,
                                     const vkslm_attn_params *params, const vkslm_attn_seqs *seqs);
/* Can vkslm_op_attention_seqs take n_seq caches `stride_bytes` apart, each of n_head_kv heads of
 * n_ctx x head_dim elements of elem_bytes, with `group` q heads per kv head? */
int vkslm_attn_seqs_ok(vkslm_vk *vk, uint32_t head_dim, uint32_t group, uint32_t n_head_kv, uint32_t n_ctx,
                       uint32_t elem_bytes, uint32_t n_seq, uint64_t stride_bytes);

/* A decode step's attention straight from the fused projection's rows (one dispatch for kv_cache's qkv write and
 * the attention after it): qkv F32 {head_dim, n_head + 2 n_head_kv, n_tokens}, each row q heads, k heads, v
 * heads, token i at position pos[i] of sequence seq[i] (one token per sequence). q and k are roped with rope
 * (and ff: NULL or its frequency divisors), k and v written at that position into the caches k and v
 * (sequence 0's views, as vkslm_op_attention_seqs takes them; v follows k in one buffer), and out is what
 * vkslm_op_qkv_write then vkslm_op_attention_seqs give, bit for bit. Only where vkslm_attn_qkv_fusable says
 * (CPU devices' lane kernel); fails with VKSLM_ERR_LIMIT as vkslm_op_attention_seqs does.
 * out may instead be an I32 tensor {vkslm_x8_pair_ints(n_head * head_dim), vkslm_x8_pairs(n_tokens)}: the output in
 * 8 bits (engine/ops/matmul.h, vkslm_x8), what vkslm_cpu_quantize_x8 makes of the F32 out, for a product taking x
 * so; where vkslm_attn_qkv_x8 says (the keys of a token are then never split). */
vkslm_status vkslm_op_attention_qkv(vkslm_cmd *c, const vkslm_tensor *out, const vkslm_tensor *qkv,
                                    const vkslm_tensor *k, const vkslm_tensor *v, const vkslm_tensor *scratch,
                                    const vkslm_attn_params *params, const vkslm_attn_seqs *seqs,
                                    const vkslm_tensor *ff, const vkslm_rope_params *rope);
/* Does the device run vkslm_op_attention_qkv for heads of head_dim with `group` q heads per kv head and n_rot
 * rotated dimensions (0: head_dim; a multiple of 8: the rows are read as texels)? */
int vkslm_attn_qkv_fusable(vkslm_vk *vk, uint32_t head_dim, uint32_t group, uint32_t n_rot);
/* Does vkslm_op_attention_qkv write out in 8 bits for heads of head_dim (where it runs, a multiple of 32, and the
 * device's products take x in 8 bits: vkslm_vk_enabled.x8_products)? */
int vkslm_attn_qkv_x8(vkslm_vk *vk, uint32_t head_dim);

/* Push constants, declared identically in shaders/attention.comp and shaders/attention_combine.comp. */
typedef struct vkslm_attn_push {
    uint32_t n_rows, group, n_head, p0;
    uint32_t kv_end, key_lo, window, chunk;
    uint32_t n_split, split_base, head_base, key_base;
    uint32_t head_stride, pos_stride;
    uint32_t q_off, k_off, v_off, dst_off;
    uint32_t direct, seqs; /* seqs: the tokens' positions and sequences come from bindings 4 and 5 */
    float scale, softcap;
    uint32_t seq_stride;   /* K/V vec4s between sequences */
    uint32_t pos_off, seq_off, pad;
} vkslm_attn_push;
_Static_assert(sizeof(vkslm_attn_push) == 104, "must match shaders/attention.comp");

/* Push constants of attention_lane.comp's FUSED_QKV variants (declared identically there). */
typedef struct vkslm_attn_qkv_push {
    uint32_t n_rows, group, n_head, kv_end;
    uint32_t window, chunk, n_split, head_stride;
    uint32_t pos_stride, q_off, k_off, v_off;
    uint32_t dst_off, direct;
    float scale, softcap;
    uint32_t seq_stride, pos_off, seq_off;
    uint32_t src_stride, kw_off, v_delta;
    vkslm_rope_args rope;
} vkslm_attn_qkv_push;
_Static_assert(sizeof(vkslm_attn_qkv_push) == 124, "must match shaders/attention_lane.comp");

typedef struct vkslm_attn_combine_push {
    uint32_t n_rows, group, n_head, n_split;
    uint32_t head_base, src_off, out_off, pad;
} vkslm_attn_combine_push;
_Static_assert(sizeof(vkslm_attn_combine_push) == 32, "must match shaders/attention_combine.comp");
#endif
