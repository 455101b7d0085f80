/* Records softmax (shaders/softmax.comp) and top-k / argmax passes (shaders/topk.comp). */
#include "engine/ops/select.h"

#include "engine/ops/op_util.h"

#define WG_SOFTMAX 256u
#define WG_TOPK 32u
#define WG_ARGMAX 64u
/* Entries one top-k invocation reduces to k (> 16 * VKSLM_TOPK_MAX keeps passes few), and one argmax
 * workgroup reduces to 1. */
#define CHUNK_TOPK 1024u
#define CHUNK_ARGMAX 4096u
static uint64_t chunk_of(uint32_t k) { return k == 1 ? CHUNK_ARGMAX : CHUNK_TOPK; }

vkslm_status vkslm_op_softmax(vkslm_cmd *c, const vkslm_tensor *d, const vkslm_tensor *a, float scale) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    VKSLM_TRY(vkslm_op_need_subgroups(vk, "softmax"));
    if (!a || !a->ne[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "softmax: a is missing or empty");
    uint64_t n = a->ne[0], rows = vkslm_tensor_rows(a);
    VKSLM_TRY(vkslm_op_check("softmax", "a", a, VKSLM_TYPE_F32, n * rows));
    VKSLM_TRY(vkslm_op_check("softmax", "d", d, VKSLM_TYPE_F32, n * rows));
    if (vkslm_tensor_nelems(d) != n * rows || n > 0x7fffffffu)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "softmax: d and a differ in size");
    uint64_t chunk = vkslm_op_rows_fit(vk, n * 4, vkslm_vk_get_caps(vk)->max_workgroup_count[0]);
    if (chunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "softmax: one row exceeds the bindable range");
    const vkslm_pipeline *p;
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint32_t wg = WG_SOFTMAX; /* Vulkan guarantees only 128 invocations per workgroup */
    if (wg > caps->max_workgroup_size[0])
        wg = caps->max_workgroup_size[0];
    if (wg > caps->max_workgroup_invocations)
        wg = caps->max_workgroup_invocations;
    uint32_t spec[1] = {wg};
    VKSLM_TRY(vkslm_vk_pipeline(vk, "softmax", 2, sizeof(vkslm_softmax_push), spec, 1, &p));
    for (uint64_t r = 0; r < rows; r += chunk) {
        uint64_t m = rows - r < chunk ? rows - r : chunk, skip;
        vkslm_softmax_push pc = {(uint32_t)n, 0, 0, scale != 0.0f ? scale : 1.0f};
        vkslm_binding bind[2];
        VKSLM_TRY(vkslm_vk_bind(vk, a->buf, a->offset + r * n * 4, m * n * 4, 0, &bind[0], &skip));
        pc.a_off = (uint32_t)(skip / 4);
        VKSLM_TRY(vkslm_vk_bind(vk, d->buf, d->offset + r * n * 4, m * n * 4, 1, &bind[1], &skip));
        pc.d_off = (uint32_t)(skip / 4);
        VKSLM_TRY(vkslm_cmd_dispatch(c, p, bind, 2, &pc, (uint32_t)m, 1, 1, "softmax"));
    }
    return VKSLM_OK;
}

static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Entries per row after the first pass: the largest intermediate. */
static uint64_t first_out(uint64_t n, uint32_t k) { return div_up(n, chunk_of(k)) * k; }

/* The threshold pre-pass of top-k: the row splits into at most TH_GROUPS groups whose maxima (an argmax
 * pass, a workgroup per group) go through one top-k invocation; the k-th largest maximum t is a lower bound of the row's k-th
 * largest entry (k distinct entries reach it), so the first real pass skips every entry below t without
 * touching its heap. Exact whatever the data; fast when few entries tie at or above t. */
#define TH_GROUPS 256u

uint64_t vkslm_op_topk_scratch_bytes(uint64_t n, uint64_t rows, uint32_t k) {
    /* two ping-pong regions of values + ids, a final values region (argmax, or values == NULL), group
     * maxima and thresholds (values + ids) */
    return 2 * rows * first_out(n, k) * 8 + rows * k * 4 + rows * TH_GROUPS * 8 + rows * k * 8 + 64;
}

/* Where a pass reads or writes: values and ids at byte offsets of buffers, rows `stride` entries apart. */
typedef struct side {
    const vkslm_buf *vbuf, *ibuf;
    uint64_t vbyte, ibyte, stride;
    uint32_t last; /* output side of the last pass: written sorted */
} side;

/* How a pass reduces: `chunk` entries per output slot of k entries; an invocation per slot (top-k) or a
 * workgroup per slot (argmax); th: per-row thresholds (value of entry 0 of each row, rows th->stride
 * apart), or NULL. */
typedef struct pass_cfg {
    const vkslm_pipeline *p;
    int pairs, wg_per_slot;
    uint64_t chunk;
    uint32_t k;
    const side *th;
} pass_cfg;

