#include "engine/model/graph.h"

#include <string.h>

#include "engine/model/arch.h"
#include "engine/model/lora.h"
#include "engine/model/rope_scaling.h"
#include "engine/ops/act.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/get_rows.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/rope.h"
#include "engine/ops/select.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t m = a > b ? a : b;
    return m > c ? m : c;
}

void vkslm_step_bufs_free(vkslm_vk *vk, vkslm_step_bufs *b) {
#define FREE_BUF(name) vkslm_vk_free(vk, &b->name);
    VKSLM_STEP_BUFS(FREE_BUF)
#undef FREE_BUF
    if (b->kv_layer) {
        for (uint32_t i = 0; i < b->kv.n_layer; i++)
            vkslm_vk_free(vk, &b->kv_layer[i]);
        VKSLM_FREE(b->kv_layer);
        b->kv_layer = NULL;
    }
}

uint64_t vkslm_step_bufs_bytes(const vkslm_step_bufs *b) {
    uint64_t n = 0;
#define ADD_BYTES(name) n += b->name.buffer ? b->name.size : 0;
    VKSLM_STEP_BUFS(ADD_BYTES)
#undef ADD_BYTES
    for (uint32_t i = 0; b->kv_layer && i < b->kv.n_layer; i++)
        n += b->kv_layer[i].buffer ? b->kv_layer[i].size : 0;
    return n;
}

typedef struct buf_want {
    vkslm_buf *buf;
    uint64_t bytes;
} buf_want;
#define STEP_WANTS 20
#define OUT_WANTS 3 /* the last three: logits, top, top_scratch */

/* Bytes of the output buffers for `rows` rows. */
static void out_sizes(const vkslm_model_dev *m, uint32_t rows, uint64_t bytes[OUT_WANTS]) {
    bytes[0] = (uint64_t)m->hp.n_vocab * rows * 4;
    bytes[1] = (uint64_t)rows * VKSLM_TOPK_MAX * 8;
    bytes[2] = vkslm_op_topk_scratch_bytes(m->hp.n_vocab, rows, VKSLM_TOPK_MAX);
}

/* The step buffers of a session and their sizes; sets b->max_tokens, b->max_out and b->kv. */
static vkslm_status step_bufs_plan(const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_tokens, uint32_t max_out,
                                   uint32_t kv_type, vkslm_step_bufs *b, buf_want want[STEP_WANTS]) {
    memset(b, 0, sizeof *b);
    const vkslm_hparams *hp = &m->hp;
    if (hp->n_embd_head_k != hp->n_embd_head_v)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: key and value head sizes differ");
    uint64_t T = max_tokens, E = hp->n_embd, F = hp->n_ff, HD = hp->n_embd_head_k;
    uint64_t QK = hp->n_head * HD, KV = hp->n_head_kv * HD;
    b->max_tokens = max_tokens;
    b->max_out = max_out;
    b->kv = (vkslm_kv_layout){hp->n_layer, hp->n_head_kv, n_ctx, (uint32_t)HD, kv_type};
    uint64_t out[OUT_WANTS];
    out_sizes(m, max_out, out);
    buf_want w[STEP_WANTS] = {
        {&b->ids, T * 4},
        {&b->pos, T * 4},
        {&b->seq, T * 4},
        {&b->out_ids, 2 * T * 4},
        {&b->x, T * E * 4},
        {&b->h, T * max3(E, QK, 1) * 4},
        {&b->q, T * QK * 4},
        {&b->k, T * KV * 4},
        {&b->v, T * KV * 4},
        {&b->att, T * QK * 4},
        {&b->qkv, T * (QK + 2 * KV) * 4},
        {&b->g, T * F * 4},
        {&b->u, T * 2 * F * 4},
        {&b->x8, vkslm_x8_pairs(T) * vkslm_x8_pair_ints(E) * 4},
        {&b->att8, vkslm_x8_pairs(T) * vkslm_x8_pair_ints(QK) * 4},
        {&b->attn_scratch, vkslm_attn_scratch_bytes(max_tokens, hp->n_head, (uint32_t)HD, VKSLM_ATTN_DEFAULT_SPLITS)},
        {&b->embd, T * E * 4},
        {&b->logits, out[0]},
        {&b->top, out[1]},
        {&b->top_scratch, out[2]},
    };
    memcpy(want, w, sizeof w);
    return VKSLM_OK;
}

static vkslm_status alloc_wants(vkslm_vk *vk, buf_want *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        VKSLM_TRY(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, want[i].bytes ? want[i].bytes : 4, want[i].buf));
    return VKSLM_OK;
}

vkslm_status vkslm_step_bufs_alloc(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t n_seq,
                                   uint32_t max_tokens, uint32_t max_out, uint32_t kv_type, vkslm_step_bufs *b) {
    buf_want want[STEP_WANTS];
    if (n_seq == 0 || max_out == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: no sequences or no output rows");
    VKSLM_TRY(step_bufs_plan(m, n_ctx, max_tokens, max_out, kv_type, b, want));
    uint64_t total = 0, used, reserved, kv = vkslm_kv_bytes(&b->kv);
    for (size_t i = 0; i < STEP_WANTS; i++)
        total += want[i].bytes;
    total += kv * n_seq;
    vkslm_vk_memory_usage(vk, &used, &reserved);
    uint64_t budget = vkslm_vk_memory_budget(vk);
    if (total > budget || used > budget - total)
        return vkslm_fail(VKSLM_ERR_OUT_OF_DEVICE_MEMORY,
                          "a session of %u x %u tokens needs %.1f MiB of device memory (KV cache %.1f MiB); %.1f MiB "
                          "are free: use a shorter context or fewer sequences",
                          n_seq, n_ctx, total / 1048576.0, kv * (double)n_seq / 1048576.0,
                          (budget > used ? budget - used : 0) / 1048576.0);
    vkslm_status st = VKSLM_OK;
    b->n_seq = n_seq;
    if (!(b->kv_layer = VKSLM_CALLOC(b->kv.n_layer, sizeof *b->kv_layer)))
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == VKSLM_OK)
        st = alloc_wants(vk, want, STEP_WANTS);
    uint64_t layer_bytes = 2u * vkslm_kv_part_bytes(&b->kv) * n_seq;
    for (uint32_t i = 0; st == VKSLM_OK && i < b->kv.n_layer; i++)
        st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, layer_bytes, &b->kv_layer[i]);
    if (st != VKSLM_OK) {
        vkslm_step_bufs_free(vk, b);
        return vkslm_fail_context(st, "session buffers");
    }
    return VKSLM_OK;
}

