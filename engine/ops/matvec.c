/* Records matrix x vectors dispatches (shaders/matvec.comp), split by tokens and rows so that every
 * binding stays inside the bindable range and every group count inside the device limits. */
#include "engine/ops/matvec.h"
#include "engine/ops/weights_plain.h"

#include <stdlib.h>

#include "engine/ops/weights.h"
#include "engine/util/env.h"
#include "engine/util/error.h"

#define LANE_WG 64u       /* invocations (= rows) per workgroup, row-per-lane strategy */
#define SUBGROUPS_PER_WG 4u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Rows an invocation computes together (each x value loaded serves them all). On lavapipe every per-lane
 * load is a gather and x loads dominate: 4 rows cut a 4096x4096 Q4_0 mat-vec from 11-20 to 4.6 CPU ms.
 * GPUs keep fewer (registers). Env VKSLM_MATVEC_RPL (1..4) overrides, for measurements. */
static vkslm_status rows_together(const vkslm_vk *vk, uint32_t nvec, uint32_t *rpl) {
    uint64_t forced;
    VKSLM_TRY(vkslm_env_uint("VKSLM_MATVEC_RPL", 0, 1, 4, &forced));
    if (forced)
        *rpl = (uint32_t)forced;
    else if (vkslm_vk_is_cpu(vk))
        *rpl = 4; /* 8 vectors: 36 ms with 4 rows, 48 with 2; prefill 7.8 vs 4.2 GFLOP/s */
    else
        *rpl = nvec > 2 ? 1 : 2;
    return VKSLM_OK;
}

vkslm_status vkslm_op_matvec_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matvec_strategy strategy, uint32_t max_vec) {
    if (vkslm_weights_need_plain(w))
        return vkslm_op_matvec_plain(c, d, w, x, bias);
    vkslm_product_shape s;
    VKSLM_TRY(vkslm_weights_check_product("matvec", d, w, x, bias, &s));
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    int have_reduce = (caps->subgroup_ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                      (caps->subgroup_ops & VK_SUBGROUP_FEATURE_BASIC_BIT);
    if (strategy == VKSLM_MATVEC_AUTO)
        strategy = vkslm_vk_is_cpu(vk) || !have_reduce ? VKSLM_MATVEC_ROW_PER_LANE : VKSLM_MATVEC_ROW_PER_SUBGROUP;
    if (strategy == VKSLM_MATVEC_ROW_PER_SUBGROUP && !have_reduce)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "matvec: the device has no subgroup arithmetic in compute");
    if (max_vec == 0 || max_vec > VKSLM_MATVEC_MAX_VEC)
        max_vec = VKSLM_MATVEC_MAX_VEC;
    uint32_t nvec = (uint32_t)min_u64(s.m, max_vec);

    int per_lane = strategy == VKSLM_MATVEC_ROW_PER_LANE;
    uint32_t sg = caps->subgroup_size ? caps->subgroup_size : 32;
    uint32_t local = per_lane ? LANE_WG : sg * SUBGROUPS_PER_WG;
    while (local > caps->max_workgroup_invocations && local > 1)
        local /= 2;
    uint32_t rpl;
    VKSLM_TRY(rows_together(vk, nvec, &rpl));
    if (per_lane) {
        /* enough workgroups to keep every core of a CPU device busy on small matrices: at least 8 per
         * dispatch, workgroups no smaller than a subgroup (576 rows: 9 groups of 16, not 3 of 64) */
        while (local > sg && (s.n + (uint64_t)local * rpl - 1) / ((uint64_t)local * rpl) < 8)
            local /= 2;
    }
    uint32_t rows_per_wg = (per_lane ? local : (local / sg ? local / sg : 1)) * rpl;
    uint32_t spec[5] = {local, nvec, per_lane ? 1u : 0u, rows_per_wg, rpl};
    char variant[32];
    vkslm_weights_variant(variant, sizeof variant, "matvec", w->type);
    const vkslm_pipeline *p;
    VKSLM_TRY(vkslm_vk_pipeline(vk, variant, 4, sizeof(vkslm_product_push), spec, 5, &p));

    return vkslm_weights_record_product(c, p, d, w, x, bias, &s, rows_per_wg, nvec, "matvec");
}

vkslm_status vkslm_op_matvec(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias) {
    return vkslm_op_matvec_ex(c, d, w, x, bias, VKSLM_MATVEC_AUTO, 0);
}
