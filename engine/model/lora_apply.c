/* Applying LoRA adapters in a step: the rows of a step are grouped by adapter (a sequence may select
 * several; a group holds the rows of every sequence that selects its adapter, each with its sequence's
 * scale), and after each adapted product every group adds its pairs:
 *     xg = the group's rows of the product's input   (get_rows; skipped when the group is every row)
 *     ta = A xg,  tb = B ta                           (the weight products, A and B as weights)
 *     out[rows][col ..] += mul * scale[row] * tb      (lora_scatter_add)
 * so each adapter costs two small products per adapted weight per step, whatever the number of sequences
 * that use it. */
#include <string.h>

#include "engine/model/lora.h"
#include "engine/ops/get_rows.h"
#include "engine/ops/lora.h"
#include "engine/ops/matmul.h"
#include "engine/util/error.h"

static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

void vkslm_lora_bufs_free(vkslm_vk *vk, vkslm_lora_bufs *b) {
    vkslm_vk_free(vk, &b->meta);
    vkslm_vk_free(vk, &b->xg);
    vkslm_vk_free(vk, &b->ta);
    vkslm_vk_free(vk, &b->tb);
    memset(b, 0, sizeof *b);
}

uint64_t vkslm_lora_bufs_bytes(const vkslm_lora_bufs *b) {
    return (b->meta.buffer ? b->meta.size : 0) + (b->xg.buffer ? b->xg.size : 0) + (b->ta.buffer ? b->ta.size : 0) +
           (b->tb.buffer ? b->tb.size : 0);
}

vkslm_status vkslm_lora_bufs_reserve(vkslm_vk *vk, const vkslm_model_dev *m, vkslm_lora_bufs *b, uint32_t max_tokens,
                                     uint32_t rank) {
    if (b->meta.buffer && max_tokens <= b->max_tokens && rank <= b->max_rank)
        return VKSLM_OK;
    if (max_tokens < b->max_tokens)
        max_tokens = b->max_tokens;
    if (rank < b->max_rank)
        rank = b->max_rank;
    vkslm_lora_bufs_free(vk, b);
    const vkslm_hparams *hp = &m->hp;
    const uint64_t T = max_tokens, QK = (uint64_t)hp->n_head * hp->n_embd_head_k;
    const uint64_t KV = (uint64_t)hp->n_head_kv * hp->n_embd_head_k;
    const uint64_t in = max2(max2(hp->n_embd, hp->n_ff), QK), out = max2(max2(QK + 2 * KV, 2ull * hp->n_ff), hp->n_embd);
    b->cap_meta = max_tokens * VKSLM_LORA_MAX_PER_SEQ;
    vkslm_status st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, 8ull * b->cap_meta, &b->meta);
    if (st == VKSLM_OK)
        st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, T * in * 4, &b->xg);
    if (st == VKSLM_OK)
        st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, T * max2(rank, 4) * 4, &b->ta);
    if (st == VKSLM_OK)
        st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, T * out * 4, &b->tb);
    if (st != VKSLM_OK) {
        vkslm_lora_bufs_free(vk, b);
        return vkslm_fail_context(st, "lora scratch buffers");
    }
    b->max_tokens = max_tokens;
    b->max_rank = rank;
    return VKSLM_OK;
}

