/* Records prefill matmuls: the shared-memory tiled kernel (shaders/matmul.comp) or the register-tiled
 * mat-vec kernel, chosen by device type (measured on lavapipe: see the commit message). */
#include "engine/ops/matmul.h"
#include "engine/ops/weights_plain.h"

#include "engine/ops/matvec.h"
#include "engine/ops/weights.h"
#include "engine/util/error.h"

#define TILE_ROWS 64u /* must match shaders/matmul.comp */
#define TILE_TOKS 32u
#define TILE_INVOCATIONS 128u

vkslm_status vkslm_op_matmul_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matmul_kernel kernel) {
    if (vkslm_weights_need_plain(w))
        return vkslm_op_matvec_plain(c, d, w, x, bias);
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    if (kernel == VKSLM_MATMUL_AUTO)
        kernel = vkslm_vk_is_cpu(vk) ? VKSLM_MATMUL_REGISTER : VKSLM_MATMUL_TILED;
    if (kernel == VKSLM_MATMUL_TILED && caps->max_workgroup_invocations < TILE_INVOCATIONS)
        kernel = VKSLM_MATMUL_REGISTER;
    if (kernel == VKSLM_MATMUL_REGISTER)
        return vkslm_op_matvec_ex(c, d, w, x, bias, VKSLM_MATVEC_ROW_PER_LANE, VKSLM_MATVEC_MAX_VEC);
    vkslm_product_shape s;
    VKSLM_TRY(vkslm_weights_check_product("matmul", d, w, x, bias, &s));
    char variant[32];
    vkslm_weights_variant(variant, sizeof variant, "matmul", w->type);
    const vkslm_pipeline *p;
    uint32_t spec[1] = {TILE_INVOCATIONS};
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, 4, sizeof(vkslm_product_push), spec, 1, &p));
    return vkslm_weights_record_product(c, p, d, w, x, bias, &s, TILE_ROWS, TILE_TOKS, "matmul");
}

vkslm_status vkslm_op_matmul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias) {
    return vkslm_op_matmul_ex(c, d, w, x, bias, VKSLM_MATMUL_AUTO);
}
