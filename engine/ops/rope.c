/* RoPE (shaders/rope.comp, the rotation in shaders/rope.glsl): an invocation per element pair, tokens
 * along the split axis. */
#include "engine/ops/rope.h"

#include <math.h>

#include "engine/ops/op.h"

#define WG 64u
#define AT(field) VKSLM_OP_PUSH(vkslm_rope_push, field)

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
    const char *name = "rope";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, d, a, positions));
    if (!params)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: the parameters are missing");
    uint64_t hd = a->ne[0], nh = vkslm_dim(a, 1), nt = vkslm_dim(a, 2);
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
    if (as < row || ds < row || as > UINT32_MAX || ds > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rope: bad token strides");
    VKSLM_TRY(vkslm_op_check(name, "positions", positions, VKSLM_OP_I32, nt));
    if (freq_factors)
        VKSLM_TRY(vkslm_op_check(name, "freq_factors", freq_factors, VKSLM_OP_F32, n_rot / 2));
    uint32_t spec[1] = {WG};
    vkslm_rope_push pc = {.head_dim = (uint32_t)hd, .n_heads = (uint32_t)nh, .a_tstride = (uint32_t)as,
                          .d_tstride = (uint32_t)ds, .rope = vkslm_rope_args_of(params, (uint32_t)n_rot)};
    pc.rope.flags = freq_factors != NULL;
    vkslm_op op = {
        .name = name, .shader = params->mode == VKSLM_ROPE_NEOX ? VKSLM_SHADER_ROPE_NEOX : VKSLM_SHADER_ROPE_NORM,
        .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        .axis = {{.n = nt, .count_at = AT(n_tokens)}},
        .grid = {{.per = nh * (hd / 2), .div = WG, .axes = 1}}, /* an invocation per element pair */
        .arg = {
            {"a", a, .types = VKSLM_OP_F32, .off_at = AT(a_off), .step = {as * 4}, .size = row * 4},
            {"positions", positions, .types = VKSLM_OP_I32, .off_at = AT(p_off), .step = {4}, .size = 4},
            {"freq_factors", freq_factors, .optional = 1, .types = VKSLM_OP_F32, .off_at = AT(rope.f_off),
             .size = n_rot / 2 * 4},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(d_off), .step = {ds * 4}, .size = row * 4},
        },
        .bytes = 8.0 * (double)(nt * row), .flops = 6.0 * (double)(nt * row),
    };
    return vkslm_op_record(c, &op);
}
