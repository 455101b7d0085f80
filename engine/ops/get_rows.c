/* Records embedding lookups (shaders/get_rows.comp): ids in chunks that fit the output binding and the
 * group count limit, weights in row chunks that fit the bindable range. */
#include "engine/ops/get_rows.h"
#include "engine/ops/weights_plain.h"

#include "engine/ops/weights.h"
#include "engine/util/error.h"

#define WG 64u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

vkslm_status vkslm_op_get_rows(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *ids) {
    if (vkslm_weights_need_plain(w))
        return vkslm_op_get_rows_plain(c, d, w, ids);
    uint64_t row_bytes;
    VKSLM_TRY(vkslm_weights_check("get_rows", w, &row_bytes));
    if (!ids || !ids->buf || ids->type != VKSLM_TYPE_I32 || (ids->buf->offset + ids->offset) % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "get_rows: ids must be a 4-byte aligned I32 tensor");
    if (!d || !d->buf || d->type != VKSLM_TYPE_F32 || (d->buf->offset + d->offset) % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "get_rows: d must be a 4-byte aligned F32 tensor");
    uint64_t k = w->ne[0], n_rows = w->ne[1] ? w->ne[1] : 1, n = vkslm_tensor_nelems(ids);
    if (d->ne[0] != k || vkslm_tensor_nelems(d) != k * n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "get_rows: d must be %llu x %llu", (unsigned long long)k,
                          (unsigned long long)n);
    if (n_rows > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_LIMIT, "get_rows: %llu rows", (unsigned long long)n_rows);
    if (n == 0)
        return VKSLM_OK;
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    char variant[32];
    vkslm_weights_variant(variant, sizeof variant, "get_rows", w->type);
    uint32_t spec[1] = {WG};
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, 3, sizeof(vkslm_get_rows_push), spec, 1, &p));

    uint64_t units = k / 32, range = vkslm_vk_max_range(vk), slack = caps->min_storage_offset_align + 4;
    uint64_t rows_max = min_u64(vkslm_weights_rows_per_binding(vk, row_bytes), 0x7fffffffu);
    uint64_t ids_max = range > slack ? (range - slack) / (k * 4) : 0;
    ids_max = min_u64(ids_max, (uint64_t)caps->max_workgroup_count[0] * WG / units);
    if (rows_max == 0 || ids_max == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "get_rows: a row of %llu elements does not fit the bindable range",
                          (unsigned long long)k);
    for (uint64_t i0 = 0; i0 < n; i0 += ids_max) {
        uint64_t ni = min_u64(ids_max, n - i0), iskip, dskip;
        vkslm_binding bind[3];
        VKSLM_TRY(vkslm_vk_bind(vk, ids->buf, ids->offset + i0 * 4, ni * 4, 0, &bind[1], &iskip));
        VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + i0 * k * 4, ni * k * 4, 1, &bind[2], &dskip));
        for (uint64_t r0 = 0; r0 < n_rows; r0 += rows_max) {
            uint64_t nr = min_u64(rows_max, n_rows - r0);
            uint32_t wskip;
            VKSLM_TRY(vkslm_weights_bind_rows(vk, w, row_bytes, r0, nr, &bind[0], &wskip));
            vkslm_get_rows_push pc = {
                .units = (uint32_t)units, .row_bytes = (uint32_t)row_bytes, .w_off = wskip, .r0 = (uint32_t)r0,
                .rows = (uint32_t)nr, .n_total = (uint32_t)n_rows, .ids_off = (uint32_t)(iskip / 4),
                .n_ids = (uint32_t)ni, .d_off = (uint32_t)(dskip / 4),
            };
            uint32_t groups = (uint32_t)((ni * units + WG - 1) / WG);
            VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, 3, &pc, groups, 1, 1, "get_rows"));
        }
    }
    return VKSLM_OK;
}
