/* LoRA's scatter-add: a grid of gathered rows (axis 0) by slice columns (axis 1), an invocation each. */
#include "engine/ops/lora.h"

#include "engine/ops/op.h"

#define WG 64u
#define AT(field) VKSLM_OP_PUSH(vkslm_lora_push, field)

vkslm_status vkslm_op_lora_scatter_add(vkslm_cmd *c, const vkslm_tensor *d, uint64_t col, const vkslm_tensor *t,
                                       const vkslm_tensor *ids, const vkslm_tensor *scales, float mul) {
    VKSLM_TRY(VKSLM_OP_PRESENT("lora_scatter_add", d, t, ids, scales));
    const uint64_t cols = vkslm_dim(t, 0), rows = vkslm_tensor_rows(t), width = vkslm_dim(d, 0);
    if (col + cols > width || vkslm_tensor_nelems(ids) < rows || vkslm_tensor_nelems(scales) < rows)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora_scatter_add: %llu columns at %llu of rows of %llu, %llu rows",
                          (unsigned long long)cols, (unsigned long long)col, (unsigned long long)width,
                          (unsigned long long)rows);
    uint32_t spec[1] = {WG};
    vkslm_lora_push pc = {.t_stride = (uint32_t)cols, .d_stride = (uint32_t)width, .mul = mul};
    vkslm_op op = {
        .name = "lora", .shader = VKSLM_SHADER_LORA_SCATTER_ADD, .spec = spec, .n_spec = 1,
        .push = &pc, .push_size = sizeof pc,
        .axis = {{.n = rows, .count_at = AT(rows)}, {.n = cols, .count_at = AT(cols), .first_at = AT(col0)}},
        .grid = {{.div = WG, .axes = 2}, {.axes = 1}},
        .arg = {
            {"t", t, .types = VKSLM_OP_F32, .off_at = AT(t_off), .step = {cols * 4, 4}, .size = 4},
            {"ids", ids, .types = VKSLM_OP_I32, .off_at = AT(ids_off), .step = {4, 0}, .size = 4},
            {"scales", scales, .types = VKSLM_OP_F32, .off_at = AT(sc_off), .step = {4, 0}, .size = 4},
            /* the whole output from the slice's first column: rows are found through ids */
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(d_off), .at = col * 4,
             .size = (vkslm_tensor_nelems(d) - col) * 4},
        },
        .bytes = (double)rows * cols * 12, .flops = 3.0 * rows * cols,
    };
    return vkslm_op_record(c, &op);
}
