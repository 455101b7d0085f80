/* Records RoPE dispatches (shaders/rope.comp): one invocation per element pair, tokens chunked by the
 * bindable range and the workgroup count limit. */
#include "engine/ops/rope.h"

#include <math.h>

#include "engine/ops/op_util.h"

#define WG 64u

static vkslm_status check_strided(const vkslm_tensor *t, const char *which, uint64_t tokens, uint64_t tstride,
                                  uint64_t row) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: tensor %s is missing", which);
    if (t->type != VKSLM_TYPE_F32)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "rope: tensor %s must be F32", which);
    if (t->offset % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: tensor %s is not element-aligned", which);
    if (t->offset + ((tokens - 1) * tstride + row) * 4 > t->buf->size)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: tensor %s runs past the end of its buffer", which);
    return VKSLM_OK;
}

vkslm_rope_args vkslm_rope_args_of(const vkslm_rope_params *params, uint32_t n_rot) {
    vkslm_rope_args r = {0};
    float base = params->theta_base > 0 ? params->theta_base : 10000.0f;
    r.n_rot = n_rot;
    r.theta_log2 = (float)log2((double)base);
    r.freq_scale = params->freq_scale > 0 ? params->freq_scale : 1.0f;
    r.ext_factor = params->ext_factor;
    r.attn_factor = params->attn_factor != 0 ? params->attn_factor : 1.0f;
    r.corr_low = params->corr_low;
    r.corr_high = params->corr_high;
    return r;
}

vkslm_status vkslm_op_rope(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *positions,
                           const vkslm_tensor *freq_factors, const vkslm_rope_params *params) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    if (!a || !d || !params)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: a tensor or the parameters are missing");
    uint64_t hd = a->ne[0], nh = a->ne[1] ? a->ne[1] : 1, nt = a->ne[2] ? a->ne[2] : 1;
    uint64_t n_rot = params->n_rot ? params->n_rot : hd;
    if (hd == 0 || hd % 2 || n_rot % 2 || n_rot > hd)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: head_dim %llu and n_rot %llu must be even, n_rot <= head_dim",
                          (unsigned long long)hd, (unsigned long long)n_rot);
    if (d->ne[0] != a->ne[0] || vkslm_tensor_nelems(d) != vkslm_tensor_nelems(a))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: d and a differ in shape");
    if (params->mode != VKSLM_ROPE_NORMAL && params->mode != VKSLM_ROPE_NEOX)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "rope: mode %u", params->mode);
    uint64_t row = nh * hd;
    uint64_t as = params->a_token_stride ? params->a_token_stride : row;
    uint64_t ds = params->d_token_stride ? params->d_token_stride : row;
    if (as < row || ds < row || as > 0xffffffffu || ds > 0xffffffffu)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: bad token strides");
    VKSLM_TRY(check_strided(a, "a", nt, as, row));
    VKSLM_TRY(check_strided(d, "d", nt, ds, row));
    VKSLM_TRY(vkslm_op_check("rope", "positions", positions, VKSLM_TYPE_I32, nt));
    if (freq_factors)
        VKSLM_TRY(vkslm_op_check("rope", "freq_factors", freq_factors, VKSLM_TYPE_F32, n_rot / 2));

    const vkslm_pipeline *p;
    uint32_t spec[1] = {WG};
    VKSLM_TRY(vkslm_vk_pipeline(vk, params->mode == VKSLM_ROPE_NEOX ? "rope_neox" : "rope_norm", 4,
                                sizeof(vkslm_rope_push), spec, 1, &p));
    uint64_t per_token = nh * (hd / 2);
    uint64_t max_inv = (uint64_t)caps->max_workgroup_count[0] * WG;
    if (max_inv > 0x7fffffffu)
        max_inv = 0x7fffffffu;
    uint64_t chunk = vkslm_op_rows_fit(vk, (as > ds ? as : ds) * 4, max_inv / per_token);
    if (chunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "rope: one token's rows exceed the bindable range");
    for (uint64_t t = 0; t < nt; t += chunk) {
        uint64_t m = nt - t < chunk ? nt - t : chunk, skip;
        vkslm_rope_push pc = {0};
        pc.rope = vkslm_rope_args_of(params, (uint32_t)n_rot);
        vkslm_binding bind[4];
        VKSLM_TRY(vkslm_vk_bind(vk, a->buf, a->offset + t * as * 4, ((m - 1) * as + row) * 4, 0, &bind[0], &skip));
        pc.a_off = (uint32_t)(skip / 4);
        VKSLM_TRY(vkslm_vk_bind(vk, positions->buf, positions->offset + t * 4, m * 4, 0, &bind[1], &skip));
        pc.p_off = (uint32_t)(skip / 4);
        if (freq_factors) {
            VKSLM_TRY(vkslm_vk_bind(vk, freq_factors->buf, freq_factors->offset, n_rot / 2 * 4, 0, &bind[2], &skip));
            pc.rope.f_off = (uint32_t)(skip / 4);
            pc.rope.flags = 1;
        } else {
            bind[2] = bind[1]; /* unread placeholder */
        }
        VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + t * ds * 4, ((m - 1) * ds + row) * 4, 1, &bind[3], &skip));
        pc.d_off = (uint32_t)(skip / 4);
        pc.head_dim = (uint32_t)hd;
        pc.n_heads = (uint32_t)nh;
        pc.n_tokens = (uint32_t)m;
        pc.a_tstride = (uint32_t)as;
        pc.d_tstride = (uint32_t)ds;
        uint32_t groups = (uint32_t)((m * per_token + WG - 1) / WG);
        VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, 4, &pc, groups, 1, 1, "rope"));
    }
    return VKSLM_OK;
}
