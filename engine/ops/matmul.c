/* Weight products (shaders/matmul_vec.comp, shaders/matmul.comp, shaders/matmul_plain.comp): the kernel choice,
 * then one declaration for all of them: tokens along axis 0, weight rows along axis 1. */
#include "engine/ops/matmul.h"

#include "engine/ops/op.h"

#define LANE_WG 64u       /* invocations (= rows) per workgroup, row-per-lane strategy */
#define SUBGROUPS_PER_WG 4u
#define TILE_ROWS 64u     /* must match shaders/matmul.comp */
#define TILE_TOKS 32u
#define TILE_INVOCATIONS 128u
#define PLAIN_WG 64u
#define AT(field) VKSLM_OP_PUSH(vkslm_product_push, field)
#define PLAIN_AT(field) VKSLM_OP_PUSH(vkslm_plain_push, field)

#define WEIGHT_SHADERS(OP)                                                                                         \
    {                                                                                                              \
        [VKSLM_TYPE_F32] = VKSLM_SHADER_##OP##_F32, [VKSLM_TYPE_F16] = VKSLM_SHADER_##OP##_F16,                    \
        [VKSLM_TYPE_BF16] = VKSLM_SHADER_##OP##_BF16, [VKSLM_TYPE_Q4_0] = VKSLM_SHADER_##OP##_Q4_0,                \
        [VKSLM_TYPE_Q4_1] = VKSLM_SHADER_##OP##_Q4_1, [VKSLM_TYPE_Q5_0] = VKSLM_SHADER_##OP##_Q5_0,                \
        [VKSLM_TYPE_Q5_1] = VKSLM_SHADER_##OP##_Q5_1, [VKSLM_TYPE_Q8_0] = VKSLM_SHADER_##OP##_Q8_0,                \
        [VKSLM_TYPE_Q2_K] = VKSLM_SHADER_##OP##_Q2_K, [VKSLM_TYPE_Q3_K] = VKSLM_SHADER_##OP##_Q3_K,                \
        [VKSLM_TYPE_Q4_K] = VKSLM_SHADER_##OP##_Q4_K, [VKSLM_TYPE_Q5_K] = VKSLM_SHADER_##OP##_Q5_K,                \
        [VKSLM_TYPE_Q6_K] = VKSLM_SHADER_##OP##_Q6_K, [VKSLM_TYPE_IQ4_NL] = VKSLM_SHADER_##OP##_IQ4_NL,            \
        [VKSLM_TYPE_IQ4_XS] = VKSLM_SHADER_##OP##_IQ4_XS,                                                          \
    }
static const vkslm_shader_id vec_shaders[VKSLM_TYPE_COUNT] = WEIGHT_SHADERS(MATMUL_VEC);
static const vkslm_shader_id texel_shaders[VKSLM_TYPE_COUNT] = WEIGHT_SHADERS(MATMUL_VEC_TEXEL);
static const vkslm_shader_id tiled_shaders[VKSLM_TYPE_COUNT] = WEIGHT_SHADERS(MATMUL);

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* K, N, M: reduction, weight rows, vectors */
typedef struct shape {
    uint64_t k, n, m, row_bytes;
} shape;

static vkslm_status check_shape(const char *name, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, shape *s) {
    s->k = w->ne[0];
    s->n = vkslm_dim(w, 1);
    s->m = vkslm_dim(x, 1);
    if (w->ne[2] > 1 || w->ne[3] > 1 || x->ne[2] > 1 || x->ne[3] > 1 || d->ne[2] > 1 || d->ne[3] > 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: only 2-D tensors", name);
    if (x->ne[0] != s->k || d->ne[0] != s->n || vkslm_dim(d, 1) != s->m)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x is %llux%llu and d %llux%llu for a weight of %llu x %llu", name,
                          (unsigned long long)x->ne[0], (unsigned long long)s->m, (unsigned long long)d->ne[0],
                          (unsigned long long)vkslm_dim(d, 1), (unsigned long long)s->k, (unsigned long long)s->n);
    if (bias && vkslm_tensor_nelems(bias) != s->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: bias has %llu elements, expected %llu", name,
                          (unsigned long long)vkslm_tensor_nelems(bias), (unsigned long long)s->n);
    if (s->k > UINT32_MAX || s->n > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: a weight of %llu x %llu is too large", name, (unsigned long long)s->k,
                          (unsigned long long)s->n);
    return VKSLM_OK;
}

