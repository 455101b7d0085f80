#include "engine/ops/weights_plain.h"

#include <stdio.h>

#include "engine/util/error.h"

#define WG 64u

int vkslm_weights_need_plain(const vkslm_tensor *w) {
    return w && (w->type == VKSLM_TYPE_F32 || w->type == VKSLM_TYPE_F16 || w->type == VKSLM_TYPE_BF16) &&
           w->ne[0] % 32 != 0;
}

static vkslm_status pipeline(vkslm_cmd *c, const char *op, uint32_t type, uint32_t bindings, const vkslm_pipeline **p) {
    char name[48];
    snprintf(name, sizeof name, "plain_%s_%s", op,
             type == VKSLM_TYPE_F32 ? "f32" : type == VKSLM_TYPE_F16 ? "f16" : "bf16");
    uint32_t spec[1] = {WG};
    return vkslm_vk_pipeline(vkslm_cmd_vk(c), name, bindings, sizeof(vkslm_plain_push), spec, 1, p);
}

static vkslm_status check(const char *op, const vkslm_tensor *t, const char *which, uint32_t type) {
    if (!t || !t->buf || t->type != type || (t->buf->offset + t->offset) % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: %s must be a 4-byte aligned %s tensor", op, which,
                          type == VKSLM_TYPE_I32 ? "I32" : "F32");
    return VKSLM_OK;
}

vkslm_status vkslm_op_matvec_plain(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                   const vkslm_tensor *bias) {
    VKSLM_TRY(check("matvec", x, "x", VKSLM_TYPE_F32));
    VKSLM_TRY(check("matvec", d, "d", VKSLM_TYPE_F32));
    if (bias)
        VKSLM_TRY(check("matvec", bias, "bias", VKSLM_TYPE_F32));
    uint64_t K = w->ne[0], N = w->ne[1] ? w->ne[1] : 1, M = x->ne[1] ? x->ne[1] : 1;
    uint64_t row_bytes = vkslm_type_row_bytes(w->type, K);
    if (x->ne[0] != K || d->ne[0] != N || (d->ne[1] ? d->ne[1] : 1) != M || (bias && vkslm_tensor_nelems(bias) != N))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "matvec: shapes do not match a %llu x %llu weight",
                          (unsigned long long)K, (unsigned long long)N);
    if ((w->buf->offset + w->offset) % 2)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "matvec: weights at an odd byte offset");
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_pipeline *p;
    VKSLM_TRY(pipeline(c, "matvec", w->type, 4, &p));
    uint64_t slack = vkslm_vk_get_caps(vk)->min_storage_offset_align + 4, range = vkslm_vk_max_range(vk);
    uint64_t per = range > slack + row_bytes ? (range - slack) / row_bytes : 0;
    if (per == 0 || M > vkslm_vk_get_caps(vk)->max_workgroup_count[1])
        return vkslm_fail(VKSLM_ERR_LIMIT, "matvec: a row of %llu bytes or %llu vectors exceed the device's limits",
                          (unsigned long long)row_bytes, (unsigned long long)M);
    vkslm_binding bx, bd, bb;
    uint64_t sx, sd, sb = 0;
    VKSLM_TRY(vkslm_vk_bind(vk, x->buf, x->offset, K * M * 4, 0, &bx, &sx));
    VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset, N * M * 4, 1, &bd, &sd));
    if (bias)
        VKSLM_TRY(vkslm_vk_bind(vk, bias->buf, bias->offset, N * 4, 0, &bb, &sb));
    else
        bb = bx; /* bound but unread */
    for (uint64_t r0 = 0; r0 < N; r0 += per) {
        uint64_t nr = N - r0 < per ? N - r0 : per;
        vkslm_binding bw;
        uint64_t sw;
        VKSLM_TRY(vkslm_vk_bind(vk, w->buf, w->offset + r0 * row_bytes, nr * row_bytes, 0, &bw, &sw));
        vkslm_plain_push pc = {
            .k = (uint32_t)K, .rows = (uint32_t)nr, .w_half = (uint32_t)(sw / 2), .row_halves = (uint32_t)(row_bytes / 2),
            .x_off = (uint32_t)(sx / 4), .x_stride = (uint32_t)K, .n_vec = (uint32_t)M,
            .d_off = (uint32_t)(sd / 4 + r0), .d_stride = (uint32_t)N, .b_off = (uint32_t)(sb / 4 + r0),
            .has_bias = bias != NULL,
        };
        vkslm_binding b[4] = {bw, bx, bd, bb};
        VKSLM_TRY(vkslm_cmd_dispatch(c, p, b, 4, &pc, (uint32_t)((nr + WG - 1) / WG), (uint32_t)M, 1, "matvec_plain"));
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_get_rows_plain(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w,
                                     const vkslm_tensor *ids) {
    VKSLM_TRY(check("get_rows", ids, "ids", VKSLM_TYPE_I32));
    VKSLM_TRY(check("get_rows", d, "d", VKSLM_TYPE_F32));
    uint64_t K = w->ne[0], N = w->ne[1] ? w->ne[1] : 1, n = vkslm_tensor_nelems(ids);
    uint64_t row_bytes = vkslm_type_row_bytes(w->type, K);
    if (d->ne[0] != K || vkslm_tensor_nelems(d) != K * n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "get_rows: d must be %llu x %llu", (unsigned long long)K,
                          (unsigned long long)n);
    vkslm_vk *vk = vkslm_cmd_vk(c);
    if (n > vkslm_vk_get_caps(vk)->max_workgroup_count[1] || N > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_LIMIT, "get_rows: %llu ids", (unsigned long long)n);
    const vkslm_pipeline *p;
    VKSLM_TRY(pipeline(c, "get_rows", w->type, 3, &p));
    vkslm_binding b[3];
    uint64_t sw, si, sd;
    vkslm_status st = vkslm_vk_bind(vk, w->buf, w->offset, N * row_bytes, 0, &b[0], &sw);
    if (st == VKSLM_ERR_LIMIT)
        return vkslm_fail(VKSLM_ERR_LIMIT, "get_rows: a %llu x %llu plain matrix with rows of %llu elements must fit "
                          "one storage binding", (unsigned long long)K, (unsigned long long)N, (unsigned long long)K);
    VKSLM_TRY(st);
    VKSLM_TRY(vkslm_vk_bind(vk, ids->buf, ids->offset, n * 4, 0, &b[1], &si));
    VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset, n * K * 4, 1, &b[2], &sd));
    vkslm_plain_push pc = {
        .k = (uint32_t)K, .rows = (uint32_t)N, .w_half = (uint32_t)(sw / 2), .row_halves = (uint32_t)(row_bytes / 2),
        .x_off = (uint32_t)(si / 4), .n_vec = (uint32_t)n, .d_off = (uint32_t)(sd / 4), .d_stride = (uint32_t)K,
    };
    return vkslm_cmd_dispatch(c, p, b, 3, &pc, (uint32_t)((K + WG - 1) / WG), (uint32_t)n, 1, "get_rows_plain");
}
