/* Gated activations (shaders/act.comp): one invocation per output element. */
#include "engine/ops/act.h"

#include "engine/ops/op.h"

#define WG 128u
#define AT(field) VKSLM_OP_PUSH(vkslm_act_push, field)

static vkslm_status run(vkslm_cmd *c, vkslm_shader_id shader, const vkslm_tensor *d, const vkslm_tensor *gate,
                        const vkslm_tensor *up) {
    const char *name = "glu";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, d, gate));
    uint64_t n = d->ne[0], rows = vkslm_tensor_rows(d), gs = up ? n : 2 * n; /* gate row stride */
    if (n == 0 || n > UINT32_MAX || gate->ne[0] != gs || vkslm_tensor_rows(gate) != rows ||
        (up && (up->ne[0] != n || vkslm_tensor_rows(up) != rows)))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: gate must be %llu x %llu%s, d%s %llu x %llu", name,
                          (unsigned long long)gs, (unsigned long long)rows, up ? "" : " (gate | up)",
                          up ? " and up" : "", (unsigned long long)n, (unsigned long long)rows);
    uint32_t spec[1] = {WG};
    vkslm_act_push pc = {.n = (uint32_t)n, .g_stride = (uint32_t)gs, .u_stride = (uint32_t)gs, .d_stride = (uint32_t)n};
    if (up)
        pc.u_stride = (uint32_t)n;
    vkslm_op op = {
        .name = name, .shader = shader, .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        .axis = {{.n = rows, .count_at = AT(rows)}},
        .grid = {{.per = n, .div = WG, .axes = 1}},
        .arg = {
            {"gate", gate, .types = VKSLM_OP_F32, .off_at = AT(g_off), .step = {gs * 4}, .size = n * 4},
            /* up, or the second half of each fused row */
            {"up", up ? up : gate, .types = VKSLM_OP_F32, .off_at = AT(u_off), .at = up ? 0 : n * 4,
             .step = {pc.u_stride * 4ull}, .size = n * 4},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(d_off), .step = {n * 4}, .size = n * 4},
        },
        .bytes = 12.0 * n * rows, .flops = 8.0 * n * rows,
    };
    return vkslm_op_record(c, &op);
}

vkslm_status vkslm_op_swiglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up) {
    return run(c, VKSLM_SHADER_ACT_SWIGLU, d, gate, up);
}
vkslm_status vkslm_op_geglu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *gate, const vkslm_tensor *up) {
    return run(c, VKSLM_SHADER_ACT_GEGLU, d, gate, up);
}
