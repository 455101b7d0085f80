#include "engine/runtime/session_dev.h"

#include <math.h>
#include <string.h>

#include "engine/ops/matmul.h"
#include "engine/util/alloc.h"
#include "engine/util/clock.h"
#include "engine/util/error.h"

void vkslm_session_dev_free(vkslm_session_dev *s) {
    if (!s)
        return;
    vkslm_cmd_destroy(s->cmd);
    vkslm_step_bufs_free(s->vk, &s->b);
    vkslm_lora_bufs_free(s->vk, &s->lora_bufs);
    VKSLM_FREE(s->lora);
    VKSLM_FREE(s->seq_len);
    VKSLM_FREE(s->logits);
    VKSLM_FREE(s->top_ids);
    VKSLM_FREE(s->top_vals);
    VKSLM_FREE(s->embd);
    VKSLM_FREE(s);
}

/* Host copies for `rows` output rows. */
static vkslm_status reserve_host(vkslm_session_dev *s, uint32_t rows) {
    if (rows <= s->host_rows)
        return VKSLM_OK;
    uint64_t nv = s->m->hp.n_vocab;
    float *l = VKSLM_REALLOC(s->logits, nv * rows * sizeof(float));
    if (l)
        s->logits = l;
    int32_t *ti = l ? VKSLM_REALLOC(s->top_ids, (size_t)rows * VKSLM_TOPK_MAX * sizeof(int32_t)) : NULL;
    if (ti)
        s->top_ids = ti;
    float *tv = ti ? VKSLM_REALLOC(s->top_vals, (size_t)rows * VKSLM_TOPK_MAX * sizeof(float)) : NULL;
    if (!tv)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %u rows of logits", rows);
    s->top_vals = tv;
    s->host_rows = rows;
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_create_seq(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t n_seq,
                                          uint32_t max_batch, uint32_t kv_type, vkslm_session_dev **out) {
    *out = NULL;
    if (n_ctx == 0 || max_batch == 0 || n_seq == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: context, sequences and batch must be positive");
    if (m->hp.n_ctx_train && n_ctx > m->hp.n_ctx_train)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: context %u exceeds the model's %u", n_ctx, m->hp.n_ctx_train);
    vkslm_session_dev *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->m = m;
    s->vk = vk;
    s->n_seq = n_seq;
    /* output rows: one per sequence to begin with (a decode step's); more are added on demand */
    uint32_t rows = n_seq < max_batch ? n_seq : max_batch;
    vkslm_status st = vkslm_step_bufs_alloc(vk, m, n_ctx, n_seq, max_batch, rows, kv_type, &s->b);
    if (st == VKSLM_OK)
        st = vkslm_cmd_create(vk, &s->cmd);
    if (st == VKSLM_OK && !(s->seq_len = VKSLM_CALLOC(n_seq, sizeof *s->seq_len)))
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == VKSLM_OK)
        st = reserve_host(s, rows);
    /* the decode steps of 3 .. 8 sequences (the mat-vec's vector counts; model loading resolved 1 and 2) */
    if (st == VKSLM_OK && n_seq > 2)
        st = vkslm_graph_resolve_batches(vk, m, &s->b, 3, VKSLM_MATMUL_MAX_VEC);
    if (st != VKSLM_OK) {
        vkslm_session_dev_free(s);
        return st;
    }
    *out = s;
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_create(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_batch,
                                      uint32_t kv_type, vkslm_session_dev **out) {
    return vkslm_session_dev_create_seq(vk, m, n_ctx, 1, max_batch, kv_type, out);
}

vkslm_status vkslm_session_dev_set_lora(vkslm_session_dev *s, uint32_t seq, const vkslm_lora_dev *const *lora,
                                        const float *scales, uint32_t n) {
    if (seq >= s->n_seq)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: sequence %u of %u", seq, s->n_seq);
    if (n > VKSLM_LORA_MAX_PER_SEQ)
        return vkslm_fail(VKSLM_ERR_LIMIT, "lora: %u adapters for one sequence (at most %d)", n,
                          VKSLM_LORA_MAX_PER_SEQ);
    for (uint32_t i = 0; i < n; i++) {
        if (!lora[i] || lora[i]->base != s->m)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: adapter %u is not loaded on this session's model", i);
        if (!isfinite(scales[i]))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: the scale of adapter %u is not finite", i);
        for (uint32_t j = 0; j < i; j++)
            if (lora[j] == lora[i])
                return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: adapter %u is selected twice", i);
    }
    if (!s->lora && n == 0)
        return VKSLM_OK;
    if (!s->lora && !(s->lora = VKSLM_CALLOC(s->n_seq, sizeof *s->lora)))
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkslm_lora_sel *sel = &s->lora[seq];
    s->n_lora_seqs -= sel->n > 0;
    sel->n = n;
    for (uint32_t i = 0; i < n; i++) {
        sel->lora[i] = lora[i];
        sel->id[i] = lora[i]->id;
        sel->scale[i] = scales[i];
    }
    s->n_lora_seqs += n > 0;
    return VKSLM_OK;
}

uint64_t vkslm_session_dev_bytes(const vkslm_session_dev *s) {
    return vkslm_step_bufs_bytes(&s->b) + vkslm_lora_bufs_bytes(&s->lora_bufs);
}

void vkslm_profile_add(vkslm_profile *p, const char *label, double ms, double bytes, double flops,
                       uint64_t dispatches) {
    uint32_t k = 0;
    while (k < p->n && strcmp(p->op[k].label, label) != 0)
        k++;
    if (k == p->n) {
        if (p->n == VKSLM_PROFILE_MAX)
            return;
        p->op[p->n++].label = label;
    }
    p->op[k].ms += ms;
    p->op[k].bytes += bytes;
    p->op[k].flops += flops;
    p->op[k].dispatches += dispatches;
}

static void accumulate(vkslm_session_dev *s) {
    const vkslm_timing *t;
    uint32_t nt = vkslm_cmd_timings(s->cmd, &t);
    for (uint32_t i = 0; i < nt; i++) {
        s->gpu_ms += t[i].gpu_ms;
        vkslm_profile_add(&s->profile, t[i].label, t[i].gpu_ms, t[i].bytes, t[i].flops, 1);
    }
}

vkslm_status vkslm_session_dev_step(vkslm_session_dev *s, const vkslm_graph_step *st, int logits) {
    s->n_rows = s->n_embd_rows = 0;
    VKSLM_TRY(vkslm_step_bufs_reserve_out(s->vk, s->m, &s->b, st->n_out));
    VKSLM_TRY(reserve_host(s, st->n_out));
    const uint64_t E = s->m->hp.n_embd;
    if (st->n_embd > s->embd_host_rows) {
        float *e = VKSLM_REALLOC(s->embd, E * st->n_embd * sizeof(float));
        if (!e)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %u hidden states", st->n_embd);
        s->embd = e;
        s->embd_host_rows = st->n_embd;
    }
    s->b.lora = NULL;
    uint32_t rank = 0; /* of the step's sequences' adapters (others may select adapters freed since) */
    for (uint32_t i = 0; s->n_lora_seqs && i < st->n_runs; i++) {
        const vkslm_lora_sel *sel = &s->lora[st->runs[i].seq];
        for (uint32_t k = 0; k < sel->n; k++)
            rank = sel->lora[k]->max_rank > rank ? sel->lora[k]->max_rank : rank;
    }
    if (s->n_lora_seqs) { /* the sequences' adapters, and scratch for them */
        VKSLM_TRY(vkslm_lora_bufs_reserve(s->vk, s->m, &s->lora_bufs, s->b.max_tokens, rank));
        s->b.lora = s->lora;
        s->b.lora_bufs = &s->lora_bufs;
    }
    double t0 = vkslm_thread_cpu_ms();
    VKSLM_TRY(vkslm_cmd_begin(s->cmd));
    VKSLM_TRY(vkslm_graph_record(s->cmd, s->m, &s->b, st));
    s->record_ms += vkslm_thread_cpu_ms() - t0;
    VKSLM_TRY(vkslm_cmd_submit_wait(s->cmd));
    accumulate(s);
    for (uint32_t i = 0; i < st->n_runs; i++)
        s->seq_len[st->runs[i].seq] = st->runs[i].p0 + st->runs[i].n;
    uint64_t nv = s->m->hp.n_vocab, k = st->top_k;
    if (st->n_out && k) { /* ids, then values: rows of k */
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.top, 0, s->top_ids, st->n_out * k * 4));
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.top, vkslm_step_top_values_offset(&s->b), s->top_vals,
                                    st->n_out * k * 4));
    }
    if (st->n_out && logits)
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.logits, 0, s->logits, nv * st->n_out * 4));
    if (st->n_embd)
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.embd, 0, s->embd, E * st->n_embd * 4));
    s->n_embd_rows = st->n_embd;
    s->n_rows = st->n_out;
    s->top_k = (uint32_t)k;
    return VKSLM_OK;
}