vkslm_status vkslm_step_bufs_reserve_out(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_step_bufs *b, uint32_t rows) {
    if (rows <= b->max_out)
        return VKSLM_OK;
    uint64_t bytes[OUT_WANTS];
    out_sizes(m, rows, bytes);
    buf_want want[OUT_WANTS] = {{&b->logits, bytes[0]}, {&b->top, bytes[1]}, {&b->top_scratch, bytes[2]}};
    for (size_t i = 0; i < OUT_WANTS; i++)
        vkslm_vk_free(vk, want[i].buf);
    vkslm_status st = alloc_wants(vk, want, OUT_WANTS);
    if (st != VKSLM_OK) { /* back to the old size (what was there fitted) */
        for (size_t i = 0; i < OUT_WANTS; i++)
            vkslm_vk_free(vk, want[i].buf);
        out_sizes(m, b->max_out, bytes);
        for (size_t i = 0; i < OUT_WANTS; i++)
            want[i].bytes = bytes[i];
        if (alloc_wants(vk, want, OUT_WANTS) != VKSLM_OK)
            b->max_out = 0;
        return vkslm_fail_context(st, "logits of %u rows", rows);
    }
    b->max_out = rows;
    return VKSLM_OK;
}

vkslm_status vkslm_graph_resolve(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_tokens) {
    if (m->hp.n_ctx_train && n_ctx > m->hp.n_ctx_train)
        n_ctx = m->hp.n_ctx_train;
    if (max_tokens > n_ctx)
        max_tokens = n_ctx;
    vkslm_step_bufs b;
    buf_want want[STEP_WANTS];
    VKSLM_TRY(step_bufs_plan(m, n_ctx, max_tokens, max_tokens, VKSLM_TYPE_F16, &b, want));
    for (size_t i = 0; i < STEP_WANTS; i++) /* placeholders: a size, no memory */
        want[i].buf->size = want[i].bytes ? want[i].bytes : 4;
    /* two sequences: the decode step below is one of two runs, as a batch of sequences records it */
    b.n_seq = 2;
    b.kv_layer = VKSLM_CALLOC(b.kv.n_layer, sizeof *b.kv_layer);
    for (uint32_t i = 0; b.kv_layer && i < b.kv.n_layer; i++)
        b.kv_layer[i].size = 2u * vkslm_kv_part_bytes(&b.kv) * b.n_seq;
    int32_t *tokens = VKSLM_CALLOC(max_tokens, sizeof *tokens);
    uint32_t *rows = VKSLM_CALLOC(max_tokens, sizeof *rows);
    vkslm_cmd *c = NULL;
    vkslm_status st = tokens && rows && b.kv_layer ? vkslm_cmd_create_dry(vk, &c)
                                     : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of memory");
    for (uint32_t i = 0; i < max_tokens && rows; i++)
        rows[i] = i;
    if (st == VKSLM_OK)
        st = vkslm_cmd_begin(c);
    /* a decode step deep into the context (where keys split) of one sequence and of two, and a full prefill
     * chunk with every logit */
    vkslm_graph_run decode[2] = {{0, 0, 1, n_ctx - 1}, {1, 1, 1, n_ctx / 2}}, chunk = {0, 0, max_tokens, 0};
    vkslm_graph_step one = {tokens, 1, decode, 1, rows, 1, 1, NULL, 0};
    vkslm_graph_step two = {tokens, 2, decode, 2, rows, 2, 1, NULL, 0};
    vkslm_graph_step all = {tokens, max_tokens, &chunk, 1, rows, max_tokens, 0, NULL, 0};
    if (st == VKSLM_OK)
        st = vkslm_graph_record(c, m, &b, &one);
    if (st == VKSLM_OK && max_tokens >= 2)
        st = vkslm_graph_record(c, m, &b, &two);
    if (st == VKSLM_OK)
        st = vkslm_graph_record(c, m, &b, &all);
    if (st == VKSLM_OK)
        st = vkslm_cmd_submit_wait(c);
    vkslm_cmd_destroy(c);
    VKSLM_FREE(tokens);
    VKSLM_FREE(rows);
    VKSLM_FREE(b.kv_layer);
    return st;
}

vkslm_status vkslm_graph_resolve_batches(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_step_bufs *b, uint32_t k_lo,
                                        uint32_t k_hi) {
    if (k_hi > b->n_seq)
        k_hi = b->n_seq;
    if (k_hi > b->max_out)
        k_hi = b->max_out;
    if (k_hi > b->max_tokens)
        k_hi = b->max_tokens;
    if (k_lo > k_hi)
        return VKSLM_OK;
    int32_t *tokens = VKSLM_CALLOC(k_hi, sizeof *tokens);
    uint32_t *rows = VKSLM_CALLOC(k_hi, sizeof *rows);
    vkslm_graph_run *runs = VKSLM_CALLOC(k_hi, sizeof *runs);
    vkslm_cmd *c = NULL;
    vkslm_status st = tokens && rows && runs ? vkslm_cmd_create_dry(vk, &c)
                                             : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of memory");
    for (uint32_t i = 0; st == VKSLM_OK && i < k_hi; i++) {
        rows[i] = i;
        runs[i] = (vkslm_graph_run){i, i, 1, b->kv.n_ctx - 1 - i % b->kv.n_ctx};
    }
    if (st == VKSLM_OK)
        st = vkslm_cmd_begin(c);
    for (uint32_t k = k_lo; st == VKSLM_OK && k <= k_hi; k++) { /* k sequences' decode tokens, top 1 of each */
        vkslm_graph_step step = {tokens, k, runs, k, rows, k, 1, NULL, 0};
        st = vkslm_graph_record(c, m, b, &step);
    }
    if (st == VKSLM_OK)
        st = vkslm_cmd_submit_wait(c);
    vkslm_cmd_destroy(c);
    VKSLM_FREE(tokens);
    VKSLM_FREE(rows);
    VKSLM_FREE(runs);
    return st;
}

/* Whether layer il's fused q|k|v product takes its input in 8 bits (engine/ops/matmul.h): the stream times the
 * norm's weights, written so by the product that last stored into the stream */
static int attn_in_x8(vkslm_vk *vk, const vkslm_model_dev *m, const vkslm_lora_ctx *lora, uint32_t il) {
    if (il >= m->hp.n_layer)
        return 0;
    const vkslm_dev_layer *L = &m->layers[il];
    return L->wqkv.buf && !vkslm_lora_has(lora, il, VKSLM_LORA_P_QKV) &&
           vkslm_op_matmul_norm_fusable(vk, &L->wqkv, &L->attn_norm) && vkslm_op_matmul_x8_type(vk, &L->wqkv) &&
           m->hp.n_embd % 32 == 0;
}

