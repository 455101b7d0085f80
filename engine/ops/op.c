/* vkslm_op_record: tensor checks, the split by the bindable range and the group-count limits, binding,
 * push constants and dispatch, for every op. */
#include "engine/ops/op.h"

#include <string.h>

#define U32_MAX_COUNT 0x7fffffffu /* counts and invocation indices stay below 2^31 in the shaders */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t avail_bytes(const vkslm_vk *vk, int texel) {
    /* vkslm_vk_bind aligns the start down (up to min_storage_offset_align - 1 bytes more) and rounds the
     * end up to a word; vkslm_vk_bind_texels aligns to the texel offset alignment (at least 16) and rounds
     * to a texel */
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint64_t talign = caps->min_texel_offset_align > 16 ? caps->min_texel_offset_align : 16;
    uint64_t slack = texel ? talign + 16 : caps->min_storage_offset_align + 4, range = vkslm_vk_max_range(vk);
    return range > slack ? range - slack : 0;
}

static uint64_t fit(const vkslm_vk *vk, int texel, uint64_t step, uint64_t size) {
    uint64_t avail = avail_bytes(vk, texel);
    if (size > avail)
        return 0;
    return step ? (avail - size) / step + 1 : UINT64_MAX;
}

uint64_t vkslm_op_fit(const vkslm_vk *vk, uint64_t step, uint64_t size) { return fit(vk, 0, step, size); }

vkslm_status vkslm_op_present(const char *op, const vkslm_tensor *const *t, int n) {
    for (int i = 0; i < n; i++)
        if (!t[i] || !t[i]->buf)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a tensor is missing", op);
    return VKSLM_OK;
}

vkslm_status vkslm_op_need_subgroups(const vkslm_vk *vk, const char *op) {
    VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if ((vkslm_vk_get_caps(vk)->subgroup_ops & need) != need)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "%s: the device lacks subgroup arithmetic in compute shaders", op);
    return VKSLM_OK;
}

static const char *type_name(uint32_t type) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    return t ? t->name : "unknown";
}

static uint64_t units(const vkslm_op_axis *a) { return a->n ? a->n : 1; }
static uint32_t arg_unit(const vkslm_op_arg *g) { return g->unit ? g->unit : 4u; }

/* Present, of an accepted type, aligned: what every check starts with. */
static vkslm_status check_common(const char *op, const char *which, const vkslm_tensor *t, uint32_t types,
                                 uint64_t at, uint64_t align) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s is missing", op, which);
    if (types && (t->type >= 32 || !(types & VKSLM_OP_T(t->type))))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: tensor %s has type %s, which this op does not take", op, which,
                          type_name(t->type));
    if ((t->buf->offset + t->offset + at) % align)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s at byte offset %llu is not aligned to %llu bytes", op,
                          which, (unsigned long long)(t->offset + at), (unsigned long long)align);
    return VKSLM_OK;
}

static vkslm_status past_end(const char *op, const char *which) {
    return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s runs past the end of its buffer", op, which);
}

vkslm_status vkslm_op_check(const char *op, const char *which, const vkslm_tensor *t, uint32_t types,
                            uint64_t n_elems) {
    uint64_t es = t && t->type == VKSLM_TYPE_F16 ? 2 : 4;
    VKSLM_TRY(check_common(op, which, t, types, 0, es));
    if (vkslm_tensor_nelems(t) < n_elems)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s has %llu elements, needs %llu", op, which,
                          (unsigned long long)vkslm_tensor_nelems(t), (unsigned long long)n_elems);
    if (t->offset > t->buf->size || n_elems > (t->buf->size - t->offset) / es)
        return past_end(op, which);
    return VKSLM_OK;
}

/* Present (unless optional), of an accepted type, aligned, and every unit it may bind inside its buffer. */
static vkslm_status check_arg(const vkslm_op *op, const vkslm_op_arg *g) {
    const vkslm_tensor *t = g->t;
    if (!t && g->optional)
        return VKSLM_OK;
    VKSLM_TRY(check_common(op->name, g->name, t, g->types, g->at, g->align > arg_unit(g) ? g->align : arg_unit(g)));
    /* the bytes of the whole grid; each term is checked against the buffer before it is added */
    uint64_t size = t->buf->size, end = t->offset;
    uint64_t n[2] = {units(&op->axis[0]) - 1, units(&op->axis[1]) - 1};
    uint64_t terms[4] = {g->at, g->size, 0, 0};
    for (int a = 0; a < 2; a++) {
        if (g->step[a] && n[a] > size / g->step[a])
            return past_end(op->name, g->name);
        terms[2 + a] = g->step[a] * n[a];
    }
    if (end > size)
        return past_end(op->name, g->name);
    for (int i = 0; i < 4; i++) {
        if (terms[i] > size - end)
            return past_end(op->name, g->name);
        end += terms[i];
    }
    return VKSLM_OK;
}