/* The mat-vec kernel's shape: invocations per workgroup, rows per workgroup and per invocation. */
typedef struct vec_plan {
    uint32_t local, rows_per_wg, rpl;
} vec_plan;

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* texel: the texel-buffer variant (row per lane, x outer, up to TEXEL_RPL rows per invocation); small_blocks:
 * weights in blocks of 32 elements (no K-quant state kept between units) */
#define TEXEL_RPL 32u
#define STORAGE_RPL 4u
/* The texel kernel's RUN (shaders/matmul_vec.comp): the h rows of an invocation (h of each of gate and up with glu_out)
 * lie side by side in a tile, so their blocks of a unit make a run of whole texels from a 16-byte boundary, fetched
 * once: blocks of 32 elements (18 to 34 bytes, one unit each), tiles of h rows or a multiple, the weights on 16 bytes.
 * lavapipe, 8 rows of Q4_0: 9 texel fetches a unit instead of 16. */
static int run_ok(const vkslm_vk *vk, const vkslm_tensor *w, uint32_t h) {
    const uint32_t t = w->type, bytes = vkslm_type_info(t)->block_bytes;
    return vkslm_vk_get_enabled(vk)->weight_runs && w->tile > 1 && h && w->tile % h == 0 &&
           (t == VKSLM_TYPE_Q4_0 || t == VKSLM_TYPE_IQ4_NL || t == VKSLM_TYPE_Q4_1 || t == VKSLM_TYPE_Q5_0 ||
            t == VKSLM_TYPE_Q5_1 || t == VKSLM_TYPE_Q8_0) &&
           (uint64_t)h * bytes % 16 == 0 && (w->buf->offset + w->offset) % 16 == 0;
}

static vec_plan plan_vec(const vkslm_vk *vk, int per_lane, int texel, int small_blocks, uint32_t nvec,
                         uint64_t n_rows) {
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    vec_plan v;
    uint32_t sg = caps->subgroup_size ? caps->subgroup_size : 32;
    /* the texel variant: a subgroup per workgroup (as fast as 64 invocations, and one pipeline for any row
     * count: 576 x 49152 Q4_0, 8 vectors, 20.5 vs 22.0 CPU ms) */
    v.local = texel ? sg : per_lane ? LANE_WG : sg * SUBGROUPS_PER_WG;
    while (v.local > caps->max_workgroup_invocations && v.local > 1)
        v.local /= 2;
    /* rows an invocation computes together (each x value it loads serves them all). On lavapipe every
     * per-lane load is a gather and x loads dominate: 4 rows cut a 4096x4096 Q4_0 mat-vec from 11-20 to 4.6
     * CPU ms (8 vectors: 36 ms with 4 rows, 48 with 2; prefill 7.8 vs 4.2 GFLOP/s). GPUs keep fewer
     * (registers). The texel variant fetches x once per unit for all its rows: 16 rows where that still
     * leaves 8 workgroups of a subgroup, else 8 or 4 (lavapipe, 576 x 49152, CPU ms for 1 / 8 vectors:
     * Q8_0 10.5 / 18.6 with 16 rows, 12.8 / 22.5 with 8; Q4_0, 8 vectors: 21.4 with 16, 23.9 with 8, 28.8
     * with 4). More rows cost compile time (16 rows: twice the 4 rows of the storage variant) for a few
     * per cent. With 4 or more vectors, 32-element blocks take 32 rows where that leaves 32 workgroups: with 8
     * vectors an invocation fetches more x texels than weight texels (every fetch is eight 16-byte loads and
     * a transpose: a third of the time in a profile), so halving them per row is worth twice the registers
     * and compile time (lavapipe: about 0.7 s more per pipeline, then cached; interleaved
     * CPU ms for 8 vectors, 32 vs 16 rows: Q4_0 576x49152 16.1 vs 17.6 and 19.2, Q8_0 19.1 vs
     * 22.5; 576x3072 (12 workgroups) about even; 1 to 3 vectors gain nothing; Q4_K, whose rows keep block
     * state between units, gains nothing either).
     * VKSLM_MATVEC_RPL (read at device open) forces it, for measurements. */
    uint32_t forced = vkslm_vk_get_enabled(vk)->matvec_rpl;
    if (texel)
        v.rpl = small_blocks && nvec >= 4 && n_rows >= 32ull * sg * 32 ? 32u
                : n_rows >= 8ull * sg * 16                            ? 16u
                : n_rows >= 8ull * sg * 8                             ? 8u
                                                                      : 4u;
    else
        v.rpl = vkslm_vk_is_cpu(vk) ? 4u : nvec > 2 ? 1u : 2u;
    if (forced)
        v.rpl = min_u32(forced, texel ? TEXEL_RPL : STORAGE_RPL);
    if (per_lane) /* at least 8 workgroups to keep the cores of a CPU device busy on small matrices, none
                   * smaller than a subgroup (576 rows: 9 groups of 16, not 3 of 64) */
        while (v.local > sg && (n_rows + (uint64_t)v.local * v.rpl - 1) / ((uint64_t)v.local * v.rpl) < 8)
            v.local /= 2;
    v.rows_per_wg = (per_lane ? v.local : (v.local / sg ? v.local / sg : 1)) * v.rpl;
    return v;
}