/* Whether layer il's feed-forward is the two fused products (norm and [gate | up] in one, the down product adding
 * itself to the stream), given no branch output pending */
static int ffn_fused(vkslm_vk *vk, const vkslm_dev_layer *L, const vkslm_lora_ctx *lora, uint32_t il) {
    return !L->ffn_gate.buf && !vkslm_lora_has(lora, il, VKSLM_LORA_P_UP) &&
           !vkslm_lora_has(lora, il, VKSLM_LORA_P_DOWN) && vkslm_op_matmul_glu_fusable(vk, &L->ffn_down) &&
           vkslm_op_matmul_norm_fusable(vk, &L->ffn_up, &L->ffn_norm);
}

/* f32 activation views */
static vkslm_tensor act2(const vkslm_buf *buf, uint64_t offset, uint64_t ne0, uint64_t ne1) {
    vkslm_tensor t = {buf, offset, VKSLM_TYPE_F32, {ne0, ne1, 1, 1}};
    return t;
}
static vkslm_tensor act3(const vkslm_buf *buf, uint64_t offset, uint64_t ne0, uint64_t ne1, uint64_t ne2) {
    vkslm_tensor t = {buf, offset, VKSLM_TYPE_F32, {ne0, ne1, ne2, 1}};
    return t;
}

static const vkslm_tensor *opt(const vkslm_tensor *t) { return t->buf ? t : NULL; }

/* h = rms_norm(x) * w, after x += h when `add` (one dispatch either way). */
static vkslm_status norm_in(vkslm_cmd *c, vkslm_tensor *h, vkslm_tensor *x, int add, const vkslm_tensor *w, float eps) {
    return add ? vkslm_op_rms_norm_add(c, h, x, h, w, eps) : vkslm_op_rms_norm(c, h, x, w, eps);
}

/* The model's RoPE (scaling from its hyperparameters at context n_ctx) and its frequency divisors, if any. */
static vkslm_rope_params rope_of(const vkslm_model_dev *m, const vkslm_arch_rules *R, uint32_t n_ctx,
                                 const vkslm_tensor **ff) {
    const vkslm_hparams *hp = &m->hp;
    const vkslm_rope_config rc = vkslm_rope_config_of(hp, n_ctx, m->rope_freqs.buf != NULL, m->rope_long.buf != NULL,
                                                      m->rope_short.buf != NULL);
    *ff = rc.factors == VKSLM_ROPE_FACTORS_FREQS   ? &m->rope_freqs
          : rc.factors == VKSLM_ROPE_FACTORS_LONG  ? &m->rope_long
          : rc.factors == VKSLM_ROPE_FACTORS_SHORT ? &m->rope_short
                                                   : NULL;
    vkslm_rope_params rp = {
        .mode = R->rope_neox ? VKSLM_ROPE_NEOX : VKSLM_ROPE_NORMAL, .n_rot = hp->n_rot,
        .theta_base = hp->rope_freq_base, .freq_scale = rc.ext.freq_scale, .ext_factor = rc.ext.ext_factor,
        .attn_factor = rc.ext.attn_factor, .corr_low = rc.ext.corr_low, .corr_high = rc.ext.corr_high,
    };
    return rp;
}

/* Token ids, their positions (and sequences, when the step has several runs) and the output rows into the
 * step's I32 buffers, inline in the recording. */
static vkslm_status upload_step(vkslm_cmd *c, vkslm_step_bufs *b, const vkslm_graph_step *st) {
    int32_t pos[256], seq[256];
    uint32_t r = 0, left = 0, p = 0, q = 0; /* run r, rows left in it, the next row's position, its sequence */
    for (uint32_t done = 0; done < st->n; done += 256) {
        uint32_t k = st->n - done < 256 ? st->n - done : 256;
        for (uint32_t i = 0; i < k; i++) {
            while (left == 0) {
                left = st->runs[r].n;
                q = st->runs[r].seq;
                p = st->runs[r++].p0;
            }
            seq[i] = (int32_t)q;
            pos[i] = (int32_t)p++;
            left--;
        }
        VKSLM_TRY(vkslm_cmd_update(c, &b->ids, done * 4ull, st->tokens + done, k * 4ull));
        VKSLM_TRY(vkslm_cmd_update(c, &b->pos, done * 4ull, pos, k * 4ull));
        VKSLM_TRY(vkslm_cmd_update(c, &b->seq, done * 4ull, seq, k * 4ull)); /* (one run: the fused attention's) */
    }
    if (st->n_out && st->out_rows[st->n_out - 1] - st->out_rows[0] + 1 != st->n_out) /* not one range: gather */
        VKSLM_TRY(vkslm_cmd_update(c, &b->out_ids, 0, st->out_rows, st->n_out * 4ull));
    if (st->n_embd && st->embd_rows[st->n_embd - 1] - st->embd_rows[0] + 1 != st->n_embd)
        VKSLM_TRY(vkslm_cmd_update(c, &b->out_ids, b->max_tokens * 4ull, st->embd_rows, st->n_embd * 4ull));
    return VKSLM_OK;
}

/* Is the step well formed for these buffers? */
static vkslm_status check_step(const vkslm_model_dev *m, const vkslm_step_bufs *b, const vkslm_graph_step *st) {
    if (st->n == 0 || st->n > b->max_tokens || st->n_runs == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: %u tokens in a step (at most %u)", st->n, b->max_tokens);
    uint32_t row = 0;
    for (uint32_t i = 0; i < st->n_runs; i++) {
        const vkslm_graph_run *r = &st->runs[i];
        if (r->first != row || r->n == 0 || r->seq >= b->n_seq || r->p0 > b->kv.n_ctx || r->n > b->kv.n_ctx - r->p0)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: run %u (sequence %u, %u tokens at position %u) is out "
                                                     "of place (context %u, %u sequences)",
                              i, r->seq, r->n, r->p0, b->kv.n_ctx, b->n_seq);
        row += r->n;
    }
    if (row != st->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: the runs cover %u of %u rows", row, st->n);
    for (uint32_t i = 0; i < st->n; i++)
        if (st->tokens[i] < 0 || (uint32_t)st->tokens[i] >= m->hp.n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: token id %d is outside the vocabulary (%u)", st->tokens[i],
                              m->hp.n_vocab);
    if (st->n_out > b->max_out || st->top_k > VKSLM_TOPK_MAX || (st->top_k && st->top_k > m->hp.n_vocab))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: %u output rows (room for %u), top %u", st->n_out, b->max_out,
                          st->top_k);
    for (uint32_t i = 0; i < st->n_out; i++)
        if (st->out_rows[i] >= st->n || (i && st->out_rows[i] <= st->out_rows[i - 1]))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: output rows must ascend within the step");
    if (st->n_embd > st->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: %u hidden-state rows in a step of %u", st->n_embd, st->n);
    for (uint32_t i = 0; i < st->n_embd; i++)
        if (st->embd_rows[i] >= st->n || (i && st->embd_rows[i] <= st->embd_rows[i - 1]))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "graph: hidden-state rows must ascend within the step");
    return VKSLM_OK;
}

