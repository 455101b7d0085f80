/* Embedding lookups (shaders/get_rows.comp; plain rows shaders/get_rows_plain.comp): ids along axis 0, weight
 * rows along axis 1. */
#include "engine/ops/get_rows.h"

#include "engine/ops/matmul.h"
#include "engine/ops/op.h"

#define WG 64u
#define AT(field) VKSLM_OP_PUSH(vkslm_get_rows_push, field)
#define PLAIN_AT(field) VKSLM_OP_PUSH(vkslm_plain_push, field)

static const vkslm_shader_id shaders[VKSLM_TYPE_COUNT] = {
    [VKSLM_TYPE_F32] = VKSLM_SHADER_GET_ROWS_F32,       [VKSLM_TYPE_F16] = VKSLM_SHADER_GET_ROWS_F16,
    [VKSLM_TYPE_BF16] = VKSLM_SHADER_GET_ROWS_BF16,     [VKSLM_TYPE_Q4_0] = VKSLM_SHADER_GET_ROWS_Q4_0,
    [VKSLM_TYPE_Q4_1] = VKSLM_SHADER_GET_ROWS_Q4_1,     [VKSLM_TYPE_Q5_0] = VKSLM_SHADER_GET_ROWS_Q5_0,
    [VKSLM_TYPE_Q5_1] = VKSLM_SHADER_GET_ROWS_Q5_1,     [VKSLM_TYPE_Q8_0] = VKSLM_SHADER_GET_ROWS_Q8_0,
    [VKSLM_TYPE_Q2_K] = VKSLM_SHADER_GET_ROWS_Q2_K,     [VKSLM_TYPE_Q3_K] = VKSLM_SHADER_GET_ROWS_Q3_K,
    [VKSLM_TYPE_Q4_K] = VKSLM_SHADER_GET_ROWS_Q4_K,     [VKSLM_TYPE_Q5_K] = VKSLM_SHADER_GET_ROWS_Q5_K,
    [VKSLM_TYPE_Q6_K] = VKSLM_SHADER_GET_ROWS_Q6_K,     [VKSLM_TYPE_IQ4_NL] = VKSLM_SHADER_GET_ROWS_IQ4_NL,
    [VKSLM_TYPE_IQ4_XS] = VKSLM_SHADER_GET_ROWS_IQ4_XS,
};

vkslm_status vkslm_op_get_rows(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *ids) {
    const char *name = "get_rows";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, d, w, ids));
    uint64_t k = w->ne[0], n_rows = vkslm_dim(w, 1), n = vkslm_tensor_nelems(ids);
    if (d->ne[0] != k || vkslm_tensor_nelems(d) != k * n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: d must be %llu x %llu", name, (unsigned long long)k,
                          (unsigned long long)n);
    if (n_rows > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: %llu rows", name, (unsigned long long)n_rows);
    uint64_t rb = vkslm_type_row_bytes(w->type, k);
    double bytes = (double)n * (rb + 4.0 * k);
    uint32_t tile;
    VKSLM_TRY(vkslm_weights_tile(name, w, &tile));
    if (vkslm_weights_need_plain(w)) {
        static const uint32_t spec[1] = {WG};
        vkslm_plain_push pc = {.k = (uint32_t)k, .rows = (uint32_t)n_rows, .row_halves = (uint32_t)(rb / 2),
                               .d_stride = (uint32_t)k};
        vkslm_op op = {
            .name = name, .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
            .shader = w->type == VKSLM_TYPE_F32   ? VKSLM_SHADER_GET_ROWS_PLAIN_F32
                      : w->type == VKSLM_TYPE_F16 ? VKSLM_SHADER_GET_ROWS_PLAIN_F16
                                                  : VKSLM_SHADER_GET_ROWS_PLAIN_BF16,
            .axis = {{.n = n, .count_at = PLAIN_AT(n_vec)}},
            .grid = {{.per = k, .div = WG}, {.axes = 1}},
            .arg = {
                {"w", w, .unit = 2, .off_at = PLAIN_AT(w_half), .size = n_rows * rb}, /* one binding */
                {"ids", ids, .types = VKSLM_OP_I32, .off_at = PLAIN_AT(x_off), .step = {4}, .size = 4},
                {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = PLAIN_AT(d_off), .step = {k * 4}, .size = k * 4},
            },
            .bytes = bytes,
        };
        return vkslm_op_record(c, &op);
    }
    VKSLM_TRY(vkslm_weights_check(name, w, &rb));
    uint32_t spec[1] = {WG};
    vkslm_get_rows_push pc = {.units = (uint32_t)(k / 32), .row_bytes = (uint32_t)rb, .n_total = (uint32_t)n_rows,
                              .tile = tile};
    vkslm_op op = {
        .name = name, .shader = shaders[w->type], .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        /* row pieces of whole tiles */
        .axis = {{.n = n, .count_at = AT(n_ids)},
                 {.n = n_rows, .multiple = tile, .whole = 1, .count_at = AT(rows), .first_at = AT(r0)}},
        .grid = {{.per = k / 32, .div = WG, .axes = 1}}, /* an invocation per 32-element unit of an id's row */
        .arg = {
            {"w", w, .unit = 1, .align = vkslm_type_info(w->type)->block_elems == 1 ? 4 : 2, .off_at = AT(w_off),
             .step = {0, rb}, .size = rb},
            {"ids", ids, .types = VKSLM_OP_I32, .off_at = AT(ids_off), .step = {4}, .size = 4},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(d_off), .step = {k * 4}, .size = k * 4},
        },
        .bytes = bytes,
    };
    return vkslm_op_record(c, &op);
}
