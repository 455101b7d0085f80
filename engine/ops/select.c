/* Top-k and argmax passes (shaders/select_topk.comp, shaders/select_argmax.comp). */
#include "engine/ops/select.h"

#include "engine/ops/op.h"

#define WG_TOPK 32u
#define WG_ARGMAX 64u
/* Entries one top-k invocation reduces to k (> 16 * VKSLM_TOPK_MAX keeps passes few), and one argmax
 * workgroup reduces to 1. */
#define CHUNK_TOPK 1024u
#define CHUNK_ARGMAX 4096u
static uint64_t chunk_of(uint32_t k) { return k == 1 ? CHUNK_ARGMAX : CHUNK_TOPK; }

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
    vkslm_shader_id shader;
    const uint32_t *spec;
    int pairs, wg_per_slot;
    uint64_t chunk;
    uint32_t k;
    const side *th;
    int texel; /* the input rows read as 16-byte texels (select_argmax_texel) */
} pass_cfg;

#define AT(field) VKSLM_OP_PUSH(vkslm_topk_push, field)

/* One pass over rows [r0, r0 + m) and entries [c0, c0 + nc) of each row. */
static vkslm_status pass(vkslm_cmd *c, const pass_cfg *cfg, const side *in, const side *out, uint64_t r0, uint64_t m,
                         uint64_t c0, uint64_t nc, const char *name, double bytes) {
    uint32_t k = cfg->k;
    uint64_t inv = div_up(nc, cfg->chunk), inv0 = c0 / cfg->chunk;
    uint64_t in_span = ((m - 1) * in->stride + nc) * 4, in_at = (r0 * in->stride + c0) * 4;
    uint64_t out_span = ((m - 1) * out->stride + (inv0 + inv) * k) * 4, out_at = r0 * out->stride * 4;
    vkslm_tensor tin = vkslm_tensor_1d(in->vbuf, in->vbyte, VKSLM_TYPE_F32, 0);
    vkslm_tensor tin_ids = vkslm_tensor_1d(in->ibuf, in->ibyte, VKSLM_TYPE_I32, 0);
    vkslm_tensor tout = vkslm_tensor_1d(out->vbuf, out->vbyte, VKSLM_TYPE_F32, 0);
    vkslm_tensor tout_ids = vkslm_tensor_1d(out->ibuf, out->ibyte, VKSLM_TYPE_I32, 0);
    vkslm_tensor tth = cfg->th ? vkslm_tensor_1d(cfg->th->vbuf, cfg->th->vbyte, VKSLM_TYPE_F32, 0) : tin;
    vkslm_topk_push pc = {
        .ncols = (uint32_t)nc, .in_stride = (uint32_t)(cfg->texel ? in->stride / 4 : in->stride),
        .chunk = (uint32_t)cfg->chunk, .k = k,
        .out_stride = (uint32_t)out->stride, .col0 = (uint32_t)c0, .inv0 = (uint32_t)inv0, .sorted = out->last,
    };
    vkslm_op op = {
        .name = name, .shader = cfg->shader, .spec = cfg->spec, .n_spec = 1, .push = &pc, .push_size = sizeof pc,
        .grid = {{.per = cfg->wg_per_slot ? inv : div_up(inv, WG_TOPK)}, {.per = m}},
        .bytes = bytes,
    };
    vkslm_op_arg *g = op.arg;
    *g++ = (vkslm_op_arg){"in", &tin, .off_at = AT(in_off), .at = in_at, .size = in_span, .texel = cfg->texel,
                          .unit = cfg->texel ? 16 : 0};
    if (cfg->pairs)
        *g++ = (vkslm_op_arg){"in ids", &tin_ids, .off_at = AT(ids_off), .at = in_at, .size = in_span};
    *g++ = (vkslm_op_arg){"out", &tout, .write = 1, .off_at = AT(out_off), .at = out_at, .size = out_span};
    *g++ = (vkslm_op_arg){"out ids", &tout_ids, .write = 1, .off_at = AT(oid_off), .at = out_at, .size = out_span};
    if (!cfg->pairs && !cfg->wg_per_slot) { /* topk_raw: the thresholds, or a placeholder */
        *g = (vkslm_op_arg){"thresholds", cfg->th ? &tth : NULL, .optional = 1, .off_at = AT(th_off),
                            .at = cfg->th ? r0 * cfg->th->stride * 4 : 0, .size = ((m - 1) * (cfg->th ? cfg->th->stride : 0) + 1) * 4};
        pc.th_stride = cfg->th ? (uint32_t)cfg->th->stride : 0;
        pc.use_th = cfg->th != NULL;
    }
    return vkslm_op_record(c, &op);
}

