/* KV-cache writes (shaders/kv_cache.comp; RoPE on the way in from shaders/rope.glsl): an invocation per
 * element pair. */
#include "engine/ops/kv_cache.h"

#include "engine/ops/op.h"

#define WG 64u
#define AT(field) VKSLM_OP_PUSH(vkslm_kv_write_push, field)

/* [cache: 0 f32, 1 f16, 2 f16 as packed words][rope: none, normal, neox] */
static const vkslm_shader_id shaders[3][3] = {
    {VKSLM_SHADER_KV_CACHE_F32, VKSLM_SHADER_KV_CACHE_F32_ROPE_NORM, VKSLM_SHADER_KV_CACHE_F32_ROPE_NEOX},
    {VKSLM_SHADER_KV_CACHE_F16, VKSLM_SHADER_KV_CACHE_F16_ROPE_NORM, VKSLM_SHADER_KV_CACHE_F16_ROPE_NEOX},
    {VKSLM_SHADER_KV_CACHE_F16_P16, VKSLM_SHADER_KV_CACHE_F16_P16_ROPE_NORM, VKSLM_SHADER_KV_CACHE_F16_P16_ROPE_NEOX},
};

/* Heads along axis 0 (qd's, then the cache's), tokens along axis 1. rope_heads: heads below it rotate (rope
 * variants). qd: NULL, or the q rows (F32 {head_dim, q heads, tokens}) whose heads come first in src. */
static vkslm_status run(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src, const vkslm_tensor *positions,
                        uint64_t src_token_stride, const vkslm_tensor *ff, const vkslm_rope_params *rope,
                        uint64_t rope_heads, const vkslm_kv_seqs *seqs, const vkslm_tensor *qd) {
    const char *name = "kv_write";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, dst, src, positions));
    uint64_t hd = dst->ne[0], n_ctx = vkslm_dim(dst, 1), nh = vkslm_dim(dst, 2), nt = vkslm_dim(src, 2);
    uint64_t nq = qd ? vkslm_dim(qd, 1) : 0;
    if (qd && (qd->ne[0] != hd || vkslm_dim(qd, 2) != nt || vkslm_dim(qd, 3) != 1))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: q must be {head_dim, n_head, n_tokens} of src");
    if (qd)
        VKSLM_TRY(vkslm_op_check(name, "q", qd, VKSLM_OP_F32, hd * nq * nt));
    if (hd == 0 || hd % 2 || src->ne[0] != hd || vkslm_dim(src, 1) != nq + nh)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: src rows must be [n_kv_head][head_dim] of the cache "
                                                 "(head_dim even)");
    if (dst->type != VKSLM_TYPE_F16 && dst->type != VKSLM_TYPE_F32)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "kv_write: the cache must be F16 or F32");
    uint64_t es = dst->type == VKSLM_TYPE_F16 ? 2 : 4, row = (nq + nh) * hd;
    uint64_t ts = src_token_stride ? src_token_stride : row;
    if (ts < row || ts > UINT32_MAX || n_ctx * hd > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: bad src token stride or cache size");
    VKSLM_TRY(vkslm_op_check(name, "positions", positions, VKSLM_OP_I32, nt));
    int packed = dst->type == VKSLM_TYPE_F16 && !vkslm_vk_get_enabled(vkslm_cmd_vk(c))->storage16;
    vkslm_kv_write_push pc = {.head_dim = (uint32_t)hd, .n_ctx = (uint32_t)n_ctx, .src_head_stride = (uint32_t)hd,
                              .src_token_stride = (uint32_t)ts};
    if (rope) {
        uint64_t n_rot = rope->n_rot ? rope->n_rot : hd;
        if (n_rot % 2 || n_rot > hd)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: n_rot %llu must be even and <= head_dim",
                              (unsigned long long)n_rot);
        if (rope->mode != VKSLM_ROPE_NORMAL && rope->mode != VKSLM_ROPE_NEOX)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "kv_write: rope mode %u", rope->mode);
        if (ff)
            VKSLM_TRY(vkslm_op_check(name, "freq_factors", ff, VKSLM_OP_F32, n_rot / 2));
        pc.rope = vkslm_rope_args_of(rope, (uint32_t)n_rot);
        pc.rope.flags = ff != NULL;
        pc.rope_heads = (uint32_t)(rope_heads < nq + nh ? rope_heads : nq + nh);
    }
    uint32_t spec[1] = {WG};
    /* a piece binds its heads of every sequence; with q heads, the whole cache (the shader indexes it from
     * kv head 0) */
    uint64_t head_bytes = n_ctx * hd * es, span = qd ? nh * head_bytes : head_bytes;
    pc.q_heads = (uint32_t)nq;
    pc.q_token_stride = (uint32_t)(nq * hd);
    if (seqs) {
        if (!seqs->ids || seqs->n_seq == 0 || seqs->stride < nh * n_ctx * hd || seqs->stride % 2 ||
            (uint64_t)seqs->n_seq * seqs->stride > 0x7fffffffu)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: bad sequence ids, count or stride");
        VKSLM_TRY(vkslm_op_check(name, "sequence ids", seqs->ids, VKSLM_OP_I32, nt));
        pc.seq_stride = (uint32_t)seqs->stride;
        pc.n_seq = seqs->n_seq;
        span += (seqs->n_seq - 1u) * seqs->stride * es;
    }
    vkslm_op op = {
        .name = name, .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        .shader = shaders[dst->type == VKSLM_TYPE_F32 ? 0 : packed ? 2 : 1]
                         [!rope ? 0 : rope->mode == VKSLM_ROPE_NEOX ? 2 : 1],
        .axis = {{.n = nq + nh, .count_at = AT(n_head), .first_at = AT(h0)}, {.n = nt, .count_at = AT(n_tokens)}},
        .grid = {{.per = hd / 2, .div = WG, .axes = 3}}, /* an invocation per element pair */
        .arg = {
            /* every head of a token's row, whatever heads the piece writes */
            {"src", src, .types = VKSLM_OP_F32, .off_at = AT(src_off), .step = {0, ts * 4}, .size = row * 4},
            {"positions", positions, .types = VKSLM_OP_I32, .off_at = AT(pos_off), .step = {0, 4}, .size = 4},
            /* the cache as packed words needs an even first element */
            {"dst", dst, .write = 1, .unit = (uint32_t)es, .align = packed ? 4 : (uint32_t)es, .off_at = AT(dst_off),
             .step = {qd ? 0 : head_bytes, 0}, .size = span},
            {"freq_factors", rope ? ff : NULL, .optional = 1, .types = VKSLM_OP_F32, .off_at = AT(rope.f_off),
             .size = (uint64_t)pc.rope.n_rot / 2 * 4},
            {"sequence ids", seqs ? seqs->ids : NULL, .optional = 1, .types = VKSLM_OP_I32, .off_at = AT(seq_off),
             .step = {0, 4}, .size = 4},
            {"q", qd, .optional = 1, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(q_off),
             .step = {0, nq * hd * 4}, .size = nq * hd * 4},
        },
        .bytes = (double)(nt * row) * (4.0 + es), /* f32 rows in, cache rows out */
    };
    return vkslm_op_record(c, &op);
}

