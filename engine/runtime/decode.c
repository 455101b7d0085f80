/* The token-level API: batches, vkslm_decode and the sequence operations. A batch's entries are grouped
 * by sequence (stable: each sequence keeps its batch order) into runs of one step, cut into steps of the
 * session's n_batch rows; the outputs are mapped back to batch order. */
#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

struct vkslm_batch {
    uint32_t cap, n;
    int32_t *token, *seq;
    uint32_t *pos;
    bool *logits;
    bool *embd; /* the entry's hidden state is wanted (vkslm_batch_add_embd) */
};

vkslm_batch *vkslm_batch_init(uint32_t capacity) {
    if (capacity == 0) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_batch_init: capacity 0");
        return NULL;
    }
    vkslm_batch *b = VKSLM_CALLOC(1, sizeof *b);
    if (b) {
        b->cap = capacity;
        b->token = VKSLM_MALLOC((size_t)capacity * sizeof *b->token);
        b->seq = VKSLM_MALLOC((size_t)capacity * sizeof *b->seq);
        b->pos = VKSLM_MALLOC((size_t)capacity * sizeof *b->pos);
        b->logits = VKSLM_MALLOC((size_t)capacity * sizeof *b->logits);
        b->embd = VKSLM_MALLOC((size_t)capacity * sizeof *b->embd);
    }
    if (!b || !b->token || !b->seq || !b->pos || !b->logits || !b->embd) {
        vkslm_batch_free(b);
        vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "vkslm_batch_init: out of host memory for %u entries", capacity);
        return NULL;
    }
    return b;
}

void vkslm_batch_free(vkslm_batch *b) {
    if (!b)
        return;
    VKSLM_FREE(b->token);
    VKSLM_FREE(b->seq);
    VKSLM_FREE(b->pos);
    VKSLM_FREE(b->logits);
    VKSLM_FREE(b->embd);
    VKSLM_FREE(b);
}

void vkslm_batch_clear(vkslm_batch *b) {
    if (b)
        b->n = 0;
}

vkslm_status vkslm_batch_add_embd(vkslm_batch *b, int32_t token, uint32_t pos, int32_t seq, bool logits, bool embd) {
    if (!b)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_batch_add: NULL batch");
    if (b->n == b->cap)
        return vkslm_fail(VKSLM_ERR_LIMIT, "vkslm_batch_add: the batch is full (%u entries)", b->cap);
    b->token[b->n] = token;
    b->pos[b->n] = pos;
    b->seq[b->n] = seq;
    b->logits[b->n] = logits;
    b->embd[b->n] = embd;
    b->n++;
    return VKSLM_OK;
}

vkslm_status vkslm_batch_add(vkslm_batch *b, int32_t token, uint32_t pos, int32_t seq, bool logits) {
    return vkslm_batch_add_embd(b, token, pos, seq, logits, false);
}

uint32_t vkslm_batch_size(const vkslm_batch *b) { return b ? b->n : 0; }
uint32_t vkslm_batch_capacity(const vkslm_batch *b) { return b ? b->cap : 0; }

void vkslm_decode_forget(vkslm_session *s) {
    s->out.n_entries = s->out.n_out = s->out.k = s->out.n_embd = 0;
    s->out.has_logits = 0;
}

/* Feeds generate's pending token of sequence 0, if any, so the sequence holds what it reports. */
static vkslm_status settle(vkslm_session *s) {
    return s->gen.has_pending ? vkslm_session_feed(s, NULL, 0, VKSLM_GRAPH_NONE, NULL) : VKSLM_OK;
}

/* Checks the batch and fills s->order (entries grouped by sequence), s->tokens and s->runs (one per
 * sequence). */