/* A step of tokens[0..n) of sequence 0 at its end; its last row an output when out_last. */
static vkslm_status step0(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, int out_last, uint32_t top_k,
                          int logits) {
    vkslm_graph_run run = {0, 0, n, s->seq_len[0]};
    uint32_t last = n - 1;
    vkslm_graph_step st = {tokens, n, &run, 1, &last, out_last ? 1 : 0, out_last ? top_k : 0, NULL, 0};
    return vkslm_session_dev_step(s, &st, logits);
}

vkslm_status vkslm_session_dev_eval(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_graph_out out,
                                    int32_t *argmax) {
    if (n == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "eval: no tokens");
    if (n > s->b.kv.n_ctx - s->seq_len[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "eval: %u more tokens do not fit the context (%u of %u used)", n,
                          s->seq_len[0], s->b.kv.n_ctx);
    s->gpu_ms = 0;
    s->record_ms = 0;
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < s->b.max_tokens ? n - done : s->b.max_tokens;
        int last = done + k == n && out != VKSLM_GRAPH_NONE;
        VKSLM_TRY(step0(s, tokens + done, k, last, last && out == VKSLM_GRAPH_ARGMAX, last && out == VKSLM_GRAPH_LOGITS));
        done += k;
    }
    if (out == VKSLM_GRAPH_ARGMAX && argmax) /* no logit above -inf (all NaN or -inf): -1, as the sampler gives */
        *argmax = s->top_vals[0] > -INFINITY ? s->top_ids[0] : -1;
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_eval_all(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_dev_logits_fn fn,
                                        void *user) {
    if (n == 0 || n > s->b.kv.n_ctx - s->seq_len[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "eval: %u tokens do not fit the context (%u of %u used)", n, s->seq_len[0],
                          s->b.kv.n_ctx);
    uint32_t *rows = VKSLM_MALLOC((size_t)s->b.max_tokens * sizeof *rows);
    if (!rows)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < s->b.max_tokens; i++)
        rows[i] = i;
    vkslm_status st = VKSLM_OK;
    for (uint32_t done = 0; st == VKSLM_OK && done < n;) {
        uint32_t k = n - done < s->b.max_tokens ? n - done : s->b.max_tokens;
        vkslm_graph_run run = {0, 0, k, s->seq_len[0]};
        vkslm_graph_step step = {tokens + done, k, &run, 1, rows, k, 0, NULL, 0};
        st = vkslm_session_dev_step(s, &step, 1);
        if (st == VKSLM_OK)
            st = fn(s->logits, done, k, user);
        done += k;
    }
    VKSLM_FREE(rows);
    return st;
}

vkslm_status vkslm_session_dev_rewind(vkslm_session_dev *s, uint32_t pos) {
    if (pos > s->seq_len[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rewind: position %u is past the %u tokens in the cache", pos,
                          s->seq_len[0]);
    s->seq_len[0] = pos;
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_copy(vkslm_session_dev *s, uint32_t src, uint32_t dst, uint32_t p0, uint32_t p1) {
    const vkslm_kv_layout *l = &s->b.kv;
    if (src >= s->n_seq || dst >= s->n_seq || p0 > p1 || p1 > l->n_ctx)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "copy: sequences %u -> %u, positions [%u, %u)", src, dst, p0, p1);
    if (src == dst || p0 == p1)
        return VKSLM_OK;
    uint64_t bytes = (uint64_t)(p1 - p0) * l->head_dim * vkslm_kv_elem_bytes(l);
    VKSLM_TRY(vkslm_cmd_begin(s->cmd));
    const uint64_t seq_bytes = 2u * vkslm_kv_part_bytes(l); /* a sequence's K and V in a layer's buffer */
    for (uint32_t layer = 0; layer < l->n_layer; layer++)
        for (uint32_t which = 0; which < 2; which++)
            for (uint32_t h = 0; h < l->n_kv_head; h++) {
                uint64_t off = vkslm_kv_row_offset(l, 0, which, h, p0);
                VKSLM_TRY(vkslm_cmd_copy(s->cmd, &s->b.kv_layer[layer], src * seq_bytes + off, &s->b.kv_layer[layer],
                                         dst * seq_bytes + off, bytes));
            }
    VKSLM_TRY(vkslm_cmd_submit_wait(s->cmd));
    accumulate(s);
    return VKSLM_OK;
}