vkslm_status vkslm_op_kv_write(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                               const vkslm_tensor *positions, uint64_t src_token_stride) {
    return run(c, dst, src, positions, src_token_stride, NULL, NULL, 0, NULL, NULL);
}

vkslm_status vkslm_op_kv_write_rope(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                                    const vkslm_tensor *positions, uint64_t src_token_stride,
                                    const vkslm_tensor *freq_factors, const vkslm_rope_params *rope) {
    if (!rope)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write_rope: rope parameters are missing");
    return run(c, dst, src, positions, src_token_stride, freq_factors, rope, UINT64_MAX, NULL, NULL);
}

vkslm_status vkslm_op_kv_write_rope_kv(vkslm_cmd *c, const vkslm_tensor *k_dst, const vkslm_tensor *kv_src,
                                       const vkslm_tensor *positions, uint64_t src_token_stride,
                                       const vkslm_tensor *freq_factors, const vkslm_rope_params *rope) {
    if (!rope || !k_dst || !kv_src)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write_rope_kv: a tensor or the rope parameters are missing");
    uint64_t nkv = k_dst->ne[2] ? k_dst->ne[2] : 1;
    vkslm_tensor both = *k_dst; /* K's heads, then V's: the V part of the layer follows K in the cache */
    both.ne[2] = 2 * nkv;
    return run(c, &both, kv_src, positions, src_token_stride, freq_factors, rope, nkv, NULL, NULL);
}

vkslm_status vkslm_op_kv_write_seqs(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                                    const vkslm_tensor *positions, uint64_t src_token_stride,
                                    const vkslm_tensor *freq_factors, const vkslm_rope_params *rope, int kv,
                                    const vkslm_kv_seqs *seqs) {
    if (!dst || !seqs || (kv && !rope))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write_seqs: a tensor, the sequences or the rope are missing");
    if (!kv)
        return run(c, dst, src, positions, src_token_stride, freq_factors, rope, rope ? UINT64_MAX : 0, seqs, NULL);
    uint64_t nkv = dst->ne[2] ? dst->ne[2] : 1;
    vkslm_tensor both = *dst;
    both.ne[2] = 2 * nkv;
    return run(c, &both, src, positions, src_token_stride, freq_factors, rope, nkv, seqs, NULL);
}

vkslm_status vkslm_op_qkv_write(vkslm_cmd *c, const vkslm_tensor *q_dst, const vkslm_tensor *k_dst,
                                const vkslm_tensor *src, const vkslm_tensor *positions, uint64_t src_token_stride,
                                const vkslm_tensor *freq_factors, const vkslm_rope_params *rope,
                                const vkslm_kv_seqs *seqs) {
    if (!rope || !k_dst || !q_dst)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "qkv_write: a tensor or the rope parameters are missing");
    uint64_t nkv = vkslm_dim(k_dst, 2), nq = vkslm_dim(q_dst, 1);
    vkslm_tensor both = *k_dst; /* K's heads, then V's: the V part of the layer follows K in the cache */
    both.ne[2] = 2 * nkv;
    return run(c, &both, src, positions, src_token_stride, freq_factors, rope, nq + nkv, seqs, q_dst);
}

int vkslm_kv_seqs_fit(const vkslm_vk *vk, uint32_t n_seq, uint64_t stride_bytes, uint64_t bytes) {
    return n_seq && vkslm_op_fit(vk, 0, (n_seq - 1u) * stride_bytes + bytes) != 0;
}