static vkslm_status plan(vkslm_session *s, const vkslm_batch *b) {
    vkslm_session_dev *d = s->dev;
    const uint32_t n = b->n, n_seq = d->n_seq, n_ctx = d->b.kv.n_ctx, n_vocab = s->model->dev->hp.n_vocab;
    if (n > s->scratch_cap) {
        int32_t *o = VKSLM_REALLOC(s->order, (size_t)n * sizeof *o);
        if (o)
            s->order = o;
        int32_t *t = o ? VKSLM_REALLOC(s->tokens, (size_t)n * sizeof *t) : NULL;
        if (t)
            s->tokens = t;
        uint32_t *rw = t ? VKSLM_REALLOC(s->rows, (size_t)2 * n * sizeof *rw) : NULL;
        if (rw)
            s->rows = rw;
        vkslm_graph_run *ru = rw ? VKSLM_REALLOC(s->runs, (size_t)2 * n * sizeof *ru) : NULL;
        if (!ru)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "decode: out of host memory for %u entries", n);
        s->runs = ru;
        s->scratch_cap = n;
    }
    /* the runs, in the order each sequence first appears; an entry's run is found through last[seq] */
    uint32_t nr = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (b->token[i] < 0 || (uint32_t)b->token[i] >= n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "decode: entry %u: token %d is outside the vocabulary (%u)", i,
                              b->token[i], n_vocab);
        if (b->seq[i] < 0 || (uint32_t)b->seq[i] >= n_seq)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "decode: entry %u: sequence %d (the session has %u)", i, b->seq[i],
                              n_seq);
        if (b->pos[i] >= n_ctx)
            return vkslm_fail(VKSLM_ERR_LIMIT, "decode: entry %u: position %u is past the context (%u)", i, b->pos[i],
                              n_ctx);
        uint32_t r = 0;
        while (r < nr && s->runs[r].seq != (uint32_t)b->seq[i])
            r++;
        if (r == nr) {
            uint32_t len = d->seq_len[b->seq[i]];
            if (b->pos[i] > len)
                return vkslm_fail(VKSLM_ERR_INVALID_ARG,
                                  "decode: entry %u: position %u leaves a gap after sequence %d's %u positions", i,
                                  b->pos[i], b->seq[i], len);
            s->runs[nr++] = (vkslm_graph_run){(uint32_t)b->seq[i], 0, 0, b->pos[i]};
        } else if (b->pos[i] != s->runs[r].p0 + s->runs[r].n) {
            return vkslm_fail(VKSLM_ERR_INVALID_ARG,
                              "decode: entry %u: position %u of sequence %d does not follow its previous entry's %u", i,
                              b->pos[i], b->seq[i], s->runs[r].p0 + s->runs[r].n - 1);
        }
        s->runs[r].n++;
    }
    /* rows: run after run */
    uint32_t row = 0;
    for (uint32_t r = 0; r < nr; r++) {
        s->runs[r].first = row;
        row += s->runs[r].n;
    }
    uint32_t *fill = s->rows; /* next row of each run (rows is free until the steps; runs <= entries) */
    for (uint32_t r = 0; r < nr; r++)
        fill[r] = s->runs[r].first;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = 0;
        while (s->runs[r].seq != (uint32_t)b->seq[i])
            r++;
        s->order[fill[r]] = (int32_t)i;
        s->tokens[fill[r]++] = b->token[i];
    }
    return VKSLM_OK;
}

static vkslm_status reserve_out(vkslm_session *s, uint32_t n_entries, uint32_t n_out, uint32_t k, int logits,
                                uint32_t n_embd) {
    struct vkslm_decode_out *o = &s->out;
    uint64_t nv = s->model->dev->hp.n_vocab;
    if (n_entries > o->entries_cap) {
        size_t cap = o->entries_cap;
        VKSLM_TRY(vkslm_grow((void **)&o->row_of, &cap, n_entries, sizeof *o->row_of));
        cap = o->entries_cap;
        VKSLM_TRY(vkslm_grow((void **)&o->entry_of, &cap, n_entries, sizeof *o->entry_of));
        cap = o->entries_cap;
        VKSLM_TRY(vkslm_grow((void **)&o->embd_of, &cap, n_entries, sizeof *o->embd_of));
        o->entries_cap = cap;
    }
    size_t need_embd = (size_t)n_embd * s->model->dev->hp.n_embd;
    if (need_embd > o->embd_cap) {
        float *e = VKSLM_REALLOC(o->embd, need_embd * sizeof(float));
        if (!e)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "decode: out of host memory for %u hidden states", n_embd);
        o->embd = e;
        o->embd_cap = need_embd;
    }
    size_t need = logits ? (size_t)(nv * n_out) : 0, need_top = (size_t)n_out * k;
    if (need > o->logits_cap) {
        float *l = VKSLM_REALLOC(o->logits, need * sizeof(float));
        if (!l)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "decode: out of host memory for %u rows of logits", n_out);
        o->logits = l;
        o->logits_cap = need;
    }
    if (need_top > o->top_cap) {
        int32_t *ti = VKSLM_REALLOC(o->top_ids, need_top * sizeof(int32_t));
        if (ti)
            o->top_ids = ti;
        float *tv = ti ? VKSLM_REALLOC(o->top_vals, need_top * sizeof(float)) : NULL;
        if (!tv)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "decode: out of host memory for %u outputs", n_out);
        o->top_vals = tv;
        o->top_cap = need_top;
    }
    return VKSLM_OK;
}