/* The most units of one piece along an axis that grid dimension g allows (UINT64_MAX when g does not depend
 * on that axis alone). */
static uint64_t grid_cap(const vkslm_op_grid *g, uint32_t max_count, uint32_t axes) {
    if (g->axes != axes)
        return UINT64_MAX;
    uint64_t per = g->per ? g->per : 1, div = g->div ? g->div : 1;
    return min_u64((uint64_t)max_count * div, U32_MAX_COUNT) / per;
}

/* n units, rounded down to the axis's multiple unless that leaves none (then alignment checks decide, or with
 * `whole` none fit) */
static uint64_t round_down(uint64_t n, const vkslm_op_axis *a, uint64_t total) {
    if (n >= total)
        return total;
    uint64_t m = a->multiple > 1 ? n - n % a->multiple : n;
    return m ? m : a->whole ? 0 : n;
}

/* Units per piece along each axis: every binding within the range, every group count within the limits. */
static vkslm_status plan(const vkslm_vk *vk, const vkslm_op *op, uint32_t n_arg, uint64_t chunk[2]) {
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint64_t total[2] = {units(&op->axis[0]), units(&op->axis[1])};
    uint64_t c[2];
    for (int a = 0; a < 2; a++) {
        c[a] = min_u64(total[a], U32_MAX_COUNT);
        if (op->axis[a].max)
            c[a] = min_u64(c[a], op->axis[a].max);
        for (int d = 0; d < 3; d++)
            c[a] = min_u64(c[a], grid_cap(&op->grid[d], caps->max_workgroup_count[d], 1u << a));
    }
    /* the inner axis first, with one unit of the outer; then the outer, each binding holding whole inner
     * pieces */
    for (uint32_t i = 0; i < n_arg; i++)
        if (op->arg[i].t)
            c[1] = min_u64(c[1], fit(vk, op->arg[i].texel, op->arg[i].step[1], op->arg[i].size));
    c[1] = round_down(c[1], &op->axis[1], total[1]);
    for (uint32_t i = 0; i < n_arg && c[1]; i++) {
        const vkslm_op_arg *g = &op->arg[i];
        if (g->t)
            c[0] = min_u64(c[0], fit(vk, g->texel, g->step[0], (c[1] - 1) * g->step[1] + g->size));
    }
    c[0] = round_down(c[0], &op->axis[0], total[0]);
    for (int d = 0; d < 3; d++) /* group counts that grow with both axes */
        if (op->grid[d].axes == 3u && c[0] && c[1]) {
            const vkslm_op_grid *g = &op->grid[d];
            uint64_t cap = min_u64((uint64_t)caps->max_workgroup_count[d] * (g->div ? g->div : 1), U32_MAX_COUNT) /
                           (g->per ? g->per : 1);
            if (c[0] * c[1] > cap) {
                c[0] = round_down(min_u64(c[0], cap), &op->axis[0], total[0]);
                c[1] = c[0] ? round_down(cap / c[0], &op->axis[1], total[1]) : 0;
            }
        }
    if (c[0] == 0 || c[1] == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: one unit of work does not fit the bindable range (%llu bytes) or the "
                          "device's workgroup counts", op->name, (unsigned long long)vkslm_vk_max_range(vk));
    chunk[0] = c[0];
    chunk[1] = c[1];
    return VKSLM_OK;
}

static void put_u32(uint8_t *push, int32_t at, uint64_t v) {
    if (at > 0) { /* VKSLM_OP_PUSH: offset + 1 */
        uint32_t u = (uint32_t)v;
        memcpy(push + at - 1, &u, 4);
    }
}

static uint32_t groups(const vkslm_op_grid *g, uint64_t m0, uint64_t m1) {
    uint64_t n = g->per ? g->per : 1;
    if (g->axes & 1u)
        n *= m0;
    if (g->axes & 2u)
        n *= m1;
    return (uint32_t)ceil_div(n, g->div ? g->div : 1);
}