/* One pass over rows [r0, r0 + m) and entries [c0, c0 + nc) of each row. */
static vkslm_status pass(vkslm_cmd *c, const pass_cfg *cfg, const side *in, const side *out, uint64_t r0, uint64_t m,
                         uint64_t c0, uint64_t nc) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    vkslm_topk_push pc = {0};
    vkslm_binding bind[5];
    uint32_t k = cfg->k;
    uint64_t skip, inv = div_up(nc, cfg->chunk);
    uint32_t nb = 0;
    uint64_t in_span = ((m - 1) * in->stride + nc) * 4;
    VKSLM_TRY(vkslm_vk_bind(vk, in->vbuf, in->vbyte + (r0 * in->stride + c0) * 4, in_span, 0, &bind[nb++], &skip));
    pc.in_off = (uint32_t)(skip / 4);
    if (cfg->pairs) {
        VKSLM_TRY(vkslm_vk_bind(vk, in->ibuf, in->ibyte + (r0 * in->stride + c0) * 4, in_span, 0, &bind[nb++], &skip));
        pc.ids_off = (uint32_t)(skip / 4);
    }
    uint64_t inv0 = c0 / cfg->chunk;
    uint64_t out_span = ((m - 1) * out->stride + (inv0 + inv) * k) * 4;
    VKSLM_TRY(vkslm_vk_bind(vk, out->vbuf, out->vbyte + r0 * out->stride * 4, out_span, 1, &bind[nb++], &skip));
    pc.out_off = (uint32_t)(skip / 4);
    VKSLM_TRY(vkslm_vk_bind(vk, out->ibuf, out->ibyte + r0 * out->stride * 4, out_span, 1, &bind[nb++], &skip));
    pc.oid_off = (uint32_t)(skip / 4);
    if (!cfg->pairs && !cfg->wg_per_slot) { /* topk_raw: the threshold binding */
        if (cfg->th) {
            uint64_t span = ((m - 1) * cfg->th->stride + 1) * 4;
            VKSLM_TRY(vkslm_vk_bind(vk, cfg->th->vbuf, cfg->th->vbyte + r0 * cfg->th->stride * 4, span, 0, &bind[nb++],
                                    &skip));
            pc.th_off = (uint32_t)(skip / 4);
            pc.th_stride = (uint32_t)cfg->th->stride;
            pc.use_th = 1;
        } else {
            bind[nb] = bind[0]; /* unread placeholder */
            nb++;
        }
    }
    pc.ncols = (uint32_t)nc;
    pc.in_stride = (uint32_t)in->stride;
    pc.chunk = (uint32_t)cfg->chunk;
    pc.k = k;
    pc.out_stride = (uint32_t)out->stride;
    pc.col0 = (uint32_t)c0;
    pc.inv0 = (uint32_t)inv0;
    pc.sorted = out->last;
    uint32_t groups = (uint32_t)(cfg->wg_per_slot ? inv : div_up(inv, WG_TOPK));
    return vkslm_cmd_dispatch(c, cfg->p, bind, nb, &pc, groups, (uint32_t)m, 1, k == 1 ? "argmax" : "topk");
}

/* A pass over whole rows of m entries, rows chunked by the range and the workgroup count; a row longer
 * than the range (only possible for the tensor itself, in a first pass) splits into column chunks. */
static vkslm_status pass_rows(vkslm_cmd *c, const pass_cfg *cfg, const side *in, const side *out, uint64_t m,
                              uint64_t rows) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    uint64_t row_bytes = m * 4 > out->stride * 4 ? m * 4 : out->stride * 4;
    uint64_t rchunk = vkslm_op_rows_fit(vk, row_bytes, vkslm_vk_get_caps(vk)->max_workgroup_count[1]);
    if (rchunk > 0) {
        for (uint64_t r = 0; r < rows; r += rchunk)
            VKSLM_TRY(pass(c, cfg, in, out, r, rows - r < rchunk ? rows - r : rchunk, 0, m));
        return VKSLM_OK;
    }
    uint64_t cchunk = vkslm_op_rows_fit(vk, cfg->chunk * 4, ~0ull) * cfg->chunk;
    if (cfg->pairs || cchunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "topk: the bindable range is too small");
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c0 = 0; c0 < m; c0 += cchunk)
            VKSLM_TRY(pass(c, cfg, in, out, r, 1, c0, m - c0 < cchunk ? m - c0 : cchunk));
    return VKSLM_OK;
}

