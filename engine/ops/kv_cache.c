/* Records KV-cache writes (shaders/kv_write.comp): one invocation per element pair; tokens and heads
 * chunked by the bindable range and the workgroup count limit. */
#include "engine/ops/kv_cache.h"

#include <stdio.h>

#include "engine/ops/op_util.h"

#define WG 64u

/* rope_heads: heads below it rotate (rope variants). */
static vkslm_status run(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src, const vkslm_tensor *positions,
                        uint64_t src_token_stride, const vkslm_tensor *ff, const vkslm_rope_params *rope,
                        uint64_t rope_heads) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    if (!dst || !src || !dst->buf || !src->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: a tensor is missing");
    uint64_t hd = dst->ne[0], n_ctx = dst->ne[1] ? dst->ne[1] : 1, nh = dst->ne[2] ? dst->ne[2] : 1;
    uint64_t nt = src->ne[2] ? src->ne[2] : 1;
    if (hd == 0 || hd % 2 || src->ne[0] != hd || (src->ne[1] ? src->ne[1] : 1) != nh)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: src rows must be [n_kv_head][head_dim] of the cache "
                                                 "(head_dim even)");
    if (dst->type != VKSLM_TYPE_F16 && dst->type != VKSLM_TYPE_F32)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "kv_write: the cache must be F16 or F32");
    uint64_t es = dst->type == VKSLM_TYPE_F16 ? 2 : 4;
    VKSLM_TRY(vkslm_op_check("kv_write", "dst", dst, dst->type, hd * n_ctx * nh));
    uint64_t row = nh * hd, ts = src_token_stride ? src_token_stride : row;
    if (ts < row || ts > 0xffffffffu || n_ctx * hd > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: bad src token stride or cache size");
    if (src->type != VKSLM_TYPE_F32 || src->offset % 4 || src->offset + ((nt - 1) * ts + row) * 4 > src->buf->size)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: src must be F32, aligned, inside its buffer");
    VKSLM_TRY(vkslm_op_check("kv_write", "positions", positions, VKSLM_TYPE_I32, nt));
    int packed = dst->type == VKSLM_TYPE_F16 && !vkslm_vk_get_enabled(vk)->storage16;
    if (packed && (dst->buf->offset + dst->offset) % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: an f16 cache must start on 4 bytes without 16-bit storage");
    uint64_t n_rot = 0;
    if (rope) {
        n_rot = rope->n_rot ? rope->n_rot : hd;
        if (n_rot % 2 || n_rot > hd)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write: n_rot %llu must be even and <= head_dim",
                              (unsigned long long)n_rot);
        if (rope->mode != VKSLM_ROPE_NORMAL && rope->mode != VKSLM_ROPE_NEOX)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "kv_write: rope mode %u", rope->mode);
        if (ff)
            VKSLM_TRY(vkslm_op_check("kv_write", "freq_factors", ff, VKSLM_TYPE_F32, n_rot / 2));
    }
    char variant[48];
    snprintf(variant, sizeof variant, "kv_write_%s%s",
             dst->type == VKSLM_TYPE_F32 ? "f32" : packed ? "f16_p16" : "f16",
             !rope ? "" : rope->mode == VKSLM_ROPE_NEOX ? "_rope_neox" : "_rope_norm");
    const vkslm_pipeline *p;
    uint32_t spec[1] = {WG};
    uint32_t nbind = rope ? 4 : 3;
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, nbind, sizeof(vkslm_kv_write_push), spec, 1, &p));

    uint64_t head_bytes = n_ctx * hd * es;
    uint64_t hchunk = vkslm_op_rows_fit(vk, head_bytes, nh);
    if (hchunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "kv_write: one head's cache (%llu bytes) exceeds the bindable range",
                          (unsigned long long)head_bytes);
    uint64_t max_inv = (uint64_t)caps->max_workgroup_count[0] * WG;
    if (max_inv > 0x7fffffffu)
        max_inv = 0x7fffffffu;
    uint64_t tchunk = vkslm_op_rows_fit(vk, ts * 4, max_inv / (hchunk * (hd / 2)));
    if (tchunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "kv_write: one token's rows exceed the bindable range");
    for (uint64_t h = 0; h < nh; h += hchunk) {
        uint64_t mh = nh - h < hchunk ? nh - h : hchunk, skip;
        vkslm_binding bind[4];
        vkslm_kv_write_push pc = {0};
        if (rope) {
            pc.rope = vkslm_rope_args_of(rope, (uint32_t)n_rot);
            pc.rope_heads = (uint32_t)(rope_heads < nh ? rope_heads : nh);
        }
        VKSLM_TRY(vkslm_vk_bind(vk, dst->buf, dst->offset + h * head_bytes, mh * head_bytes, 1, &bind[2], &skip));
        pc.dst_off = (uint32_t)(skip / es);
        for (uint64_t t = 0; t < nt; t += tchunk) {
            uint64_t mt = nt - t < tchunk ? nt - t : tchunk;
            VKSLM_TRY(vkslm_vk_bind(vk, src->buf, src->offset + t * ts * 4, ((mt - 1) * ts + row) * 4, 0, &bind[0],
                                    &skip));
            pc.src_off = (uint32_t)(skip / 4);
            VKSLM_TRY(vkslm_vk_bind(vk, positions->buf, positions->offset + t * 4, mt * 4, 0, &bind[1], &skip));
            pc.pos_off = (uint32_t)(skip / 4);
            if (rope && ff) {
                VKSLM_TRY(vkslm_vk_bind(vk, ff->buf, ff->offset, n_rot / 2 * 4, 0, &bind[3], &skip));
                pc.rope.f_off = (uint32_t)(skip / 4);
                pc.rope.flags = 1;
            } else if (rope) {
                bind[3] = bind[1]; /* unread placeholder */
            }
            pc.head_dim = (uint32_t)hd;
            pc.n_ctx = (uint32_t)n_ctx;
            pc.n_head = (uint32_t)mh;
            pc.n_tokens = (uint32_t)mt;
            pc.h0 = (uint32_t)h;
            pc.src_head_stride = (uint32_t)hd;
            pc.src_token_stride = (uint32_t)ts;
            uint32_t groups = (uint32_t)((mt * mh * (hd / 2) + WG - 1) / WG);
            VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, nbind, &pc, groups, 1, 1, rope ? "kv_write_rope" : "kv_write"));
        }
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_kv_write(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                               const vkslm_tensor *positions, uint64_t src_token_stride) {
    return run(c, dst, src, positions, src_token_stride, NULL, NULL, 0);
}

vkslm_status vkslm_op_kv_write_rope(vkslm_cmd *c, const vkslm_tensor *dst, const vkslm_tensor *src,
                                    const vkslm_tensor *positions, uint64_t src_token_stride,
                                    const vkslm_tensor *freq_factors, const vkslm_rope_params *rope) {
    if (!rope)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write_rope: rope parameters are missing");
    return run(c, dst, src, positions, src_token_stride, freq_factors, rope, UINT64_MAX);
}

vkslm_status vkslm_op_kv_write_rope_kv(vkslm_cmd *c, const vkslm_tensor *k_dst, const vkslm_tensor *kv_src,
                                       const vkslm_tensor *positions, uint64_t src_token_stride,
                                       const vkslm_tensor *freq_factors, const vkslm_rope_params *rope) {
    if (!rope || !k_dst || !kv_src)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "kv_write_rope_kv: a tensor or the rope parameters are missing");
    uint64_t nkv = k_dst->ne[2] ? k_dst->ne[2] : 1;
    vkslm_tensor both = *k_dst; /* K's heads, then V's: the V part of the layer follows K in the cache */
    both.ne[2] = 2 * nkv;
    return run(c, &both, kv_src, positions, src_token_stride, freq_factors, rope, nkv);
}
