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

uint64_t vkslm_op_topk_scratch_bytes(uint64_t n, uint64_t rows, uint32_t k) {
    /* two ping-pong regions of values + ids, and a final values region (argmax, or values == NULL) */
    return 2 * rows * first_out(n, k) * 8 + rows * k * 4 + 64;
}

/* Where a pass reads or writes: values and ids at byte offsets of buffers, rows `stride` entries apart. */
typedef struct side {
    const vkslm_buf *vbuf, *ibuf;
    uint64_t vbyte, ibyte, stride;
    uint32_t last; /* output side of the last pass: written sorted */
} side;

/* One pass over rows [r0, r0 + m) and entries [c0, c0 + nc) of each row. */
static vkslm_status pass(vkslm_cmd *c, const vkslm_pipeline *p, int pairs, const side *in, const side *out,
                         uint64_t r0, uint64_t m, uint64_t c0, uint64_t nc, uint32_t k) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    vkslm_topk_push pc = {0};
    vkslm_binding bind[4];
    uint64_t skip, inv = div_up(nc, chunk_of(k));
    uint32_t nb = 0;
    uint64_t in_span = ((m - 1) * in->stride + nc) * 4;
    VKSLM_TRY(vkslm_vk_bind(vk, in->vbuf, in->vbyte + (r0 * in->stride + c0) * 4, in_span, 0, &bind[nb++], &skip));
    pc.in_off = (uint32_t)(skip / 4);
    if (pairs) {
        VKSLM_TRY(vkslm_vk_bind(vk, in->ibuf, in->ibyte + (r0 * in->stride + c0) * 4, in_span, 0, &bind[nb++], &skip));
        pc.ids_off = (uint32_t)(skip / 4);
    }
    uint64_t inv0 = c0 / chunk_of(k);
    uint64_t out_span = ((m - 1) * out->stride + (inv0 + inv) * k) * 4;
    VKSLM_TRY(vkslm_vk_bind(vk, out->vbuf, out->vbyte + r0 * out->stride * 4, out_span, 1, &bind[nb++], &skip));
    pc.out_off = (uint32_t)(skip / 4);
    VKSLM_TRY(vkslm_vk_bind(vk, out->ibuf, out->ibyte + r0 * out->stride * 4, out_span, 1, &bind[nb++], &skip));
    pc.oid_off = (uint32_t)(skip / 4);
    pc.ncols = (uint32_t)nc;
    pc.in_stride = (uint32_t)in->stride;
    pc.chunk = (uint32_t)chunk_of(k);
    pc.k = k;
    pc.out_stride = (uint32_t)out->stride;
    pc.col0 = (uint32_t)c0;
    pc.inv0 = (uint32_t)inv0;
    pc.sorted = out->last;
    /* top-k: an invocation per slot; argmax: a workgroup per slot */
    uint32_t groups = (uint32_t)(k == 1 ? inv : div_up(inv, WG_TOPK));
    return vkslm_cmd_dispatch(c, p, bind, nb, &pc, groups, (uint32_t)m, 1, k == 1 ? "argmax" : "topk");
}

/* Every pass of one selection: rows chunked by the range and the workgroup count; a row longer than the
 * range is split into column chunks (multiples of chunk_of(k)) in the first pass. */
static vkslm_status run_passes(vkslm_cmd *c, const vkslm_tensor *a, uint64_t n, uint64_t rows, uint32_t k,
                               const side *final, const vkslm_buf *scratch) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    const vkslm_pipeline *praw, *ppairs;
    uint32_t spec[1] = {k == 1 ? WG_ARGMAX : WG_TOPK};
    VKSLM_TRY(vkslm_vk_pipeline(vk, k == 1 ? "argmax_raw" : "topk_raw", 3, sizeof(vkslm_topk_push), spec, 1, &praw));
    VKSLM_TRY(vkslm_vk_pipeline(vk, k == 1 ? "argmax_pairs" : "topk_pairs", 4, sizeof(vkslm_topk_push), spec, 1,
                                &ppairs));
    uint64_t region = rows * first_out(n, k) * 4; /* bytes of one values (or ids) array */
    side in = {a->buf, NULL, a->offset, 0, n, 0};
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
        const vkslm_pipeline *p = pass_no ? ppairs : praw;
        uint64_t row_bytes = m * 4 > out.stride * 4 ? m * 4 : out.stride * 4;
        uint64_t rchunk = vkslm_op_rows_fit(vk, row_bytes, caps->max_workgroup_count[1]);
        if (rchunk > 0) {
            for (uint64_t r = 0; r < rows; r += rchunk)
                VKSLM_TRY(pass(c, p, pass_no > 0, &in, &out, r, rows - r < rchunk ? rows - r : rchunk, 0, m, k));
        } else {
            uint64_t cchunk = vkslm_op_rows_fit(vk, chunk_of(k) * 4, ~0ull) * chunk_of(k);
            if (pass_no > 0 || cchunk == 0)
                return vkslm_fail(VKSLM_ERR_LIMIT, "topk: the bindable range is too small");
            for (uint64_t r = 0; r < rows; r++)
                for (uint64_t c0 = 0; c0 < m; c0 += cchunk)
                    VKSLM_TRY(pass(c, p, 0, &in, &out, r, 1, c0, m - c0 < cchunk ? m - c0 : cchunk, k));
        }
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