/* Plain float rows of any length: a row per invocation. */
static vkslm_status record_plain(vkslm_cmd *c, const char *name, const vkslm_tensor *d, const vkslm_tensor *w,
                                 const vkslm_tensor *x, const vkslm_tensor *bias, const shape *s) {
    static const uint32_t spec[1] = {PLAIN_WG};
    uint64_t rb = vkslm_type_row_bytes(w->type, s->k);
    vkslm_plain_push pc = {.k = (uint32_t)s->k, .row_halves = (uint32_t)(rb / 2), .x_stride = (uint32_t)s->k,
                           .d_stride = (uint32_t)s->n, .has_bias = bias != NULL};
    vkslm_op op = {
        .name = name, .spec = spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        .shader = w->type == VKSLM_TYPE_F32   ? VKSLM_SHADER_MATMUL_PLAIN_F32
                  : w->type == VKSLM_TYPE_F16 ? VKSLM_SHADER_MATMUL_PLAIN_F16
                                              : VKSLM_SHADER_MATMUL_PLAIN_BF16,
        .axis = {{.n = s->m, .count_at = PLAIN_AT(n_vec)}, {.n = s->n, .count_at = PLAIN_AT(rows)}},
        .grid = {{.div = PLAIN_WG, .axes = 2}, {.axes = 1}},
        .arg = {
            {"w", w, .unit = 2, .off_at = PLAIN_AT(w_half), .step = {0, rb}, .size = rb},
            {"x", x, .types = VKSLM_OP_F32, .off_at = PLAIN_AT(x_off), .step = {s->k * 4}, .size = s->k * 4},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = PLAIN_AT(d_off), .step = {s->n * 4, 4}, .size = 4},
            {"bias", bias, .optional = 1, .types = VKSLM_OP_F32, .off_at = PLAIN_AT(b_off), .step = {0, 4}, .size = 4},
        },
        .bytes = (double)rb * s->n + 4.0 * (s->k * s->m + s->n * s->m), .flops = 2.0 * s->k * s->n * s->m,
    };
    return vkslm_op_record(c, &op);
}

/* The texel mat-vec kernel's conditions: a CPU device with texel buffers, a weight in 32-element units. */
static int texel_kernel(vkslm_vk *vk, const vkslm_tensor *w) {
    return vkslm_vk_is_cpu(vk) && vkslm_vk_get_enabled(vk)->texel_buffers && w && w->type < VKSLM_TYPE_COUNT &&
           !vkslm_weights_need_plain(w);
}

