/* RMSNorm (shaders/norm.comp): one workgroup per row (one subgroup on CPU devices), vec4 accesses where the rows
 * and tensors allow. */
#include "engine/ops/norm.h"

#include "engine/ops/op.h"

#define WG 128u
#define AT(field) VKSLM_OP_PUSH(vkslm_norm_push, field)

static vkslm_status run(vkslm_cmd *c, const char *name, const vkslm_tensor *d, const vkslm_tensor *a,
                        const vkslm_tensor *r, const vkslm_tensor *w, float eps) {
    VKSLM_TRY(vkslm_op_need_subgroups(vkslm_cmd_vk(c), name));
    VKSLM_TRY(VKSLM_OP_PRESENT(name, d, a));
    uint64_t n = a->ne[0], rows = vkslm_tensor_rows(a), row = n * 4;
    if (n == 0 || n > UINT32_MAX / 2 || vkslm_tensor_nelems(d) != n * rows || (r && vkslm_tensor_nelems(r) != n * rows))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d%s must have a's %llu x %llu elements", name, r ? " and r" : "",
                          (unsigned long long)n, (unsigned long long)rows);
    if (w && vkslm_tensor_nelems(w) < n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: w has fewer than %llu elements", name, (unsigned long long)n);
    /* CPU devices: a workgroup of one subgroup (no barrier: a workgroup barrier suspends and resumes every
     * subgroup there); elsewhere WG invocations */
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vkslm_cmd_vk(c));
    uint32_t wg = vkslm_vk_is_cpu(vkslm_cmd_vk(c)) && caps->subgroup_size_min == caps->subgroup_size_max &&
                          caps->subgroup_size_max >= 4
                      ? caps->subgroup_size_max
                      : WG;
    uint32_t spec[1] = {wg};
    /* rows and every tensor in 16-byte groups: vec4 accesses */
    int v4 = n % 4 == 0;
    const vkslm_tensor *all[4] = {a, d, w, r};
    for (int i = 0; i < 4; i++)
        if (all[i] && all[i]->buf && (all[i]->buf->offset + all[i]->offset) % 16)
            v4 = 0;
    uint32_t unit = v4 ? 16 : 4;
    vkslm_shader_id shader = r ? (v4 ? VKSLM_SHADER_NORM_RMS_ADD_V4 : VKSLM_SHADER_NORM_RMS_ADD)
                               : (v4 ? VKSLM_SHADER_NORM_RMS_V4 : VKSLM_SHADER_NORM_RMS);
    vkslm_norm_push pc = {.n = (uint32_t)n, .flags = w != NULL, .eps = eps};
    vkslm_op op = {
        .name = name, .shader = shader, .spec = spec, .n_spec = 1,
        .push = &pc, .push_size = sizeof pc,
        .axis = {{.n = rows}},
        .grid = {{.axes = 1}}, /* a workgroup per row */
        .arg = {
            {"a", a, .write = r != NULL, .types = VKSLM_OP_F32, .unit = unit, .off_at = AT(a_off),
             .step = {row}, .size = row},
            {"w", w, .optional = 1, .types = VKSLM_OP_F32, .unit = unit, .off_at = AT(w_off), .size = row},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .unit = unit, .off_at = AT(d_off), .step = {row},
             .size = row},
            {r ? "r" : NULL, r, .types = VKSLM_OP_F32, .unit = unit, .off_at = AT(r_off), .step = {row},
             .size = row},
        },
        /* read a (and r), write d (and a), read w; 4 (5) flops an element */
        .bytes = (r ? 16.0 : 8.0) * n * rows + 4.0 * n, .flops = (r ? 5.0 : 4.0) * n * rows,
    };
    return vkslm_op_record(c, &op);
}

vkslm_status vkslm_op_rms_norm(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *w,
                               float eps) {
    return run(c, "norm", d, a, NULL, w, eps);
}

vkslm_status vkslm_op_rms_norm_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *r,
                                   const vkslm_tensor *w, float eps) {
    if (!r || !r->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "add_norm: the residual is missing");
    return run(c, "add_norm", d, a, r, w, eps);
}
