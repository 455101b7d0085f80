/* Records activation dispatches (shaders/act.comp): one invocation per output element. */
#include "engine/ops/act.h"

#include "engine/ops/op_util.h"

#define WG 128u

typedef enum { ACT_SILU, ACT_GELU, ACT_SWIGLU, ACT_GEGLU } act_op;
static const char *const act_names[] = {"silu", "gelu", "swiglu", "geglu"};

/* One dispatch over `rows` rows of n elements; offsets in bytes from each tensor's buffer start. */
static vkslm_status dispatch(vkslm_cmd *c, const vkslm_pipeline *p, const char *name, uint64_t n, uint64_t rows,
                             const vkslm_buf *gb, uint64_t g_byte, uint64_t g_stride, int has_u, const vkslm_buf *ub,
                             uint64_t u_byte, uint64_t u_stride, const vkslm_buf *db, uint64_t d_byte) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    vkslm_act_push pc = {(uint32_t)n, (uint32_t)rows, 0, 0, 0, (uint32_t)g_stride, (uint32_t)u_stride, (uint32_t)n};
    vkslm_binding bind[3];
    uint64_t skip;
    uint32_t k = 0;
    uint64_t g_span = ((rows - 1) * g_stride + n) * 4;
    if (has_u && ub == gb && u_byte > g_byte) {
        /* fused [gate|up]: one binding covers both halves */
        uint64_t span = u_byte - g_byte + ((rows - 1) * u_stride + n) * 4;
        VKSLM_TRY(vkslm_vk_bind(vk, gb, g_byte, span, 0, &bind[k++], &skip));
        pc.g_off = (uint32_t)(skip / 4);
        pc.u_off = pc.g_off + (uint32_t)((u_byte - g_byte) / 4);
        bind[k++] = bind[0];
    } else {
        VKSLM_TRY(vkslm_vk_bind(vk, gb, g_byte, g_span, 0, &bind[k++], &skip));
        pc.g_off = (uint32_t)(skip / 4);
        if (has_u) {
            VKSLM_TRY(vkslm_vk_bind(vk, ub, u_byte, ((rows - 1) * u_stride + n) * 4, 0, &bind[k++], &skip));
            pc.u_off = (uint32_t)(skip / 4);
        }
    }
    VKSLM_TRY(vkslm_vk_bind(vk, db, d_byte, rows * n * 4, 1, &bind[k++], &skip));
    pc.d_off = (uint32_t)(skip / 4);
    uint32_t groups = (uint32_t)((n * rows + WG - 1) / WG);
    return vkslm_cmd_dispatch(c, p, bind, k, &pc, groups, 1, 1, name);
}

static vkslm_status run(vkslm_cmd *c, act_op op, const vkslm_tensor *d, const vkslm_tensor *gate,
                        const vkslm_tensor *up) {
    const char *name = act_names[op];
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint64_t max_inv = (uint64_t)caps->max_workgroup_count[0] * WG;
    if (max_inv > 0x7fffffffu)
        max_inv = 0x7fffffffu;
    if (!d || !gate)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a tensor is missing", name);
    uint64_t total = vkslm_tensor_nelems(d);
    const vkslm_pipeline *p;
    uint32_t spec[1] = {WG};
    int glu = op == ACT_SWIGLU || op == ACT_GEGLU;
    VKSLM_TRY(vkslm_vk_pipeline(vk, name, glu ? 3 : 2, sizeof(vkslm_act_push), spec, 1, &p));
    VKSLM_TRY(vkslm_op_check(name, "d", d, VKSLM_TYPE_F32, total));
    if (!glu) {
        VKSLM_TRY(vkslm_op_check(name, "a", gate, VKSLM_TYPE_F32, total));
        if (vkslm_tensor_nelems(gate) != total)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d and a differ in size", name);
        uint64_t chunk = vkslm_op_rows_fit(vk, 4, max_inv) & ~(uint64_t)63;
        for (uint64_t s = 0; s < total; s += chunk) {
            uint64_t m = total - s < chunk ? total - s : chunk;
            VKSLM_TRY(dispatch(c, p, name, m, 1, gate->buf, gate->offset + s * 4, m, 0, NULL, 0, 0, d->buf,
                               d->offset + s * 4));
        }
        return VKSLM_OK;
    }
    uint64_t n = d->ne[0], rows = vkslm_tensor_rows(d);
    if (n == 0 || n > max_inv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: bad row length %llu", name, (unsigned long long)n);
    uint64_t gs = up ? n : 2 * n;
    if (gate->ne[0] != gs)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: gate rows have %llu elements, expected %llu", name,
                          (unsigned long long)gate->ne[0], (unsigned long long)gs);
    VKSLM_TRY(vkslm_op_check(name, "gate", gate, VKSLM_TYPE_F32, gs * rows));
    if (up) {
        VKSLM_TRY(vkslm_op_check(name, "up", up, VKSLM_TYPE_F32, n * rows));
        if (up->ne[0] != n)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: up and d differ in row length", name);
    }
    uint64_t chunk = vkslm_op_rows_fit(vk, gs * 4, max_inv / n);
    if (chunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: one row exceeds the bindable range", name);
    for (uint64_t r = 0; r < rows; r += chunk) {
        uint64_t m = rows - r < chunk ? rows - r : chunk;
        uint64_t g_byte = gate->offset + r * gs * 4;
        if (up)
            VKSLM_TRY(dispatch(c, p, name, n, m, gate->buf, g_byte, n, 1, up->buf, up->offset + r * n * 4, n, d->buf,
                               d->offset + r * n * 4));
        else
            VKSLM_TRY(dispatch(c, p, name, n, m, gate->buf, g_byte, gs, 1, gate->buf, g_byte + n * 4, gs, d->buf,
                               d->offset + r * n * 4));
    }
    return VKSLM_OK;
}

vkslm_status vkslm_op_silu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a) {
    return run(c, ACT_SILU, d, a, NULL);
}
vkslm_status vkslm_op_gelu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a) {
    return run(c, ACT_GELU, d, a, NULL);
}
vkslm_status vkslm_op_swiglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up) {
    return run(c, ACT_SWIGLU, d, gate, up);
}
vkslm_status vkslm_op_geglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up) {
    return run(c, ACT_GEGLU, d, gate, up);
}