/* f: the fusions (texel kernel only), or NULL; with glu x holds the rows [gate | up] of twice the weight's K */
static vkslm_status product(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                            const vkslm_tensor *bias, vkslm_matmul_kernel kernel, uint32_t max_vec,
                            const vkslm_matmul_fuse *f) {
    VKSLM_TRY(VKSLM_OP_PRESENT("matmul", d, w, x));
    shape s;
    const char *name = vkslm_dim(x, 1) <= VKSLM_MATMUL_MAX_VEC ? "matvec" : "matmul";
    const vkslm_matmul_fuse none = {0};
    if (!f)
        f = &none;
    const uint32_t glu = f->glu, glu_out = f->glu_out;
    const int x8_in = x->type == VKSLM_TYPE_I32, x8_out = f->x8_out != NULL;
    const int fused = glu || glu_out || f->norm || f->add || f->d_stride || x8_in || x8_out;
    if (x8_in && (glu || !f->norm != !f->norm_x))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x in 8 bits goes with no gated activation, and with the norm only "
                          "given the norm's input as floats", name);
    if (f->norm_x && !x8_in)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the norm's input as floats goes only with x in 8 bits", name);
    if (f->x8_g && !x8_out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: weights for the output in 8 bits go only with that output", name);
    if (glu > 2 || (glu && f->norm))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the gated activation is %u (0, 1 or 2)%s", name, glu,
                          glu && f->norm ? " and cannot go with the norm" : "");
    if (glu_out > 2)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the gated activation of the output is %u (0, 1 or 2)", name,
                          glu_out);
    if (glu_out && (glu || f->add || bias))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the gated activation of the output goes with neither the "
                          "input's, the add nor a bias", name);
    if (glu_out && vkslm_dim(w, 1) != 2 * d->ne[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the gated activation of the output needs a weight of twice d's "
                          "%llu rows ([gate | up]); it has %llu", name, (unsigned long long)d->ne[0],
                          (unsigned long long)vkslm_dim(w, 1));
    vkslm_tensor dd = *d; /* with glu_out: d as if it held the gate and up rows, for the checks */
    if (glu_out)
        dd.ne[0] = 2 * d->ne[0];
    vkslm_tensor xk = *x; /* with glu: the gate half's shape, for the checks */
    if (glu) {
        if (x->ne[0] % 2 || x->ne[0] / 2 % 4)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the rows [gate | up] of %llu elements do not split into "
                              "two halves of whole 16-byte groups", name, (unsigned long long)x->ne[0]);
        xk.ne[0] = x->ne[0] / 2;
    }
    if (x8_in) { /* x's shape as floats: K from w, M from d (x's rows are pairs of vectors) */
        if (x->ne[0] != vkslm_x8_pair_ints(w->ne[0]) || w->ne[0] % 32 || x->ne[2] > 1 || x->ne[3] > 1 ||
            vkslm_dim(x, 1) < vkslm_x8_pairs(vkslm_dim(d, 1)))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x in 8 bits is %llux%llu integers; a weight of K = %llu and "
                              "%llu vectors need %llu x %llu (pairs)", name, (unsigned long long)x->ne[0],
                              (unsigned long long)vkslm_dim(x, 1), (unsigned long long)w->ne[0],
                              (unsigned long long)vkslm_dim(d, 1), (unsigned long long)vkslm_x8_pair_ints(w->ne[0]),
                              (unsigned long long)vkslm_x8_pairs(vkslm_dim(d, 1)));
        xk.type = VKSLM_TYPE_F32;
        xk.ne[0] = w->ne[0];
        xk.ne[1] = vkslm_dim(d, 1);
    }
    VKSLM_TRY(check_shape(name, &dd, w, &xk, bias, &s));
    const uint64_t n_out = glu_out ? s.n / 2 : s.n; /* d's rows */
    const uint64_t d_stride = f->d_stride ? f->d_stride : n_out;
    if (d_stride < n_out || d_stride > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: rows of d %llu elements apart hold no %llu outputs", name,
                          (unsigned long long)d_stride, (unsigned long long)n_out);
    uint32_t tile;
    VKSLM_TRY(vkslm_weights_tile(name, w, &tile));
    if (vkslm_weights_need_plain(w) && !fused)
        return record_plain(c, name, d, w, x, bias, &s);
    VKSLM_TRY(vkslm_weights_check(name, w, &s.row_bytes));
    vkslm_vk *vk = vkslm_cmd_vk(c);
    if (fused && !texel_kernel(vk, w))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: the %s is fused only into the texel mat-vec (CPU devices with "
                          "texel buffers)", name, glu || glu_out ? "gated activation" : f->norm ? "norm" :
                          f->add ? "residual add" : x8_in || x8_out ? "8-bit x" : "strided output");
    if ((x8_in || x8_out) && !vkslm_vk_get_enabled(vk)->x8_products)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: this device takes and writes no x in 8 bits (VKSLM_DISABLE_X8)",
                          name);
    if (x8_in && !vkslm_op_matmul_x8_type(vk, w))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: this device's products with %s weights take no x in 8 bits", name,
                          vkslm_type_info(w->type)->name);
    if (f->norm_x)
        VKSLM_TRY(vkslm_op_check(name, "norm's input", f->norm_x, VKSLM_OP_F32, s.k * s.m));
    if (f->x8_g)
        VKSLM_TRY(vkslm_op_check(name, "weights of the output in 8 bits", f->x8_g, VKSLM_OP_F32, n_out));
    if (x8_out && (n_out % 32 || f->x8_out->type != VKSLM_TYPE_I32 || f->x8_out->ne[0] != vkslm_x8_pair_ints(n_out) ||
                   vkslm_dim(f->x8_out, 1) < vkslm_x8_pairs(s.m)))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the output in 8 bits needs rows of a multiple of 32 (%llu) and an "
                          "I32 tensor of %llu x %llu (pairs)", name, (unsigned long long)n_out,
                          (unsigned long long)vkslm_x8_pair_ints(n_out), (unsigned long long)vkslm_x8_pairs(s.m));
    if (glu_out && n_out % tile)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: the up rows of a [gate | up] weight start inside a tile of %u "
                          "rows", name, tile);
    if (f->norm) {
        VKSLM_TRY(vkslm_op_check(name, "norm", f->norm, VKSLM_OP_F32, s.k));
        if (!(f->eps >= 0.0f))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: the norm's epsilon %g is not a number >= 0", name,
                              (double)f->eps);
    }
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    int cpu = vkslm_vk_is_cpu(vk), reduce = vkslm_op_need_subgroups(vk, name) == VKSLM_OK;
    if (fused)
        kernel = VKSLM_MATMUL_ROW_PER_LANE;
    if (kernel == VKSLM_MATMUL_AUTO && s.m <= VKSLM_MATMUL_MAX_VEC)
        kernel = cpu || !reduce || (caps->quirk_mask & VKSLM_QUIRK_SCALAR_MATVEC) ? VKSLM_MATMUL_ROW_PER_LANE
                                                                                : VKSLM_MATMUL_ROW_PER_SUBGROUP;
    else if (kernel == VKSLM_MATMUL_AUTO)
        kernel = cpu ? VKSLM_MATMUL_ROW_PER_LANE : VKSLM_MATMUL_TILED;
    if (kernel == VKSLM_MATMUL_TILED && caps->max_workgroup_invocations < TILE_INVOCATIONS)
        kernel = VKSLM_MATMUL_ROW_PER_LANE;
    if (kernel == VKSLM_MATMUL_ROW_PER_SUBGROUP && !reduce)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "%s: the device has no subgroup arithmetic in compute", name);
    if (kernel == VKSLM_MATMUL_TILED && tile > 1)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: the shared-memory tiled kernel reads weights row after row, "
                          "not in tiles of %u rows", name, tile);

    uint32_t spec[12], n_spec, rows_per_wg, toks_per_wg;
    int texel = 0;
    vkslm_shader_id shader;
    if (kernel == VKSLM_MATMUL_TILED) {
        shader = tiled_shaders[w->type];
        spec[0] = TILE_INVOCATIONS;
        n_spec = 1;
        rows_per_wg = TILE_ROWS;
        toks_per_wg = TILE_TOKS;
    } else {
        int per_lane = kernel == VKSLM_MATMUL_ROW_PER_LANE;
        uint32_t nvec = (uint32_t)min_u64(s.m, max_vec && max_vec < VKSLM_MATMUL_MAX_VEC ? max_vec
                                                                                          : VKSLM_MATMUL_MAX_VEC);
        texel = per_lane && cpu && vkslm_vk_get_enabled(vk)->texel_buffers;
        /* pairs of vectors in 8 bits start at even vectors: so do the groups of nvec */
        if ((x8_in || x8_out) && nvec % 2 && nvec < s.m)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x or d in 8 bits takes vectors in pairs: groups of %u vectors "
                              "would split them", name, nvec);
        vec_plan v = plan_vec(vk, per_lane, texel, vkslm_type_info(w->type)->block_elems == 32, nvec, s.n);
        if (x8_out) { /* the lanes of a subgroup hold a 32-row block of outputs together (quant_out) */
            uint32_t sg = caps->subgroup_size ? caps->subgroup_size : 32, rpl = 32 / sg * (glu_out ? 2 : 1);
            while (rpl < v.rpl) /* a power of two: a lane's outputs divide a block */
                rpl *= 2;
            v.rpl = rpl;
            if (v.local % sg || v.rpl > TEXEL_RPL)
                return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "%s: the output in 8 bits needs whole subgroups of %u lanes "
                                  "or more", name, 32u / (TEXEL_RPL / (glu_out ? 2 : 1)));
            v.rows_per_wg = v.local * v.rpl;
        }
        if (glu_out) { /* an invocation takes RPL / 2 outputs: as many gate rows and up rows */
            v.rpl = v.rpl < 2 ? 2 : v.rpl & ~1u;
            v.rows_per_wg = v.local * (v.rpl / 2);
        }
        shader = texel ? texel_shaders[w->type] : vec_shaders[w->type];
        spec[0] = v.local, spec[1] = nvec, spec[2] = (uint32_t)per_lane, spec[3] = v.rows_per_wg, spec[4] = v.rpl;
        spec[5] = glu;
        /* Q4_K and Q5_K blocks (144, 176 bytes) on 16 bytes: whole texels (rows and tiles, multiples of the
         * block, keep the weight's alignment) */
        spec[6] = (w->type == VKSLM_TYPE_Q4_K || w->type == VKSLM_TYPE_Q5_K) && (w->buf->offset + w->offset) % 16 == 0;
        spec[7] = f->norm != NULL;
        spec[8] = glu_out;
        spec[9] = x8_in;
        spec[10] = x8_out;
        spec[11] = texel && run_ok(vk, w, glu_out ? v.rpl / 2 : v.rpl);
        n_spec = texel ? 12 : 5;
        rows_per_wg = v.rows_per_wg;
        toks_per_wg = nvec;
    }
    /* bytes of a vector's x row (with glu, gate and up); in 8 bits half a pair's row, and one vector binds its pair's
     * whole row where the vectors end on a pair's first */
    uint64_t xk4 = x8_in ? x->ne[0] * 2 : x->ne[0] * 4, x_size = x8_in && s.m % 2 ? 2 * xk4 : xk4;
    uint64_t q_half = x8_out ? f->x8_out->ne[0] * 2 : 0, q_size = s.m % 2 ? 2 * q_half : q_half;
    vkslm_product_push pc = {.units = (uint32_t)(s.k / 32), .row_bytes = (uint32_t)s.row_bytes,
                             .x_stride = (uint32_t)(x->ne[0] / 4), .d_stride = (uint32_t)d_stride, .has_bias = bias != NULL,
                             .pad = glu ? (uint32_t)(s.k / 4) : glu_out ? (uint32_t)n_out : 0, .eps = f->eps, .tile = tile,
                             .fuse = (f->add ? 2u : 0u) | (f->x8_g ? 4u : 0u), .q_stride = (uint32_t)(2 * q_half / 4),
                             .xf_stride = (uint32_t)(s.k / 4)};
    if (x8_in)
        pc.x_stride = (uint32_t)(2 * xk4 / 16); /* texels of a pair's row */
    vkslm_op op = {
        .name = name, .shader = shader, .spec = spec, .n_spec = n_spec, .push = &pc, .push_size = sizeof pc,
        /* row pieces of whole tiles (and whole workgroups: the pieces' rows restart the tiles) */
        .axis = {{.n = s.m, .multiple = x8_in || x8_out ? 2 : 0, .count_at = AT(n_vec)},
                 {.n = n_out, .multiple = tile, .whole = 1, .count_at = AT(rows), .first_at = AT(r_first)}},
        .grid = {{.div = rows_per_wg, .axes = 2}, {.div = toks_per_wg, .axes = 1}},
        .arg = {
            /* quantized blocks are read as words at any even byte offset, plain floats as aligned words */
            {"w", w, .unit = 1, .align = vkslm_type_info(w->type)->block_elems == 1 ? 4 : 2, .off_at = AT(w_off),
             .step = {0, s.row_bytes}, .size = (glu_out ? n_out + 1 : 1) * s.row_bytes, .texel = texel},
            {"x", x, .types = x8_in ? VKSLM_OP_I32 : VKSLM_OP_F32, .unit = 16, .off_at = AT(x_off), .step = {xk4},
             .size = x_size, .texel = texel},
            {"d", d, .write = 1, .types = VKSLM_OP_F32, .off_at = AT(d_off), .step = {d_stride * 4, 4}, .size = 4},
            {"bias", bias, .optional = 1, .types = VKSLM_OP_F32, .off_at = AT(b_off), .step = {0, 4}, .size = 4},
            /* the texel kernel's binding 4: the norm's weights (absent: w stands in, unread) */
            {texel ? "norm" : NULL, f->norm, .optional = 1, .types = VKSLM_OP_F32, .unit = 16, .off_at = AT(g_off),
             .size = s.k * 4, .texel = 1},
            /* binding 5: the output in 8 bits (absent: d stands in, unwritten) */
            {texel ? "x8_out" : NULL, f->x8_out, .optional = 1, .write = x8_out, .types = VKSLM_OP_I32,
             .off_at = AT(q_off), .step = {q_half}, .size = q_size},
            /* binding 6: x as floats for the norm; 7: the weights of the output in 8 bits (the whole rows) */
            {texel ? "norm_x" : NULL, f->norm_x, .optional = 1, .types = VKSLM_OP_F32, .unit = 16, .off_at = AT(xf_off),
             .step = {s.k * 4}, .size = s.k * 4, .texel = 1},
            {texel ? "x8_g" : NULL, f->x8_g, .optional = 1, .types = VKSLM_OP_F32, .unit = 16, .off_at = AT(go_off),
             .size = n_out * 4, .texel = 1},
        },
        .bytes = (double)s.row_bytes * s.n + (double)xk4 * s.m + 4.0 * (f->add ? 2.0 : 1.0) * n_out * s.m + q_half * s.m,
        .flops = 2.0 * s.k * s.n * s.m,
    };
    return vkslm_op_record(c, &op);
}

