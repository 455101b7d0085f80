/* Elementwise ops (shaders/elementwise.comp): an invocation per pair of elements. The work is a grid of
 * periods of b (axis 0) by the elements of one period (axis 1); ops without b have one period. */
#include "engine/ops/elementwise.h"

#include "engine/ops/op.h"

#define WG 128u
#define AT(field) VKSLM_OP_PUSH(vkslm_elementwise_push, field)

typedef enum { EW_ADD, EW_SCALE, EW_SOFTCAP, EW_OPS } ew_op;
static const char *const ew_names[EW_OPS] = {"add", "scale", "softcap"};

/* [op][a is f16][d is f16][f16 as packed words (no 16-bit storage needed)] */
#define EW_VARIANTS(OP)                                                                                            \
    {{{VKSLM_SHADER_ELEMENTWISE_##OP##_F32_F32, VKSLM_SHADER_ELEMENTWISE_##OP##_F32_F32_P16},                                          \
      {VKSLM_SHADER_ELEMENTWISE_##OP##_F32_F16, VKSLM_SHADER_ELEMENTWISE_##OP##_F32_F16_P16}},                                         \
     {{VKSLM_SHADER_ELEMENTWISE_##OP##_F16_F32, VKSLM_SHADER_ELEMENTWISE_##OP##_F16_F32_P16},                                          \
      {VKSLM_SHADER_ELEMENTWISE_##OP##_F16_F16, VKSLM_SHADER_ELEMENTWISE_##OP##_F16_F16_P16}}}
static const vkslm_shader_id ew_shaders[EW_OPS][2][2][2] = {EW_VARIANTS(ADD), EW_VARIANTS(SCALE),
                                                            EW_VARIANTS(SOFTCAP)};

static uint32_t elem_bytes(uint32_t type) { return type == VKSLM_TYPE_F16 ? 2u : 4u; }

static vkslm_status run(vkslm_cmd *c, ew_op kind, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b,
                        float scale) {
    const char *name = ew_names[kind];
    VKSLM_TRY(kind == EW_ADD ? VKSLM_OP_PRESENT(name, d, a, b) : VKSLM_OP_PRESENT(name, d, a));
    const uint32_t floats = VKSLM_OP_F32 | VKSLM_OP_F16;
    if (!(floats & VKSLM_OP_T(a->type)) || !(floats & VKSLM_OP_T(d->type)) || (b && b->type != a->type))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: tensors must be F32 or F16 (b of a's type)", name);
    uint64_t n = vkslm_tensor_nelems(a), nb = b ? vkslm_tensor_nelems(b) : n;
    if (vkslm_tensor_nelems(d) != n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d has %llu elements, a has %llu", name,
                          (unsigned long long)vkslm_tensor_nelems(d), (unsigned long long)n);
    if (n % nb)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: b's %llu elements do not divide a's %llu", name,
                          (unsigned long long)nb, (unsigned long long)n);
    int a16 = a->type == VKSLM_TYPE_F16, d16 = d->type == VKSLM_TYPE_F16;
    int packed = !vkslm_vk_get_enabled(vkslm_cmd_vk(c))->storage16 || (!a16 && !d16);
    uint32_t ea = elem_bytes(a->type), ed = elem_bytes(d->type);
    uint32_t spec[1] = {WG};
    vkslm_elementwise_push pc = {.scale = scale};
    vkslm_op op = {
        .name = name, .shader = ew_shaders[kind][a16][d16][packed], .spec = spec, .n_spec = 1,
        .push = &pc, .push_size = sizeof pc,
        /* pieces hold even element counts, so that f16 pairs stay in one word (an odd period: even
         * counts of periods) */
        .axis = {{.n = n / nb, .multiple = nb % 2 ? 2 : 1, .count_at = AT(reps)},
                 {.n = nb, .multiple = 2, .count_at = AT(nb)}},
        .grid = {{.div = 2 * WG, .axes = 3}},
        .arg = {
            {"a", a, .unit = ea, .off_at = AT(a_off), .step = {nb * ea, ea}, .size = ea},
            {b ? "b" : NULL, b, .unit = ea, .off_at = AT(b_off), .step = {0, ea}, .size = ea},
            {"d", d, .write = 1, .unit = ed, .align = packed && d16 ? 4 : ed, .off_at = AT(d_off),
             .step = {nb * ed, ed}, .size = ed},
        },
        .bytes = (double)n * (ea + ed) + (b ? (double)nb * ea : 0), .flops = (kind == EW_SOFTCAP ? 4.0 : 1.0) * n,
    };
    if (!b) /* d after a */
        op.arg[1] = op.arg[2], op.arg[2] = (vkslm_op_arg){0};
    return vkslm_op_record(c, &op);
}

vkslm_status vkslm_op_add(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, const vkslm_tensor *b) {
    return run(c, EW_ADD, d, a, b, 0.0f);
}
vkslm_status vkslm_op_scale(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float s) {
    return run(c, EW_SCALE, d, a, NULL, s);
}
vkslm_status vkslm_op_softcap(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float cap) {
    if (!(cap > 0))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "softcap: the cap must be positive");
    return run(c, EW_SOFTCAP, d, a, NULL, cap);
}