/* Every pass of one selection. */
static vkslm_status run_passes(vkslm_cmd *c, const vkslm_tensor *a, uint64_t n, uint64_t rows, uint32_t k,
                               const side *final, const vkslm_buf *scratch) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_pipeline *praw, *ppairs, *pmax = NULL;
    uint32_t spec_t[1] = {WG_TOPK}, spec_a[1] = {WG_ARGMAX};
    const uint32_t *spec = k == 1 ? spec_a : spec_t;
    VKSLM_TRY(vkslm_vk_pipeline(vk, k == 1 ? "argmax_raw" : "topk_raw", k == 1 ? 3 : 4, sizeof(vkslm_topk_push), spec,
                                1, &praw));
    VKSLM_TRY(vkslm_vk_pipeline(vk, k == 1 ? "argmax_pairs" : "topk_pairs", 4, sizeof(vkslm_topk_push), spec, 1,
                                &ppairs));
    uint64_t region = rows * first_out(n, k) * 4; /* bytes of one values (or ids) array */
    side in = {a->buf, NULL, a->offset, 0, n, 0};

    /* the threshold pre-pass (top-k of more than one pass, with enough groups) */
    side th = {0};
    uint64_t g = div_up(n, TH_GROUPS), n_groups = div_up(n, g);
    int use_th = k > 1 && n > chunk_of(k) && n_groups >= k;
    if (use_th) {
        uint64_t mbase = 4 * region + rows * k * 4, tbase = mbase + rows * TH_GROUPS * 8;
        side maxima = {scratch, scratch, mbase, mbase + rows * TH_GROUPS * 4, n_groups, 0};
        th = (side){scratch, scratch, tbase, tbase + rows * k * 4, k, 0};
        VKSLM_TRY(vkslm_vk_pipeline(vk, "argmax_raw", 3, sizeof(vkslm_topk_push), spec_a, 1, &pmax));
        pass_cfg cm = {pmax, 0, 1, g, 1, NULL};
        VKSLM_TRY(pass_rows(c, &cm, &in, &maxima, n, rows));
        side mv = maxima; /* read the maxima as raw values */
        pass_cfg ct = {praw, 0, 0, chunk_of(k), k, NULL};
        VKSLM_TRY(pass_rows(c, &ct, &mv, &th, n_groups, rows)); /* entry 0 of each row: the heap root */
    }

    uint64_t m = n;
    for (int pass_no = 0;; pass_no++) {
        uint64_t inv = div_up(m, chunk_of(k));
        side out;
        if (inv == 1) {
            out = *final;
        } else {
            uint64_t base = (pass_no & 1) ? 2 * region : 0;
            out = (side){scratch, scratch, base, base + region, inv * k, 0};
        }
        pass_cfg cfg = {pass_no ? ppairs : praw, pass_no > 0, k == 1, chunk_of(k), k,
                        pass_no == 0 && use_th ? &th : NULL};
        VKSLM_TRY(pass_rows(c, &cfg, &in, &out, m, rows));
        if (inv == 1)
            return VKSLM_OK;
        in = out;
        m = inv * k;
    }
}

static vkslm_status select_k(const char *name, vkslm_cmd *c, const vkslm_tensor *ids, const vkslm_tensor *values,
                             const vkslm_tensor *a, uint32_t k, const vkslm_buf *scratch) {
    if (!a || !a->ne[0] || !scratch)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a or the scratch buffer is missing", name);
    VKSLM_TRY(vkslm_op_need_subgroups(vkslm_cmd_vk(c), name)); /* argmax passes reduce through subgroups */
    uint64_t n = a->ne[0], rows = vkslm_tensor_rows(a);
    if (k < 1 || k > VKSLM_TOPK_MAX || k > n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: k = %u must be in 1..min(%d, n = %llu)", name, k,
                          VKSLM_TOPK_MAX, (unsigned long long)n);
    if (n > 0x7fffffffu || rows > 0xffffffffu ||
        div_up(n, chunk_of(k)) > vkslm_vk_get_caps(vkslm_cmd_vk(c))->max_workgroup_count[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: rows of %llu entries are too long", name, (unsigned long long)n);
    VKSLM_TRY(vkslm_op_check(name, "a", a, VKSLM_TYPE_F32, n * rows));
    VKSLM_TRY(vkslm_op_check(name, "ids", ids, VKSLM_TYPE_I32, rows * k));
    if (values)
        VKSLM_TRY(vkslm_op_check(name, "values", values, VKSLM_TYPE_F32, rows * k));
    uint64_t need = vkslm_op_topk_scratch_bytes(n, rows, k);
    if (scratch->size < need)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: scratch has %llu bytes, needs %llu", name,
                          (unsigned long long)scratch->size, (unsigned long long)need);
    side final = {values ? values->buf : scratch, ids->buf, values ? values->offset : need - 64 - rows * k * 4,
                  ids->offset, k, 1};
    return run_passes(c, a, n, rows, k, &final, scratch);
}

vkslm_status vkslm_op_topk(vkslm_cmd *c, const vkslm_tensor *ids, const vkslm_tensor *values, const vkslm_tensor *a,
                           uint32_t k, const vkslm_buf *scratch) {
    return select_k("topk", c, ids, values, a, k, scratch);
}

vkslm_status vkslm_op_argmax(vkslm_cmd *c, const vkslm_tensor *ids, const vkslm_tensor *a, const vkslm_buf *scratch) {
    return select_k("argmax", c, ids, NULL, a, 1, scratch);
}
