#include "engine/ops/weights.h"

#include <ctype.h>
#include <stdio.h>

#include "engine/util/error.h"

int vkslm_weights_supported(uint32_t type) {
    switch (type) {
    case VKSLM_TYPE_F32: case VKSLM_TYPE_F16: case VKSLM_TYPE_BF16:
    case VKSLM_TYPE_Q4_0: case VKSLM_TYPE_Q4_1: case VKSLM_TYPE_Q5_0: case VKSLM_TYPE_Q5_1: case VKSLM_TYPE_Q8_0:
    case VKSLM_TYPE_Q2_K: case VKSLM_TYPE_Q3_K: case VKSLM_TYPE_Q4_K: case VKSLM_TYPE_Q5_K: case VKSLM_TYPE_Q6_K:
    case VKSLM_TYPE_IQ4_NL: case VKSLM_TYPE_IQ4_XS:
        return 1;
    default:
        return 0;
    }
}

void vkslm_weights_variant(char *buf, size_t cap, const char *op, uint32_t type) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    int n = snprintf(buf, cap, "%s_%s", op, t ? t->name : "unknown");
    for (int i = 0; i < n && (size_t)i < cap; i++)
        buf[i] = (char)tolower((unsigned char)buf[i]);
}

vkslm_status vkslm_weights_check(const char *op, const vkslm_tensor *w, uint64_t *row_bytes) {
    if (!w || !w->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the weight tensor is missing", op);
    const vkslm_type_traits *t = vkslm_type_info(w->type);
    if (!vkslm_weights_supported(w->type))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: weight type %u (%s) is not supported", op, w->type,
                          t ? t->name : "unknown");
    uint64_t k = w->ne[0];
    if (k == 0 || k % 32 || k % t->block_elems)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: %s rows of %llu elements: not a multiple of 32 and of the block size",
                          op, t->name, (unsigned long long)k);
    /* plain float rows are read as aligned words; quantized blocks at any even byte offset */
    uint64_t align = t->block_elems == 1 ? 4 : 2;
    if ((w->buf->offset + w->offset) % align)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: %s weights at byte offset %llu: must be a multiple of %llu", op,
                          t->name, (unsigned long long)w->offset, (unsigned long long)align);
    *row_bytes = vkslm_type_row_bytes(w->type, k);
    return VKSLM_OK;
}

uint64_t vkslm_weights_rows_per_binding(const vkslm_vk *vk, uint64_t row_bytes) {
    uint64_t range = vkslm_vk_max_range(vk);
    uint64_t slack = vkslm_vk_get_caps(vk)->min_storage_offset_align + 4;
    return range > slack ? (range - slack) / row_bytes : 0;
}

vkslm_status vkslm_weights_bind_rows(vkslm_vk *vk, const vkslm_tensor *w, uint64_t row_bytes, uint64_t r0,
                                     uint64_t n, vkslm_binding *out, uint32_t *skip_bytes) {
    /* vkslm_vk_bind rounds the range up to whole words, which the shaders read */
    uint64_t start = w->offset + r0 * row_bytes, size = n * row_bytes;
    uint64_t skip;
    VKSLM_TRY(vkslm_vk_bind(vk, w->buf, start, size, 0, out, &skip));
    *skip_bytes = (uint32_t)skip;
    return VKSLM_OK;
}

static vkslm_status check_f32(const char *op, const char *which, const vkslm_tensor *t, uint64_t align) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s is missing", op, which);
    if (t->type != VKSLM_TYPE_F32)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: tensor %s must be F32 (type %u)", op, which, t->type);
    if ((t->buf->offset + t->offset) % align)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s offset %llu is not a multiple of %llu bytes", op,
                          which, (unsigned long long)t->offset, (unsigned long long)align);
    return VKSLM_OK;
}