vkslm_status vkslm_lora_begin(vkslm_cmd *c, const vkslm_step_bufs *sb, const vkslm_graph_step *st,
                              vkslm_lora_ctx *ctx) {
    ctx->n_groups = 0;
    ctx->n_rows = st->n;
    ctx->bufs = sb->lora_bufs;
    if (!sb->lora)
        return VKSLM_OK;
    /* the distinct adapters of the step, in order of first use */
    for (uint32_t ir = 0; ir < st->n_runs; ir++) {
        const vkslm_lora_sel *s = &sb->lora[st->runs[ir].seq];
        for (uint32_t i = 0; i < s->n; i++) {
            uint32_t g = 0;
            while (g < ctx->n_groups && ctx->g[g].lora != s->lora[i])
                g++;
            if (g == ctx->n_groups) {
                if (g == VKSLM_LORA_MAX_GROUPS)
                    return vkslm_fail(VKSLM_ERR_LIMIT, "lora: more than %d distinct adapters in one step",
                                      VKSLM_LORA_MAX_GROUPS);
                ctx->g[g].lora = s->lora[i];
                ctx->g[g].n = 0;
                ctx->n_groups++;
            }
            ctx->g[g].n += st->runs[ir].n;
        }
    }
    if (ctx->n_groups == 0)
        return VKSLM_OK;
    vkslm_lora_bufs *b = ctx->bufs;
    if (!b || b->max_tokens < st->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: the step's adapter buffers are not reserved");
    /* each group's rows and scales, packed one group after another */
    int32_t ids[512];
    float scales[512];
    uint32_t off = 0;
    for (uint32_t g = 0; g < ctx->n_groups; g++) {
        ctx->g[g].off = off;
        uint32_t k = 0, row = 0, all = 1;
        for (uint32_t ir = 0; ir < st->n_runs; ir++) {
            const vkslm_graph_run *r = &st->runs[ir];
            const vkslm_lora_sel *s = &sb->lora[r->seq];
            for (uint32_t i = 0; i < s->n; i++) {
                if (s->lora[i] != ctx->g[g].lora)
                    continue;
                for (uint32_t j = 0; j < r->n; j++) {
                    all &= r->first + j == row;
                    row++;
                    ids[k] = (int32_t)(r->first + j);
                    scales[k] = s->scale[i];
                    if (++k == 512) {
                        VKSLM_TRY(vkslm_cmd_update(c, &b->meta, 4ull * off, ids, 4ull * k));
                        VKSLM_TRY(vkslm_cmd_update(c, &b->meta, 4ull * (b->cap_meta + off), scales, 4ull * k));
                        off += k;
                        k = 0;
                    }
                }
            }
        }
        if (k) {
            VKSLM_TRY(vkslm_cmd_update(c, &b->meta, 4ull * off, ids, 4ull * k));
            VKSLM_TRY(vkslm_cmd_update(c, &b->meta, 4ull * (b->cap_meta + off), scales, 4ull * k));
            off += k;
        }
        ctx->g[g].all_rows = all && ctx->g[g].n == st->n;
    }
    return VKSLM_OK;
}

int vkslm_lora_has(const vkslm_lora_ctx *ctx, uint32_t il, vkslm_lora_product p) {
    for (uint32_t g = 0; g < ctx->n_groups; g++)
        for (int k = 0; k < VKSLM_LORA_KINDS; k++) {
            const vkslm_lora_mat *mat = &ctx->g[g].lora->mats[il * VKSLM_LORA_KINDS + k];
            if (mat->a.buf && mat->product == p)
                return 1;
        }
    return 0;
}

vkslm_status vkslm_lora_apply(vkslm_cmd *c, const vkslm_lora_ctx *ctx, uint32_t il, vkslm_lora_product p,
                              const vkslm_tensor *out, const vkslm_tensor *in) {
    for (uint32_t g = 0; g < ctx->n_groups; g++) {
        const vkslm_lora_dev *l = ctx->g[g].lora;
        const vkslm_lora_mat *mats = &l->mats[il * VKSLM_LORA_KINDS];
        const uint64_t n = ctx->g[g].n, off = ctx->g[g].off, K = in->ne[0];
        const vkslm_lora_bufs *b = ctx->bufs;
        vkslm_tensor ids = {&b->meta, 4 * off, VKSLM_TYPE_I32, {n, 1, 1, 1}};
        vkslm_tensor scales = {&b->meta, 4 * (b->cap_meta + off), VKSLM_TYPE_F32, {n, 1, 1, 1}};
        vkslm_tensor xg = {&b->xg, 0, VKSLM_TYPE_F32, {K, n, 1, 1}};
        int gathered = 0;
        for (int k = 0; k < VKSLM_LORA_KINDS; k++) {
            const vkslm_lora_mat *mat = &mats[k];
            if (!mat->a.buf || mat->product != p)
                continue;
            if (!gathered && !ctx->g[g].all_rows)
                VKSLM_TRY(vkslm_op_get_rows(c, &xg, in, &ids));
            gathered = 1;
            const uint64_t r = mat->a.ne[1], w = mat->b.ne[1];
            vkslm_tensor ta = {&b->ta, 0, VKSLM_TYPE_F32, {r, n, 1, 1}};
            vkslm_tensor tb = {&b->tb, 0, VKSLM_TYPE_F32, {w, n, 1, 1}};
            VKSLM_TRY(vkslm_op_matmul(c, &ta, &mat->a, ctx->g[g].all_rows ? in : &xg, NULL));
            VKSLM_TRY(vkslm_op_matmul(c, &tb, &mat->b, &ta, NULL));
            VKSLM_TRY(vkslm_op_lora_scatter_add(c, out, mat->col, &tb, &ids, &scales, mat->mul));
        }
    }
    return VKSLM_OK;
}