/* A pass over whole rows of m entries, rows chunked by the range and the workgroup count; a row longer
 * than the range (only possible for the tensor itself, in a first pass) splits into column chunks. */
static vkslm_status pass_rows(vkslm_cmd *c, const pass_cfg *cfg, const side *in, const side *out, uint64_t m,
                              uint64_t rows, const char *name, double *bytes) {
    vkslm_vk *vk = vkslm_cmd_vk(c);
    uint64_t row_bytes = m * 4 > out->stride * 4 ? m * 4 : out->stride * 4;
    uint64_t rchunk = vkslm_op_fit(vk, row_bytes, row_bytes);
    if (rchunk > vkslm_vk_get_caps(vk)->max_workgroup_count[1])
        rchunk = vkslm_vk_get_caps(vk)->max_workgroup_count[1];
    if (rchunk > 0) {
        for (uint64_t r = 0; r < rows; r += rchunk, *bytes = 0)
            VKSLM_TRY(pass(c, cfg, in, out, r, rows - r < rchunk ? rows - r : rchunk, 0, m, name, *bytes));
        return VKSLM_OK;
    }
    uint64_t per = vkslm_op_fit(vk, cfg->chunk * 4, cfg->chunk * 4);
    uint64_t cchunk = per > UINT32_MAX ? 0 : per * cfg->chunk;
    if (cfg->pairs || cchunk == 0)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: the bindable range is too small", name);
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c0 = 0; c0 < m; c0 += cchunk, *bytes = 0)
            VKSLM_TRY(pass(c, cfg, in, out, r, 1, c0, m - c0 < cchunk ? m - c0 : cchunk, name, *bytes));
    return VKSLM_OK;
}

/* Does the argmax read a (n entries a row, rows rows) as texels, a row per workgroup in one pass? On CPU devices
 * (a storage-buffer load is a load per lane there; 16-byte texels are fetched whole), where the rows start on 16
 * bytes and all of a fits one texel binding. */
static int argmax_texel(vkslm_vk *vk, const vkslm_tensor *a, uint64_t n, uint64_t rows) {
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(vk);
    uint64_t bytes = n * rows * 4;
    return vkslm_vk_is_cpu(vk) && vkslm_vk_get_enabled(vk)->texel_buffers && n % 4 == 0 &&
           (a->buf->offset + a->offset) % 16 == 0 && bytes + 64 <= vkslm_vk_max_range(vk) &&
           bytes / 16 + 4 <= caps->max_texel_elements && rows <= caps->max_workgroup_count[1];
}