vkslm_status vkslm_op_matmul_ex(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                const vkslm_tensor *bias, vkslm_matmul_kernel kernel, uint32_t max_vec) {
    return product(c, d, w, x, bias, kernel, max_vec, NULL);
}

vkslm_status vkslm_op_matmul_fused(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                                   const vkslm_tensor *bias, const vkslm_matmul_fuse *f, uint32_t max_vec) {
    return product(c, d, w, x, bias, VKSLM_MATMUL_ROW_PER_LANE, max_vec, f);
}

int vkslm_op_matmul_glu_fusable(vkslm_vk *vk, const vkslm_tensor *w) { return texel_kernel(vk, w); }

int vkslm_op_matmul_x8_type(vkslm_vk *vk, const vkslm_tensor *w) {
    return texel_kernel(vk, w) && vkslm_vk_get_enabled(vk)->x8_products &&
           (w->type == VKSLM_TYPE_Q4_0 || w->type == VKSLM_TYPE_Q4_1 || w->type == VKSLM_TYPE_Q4_K ||
            w->type == VKSLM_TYPE_Q5_0 || w->type == VKSLM_TYPE_Q5_1 || w->type == VKSLM_TYPE_Q6_K);
}

int vkslm_op_matmul_glu_out_fusable(vkslm_vk *vk, const vkslm_tensor *w) {
    const uint64_t n = vkslm_dim(w, 1), rb = vkslm_type_row_bytes(w->type, w->ne[0]);
    const uint32_t tile = w->tile > 1 ? w->tile : 1;
    return texel_kernel(vk, w) && n % 2 == 0 && n / 2 % tile == 0 && rb && vkslm_op_fit(vk, rb, (n / 2 + 1) * rb) > 0;
}