/* Runs the planned rows in steps of n_batch; outputs in batch order into s->out. */
static vkslm_status run_steps(vkslm_session *s, const vkslm_batch *b, uint32_t k, int logits) {
    vkslm_session_dev *d = s->dev;
    struct vkslm_decode_out *o = &s->out;
    const uint32_t n = b->n, T = d->b.max_tokens;
    const uint64_t nv = s->model->dev->hp.n_vocab, E = s->model->dev->hp.n_embd;
    /* output index of every entry, in batch order (logits and hidden states apart) */
    uint32_t n_out = 0, n_embd = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (b->logits[i]) {
            o->entry_of[n_out] = (int32_t)i;
            o->row_of[i] = (int32_t)n_out++;
        } else {
            o->row_of[i] = -1;
        }
        o->embd_of[i] = b->embd[i] ? (int32_t)n_embd++ : -1;
    }
    o->n_entries = n;
    o->n_out = n_out;
    o->n_embd = n_embd;
    uint32_t *erows = s->rows + n; /* a step's hidden-state rows: the second half of the scratch */
    o->k = k;
    o->has_logits = logits;
    vkslm_graph_run *runs = s->runs + n; /* a step's runs: the second half of the scratch */
    uint32_t r = 0, used = 0;             /* run r, rows of it already stepped */
    for (uint32_t first = 0; first < n;) {
        uint32_t cnt = n - first < T ? n - first : T, nr = 0;
        /* the runs of rows [first, first + cnt), cut at the step's ends */
        for (uint32_t row = 0; row < cnt;) {
            const vkslm_graph_run *R = &s->runs[r];
            uint32_t take = R->n - used < cnt - row ? R->n - used : cnt - row;
            runs[nr++] = (vkslm_graph_run){R->seq, row, take, R->p0 + used};
            row += take;
            used += take;
            if (used == R->n) {
                r++;
                used = 0;
            }
        }
        uint32_t no = 0, ne = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            if (b->logits[s->order[first + i]])
                s->rows[no++] = i;
            if (b->embd[s->order[first + i]])
                erows[ne++] = i;
        }
        vkslm_graph_step st = {s->tokens + first, cnt, runs, nr, s->rows, no, k, erows, ne};
        VKSLM_TRY(vkslm_session_dev_step(d, &st, logits));
        for (uint32_t j = 0; j < ne; j++) {
            uint32_t out = (uint32_t)o->embd_of[s->order[first + erows[j]]];
            memcpy(o->embd + out * E, d->embd + j * E, E * sizeof(float));
        }
        for (uint32_t j = 0; j < no; j++) {
            uint32_t out = (uint32_t)o->row_of[s->order[first + s->rows[j]]];
            if (logits)
                memcpy(o->logits + out * nv, d->logits + j * nv, nv * sizeof(float));
            if (k) {
                memcpy(o->top_ids + (size_t)out * k, d->top_ids + (size_t)j * k, k * sizeof(int32_t));
                memcpy(o->top_vals + (size_t)out * k, d->top_vals + (size_t)j * k, k * sizeof(float));
            }
        }
        first += cnt;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_decode_ex(vkslm_session *s, const vkslm_batch *b, uint32_t k, int logits) {
    if (!s || !b)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_decode: NULL session or batch");
    vkslm_decode_forget(s);
    if (b->n == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_decode: an empty batch");
    if (k > VKSLM_TOP_K_MAX || k > s->model->dev->hp.n_vocab)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_decode_top: k %u (1 .. %u)", k, VKSLM_TOP_K_MAX);
    VKSLM_TRY(settle(s));
    uint32_t n_out = 0, n_embd = 0;
    VKSLM_TRY(plan(s, b));
    for (uint32_t i = 0; i < b->n; i++) {
        n_out += b->logits[i];
        n_embd += b->embd[i];
    }
    VKSLM_TRY(reserve_out(s, b->n, n_out, k, logits, n_embd));
    s->dev->gpu_ms = s->dev->record_ms = 0;
    return run_steps(s, b, k, logits);
}

vkslm_status vkslm_decode(vkslm_session *s, const vkslm_batch *b) { return vkslm_decode_ex(s, b, 0, 1); }
vkslm_status vkslm_decode_top(vkslm_session *s, const vkslm_batch *b, uint32_t k) {
    if (k == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_decode_top: k must be 1 .. %u", VKSLM_TOP_K_MAX);
    return vkslm_decode_ex(s, b, k, 0);
}

/* The output index of entry i (negative: from the last output), or -1. */
static int32_t out_index(const vkslm_session *s, int32_t i) {
    const struct vkslm_decode_out *o = &s->out;
    if (i < 0)
        return -i <= (int64_t)o->n_out ? (int32_t)o->n_out + i : -1;
    return (uint32_t)i < o->n_entries ? o->row_of[i] : -1;
}

const float *vkslm_logits_ith(vkslm_session *s, int32_t i) {
    if (!s || !s->out.has_logits)
        return NULL;
    int32_t o = out_index(s, i);
    return o < 0 ? NULL : s->out.logits + (size_t)o * s->model->dev->hp.n_vocab;
}

const float *vkslm_embd_ith(vkslm_session *s, int32_t i) {
    if (!s || i < 0 || (uint32_t)i >= s->out.n_entries || s->out.embd_of[i] < 0)
        return NULL;
    return s->out.embd + (size_t)s->out.embd_of[i] * s->model->dev->hp.n_embd;
}

uint32_t vkslm_top_ith(vkslm_session *s, int32_t i, const int32_t **ids, const float **logits) {
    int32_t o = s && s->out.k ? out_index(s, i) : -1;
    if (o < 0)
        return 0;
    if (ids)
        *ids = s->out.top_ids + (size_t)o * s->out.k;
    if (logits)
        *logits = s->out.top_vals + (size_t)o * s->out.k;
    return s->out.k;
}

/* ---- sequences --------------------------------------------------------------------------------- */
uint32_t vkslm_session_n_seq(const vkslm_session *s) { return s ? s->dev->n_seq : 0; }

/* The length of seq, generate's pending token included. */
static uint32_t seq_len(const vkslm_session *s, uint32_t seq) {
    return s->dev->seq_len[seq] + (seq == 0 && s->gen.has_pending);
}

int32_t vkslm_seq_pos_max(const vkslm_session *s, int32_t seq) {
    if (!s || seq < 0 || (uint32_t)seq >= s->dev->n_seq)
        return -1;
    return (int32_t)seq_len(s, (uint32_t)seq) - 1;
}

static vkslm_status check_seq(const vkslm_session *s, int32_t seq, const char *call) {
    if (!s)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: NULL session", call);
    if (seq >= 0 && (uint32_t)seq >= s->dev->n_seq)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: sequence %d (the session has %u)", call, seq, s->dev->n_seq);
    return VKSLM_OK;
}

vkslm_status vkslm_seq_rm(vkslm_session *s, int32_t seq, int32_t p0, int32_t p1) {
    VKSLM_TRY(check_seq(s, seq, "vkslm_seq_rm"));
    if (p0 < 0)
        p0 = 0;
    uint32_t lo = seq < 0 ? 0 : (uint32_t)seq, hi = seq < 0 ? s->dev->n_seq : (uint32_t)seq + 1;
    for (uint32_t q = lo; q < hi; q++) /* every sequence first: nothing changes when one refuses */
        if (p1 >= 0 && p1 > p0 && (uint32_t)p0 < seq_len(s, q) && (uint32_t)p1 < seq_len(s, q))
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED,
                              "vkslm_seq_rm: positions [%d, %d) are inside sequence %u (%u positions): only a range "
                              "that reaches the end can be removed",
                              p0, p1, q, seq_len(s, q));
    if (p1 >= 0 && p1 <= p0)
        return VKSLM_OK;
    for (uint32_t q = lo; q < hi; q++) {
        if ((uint32_t)p0 >= seq_len(s, q))
            continue;
        if (q == 0)
            s->gen.has_pending = 0;
        s->dev->seq_len[q] = (uint32_t)p0;
        vkslm_decode_forget(s);
    }
    return VKSLM_OK;
}

vkslm_status vkslm_seq_cp(vkslm_session *s, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    VKSLM_TRY(check_seq(s, src, "vkslm_seq_cp"));
    VKSLM_TRY(check_seq(s, dst, "vkslm_seq_cp"));
    if (src < 0 || dst < 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_seq_cp: sequences %d -> %d", src, dst);
    if (src == 0)
        VKSLM_TRY(settle(s));
    if (p0 < 0)
        p0 = 0;
    uint32_t src_len = seq_len(s, (uint32_t)src), end = p1 < 0 ? src_len : (uint32_t)p1;
    if (end > src_len || (uint32_t)p0 > end)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_seq_cp: positions [%d, %u) of sequence %d, which holds %u", p0,
                          end, src, src_len);
    if ((uint32_t)p0 > seq_len(s, (uint32_t)dst))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG,
                          "vkslm_seq_cp: sequence %d holds %u positions; copying from position %d would leave a gap",
                          dst, seq_len(s, (uint32_t)dst), p0);
    if (src == dst)
        return VKSLM_OK;
    VKSLM_TRY(vkslm_session_dev_copy(s->dev, (uint32_t)src, (uint32_t)dst, (uint32_t)p0, end));
    if (dst == 0)
        s->gen.has_pending = 0;
    vkslm_decode_forget(s);
    s->dev->seq_len[dst] = end;
    return VKSLM_OK;
}

vkslm_status vkslm_seq_clear(vkslm_session *s, int32_t seq) { return vkslm_seq_rm(s, seq, 0, -1); }

int32_t vkslm_sampler_sample(vkslm_sampler *sampler, vkslm_session *s, int32_t i) {
    if (!sampler || !s) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_sampler_sample: NULL sampler or session");
        return -1;
    }
    return vkslm_sampler_sample_logits(sampler, vkslm_logits_ith(s, i), (int32_t)s->model->dev->hp.n_vocab);
}