/* Every pass of one selection. */
static vkslm_status run_passes(vkslm_cmd *c, const vkslm_tensor *a, uint64_t n, uint64_t rows, uint32_t k,
                               const side *final, const vkslm_buf *scratch) {
    static const uint32_t spec_t[1] = {WG_TOPK}, spec_a[1] = {WG_ARGMAX};
    const char *name = k == 1 ? "argmax" : "topk";
    double bytes = 4.0 * n * rows; /* the cost: reading the rows once (later passes read k per chunk) */
    vkslm_shader_id raw = k == 1 ? VKSLM_SHADER_SELECT_ARGMAX_RAW : VKSLM_SHADER_SELECT_TOPK_RAW;
    vkslm_shader_id pairs = k == 1 ? VKSLM_SHADER_SELECT_ARGMAX_PAIRS : VKSLM_SHADER_SELECT_TOPK_PAIRS;
    const uint32_t *spec = k == 1 ? spec_a : spec_t;
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
        pass_cfg cm = {VKSLM_SHADER_SELECT_ARGMAX_RAW, spec_a, 0, 1, g, 1, NULL};
        VKSLM_TRY(pass_rows(c, &cm, &in, &maxima, n, rows, name, &bytes));
        side mv = maxima; /* read the maxima as raw values */
        pass_cfg ct = {raw, spec, 0, 0, chunk_of(k), k, NULL};
        VKSLM_TRY(pass_rows(c, &ct, &mv, &th, n_groups, rows, name, &bytes)); /* entry 0 of each row: the heap root */
    }

    uint64_t m = n;
    const int texel = k == 1 && argmax_texel(vkslm_cmd_vk(c), a, n, rows);
    for (int pass_no = 0;; pass_no++) {
        const int tx = texel && pass_no == 0;
        const uint64_t chunk = tx ? n : chunk_of(k); /* texels: the whole row, one pass */
        uint64_t inv = div_up(m, chunk);
        side out;
        if (inv == 1) {
            out = *final;
        } else {
            uint64_t base = (pass_no & 1) ? 2 * region : 0;
            out = (side){scratch, scratch, base, base + region, inv * k, 0};
        }
        pass_cfg cfg = {tx ? VKSLM_SHADER_SELECT_ARGMAX_TEXEL : pass_no ? pairs : raw, spec, pass_no > 0, k == 1, chunk, k,
                        pass_no == 0 && use_th ? &th : NULL, tx};
        VKSLM_TRY(pass_rows(c, &cfg, &in, &out, m, rows, name, &bytes));
        if (inv == 1)
            return VKSLM_OK;
        in = out;
        m = inv * k;
    }
}

vkslm_status vkslm_op_topk(vkslm_cmd *c, const vkslm_tensor *ids, const vkslm_tensor *values, const vkslm_tensor *a,
                           uint32_t k, const vkslm_buf *scratch) {
    const char *name = k == 1 ? "argmax" : "topk";
    VKSLM_TRY(VKSLM_OP_PRESENT(name, a, ids));
    if (!scratch || !a->ne[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a is empty or the scratch buffer is missing", name);
    VKSLM_TRY(vkslm_op_need_subgroups(vkslm_cmd_vk(c), name)); /* argmax passes reduce through subgroups */
    uint64_t n = a->ne[0], rows = vkslm_tensor_rows(a);
    if (k < 1 || k > VKSLM_TOPK_MAX || k > n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: k = %u must be in 1..min(%d, n = %llu)", name, k,
                          VKSLM_TOPK_MAX, (unsigned long long)n);
    if (n > 0x7fffffffu || rows > 0xffffffffu ||
        div_up(n, chunk_of(k)) > vkslm_vk_get_caps(vkslm_cmd_vk(c))->max_workgroup_count[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: rows of %llu entries are too long", name, (unsigned long long)n);
    VKSLM_TRY(vkslm_op_check(name, "a", a, VKSLM_OP_F32, n * rows));
    VKSLM_TRY(vkslm_op_check(name, "ids", ids, VKSLM_OP_I32, rows * k));
    if (values)
        VKSLM_TRY(vkslm_op_check(name, "values", values, VKSLM_OP_F32, rows * k));
    uint64_t need = vkslm_op_topk_scratch_bytes(n, rows, k);
    if (scratch->size < need)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: scratch has %llu bytes, needs %llu", name,
                          (unsigned long long)scratch->size, (unsigned long long)need);
    side final = {values ? values->buf : scratch, ids->buf, values ? values->offset : need - 64 - rows * k * 4,
                  ids->offset, k, 1};
    return run_passes(c, a, n, rows, k, &final, scratch);
}