int vkslm_op_matmul_norm_fusable(vkslm_vk *vk, const vkslm_tensor *w, const vkslm_tensor *norm) {
    return texel_kernel(vk, w) && norm && norm->buf && norm->type == VKSLM_TYPE_F32 &&
           vkslm_tensor_nelems(norm) >= w->ne[0] && (norm->buf->offset + norm->offset) % 16 == 0;
}

vkslm_status vkslm_op_matmul_glu(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *gu,
                                 int gelu, uint32_t max_vec) {
    const vkslm_matmul_fuse f = {.glu = gelu ? 2u : 1u};
    return product(c, d, w, gu, NULL, VKSLM_MATMUL_ROW_PER_LANE, max_vec, &f);
}

vkslm_status vkslm_op_matmul(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *w, const vkslm_tensor *x,
                             const vkslm_tensor *bias) {
    return vkslm_op_matmul_ex(c, d, w, x, bias, VKSLM_MATMUL_AUTO, 0);
}

/* ---- x in 8 bits from f32 rows (shaders/quantize_x8.comp) ----------------------------------------------------- */
typedef struct x8_push {
    uint32_t units, n_vec, x_off, x_stride, q_off, q_stride, g_off, has_g;
} x8_push;
#define X8_AT(field) VKSLM_OP_PUSH(x8_push, field)
#define X8_WG 64u