vkslm_status vkslm_weights_check_product(const char *op, const vkslm_tensor *d, const vkslm_tensor *w,
                                         const vkslm_tensor *x, const vkslm_tensor *bias, vkslm_product_shape *s) {
    VKSLM_TRY(vkslm_weights_check(op, w, &s->row_bytes));
    VKSLM_TRY(check_f32(op, "x", x, 16));
    VKSLM_TRY(check_f32(op, "d", d, 4));
    s->k = w->ne[0];
    s->n = w->ne[1] ? w->ne[1] : 1;
    s->m = x->ne[1] ? x->ne[1] : 1;
    if (w->ne[2] > 1 || w->ne[3] > 1 || x->ne[2] > 1 || x->ne[3] > 1 || d->ne[2] > 1 || d->ne[3] > 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: only 2-D tensors", op);
    if (x->ne[0] != s->k)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x rows have %llu elements, weight rows %llu", op,
                          (unsigned long long)x->ne[0], (unsigned long long)s->k);
    if (d->ne[0] != s->n || (d->ne[1] ? d->ne[1] : 1) != s->m)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d is %llux%llu, expected %llux%llu", op,
                          (unsigned long long)d->ne[0], (unsigned long long)d->ne[1], (unsigned long long)s->n,
                          (unsigned long long)s->m);
    if (bias) {
        VKSLM_TRY(check_f32(op, "bias", bias, 4));
        if (vkslm_tensor_nelems(bias) != s->n)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: bias has %llu elements, expected %llu", op,
                              (unsigned long long)vkslm_tensor_nelems(bias), (unsigned long long)s->n);
    }
    if (s->k / 32 > 0xffffffffu || s->row_bytes > 0xffffffffu)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: rows of %llu elements are too long", op, (unsigned long long)s->k);
    return VKSLM_OK;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

vkslm_status vkslm_weights_record_product(vkslm_cmd *c, const vkslm_pipeline *p, const vkslm_tensor *d,
                                          const vkslm_tensor *w, const vkslm_tensor *x, const vkslm_tensor *bias,
                                          const vkslm_product_shape *sh, uint32_t rows_per_wg, uint32_t toks_per_wg,
                                          const char *label) {
    vkslm_product_shape s = *sh;
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint32_t nvec = toks_per_wg;
    /* chunk sizes: weight rows per binding, tokens per binding of x and d */
    uint64_t range = vkslm_vk_max_range(vk), slack = caps->min_storage_offset_align + 4;
    uint64_t rows_max = vkslm_weights_rows_per_binding(vk, s.row_bytes);
    rows_max = min_u64(rows_max, (uint64_t)caps->max_workgroup_count[0] * rows_per_wg);
    rows_max = min_u64(rows_max, 0x7fffffffu);
    uint64_t tok_max = range > slack ? (range - slack) / (s.k * 4) : 0;
    tok_max = min_u64(tok_max, range > slack ? (range - slack) / (s.n * 4) : 0);
    tok_max = min_u64(tok_max, (uint64_t)caps->max_workgroup_count[1] * nvec);
    if (rows_max == 0 || tok_max == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: a row of %llu elements does not fit the bindable range",
                          label, (unsigned long long)s.k);

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
            vkslm_product_push pc = {
                .units = (uint32_t)(s.k / 32), .rows = (uint32_t)nr, .row_bytes = (uint32_t)s.row_bytes,
                .w_off = wskip, .x_off = (uint32_t)(xskip / 16), .x_stride = (uint32_t)(s.k / 4),
                .n_vec = (uint32_t)nt, .d_off = (uint32_t)(dskip / 4), .d_stride = (uint32_t)s.n,
                .b_off = (uint32_t)(bskip / 4), .has_bias = bias != NULL,
            };
            uint32_t gx = (uint32_t)((nr + rows_per_wg - 1) / rows_per_wg);
            uint32_t gy = (uint32_t)((nt + nvec - 1) / nvec);
            VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, 4, &pc, gx, gy, 1, label));
        }
    }
    return VKSLM_OK;
}