/* One piece: units [i0, i0 + m0) x [i1, i1 + m1). */
static vkslm_status record_piece(vkslm_cmd *c, const vkslm_op *op, uint32_t n_arg, const vkslm_pipeline *p,
                                 uint64_t i0, uint64_t m0, uint64_t i1, uint64_t m1, int first) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    int dry = vkslm_cmd_is_dry(c);
    uint8_t push[VKSLM_OP_MAX_PUSH];
    memcpy(push, op->push, op->push_size);
    const uint64_t pos[2] = {i0, i1}, cnt[2] = {m0, m1};
    for (int a = 0; a < 2; a++) {
        put_u32(push, op->axis[a].count_at, cnt[a]);
        put_u32(push, op->axis[a].first_at, pos[a]);
    }
    vkslm_binding bind[VKSLM_OP_MAX_ARGS];
    for (uint32_t i = 0; i < n_arg; i++) {
        const vkslm_op_arg *g = &op->arg[i];
        if (!g->t) { /* an absent optional argument: bound, never read: the first binding of its kind */
            uint32_t j = 0;
            while (j < i && (!op->arg[j].t || op->arg[j].texel != g->texel))
                j++;
            if (j == i)
                return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: no binding to stand in for %s", op->name, g->name);
            bind[i] = bind[j];
            bind[i].write = 0;
            continue;
        }
        uint64_t start = g->t->offset + g->at + i0 * g->step[0] + i1 * g->step[1];
        uint64_t span = (m0 - 1) * g->step[0] + (m1 - 1) * g->step[1] + g->size, skip = 0;
        if (dry) /* a recording that resolves kernels only: buffers may be placeholders */
            bind[i] = (vkslm_binding){VK_NULL_HANDLE, 0, span, g->write, g->texel};
        else if (g->texel)
            VKSLM_TRY(vkslm_vk_bind_texels(vk, g->t->buf, start, span, &bind[i], &skip));
        else
            VKSLM_TRY(vkslm_vk_bind(vk, g->t->buf, start, span, g->write, &bind[i], &skip));
        uint64_t align = g->align > arg_unit(g) ? g->align : arg_unit(g);
        if (skip % arg_unit(g) || (g->t->buf->offset + start) % align)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a piece of tensor %s starts off its %llu-byte alignment",
                              op->name, g->name, (unsigned long long)align);
        put_u32(push, g->off_at, skip / arg_unit(g));
    }
    if (first)
        vkslm_cmd_cost(c, op->bytes, op->flops);
    return vkslm_cmd_dispatch(c, p, bind, n_arg, push, groups(&op->grid[0], m0, m1), groups(&op->grid[1], m0, m1),
                              groups(&op->grid[2], m0, m1), op->name);
}

vkslm_status vkslm_op_record(vkslm_cmd *c, const vkslm_op *op) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    uint32_t n_arg = 0;
    while (n_arg < VKSLM_OP_MAX_ARGS && op->arg[n_arg].name)
        n_arg++;
    if (n_arg == 0 || op->push_size > VKSLM_OP_MAX_PUSH || !op->arg[0].t)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: bad op declaration", op->name);
    for (uint32_t i = 0; i < n_arg; i++)
        VKSLM_TRY(check_arg(op, &op->arg[i]));
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_kernel(vk, op->shader, n_arg, op->push_size, op->spec, op->n_spec, &p));
    uint64_t chunk[2] = {0, 0};
    VKSLM_TRY(plan(vk, op, n_arg, chunk));
    uint64_t total[2] = {units(&op->axis[0]), units(&op->axis[1])};
    int first = 1;
    for (uint64_t i0 = 0; i0 < total[0]; i0 += chunk[0])
        for (uint64_t i1 = 0; i1 < total[1]; i1 += chunk[1]) {
            VKSLM_TRY(record_piece(c, op, n_arg, p, i0, min_u64(chunk[0], total[0] - i0), i1,
                                   min_u64(chunk[1], total[1] - i1), first));
            first = 0;
        }
    return VKSLM_OK;
}

/* ---- weights ------------------------------------------------------------------------------------- */
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

int vkslm_weights_need_plain(const vkslm_tensor *w) {
    return w && (w->type == VKSLM_TYPE_F32 || w->type == VKSLM_TYPE_F16 || w->type == VKSLM_TYPE_BF16) &&
           w->ne[0] % 32 != 0;
}

vkslm_status vkslm_weights_tile(const char *op, const vkslm_tensor *w, uint32_t *tile) {
    *tile = w->tile > 1 ? w->tile : 1;
    uint64_t rows = vkslm_dim(w, 1);
    if (*tile > 1 && (vkslm_weights_need_plain(w) || rows % *tile))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a weight in tiles of %u rows needs whole tiles and rows of "
                          "32-element units (it has %llu rows of %llu elements)", op, *tile,
                          (unsigned long long)rows, (unsigned long long)w->ne[0]);
    return VKSLM_OK;
}

vkslm_status vkslm_weights_check(const char *op, const vkslm_tensor *w, uint64_t *row_bytes) {
    if (!w || !w->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the weight tensor is missing", op);
    if (!vkslm_weights_supported(w->type))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: weight type %u (%s) is not supported", op, w->type,
                          type_name(w->type));
    uint64_t k = w->ne[0];
    const vkslm_type_traits *t = vkslm_type_info(w->type);
    if (k == 0 || k % 32 || k % t->block_elems)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: %s rows of %llu elements: not a multiple of 32 and of the block size",
                          op, t->name, (unsigned long long)k);
    *row_bytes = vkslm_type_row_bytes(w->type, k);
    if (k / 32 > UINT32_MAX || *row_bytes > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: rows of %llu elements are too long", op, (unsigned long long)k);
    return VKSLM_OK;
}
