/* Records row-norm dispatches (shaders/norm.comp): one workgroup per row, rows chunked by the bindable
 * range and the workgroup count limit. */
#include "engine/ops/norm.h"

#include "engine/ops/op_util.h"

#define WG 128u

static vkslm_status run(vkslm_cmd *c, int layer, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *w,
                        const vkslm_tensor *b, const vkslm_tensor *res, float eps) {
    const char *name = layer ? "layer_norm" : res ? "rms_norm_add" : "rms_norm";
    vkslm_vk *vk = vkslm_cmd_vk(c);
    VKSLM_TRY(vkslm_op_need_subgroups(vk, name));
    if (!a || !a->ne[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a is missing or empty", name);
    uint64_t n = a->ne[0], rows = vkslm_tensor_rows(a);
    VKSLM_TRY(vkslm_op_check(name, "a", a, VKSLM_TYPE_F32, n * rows));
    VKSLM_TRY(vkslm_op_check(name, "d", d, VKSLM_TYPE_F32, n * rows));
    if (vkslm_tensor_nelems(d) != n * rows)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d and a differ in size", name);
    if (w)
        VKSLM_TRY(vkslm_op_check(name, "w", w, VKSLM_TYPE_F32, n));
    if (b)
        VKSLM_TRY(vkslm_op_check(name, "b", b, VKSLM_TYPE_F32, n));
    if (res) {
        VKSLM_TRY(vkslm_op_check(name, "r", res, VKSLM_TYPE_F32, n * rows));
        if (vkslm_tensor_nelems(res) != n * rows)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: r and a differ in size", name);
    }
    if (n > 0xffffffffu / 2)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: rows of %llu elements are too long", name, (unsigned long long)n);
    uint64_t chunk = vkslm_op_rows_fit(vk, n * 4, vkslm_vk_get_caps(vk)->max_workgroup_count[0]);
    if (chunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: one row of %llu floats exceeds the bindable range", name,
                          (unsigned long long)n);
    uint32_t spec[1] = {WG};
    const vkslm_pipeline *p;
    uint32_t n_bind = res ? 5 : 4;
    VKSLM_TRY(vkslm_vk_pipeline(vk, name, n_bind, sizeof(vkslm_norm_push), spec, 1, &p));
    for (uint64_t r = 0; r < rows; r += chunk) {
        uint64_t m = rows - r < chunk ? rows - r : chunk, skip;
        vkslm_norm_push pc = {0};
        vkslm_binding bind[5];
        VKSLM_TRY(vkslm_vk_bind(vk, a->buf, a->offset + r * n * 4, m * n * 4, res != NULL, &bind[0], &skip));
        pc.a_off = (uint32_t)(skip / 4);
        const vkslm_tensor *opt[2] = {w, b};
        for (int k = 0; k < 2; k++) {
            if (opt[k]) {
                VKSLM_TRY(vkslm_vk_bind(vk, opt[k]->buf, opt[k]->offset, n * 4, 0, &bind[1 + k], &skip));
                if (k == 0)
                    pc.w_off = (uint32_t)(skip / 4);
                else
                    pc.b_off = (uint32_t)(skip / 4);
                pc.flags |= 1u << k;
            } else {
                bind[1 + k] = bind[0]; /* unread placeholder */
            }
        }
        VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + r * n * 4, m * n * 4, 1, &bind[3], &skip));
        pc.d_off = (uint32_t)(skip / 4);
        if (res) {
            VKSLM_TRY(vkslm_vk_bind(vk, res->buf, res->offset + r * n * 4, m * n * 4, 0, &bind[4], &skip));
            pc.r_off = (uint32_t)(skip / 4);
        }
        pc.n = (uint32_t)n;
        pc.eps = eps;
        VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, n_bind, &pc, (uint32_t)m, 1, 1, name));
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_rms_norm(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *w,
                               float eps) {
    return run(c, 0, d, a, w, NULL, NULL, eps);
}

vkslm_status vkslm_op_rms_norm_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *r,
                                   const vkslm_tensor *w, float eps) {
    if (!r || !r->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rms_norm_add: the residual is missing");
    return run(c, 0, d, a, w, NULL, r, eps);
}

vkslm_status vkslm_op_layer_norm(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *w,
                                 const vkslm_tensor *b, float eps) {
    return run(c, 1, d, a, w, b, NULL, eps);
}