/* Which parts of a layer go in one dispatch for all the runs of a step (write, attend: several runs only), and
 * whether a decode step (one token per run) takes its attention straight from the fused projection's rows
 * (vkslm_op_attention_qkv: the qkv write and the attention in one dispatch; CPU devices). */
typedef struct multi_plan {
    int write, attend, attend_qkv;
} multi_plan;

static multi_plan plan_multi(vkslm_vk *vk, const vkslm_hparams *hp, const vkslm_step_bufs *b,
                             const vkslm_graph_step *st, uint32_t n_rot) {
    multi_plan p = {0, 0, 0};
    const uint64_t es = vkslm_kv_elem_bytes(&b->kv), stride = vkslm_step_kv_seq_stride(b) * es;
    const uint32_t group = hp->n_head / hp->n_head_kv;
    const int write = vkslm_kv_seqs_fit(vk, b->n_seq, stride, 2u * vkslm_kv_part_bytes(&b->kv));
    const int attend = vkslm_attn_seqs_ok(vk, hp->n_embd_head_k, group, hp->n_head_kv, b->kv.n_ctx, (uint32_t)es,
                                          b->n_seq, stride);
    p.attend_qkv = st->n == st->n_runs && write && attend && vkslm_attn_qkv_fusable(vk, hp->n_embd_head_k, group, n_rot);
    if (st->n_runs < 2)
        return p;
    p.write = write;
    p.attend = attend;
    return p;
}

/* Runs ir, ir + 1, ... of one token each (their count): what one attention dispatch may take together. */
static uint32_t single_runs(const vkslm_graph_step *st, uint32_t ir) {
    uint32_t n = 0;
    while (ir + n < st->n_runs && st->runs[ir + n].n == 1)
        n++;
    return n;
}

/* K (roped) and V of every row of the step into its sequence's cache of layer il, one dispatch (two without a
 * fused QKV projection). */
static vkslm_status kv_write_all(vkslm_cmd *c, vkslm_step_bufs *b, const vkslm_dev_layer *L, uint32_t il,
                                 const vkslm_tensor *positions, const vkslm_tensor *ff, const vkslm_rope_params *rope,
                                 uint64_t QK, uint64_t QKV, uint32_t n) {
    const uint64_t HD = b->kv.head_dim, NKV = b->kv.n_kv_head;
    vkslm_tensor ids = {&b->seq, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}};
    vkslm_kv_seqs seqs = {&ids, b->n_seq, vkslm_step_kv_seq_stride(b)};
    vkslm_tensor k0 = vkslm_step_kv(b, il, 0, VKSLM_KV_K), v0 = vkslm_step_kv(b, il, 0, VKSLM_KV_V);
    if (L->wqkv.buf) {
        vkslm_tensor kvs = {&b->qkv, QK * 4, VKSLM_TYPE_F32, {HD, 2 * NKV, n, 1}}; /* k then v heads per row */
        return vkslm_op_kv_write_seqs(c, &k0, &kvs, positions, QKV, ff, rope, 1, &seqs);
    }
    vkslm_tensor k3 = act3(&b->k, 0, HD, NKV, n), v3 = act3(&b->v, 0, HD, NKV, n);
    VKSLM_TRY(vkslm_op_kv_write_seqs(c, &k0, &k3, positions, 0, ff, rope, 0, &seqs));
    return vkslm_op_kv_write_seqs(c, &v0, &v3, positions, 0, NULL, NULL, 0, &seqs);
}

/* q of every row roped into q3, k roped and v into each row's sequence's cache of layer il: one dispatch
 * from the fused QKV rows (one run, or several with `seqs`). */
static vkslm_status qkv_write_all(vkslm_cmd *c, vkslm_step_bufs *b, const vkslm_graph_step *st, uint32_t il,
                                  const vkslm_tensor *q3, const vkslm_tensor *positions, const vkslm_tensor *ff,
                                  const vkslm_rope_params *rope, uint64_t QKV, int seqs) {
    const uint64_t HD = b->kv.head_dim, NKV = b->kv.n_kv_head, NH = q3->ne[1], n = st->n;
    vkslm_tensor src = {&b->qkv, 0, VKSLM_TYPE_F32, {HD, NH + 2 * NKV, n, 1}};
    vkslm_tensor ids = {&b->seq, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}};
    vkslm_kv_seqs kv_seqs = {&ids, b->n_seq, vkslm_step_kv_seq_stride(b)};
    vkslm_tensor k0 = vkslm_step_kv(b, il, seqs ? 0 : st->runs[0].seq, VKSLM_KV_K);
    return vkslm_op_qkv_write(c, q3, &k0, &src, positions, QKV, ff, rope, seqs ? &kv_seqs : NULL);
}

/* Attention of runs ir .. ir + count - 1 (one token each, consecutive rows) in one dispatch. With rope: from the
 * rows of qkv, q and k roped and k, v written into each run's sequence's cache of layer il on the way
 * (vkslm_op_attention_qkv: no qkv write before it); without, from q over caches already written. */
static vkslm_status attend_runs(vkslm_cmd *c, const vkslm_hparams *hp, vkslm_step_bufs *b,
                                const vkslm_graph_step *st, uint32_t ir, uint32_t count, uint32_t il,
                                const vkslm_attn_params *ap, uint64_t scratch_row, const vkslm_tensor *ff,
                                const vkslm_rope_params *rope, const vkslm_tensor *out8) {
    const uint64_t HD = b->kv.head_dim, NH = hp->n_head, NKV = b->kv.n_kv_head, QK = NH * HD, f = st->runs[ir].first;
    uint32_t max_pos = 0;
    for (uint32_t i = ir; i < ir + count; i++)
        max_pos = st->runs[i].p0 > max_pos ? st->runs[i].p0 : max_pos;
    vkslm_tensor q = act3(&b->q, f * QK * 4, HD, NH, count), att = act3(&b->att, f * QK * 4, HD, NH, count);
    vkslm_tensor scratch = act2(&b->attn_scratch, f * scratch_row, count * scratch_row / 4, 1);
    vkslm_tensor pos = {&b->pos, f * 4, VKSLM_TYPE_I32, {count, 1, 1, 1}};
    vkslm_tensor seq = {&b->seq, f * 4, VKSLM_TYPE_I32, {count, 1, 1, 1}};
    vkslm_attn_seqs seqs = {&pos, &seq, b->n_seq, max_pos, vkslm_step_kv_seq_stride(b)};
    vkslm_tensor k0 = vkslm_step_kv(b, il, 0, VKSLM_KV_K), v0 = vkslm_step_kv(b, il, 0, VKSLM_KV_V);
    if (!rope)
        return vkslm_op_attention_seqs(c, &att, &q, &k0, &v0, &scratch, ap, &seqs);
    vkslm_tensor rows = {&b->qkv, f * (QK + 2 * NKV * HD) * 4, VKSLM_TYPE_F32, {HD, NH + 2 * NKV, count, 1}};
    /* out8: NULL, or att in 8 bits (all the step's tokens), the o product's input */
    return vkslm_op_attention_qkv(c, out8 ? out8 : &att, &rows, &k0, &v0, &scratch, ap, &seqs, ff, rope);
}

