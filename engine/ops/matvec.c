/* Records matrix x vectors dispatches (shaders/matvec.comp), split by tokens and rows so that every
 * binding stays inside the bindable range and every group count inside the device limits. */
#include "engine/ops/matvec.h"

#include "engine/ops/weights.h"
#include "engine/util/error.h"

#define LANE_WG 64u       /* invocations (= rows) per workgroup, row-per-lane strategy */
#define SUBGROUPS_PER_WG 4u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

vkslm_status vkslm_op_matvec_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matvec_strategy strategy, uint32_t max_vec) {
    vkslm_product_shape s;
    VKSLM_TRY(vkslm_weights_check_product("matvec", d, w, x, bias, &s));
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    int have_reduce = (caps->subgroup_ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                      (caps->subgroup_ops & VK_SUBGROUP_FEATURE_BASIC_BIT);
    if (strategy == VKSLM_MATVEC_AUTO)
        strategy = vkslm_vk_is_cpu(vk) || !have_reduce ? VKSLM_MATVEC_ROW_PER_LANE : VKSLM_MATVEC_ROW_PER_SUBGROUP;
    if (strategy == VKSLM_MATVEC_ROW_PER_SUBGROUP && !have_reduce)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "matvec: the device has no subgroup arithmetic in compute");
    if (max_vec == 0 || max_vec > VKSLM_MATVEC_MAX_VEC)
        max_vec = VKSLM_MATVEC_MAX_VEC;
    uint32_t nvec = (uint32_t)min_u64(s.m, max_vec);

    int per_lane = strategy == VKSLM_MATVEC_ROW_PER_LANE;
    uint32_t sg = caps->subgroup_size ? caps->subgroup_size : 32;
    uint32_t local = per_lane ? LANE_WG : sg * SUBGROUPS_PER_WG;
    while (local > caps->max_workgroup_invocations && local > 1)
        local /= 2;
    uint32_t rows_per_wg = per_lane ? local : (local / sg ? local / sg : 1);
    uint32_t spec[4] = {local, nvec, per_lane ? 1u : 0u, rows_per_wg};
    char variant[32];
    vkslm_weights_variant(variant, sizeof variant, "matvec", w->type);
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, 4, sizeof(vkslm_matvec_push), spec, 4, &p));

    /* chunk sizes: weight rows per binding, tokens per binding of x and d */
    uint64_t range = vkslm_vk_max_range(vk), slack = caps->min_storage_offset_align + 4;
    uint64_t rows_max = vkslm_weights_rows_per_binding(vk, s.row_bytes);
    rows_max = min_u64(rows_max, (uint64_t)caps->max_workgroup_count[0] * rows_per_wg);
    rows_max = min_u64(rows_max, 0x7fffffffu);
    uint64_t tok_max = range > slack ? (range - slack) / (s.k * 4) : 0;
    tok_max = min_u64(tok_max, range > slack ? (range - slack) / (s.n * 4) : 0);
    tok_max = min_u64(tok_max, (uint64_t)caps->max_workgroup_count[1] * nvec);
    if (rows_max == 0 || tok_max == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "matvec: a row of %llu elements does not fit the bindable range",
                          (unsigned long long)s.k);

    for (uint64_t t0 = 0; t0 < s.m; t0 += tok_max) {
        uint64_t nt = min_u64(tok_max, s.m - t0);
        vkslm_binding bx;
        uint64_t xskip;
        VKSLM_TRY(vkslm_vk_bind(vk, x->buf, x->offset + t0 * s.k * 4, nt * s.k * 4, 0, &bx, &xskip));
        for (uint64_t r0 = 0; r0 < s.n; r0 += rows_max) {
            uint64_t nr = min_u64(rows_max, s.n - r0);
            vkslm_binding bind[4];
            uint32_t wskip;
            uint64_t dskip, bskip = 0;
            VKSLM_TRY(vkslm_weights_bind_rows(vk, w, s.row_bytes, r0, nr, &bind[0], &wskip));
            bind[1] = bx;
            VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + (t0 * s.n + r0) * 4, ((nt - 1) * s.n + nr) * 4, 1,
                                    &bind[2], &dskip));
            if (bias)
                VKSLM_TRY(vkslm_vk_bind(vk, bias->buf, bias->offset + r0 * 4, nr * 4, 0, &bind[3], &bskip));
            else
                bind[3] = bx; /* unread */
            vkslm_matvec_push pc = {
                .units = (uint32_t)(s.k / 32), .rows = (uint32_t)nr, .row_bytes = (uint32_t)s.row_bytes,
                .w_off = wskip, .x_off = (uint32_t)(xskip / 16), .x_stride = (uint32_t)(s.k / 4),
                .n_vec = (uint32_t)nt, .d_off = (uint32_t)(dskip / 4), .d_stride = (uint32_t)s.n,
                .b_off = (uint32_t)(bskip / 4), .has_bias = bias != NULL,
            };
            uint32_t gx = (uint32_t)((nr + rows_per_wg - 1) / rows_per_wg);
            uint32_t gy = (uint32_t)((nt + nvec - 1) / nvec);
            VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, 4, &pc, gx, gy, 1, "matvec"));
        }
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_matvec(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias) {
    return vkslm_op_matvec_ex(c, d, w, x, bias, VKSLM_MATVEC_AUTO, 0);
}
