/* Records elementwise dispatches (shaders/elementwise.comp), in chunks that respect the bindable range
 * and the workgroup count limit. */
#include <stdio.h>

#include "engine/ops/elementwise.h"
#include "engine/util/error.h"

#define WG 128u

typedef enum { EW_ADD, EW_MUL, EW_SCALE, EW_COPY, EW_SOFTCAP } ew_op;
static const char *const ew_names[] = {"add", "mul", "scale", "copy", "softcap"};

static uint32_t elem_bytes(uint32_t type) { return type == VKSLM_TYPE_F16 ? 2u : 4u; }
static const char *type_tag(uint32_t type) { return type == VKSLM_TYPE_F16 ? "f16" : "f32"; }

static vkslm_status check_type(const char *op, const char *which, const vkslm_tensor *t) {
    if (!t || !t->buf)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s is missing", op, which);
    if (t->type != VKSLM_TYPE_F32 && t->type != VKSLM_TYPE_F16)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: tensor %s has type %u; only F32 and F16 are supported", op,
                          which, t->type);
    if (t->offset % elem_bytes(t->type))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: tensor %s offset %llu is not element-aligned", op, which,
                          (unsigned long long)t->offset);
    return VKSLM_OK;
}

static vkslm_status run(vkslm_cmd *c, ew_op op, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b,
                        float scale) {
    const char *name = ew_names[op];
    int has_b = op == EW_ADD || op == EW_MUL;
    VKSLM_TRY(check_type(name, "d", d));
    VKSLM_TRY(check_type(name, "a", a));
    if (has_b) {
        VKSLM_TRY(check_type(name, "b", b));
        if (b->type != a->type)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: a and b must have the same type", name);
    }
    uint64_t n = vkslm_tensor_nelems(a), nb = has_b ? vkslm_tensor_nelems(b) : 1;
    if (vkslm_tensor_nelems(d) != n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d has %llu elements, a has %llu", name,
                          (unsigned long long)vkslm_tensor_nelems(d), (unsigned long long)n);
    if (nb == 0 || n % nb)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: b's %llu elements do not divide a's %llu", name,
                          (unsigned long long)nb, (unsigned long long)n);
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_enabled *en = vkslm_vk_get_enabled(vk);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    int packed = !en->storage16 || (a->type == VKSLM_TYPE_F32 && d->type == VKSLM_TYPE_F32);
    if (packed && d->type == VKSLM_TYPE_F16 && (d->offset + d->buf->offset) % 4)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: an f16 output must start on 4 bytes without 16-bit storage", name);
    char variant[64];
    snprintf(variant, sizeof variant, "%s_%s_%s%s", name, type_tag(a->type), type_tag(d->type), packed ? "_p16" : "");
    uint32_t spec[1] = {WG};
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, has_b ? 3 : 2, sizeof(vkslm_elementwise_push), spec, 1, &p));

    uint32_t ea = elem_bytes(a->type), ed = elem_bytes(d->type), eb = ea;
    uint64_t slack = caps->min_storage_offset_align + 4;
    uint64_t range = vkslm_vk_max_range(vk);
    uint64_t widest = ea > ed ? ea : ed;
    uint64_t chunk = (range - slack) / widest;
    uint64_t by_groups = (uint64_t)caps->max_workgroup_count[0] * WG * 2;
    if (chunk > by_groups)
        chunk = by_groups;
    if (chunk > 0x7fffffffu)
        chunk = 0x7fffffffu;
    chunk &= ~(uint64_t)1; /* chunks start on even elements: f16 pairs stay in one word */
    int b_whole = has_b && nb * eb + slack <= range;
    for (uint64_t s = 0; s < n;) {
        uint64_t m = n - s < chunk ? n - s : chunk;
        vkslm_elementwise_push pc = {0};
        vkslm_binding bind[3];
        uint64_t skip;
        uint32_t k = 0;
        if (has_b && !b_whole) {
            uint64_t phase = s % nb;
            if (phase + m > nb)
                m = nb - phase; /* do not wrap around b inside one chunk */
            if (m < n - s)
                m &= ~(uint64_t)1;
            if (m == 0)
                m = 1; /* odd nb: a single element keeps progress (then pairs realign later) */
        }
        VKSLM_TRY(vkslm_vk_bind(vk, a->buf, a->offset + s * ea, m * ea, 0, &bind[k++], &skip));
        pc.a_off = (uint32_t)(skip / ea);
        if (has_b) {
            uint64_t phase = s % nb;
            if (b_whole) {
                VKSLM_TRY(vkslm_vk_bind(vk, b->buf, b->offset, nb * eb, 0, &bind[k++], &skip));
                pc.nb = (uint32_t)nb;
                pc.b_phase = (uint32_t)phase;
            } else {
                VKSLM_TRY(vkslm_vk_bind(vk, b->buf, b->offset + phase * eb, m * eb, 0, &bind[k++], &skip));
                pc.nb = (uint32_t)m;
                pc.b_phase = 0;
            }
            pc.b_off = (uint32_t)(skip / eb);
        } else {
            pc.nb = 1;
        }
        VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + s * ed, m * ed, 1, &bind[k++], &skip));
        pc.d_off = (uint32_t)(skip / ed);
        if (packed && d->type == VKSLM_TYPE_F16 && (pc.d_off & 1))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: f16 output chunk is not word-aligned", name);
        pc.n = (uint32_t)m;
        pc.scale = scale;
        uint32_t groups = (uint32_t)((m + 2 * WG - 1) / (2 * WG));
        VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, k, &pc, groups, 1, 1, name));
        s += m;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b) {
    return run(c, EW_ADD, d, a, b, 0.0f);
}
vkslm_status vkslm_op_mul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b) {
    return run(c, EW_MUL, d, a, b, 0.0f);
}
vkslm_status vkslm_op_scale(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float s) {
    return run(c, EW_SCALE, d, a, NULL, s);
}
vkslm_status vkslm_op_copy(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a) {
    return run(c, EW_COPY, d, a, NULL, 1.0f);
}
vkslm_status vkslm_op_softcap(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float cap) {
    if (!(cap > 0))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "softcap: the cap must be positive");
    return run(c, EW_SOFTCAP, d, a, NULL, cap);
}