vkslm_status vkslm_op_quantize_x8(vkslm_cmd *c, const vkslm_tensor *q, const vkslm_tensor *x, const vkslm_tensor *g) {
    const char *name = "quantize_x8";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, q, x));
    const uint64_t k = vkslm_dim(x, 0), m = vkslm_dim(x, 1);
    if (k % 32 || vkslm_dim(x, 2) != 1 || vkslm_dim(x, 3) != 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x must be rows {K, m} of a multiple of 32 elements", name);
    if (vkslm_dim(q, 0) != vkslm_x8_pair_ints(k) || vkslm_dim(q, 1) != vkslm_x8_pairs(m) || vkslm_dim(q, 2) != 1 ||
        vkslm_dim(q, 3) != 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: q must be {%llu, %llu} (vkslm_x8)", name,
                          (unsigned long long)vkslm_x8_pair_ints(k), (unsigned long long)vkslm_x8_pairs(m));
    if ((x->buf->offset + x->offset) % 16u)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: x must start on 16 bytes", name);
    if (g) /* (its 16-byte alignment: the binding's unit) */
        VKSLM_TRY(vkslm_op_check(name, "g", g, VKSLM_OP_F32, k));
    const uint64_t work = vkslm_x8_pairs(m) * (k / 32), qints = vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m);
    if (work > UINT32_MAX || qints > UINT32_MAX || k * m / 4 > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: %llu x %llu elements are too many", name, (unsigned long long)k,
                          (unsigned long long)m);
    uint32_t spec[1] = {X8_WG};
    x8_push pc = {.units = (uint32_t)(k / 32), .n_vec = (uint32_t)m, .x_stride = (uint32_t)(k / 4),
                  .q_stride = (uint32_t)vkslm_x8_pair_ints(k), .has_g = g != NULL};
    vkslm_op op = {
        .name = name, .shader = VKSLM_SHADER_QUANTIZE_X8, .spec = spec, .n_spec = 1, .push = &pc,
        .push_size = sizeof pc, .grid = {{.per = work, .div = X8_WG}},
        .arg = {
            {"x", x, .types = VKSLM_OP_F32, .unit = 16, .off_at = X8_AT(x_off), .size = k * m * 4},
            {"q", q, .write = 1, .types = VKSLM_OP_I32, .off_at = X8_AT(q_off), .size = qints * 4},
            {"g", g, .optional = 1, .types = VKSLM_OP_F32, .unit = 16, .off_at = X8_AT(g_off), .size = k * 4},
        },
        .bytes = (double)k * m * 4 + (double)qints * 4, .flops = 3.0 * (double)k * m,
    };
    return vkslm_op_record(c, &op);
}