vkslm_status vkslm_graph_record(vkslm_cmd *c, const vkslm_model_dev *m, vkslm_step_bufs *b, const vkslm_graph_step *st) {
    const vkslm_hparams *hp = &m->hp;
    const vkslm_arch_rules R = vkslm_arch_rules_of(hp);
    VKSLM_TRY(check_step(m, b, st));
    VKSLM_TRY(upload_step(c, b, st));
    vkslm_lora_ctx lora; /* the step's adapters: each adapted product below adds theirs after it */
    VKSLM_TRY(vkslm_lora_begin(c, b, st, &lora));
    const uint32_t n = st->n;
    const uint64_t E = hp->n_embd, F = hp->n_ff, HD = hp->n_embd_head_k, V = hp->n_vocab;
    const uint64_t NH = hp->n_head, NKV = hp->n_head_kv, QK = NH * HD, KV = NKV * HD, QKV = QK + 2 * KV;
    const float eps = hp->norm_rms_eps;

    /* the step's tensors (f32 unless said; ne[0] first) */
    vkslm_tensor ids = {&b->ids, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}};       /* I32 (n) token ids */
    vkslm_tensor positions = {&b->pos, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}}; /* I32 (n) their positions */
    vkslm_tensor x = act2(&b->x, 0, E, n);                               /* (E, n) the residual stream */
    vkslm_tensor h = act2(&b->h, 0, E, n);                               /* (E, n) normed input, branch output */
    vkslm_tensor q = act2(&b->q, 0, QK, n), q3 = act3(&b->q, 0, HD, NH, n); /* (QK, n) = (HD, NH, n) */
    vkslm_tensor k = act2(&b->k, 0, KV, n);                              /* (KV, n) = (HD, NKV, n) */
    vkslm_tensor v = act2(&b->v, 0, KV, n);
    vkslm_tensor qkv = act2(&b->qkv, 0, QKV, n);                         /* (QK + 2 KV, n) fused projection */
    vkslm_tensor qs = {&b->qkv, 0, VKSLM_TYPE_F32, {HD, NH, n, 1}};      /* its q heads (rows QKV apart) */
    vkslm_tensor att = act2(&b->att, 0, QK, n);                          /* (QK, n) attention output */
    vkslm_tensor g = act2(&b->g, 0, F, n), u = act2(&b->u, 0, F, n);     /* (F, n) gate, up */
    vkslm_tensor gu = act2(&b->u, 0, 2 * F, n);                          /* (2F, n) fused rows gate | up */
    const uint64_t scratch_row = vkslm_attn_scratch_bytes(1, hp->n_head, (uint32_t)HD, VKSLM_ATTN_DEFAULT_SPLITS);
    const vkslm_tensor *ff;                                              /* (n_rot / 2) RoPE divisors, or NULL */
    vkslm_rope_params rope = rope_of(m, &R, b->kv.n_ctx, &ff), rope_q = rope;
    rope_q.a_token_stride = QKV;
    const multi_plan multi = plan_multi(vkslm_cmd_vk(c), hp, b, st, rope.n_rot);

    /* x = embedding of the tokens */
    VKSLM_TRY(vkslm_op_get_rows(c, &x, &m->tok_embd, &ids));
    if (R.embd_scale != 1.0f)
        VKSLM_TRY(vkslm_op_scale(c, &x, &x, R.embd_scale));
    /* The residual add of each block is fused into the norm that reads the stream next: x += h; h = norm(x).
     * Where the kernel fuses them (CPU devices' texel mat-vec), a block's output product adds itself to x and
     * the next product reads norm(x) in its loads: no norm or add pass at all (two dispatches a layer). */
    vkslm_vk *vk = vkslm_cmd_vk(c);
    int pending = 0; /* h holds a branch output not yet added to x */
    /* Products that store into the stream also write it times the next norm's weights in 8 bits (x8e), where the
     * product that reads it takes its input so (engine/ops/matmul.h: two rows a 32-bit integer); x8_holds says
     * that x8e holds the stream's rows for the next norm product. The logits' product reads it where the output
     * rows are all the step's rows (decode); in other steps it quantizes its rows itself (below). */
    const vkslm_tensor x8e = {&b->x8, 0, VKSLM_TYPE_I32, {vkslm_x8_pair_ints(E), vkslm_x8_pairs(n), 1, 1}};
    const int out_x8 = st->n_out == n && st->out_rows[0] == 0 && st->out_rows[n - 1] == n - 1 &&
                       vkslm_op_matmul_norm_fusable(vk, &m->output, &m->output_norm) &&
                       vkslm_op_matmul_x8_type(vk, &m->output) && E % 32 == 0;
    int x8_holds = 0;
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const vkslm_dev_layer *L = &m->layers[il];
        /* attention: q, k, v from norm(x) for every row at once */
        /* (q, k, v of different types stay three products: each then takes the norm in its loads) */
        const int qkv_norm =
            !pending &&
            (L->wqkv.buf ? !vkslm_lora_has(&lora, il, VKSLM_LORA_P_QKV) &&
                               vkslm_op_matmul_norm_fusable(vk, &L->wqkv, &L->attn_norm)
                         : !vkslm_lora_has(&lora, il, VKSLM_LORA_P_Q) && !vkslm_lora_has(&lora, il, VKSLM_LORA_P_K) &&
                               !vkslm_lora_has(&lora, il, VKSLM_LORA_P_V) &&
                               vkslm_op_matmul_norm_fusable(vk, &L->wq, &L->attn_norm) &&
                               vkslm_op_matmul_norm_fusable(vk, &L->wk, &L->attn_norm) &&
                               vkslm_op_matmul_norm_fusable(vk, &L->wv, &L->attn_norm));
        if (!qkv_norm)
            VKSLM_TRY(norm_in(c, &h, &x, pending, &L->attn_norm, eps));
        pending = 0;
        /* with one projection, q roped and k, v into the caches in one dispatch where one run or one
         * write covers the step. Three projections (q, k, v of different types) store into the rows of that
         * projection's output instead (one token, or any tokens where the norm is fused: products with a row
         * stride), and take the same one dispatch (not a RoPE pass and two writes); with adapters on them they
         * keep their own outputs. */
        const int qkv_rows = !L->wqkv.buf && !vkslm_lora_has(&lora, il, VKSLM_LORA_P_Q) &&
                             !vkslm_lora_has(&lora, il, VKSLM_LORA_P_K) && !vkslm_lora_has(&lora, il, VKSLM_LORA_P_V) &&
                             ((n == 1 && st->n_runs == 1) || (qkv_norm && (st->n_runs == 1 || multi.write)));
        const int qkv_write = (L->wqkv.buf && (st->n_runs == 1 || multi.write)) || qkv_rows;
        /* a decode step's attention ropes q and k and writes the cache itself: no qkv write before it */
        const int attend_qkv = multi.attend_qkv && (L->wqkv.buf || qkv_rows);
        const vkslm_matmul_fuse fnorm = {.norm = &L->attn_norm, .eps = eps};
        const vkslm_matmul_fuse fnorm8 = {.norm = &L->attn_norm, .eps = eps, .norm_x = &x};
        const int qkv_x8 = x8_holds; /* (the product that wrote x8e asked attn_in_x8 for this layer) */
        x8_holds = 0;
        if (qkv_x8) {
            VKSLM_TRY(vkslm_op_matmul_fused(c, &qkv, &L->wqkv, &x8e, opt(&L->bqkv), &fnorm8, 0));
        } else if (qkv_norm && L->wqkv.buf) {
            VKSLM_TRY(vkslm_op_matmul_fused(c, &qkv, &L->wqkv, &x, opt(&L->bqkv), &fnorm, 0));
        } else if (L->wqkv.buf) {
            VKSLM_TRY(vkslm_op_matmul(c, &qkv, &L->wqkv, &h, opt(&L->bqkv)));
        }
        if (L->wqkv.buf) { /* one projection; q and k|v are strided views of its rows */
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_QKV, &qkv, &h));
            if (qkv_write && !attend_qkv)
                VKSLM_TRY(qkv_write_all(c, b, st, il, &q3, &positions, ff, &rope, QKV, multi.write));
            else if (!attend_qkv)
                VKSLM_TRY(vkslm_op_rope(c, &q3, &qs, &positions, ff, &rope_q));
        } else { /* three projections: into q, k, v, or with qkv_rows into the rows of qkv (QKV elements apart; one
                  * token without the norm's fusion: contiguous) */
            const vkslm_tensor qr = act2(&b->qkv, 0, QK, n), kr = act2(&b->qkv, QK * 4, KV, n),
                               vr = act2(&b->qkv, (QK + KV) * 4, KV, n);
            const vkslm_tensor *qo = qkv_rows ? &qr : &q, *ko = qkv_rows ? &kr : &k, *vo = qkv_rows ? &vr : &v;
            if (qkv_norm) {
                vkslm_matmul_fuse fr = fnorm;
                fr.d_stride = qkv_rows ? QKV : 0;
                VKSLM_TRY(vkslm_op_matmul_fused(c, qo, &L->wq, &x, opt(&L->bq), &fr, 0));
                VKSLM_TRY(vkslm_op_matmul_fused(c, ko, &L->wk, &x, opt(&L->bk), &fr, 0));
                VKSLM_TRY(vkslm_op_matmul_fused(c, vo, &L->wv, &x, opt(&L->bv), &fr, 0));
            } else {
                VKSLM_TRY(vkslm_op_matmul(c, qo, &L->wq, &h, opt(&L->bq)));
                VKSLM_TRY(vkslm_op_matmul(c, ko, &L->wk, &h, opt(&L->bk)));
                VKSLM_TRY(vkslm_op_matmul(c, vo, &L->wv, &h, opt(&L->bv)));
                VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_Q, qo, &h));
                VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_K, ko, &h));
                VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_V, vo, &h));
            }
            if (qkv_rows && !attend_qkv)
                VKSLM_TRY(qkv_write_all(c, b, st, il, &q3, &positions, ff, &rope, QKV, multi.write));
            else if (!qkv_rows)
                VKSLM_TRY(vkslm_op_rope(c, &q3, &q3, &positions, ff, &rope));
        }
        /* k roped and v into each run's sequence's cache, then att = softmax(q k) v over that cache. All the
         * writes come first and then all the attentions: the runs touch different caches, so they need one
         * barrier between the two groups, not one per run. With several runs, one write covers every run
         * and one attention every stretch of single-token runs (decode tokens), where the layer's caches fit
         * one binding. */
        if (multi.write && !qkv_write)
            VKSLM_TRY(kv_write_all(c, b, L, il, &positions, ff, &rope, QK, QKV, n));
        for (uint32_t ir = 0; !multi.write && !qkv_write && ir < st->n_runs; ir++) {
            const vkslm_graph_run *r = &st->runs[ir];
            const uint64_t f = r->first, rn = r->n;
            vkslm_tensor kc = vkslm_step_kv(b, il, r->seq, VKSLM_KV_K); /* (HD, n_ctx, NKV) */
            vkslm_tensor vc = vkslm_step_kv(b, il, r->seq, VKSLM_KV_V);
            vkslm_tensor pos_r = {&b->pos, f * 4, VKSLM_TYPE_I32, {rn, 1, 1, 1}};
            if (L->wqkv.buf) {
                vkslm_tensor kvs = {&b->qkv, (QK + f * QKV) * 4, VKSLM_TYPE_F32, {HD, 2 * NKV, rn, 1}}; /* k then v */
                VKSLM_TRY(vkslm_op_kv_write_rope_kv(c, &kc, &kvs, &pos_r, QKV, ff, &rope));
            } else {
                vkslm_tensor k3 = act3(&b->k, f * KV * 4, HD, NKV, rn), v3 = act3(&b->v, f * KV * 4, HD, NKV, rn);
                VKSLM_TRY(vkslm_op_kv_write_rope(c, &kc, &k3, &pos_r, 0, ff, &rope));
                VKSLM_TRY(vkslm_op_kv_write(c, &vc, &v3, &pos_r, 0));
            }
        }
        vkslm_attn_params ap = {
            .scale = R.attn_scale, .softcap = R.attn_softcap, .window = vkslm_arch_layer_window(hp, il),
        };
        /* the o product below takes att in 8 bits: written so by a decode step's fused attention, else quantized
         * after the attention (where that attention would write it so: in every step, so that a token's logits
         * never depend on its step's other tokens) */
        const int o_fused = !R.post_norms && !vkslm_lora_has(&lora, il, VKSLM_LORA_P_O) &&
                            vkslm_op_matmul_glu_fusable(vk, &L->wo);
        const int att_x8 = o_fused && vkslm_attn_qkv_x8(vk, (uint32_t)HD) && vkslm_op_matmul_x8_type(vk, &L->wo);
        const vkslm_tensor att8 = {&b->att8, 0, VKSLM_TYPE_I32, {vkslm_x8_pair_ints(QK), vkslm_x8_pairs(n), 1, 1}};
        if (attend_qkv)
            VKSLM_TRY(attend_runs(c, hp, b, st, 0, st->n_runs, il, &ap, scratch_row, ff, &rope, att_x8 ? &att8 : NULL));
        for (uint32_t ir = 0; !attend_qkv && ir < st->n_runs;) {
            const vkslm_graph_run *r = &st->runs[ir];
            uint32_t stretch = multi.attend ? single_runs(st, ir) : 0;
            if (stretch >= 2) { /* runs ir .. ir + stretch - 1: one token each, of different sequences */
                VKSLM_TRY(attend_runs(c, hp, b, st, ir, stretch, il, &ap, scratch_row, NULL, NULL, NULL));
                ir += stretch;
                continue;
            }
            const uint64_t f = r->first, rn = r->n;
            vkslm_tensor kc = vkslm_step_kv(b, il, r->seq, VKSLM_KV_K);
            vkslm_tensor vc = vkslm_step_kv(b, il, r->seq, VKSLM_KV_V);
            vkslm_tensor q_r = act3(&b->q, f * QK * 4, HD, NH, rn), att_r = act3(&b->att, f * QK * 4, HD, NH, rn);
            vkslm_tensor scratch = act2(&b->attn_scratch, f * scratch_row, rn * scratch_row / 4, 1);
            vkslm_attn_params apr = ap;
            apr.p0 = r->p0;
            VKSLM_TRY(vkslm_op_attention(c, &att_r, &q_r, &kc, &vc, &scratch, &apr));
            ir++;
        }
        if (att_x8 && !attend_qkv)
            VKSLM_TRY(vkslm_op_quantize_x8(c, &att8, &att, NULL));
        const vkslm_matmul_fuse add = {.add = 1};
        if (o_fused) {
            /* x += att Wo (and x times the feed-forward's norm weights in 8 bits where its product takes them) */
            const int ffn_x8 = ffn_fused(vk, L, &lora, il) && vkslm_op_matmul_glu_out_fusable(vk, &L->ffn_up) &&
                               vkslm_op_matmul_x8_type(vk, &L->ffn_up) && E % 32 == 0;
            const vkslm_matmul_fuse add8 = {.add = 1, .x8_out = &x8e, .x8_g = &L->ffn_norm};
            VKSLM_TRY(vkslm_op_matmul_fused(c, &x, &L->wo, att_x8 ? &att8 : &att, NULL, ffn_x8 ? &add8 : &add, 0));
            x8_holds = ffn_x8;
        } else {
            VKSLM_TRY(vkslm_op_matmul(c, &h, &L->wo, &att, NULL));
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_O, &h, &att));
            if (R.post_norms)
                VKSLM_TRY(vkslm_op_rms_norm(c, &h, &h, &L->attn_post_norm, eps));
            pending = 1;
        }
        /* feed-forward: h = (act(norm(x += h) Wgate) * (norm(x) Wup)) Wdown */
        /* (pending here means post-norms or an adapter: then no fusion in this block) */
        const int up_norm = !pending && ffn_fused(vk, L, &lora, il);
        if (!up_norm)
            VKSLM_TRY(norm_in(c, &h, &x, pending, &L->ffn_norm, eps));
        pending = 0;
        if (up_norm && vkslm_op_matmul_glu_out_fusable(vk, &L->ffn_up)) {
            /* g = act(norm(x) Wgate) * (norm(x) Wup), x += g Wdown: two dispatches, the activation once per
             * element (in the down product's loads it would run in every one of its invocations) */
            /* with 8-bit x for the down product's weights, the activation also lands in 8 bits in u's buffer (two
             * sequences a 32-bit integer: engine/ops/matmul.h), and the down product sums in integers */
            const int x8 = vkslm_op_matmul_x8_type(vk, &L->ffn_down) && F % 32 == 0;
            const vkslm_tensor g8 = {&b->u, 0, VKSLM_TYPE_I32, {vkslm_x8_pair_ints(F), vkslm_x8_pairs(n), 1, 1}};
            const vkslm_matmul_fuse fn = {.norm = &L->ffn_norm, .eps = eps, .glu_out = R.gelu ? 2u : 1u,
                                          .x8_out = x8 ? &g8 : NULL, .norm_x = x8_holds ? &x : NULL};
            VKSLM_TRY(vkslm_op_matmul_fused(c, &g, &L->ffn_up, x8_holds ? &x8e : &x, NULL, &fn, 0));
            /* x += g Wdown, and x times the next norm's weights in 8 bits where its product takes them */
            const int next_x8 = il + 1 < hp->n_layer ? attn_in_x8(vk, m, &lora, il + 1) : out_x8;
            const vkslm_tensor *next_g = il + 1 < hp->n_layer ? &m->layers[il + 1].attn_norm : &m->output_norm;
            const vkslm_matmul_fuse add8 = {.add = 1, .x8_out = &x8e, .x8_g = next_g};
            VKSLM_TRY(vkslm_op_matmul_fused(c, &x, &L->ffn_down, x8 ? &g8 : &g, NULL, next_x8 ? &add8 : &add, 0));
            x8_holds = next_x8;
        } else if (up_norm) { /* gu = norm(x) Wup, x += act(gu) Wdown: the layer's feed-forward in two dispatches */
            const vkslm_matmul_fuse fn = {.norm = &L->ffn_norm, .eps = eps};
            const vkslm_matmul_fuse fd = {.glu = R.gelu ? 2u : 1u, .add = 1};
            VKSLM_TRY(vkslm_op_matmul_fused(c, &gu, &L->ffn_up, &x, NULL, &fn, 0));
            VKSLM_TRY(vkslm_op_matmul_fused(c, &x, &L->ffn_down, &gu, NULL, &fd, 0));
        } else if (L->ffn_gate.buf) {
            VKSLM_TRY(vkslm_op_matmul(c, &g, &L->ffn_gate, &h, NULL));
            VKSLM_TRY(vkslm_op_matmul(c, &u, &L->ffn_up, &h, NULL));
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_GATE, &g, &h));
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_UP, &u, &h));
            VKSLM_TRY(R.gelu ? vkslm_op_geglu(c, &g, &g, &u) : vkslm_op_swiglu(c, &g, &g, &u));
            VKSLM_TRY(vkslm_op_matmul(c, &h, &L->ffn_down, &g, NULL));
        } else { /* one projection to rows of gate | up; the activation in the down product's loads where the
                  * kernel has it (CPU devices: one dispatch and one pass over the rows fewer) */
            VKSLM_TRY(vkslm_op_matmul(c, &gu, &L->ffn_up, &h, NULL));
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_UP, &gu, &h));
            /* (not fused when an adapter of ffn_down needs the activation's output as its input) */
            if (vkslm_op_matmul_glu_fusable(vkslm_cmd_vk(c), &L->ffn_down) &&
                !vkslm_lora_has(&lora, il, VKSLM_LORA_P_DOWN)) {
                VKSLM_TRY(vkslm_op_matmul_glu(c, &h, &L->ffn_down, &gu, R.gelu, 0));
            } else {
                VKSLM_TRY(R.gelu ? vkslm_op_geglu(c, &g, &gu, NULL) : vkslm_op_swiglu(c, &g, &gu, NULL));
                VKSLM_TRY(vkslm_op_matmul(c, &h, &L->ffn_down, &g, NULL));
            }
        }
        if (!up_norm) {
            VKSLM_TRY(vkslm_lora_apply(c, &lora, il, VKSLM_LORA_P_DOWN, &h, &g));
            if (R.post_norms)
                VKSLM_TRY(vkslm_op_rms_norm(c, &h, &h, &L->ffn_post_norm, eps));
            pending = 1;
        }
    }
    if (pending) /* the last block's output: the stream is what the KV cache and the logits need */
        VKSLM_TRY(vkslm_op_add(c, &x, &x, &h));
    /* hidden states = norm(x) of the embd rows (embeddings: no lm_head product), a view of x or gathered */
    if (st->n_embd) {
        const uint32_t er = st->n_embd, e0 = st->embd_rows[0];
        vkslm_tensor en = act2(&b->embd, 0, E, er);
        if (st->embd_rows[er - 1] - e0 + 1 == er) {
            vkslm_tensor xe = act2(&b->x, (uint64_t)e0 * E * 4, E, er);
            VKSLM_TRY(vkslm_op_rms_norm(c, &en, &xe, &m->output_norm, eps));
        } else {
            vkslm_tensor embd_ids = {&b->out_ids, b->max_tokens * 4ull, VKSLM_TYPE_I32, {er, 1, 1, 1}};
            VKSLM_TRY(vkslm_op_get_rows(c, &en, &x, &embd_ids));
            VKSLM_TRY(vkslm_op_rms_norm(c, &en, &en, &m->output_norm, eps));
        }
    }
    if (st->n_out == 0)
        return VKSLM_OK;

    /* logits = norm(x) Woutput of the output rows: a view of x when they are one range, else gathered */
    const uint32_t rows = st->n_out, r0 = st->out_rows[0];
    vkslm_tensor xn = act2(&b->h, 0, E, rows);                           /* (E, rows) normed */
    vkslm_tensor logits = act2(&b->logits, 0, V, rows);                  /* (V, rows) */
    const int contiguous = st->out_rows[rows - 1] - r0 + 1 == rows;
    const int fusable = vkslm_op_matmul_norm_fusable(vk, &m->output, &m->output_norm);
    /* the product takes its rows in 8 bits wherever its weights do, in every step (a token's logits never depend on
     * its step's other rows): as the last down product wrote them where the output rows are all the step's rows
     * (x8_holds), else quantized here from the rows times the norm's weights, rounded as that product rounds */
    const int out8 = fusable && vkslm_op_matmul_x8_type(vk, &m->output) && E % 32 == 0;
    if (out8 || (contiguous && fusable)) {
        /* logits = norm(x) Woutput in one dispatch (the rows gathered first where they are not one range) */
        vkslm_tensor xo = act2(&b->x, (uint64_t)r0 * E * 4, E, rows);
        if (!contiguous) {
            vkslm_tensor out_ids = {&b->out_ids, 0, VKSLM_TYPE_I32, {rows, 1, 1, 1}};
            VKSLM_TRY(vkslm_op_get_rows(c, &xn, &x, &out_ids));
            xo = xn;
        }
        const vkslm_tensor x8o = {&b->x8, 0, VKSLM_TYPE_I32, {vkslm_x8_pair_ints(E), vkslm_x8_pairs(rows), 1, 1}};
        if (out8 && !x8_holds)
            VKSLM_TRY(vkslm_op_quantize_x8(c, &x8o, &xo, &m->output_norm));
        const vkslm_matmul_fuse f = {.norm = &m->output_norm, .eps = eps}, f8 = {.norm = &m->output_norm, .eps = eps,
                                                                                 .norm_x = &xo};
        VKSLM_TRY(vkslm_op_matmul_fused(c, &logits, &m->output, out8 ? &x8o : &xo, NULL, out8 ? &f8 : &f, 0));
    } else if (contiguous) {
        vkslm_tensor xo = act2(&b->x, (uint64_t)r0 * E * 4, E, rows);
        VKSLM_TRY(vkslm_op_rms_norm(c, &xn, &xo, &m->output_norm, eps));
        VKSLM_TRY(vkslm_op_matmul(c, &logits, &m->output, &xn, NULL));
    } else {
        vkslm_tensor out_ids = {&b->out_ids, 0, VKSLM_TYPE_I32, {rows, 1, 1, 1}};
        VKSLM_TRY(vkslm_op_get_rows(c, &xn, &x, &out_ids));
        VKSLM_TRY(vkslm_op_rms_norm(c, &xn, &xn, &m->output_norm, eps));
        VKSLM_TRY(vkslm_op_matmul(c, &logits, &m->output, &xn, NULL));
    }
    if (R.final_softcap > 0)
        VKSLM_TRY(vkslm_op_softcap(c, &logits, &logits, R.final_softcap));
    if (st->top_k) { /* ids and values per row (-inf values when every logit is NaN or -inf) */
        vkslm_tensor top_ids = {&b->top, 0, VKSLM_TYPE_I32, {st->top_k, rows, 1, 1}};
        vkslm_tensor top_vals = {&b->top, vkslm_step_top_values_offset(b), VKSLM_TYPE_F32, {st->top_k, rows, 1, 1}};
        VKSLM_TRY(vkslm_op_topk(c, &top_ids, &top_vals, &logits, st->top_k, &b->top_scratch));
    }
    return VKSLM_OK;
}
