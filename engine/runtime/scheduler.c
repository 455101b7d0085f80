/* The scheduler (vkslm.h): continuous batching of many threads' requests on one model.
 *
 * Each request runs vkslm_gen_run on its own thread (sampling, stop strings, on_token); only its feeds go
 * through the scheduler: a feed queues the request's tokens and waits. The stepping thread gathers the
 * queued feeds (waiting a moment for every generating sequence to queue its next token, so steps stay
 * full), builds one batch (all single-token feeds, then prompt chunks up to max_prefill tokens in arrival
 * order), runs it, and wakes the feeds it completed. A feed longer than what a step takes stays queued
 * for the next steps (chunked prefill). Sequences (KV slots) are bound to a request when it starts: the
 * free slot whose history shares the longest prefix with the prompt (ties: least recently used). When a slot
 * that a running request holds shares a longer prefix, the stepping thread copies that prefix's KV into the
 * new request's slot (vkslm_seq_cp) before it starts: requests that begin alike at the same time (the n
 * choices of one prompt after vkslm_sequence_prefill) compute the common prompt once. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define DEFAULT_SEQ 4u
#define GATHER_US 1000 /* how long a step waits for the other generating sequences' next tokens */

typedef struct slot {
    int32_t *hist;      /* the tokens its KV cache holds, positions 0 .. len - 1 */
    uint32_t len, cap;
    int bound;          /* a request runs on it */
    uint64_t used;      /* clock of its last release */
    vkslm_lora_sel lora; /* the adapters its cache was computed with */
    int lora_dirty;     /* lora changed: the session's selection follows before the next step */
} slot;

struct vkslm_sequence {
    vkslm_gen gen;          /* first: generate's view */
    vkslm_scheduler *sch;
    int lent, generating;
    int slot;               /* bound slot, -1 */
    uint32_t n_past;        /* tokens this request holds (cached prefix + fed) */
    uint32_t skip;          /* prompt tokens to skip on the first feed: they are cached */
    /* the queued feed (guarded by the scheduler's lock) */
    int32_t *feed;          /* tokens to run, pending one first */
    uint32_t feed_n, feed_done, feed_cap;
    int queued;
    int want_logits;        /* the last token's logits (else its argmax) */
    vkslm_pooling embd;     /* the feed is an embedding's (MEAN: every row's hidden state, LAST: the last's); 0 not */
    double *embd_sum;       /* [n_embd] the sum of the hidden states read so far */
    uint32_t embd_rows;
    int in_step;            /* while a batch is built: its tokens are in it */
    uint64_t arrival;
    vkslm_status status;
    int32_t argmax;
    float *logits;          /* [n_vocab] host copy of the last fed token's logits */
    int logits_valid;
    /* a prefix copy the request waits for before it starts (guarded by the scheduler's lock) */
    int copy_pending, copy_src;
    uint32_t copy_len;      /* tokens to copy; 0 after a copy that could not be made */
    const int32_t *copy_ids; /* the tokens bind_slot matched (a prompt's or an embedding's input: the caller's,
                              * alive while it waits), whose prefix the copy must hold */
    vkslm_lora_sel lora;    /* the adapters of its requests (vkslm_sequence_set_lora) */
    pthread_cond_t done;
};

struct vkslm_scheduler {
    vkslm_model *model;
    vkslm_session *sess;
    vkslm_scheduler_params p;
    uint32_t n_seq, n_ctx, n_vocab, n_embd;
    slot *slots;
    vkslm_sequence *seqs;
    vkslm_batch *batch;
    int32_t *batch_seq;     /* [n_batch] the request of each entry */
    pthread_t thread;
    int thread_started, stop;
    pthread_mutex_t lock;
    pthread_cond_t work;    /* a feed was queued, a request started or ended, or stop */
    uint64_t clock;
    uint32_t copies;        /* requests waiting for a prefix copy */
    vkslm_scheduler_stats stats;
};

vkslm_scheduler_params vkslm_scheduler_default_params(void) {
    vkslm_scheduler_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- the request side ------------------------------------------------------------------------- */
static vkslm_status seq_feed(vkslm_gen *g, const int32_t *ids, uint32_t n, vkslm_graph_out out, int32_t *argmax) {
    vkslm_sequence *q = (vkslm_sequence *)g;
    vkslm_scheduler *sch = q->sch;
    uint32_t skip = q->skip < n ? q->skip : n; /* the cached prefix of the prompt (at least one token runs) */
    q->skip = 0;
    uint32_t total = (uint32_t)g->has_pending + n - skip;
    if (total == 0)
        return VKSLM_OK;
    if (q->n_past + total > sch->n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "generate: %u more tokens do not fit the context (%u of %u used)", total,
                          q->n_past, sch->n_ctx);
    if (total > q->feed_cap) {
        size_t cap = q->feed_cap;
        VKSLM_TRY(vkslm_grow((void **)&q->feed, &cap, total, sizeof *q->feed));
        q->feed_cap = (uint32_t)cap;
    }
    uint32_t k = 0;
    if (g->has_pending)
        q->feed[k++] = g->pending;
    if (n > skip)
        memcpy(q->feed + k, ids + skip, (size_t)(n - skip) * sizeof *ids);
    g->has_pending = 0;
    pthread_mutex_lock(&sch->lock);
    q->feed_n = total;
    q->feed_done = 0;
    q->want_logits = out == VKSLM_GRAPH_LOGITS;
    q->logits_valid = 0;
    q->status = VKSLM_OK;
    q->arrival = ++sch->clock;
    q->queued = 1;
    pthread_cond_signal(&sch->work);
    while (q->queued)
        pthread_cond_wait(&q->done, &sch->lock);
    vkslm_status st = q->status;
    pthread_mutex_unlock(&sch->lock);
    if (st != VKSLM_OK)
        return vkslm_fail(st, "generate: %s", vkslm_status_str(st));
    q->n_past += total;
    if (out == VKSLM_GRAPH_ARGMAX && argmax)
        *argmax = q->argmax;
    return VKSLM_OK;
}

static const float *seq_logits(vkslm_gen *g) {
    vkslm_sequence *q = (vkslm_sequence *)g;
    return q->logits_valid ? q->logits : NULL;
}

static uint32_t seq_n_past(const vkslm_gen *g) {
    const vkslm_sequence *q = (const vkslm_sequence *)g;
    return q->n_past + (uint32_t)g->has_pending;
}

static int same_lora(const vkslm_lora_sel *a, const vkslm_lora_sel *b) { return vkslm_lora_sel_equal(a, b); }

/* Tokens of the prompt the slot's cache holds (none when computed with other adapters). */
static uint32_t common_prefix(const slot *s, const vkslm_lora_sel *lora, const int32_t *ids, uint32_t n) {
    uint32_t m = 0;
    if (!same_lora(&s->lora, lora))
        return 0;
    while (m < s->len && m < n && s->hist[m] == ids[m])
        m++;
    return m;
}

/* Binds the free slot that best matches the prompt (lock held); returns the tokens it already holds. When
 * a bound slot matches more, waits for the stepping thread to copy that prefix into the new slot. Without
 * `reuse` (every token must run) the least recently used free slot, emptied. */
static uint32_t bind_slot(vkslm_scheduler *sch, vkslm_sequence *q, const int32_t *ids, uint32_t n, int reuse) {
    int best = -1, src = -1;
    uint32_t best_len = 0, src_len = 0;
    for (uint32_t i = 0; i < sch->n_seq; i++) {
        const slot *s = &sch->slots[i];
        uint32_t m = reuse ? common_prefix(s, &q->lora, ids, n) : 0;
        if (s->bound) {
            if (m > src_len) {
                src = (int)i;
                src_len = m;
            }
        } else if (best < 0 || m > best_len || (m == best_len && s->used < sch->slots[best].used)) {
            best = (int)i;
            best_len = m;
        }
    }
    /* best >= 0: at most n_seq requests are lent */
    sch->slots[best].bound = 1;
    q->slot = best;
    if (!same_lora(&sch->slots[best].lora, &q->lora)) { /* best_len is 0: its cache is of other weights */
        sch->slots[best].lora = q->lora;
        sch->slots[best].lora_dirty = 1;
    }
    if (best_len >= n) /* one token at least runs, for the logits */
        best_len = n - 1;
    if (src_len >= n)
        src_len = n - 1;
    if (src >= 0 && src_len > best_len) {
        sch->slots[best].len = 0; /* nothing of it is kept: it holds the copy once made */
        q->copy_src = src;
        q->copy_len = src_len;
        q->copy_ids = ids;
        q->copy_pending = 1;
        sch->copies++;
        pthread_cond_signal(&sch->work);
        while (q->copy_pending)
            pthread_cond_wait(&q->done, &sch->lock);
        return q->copy_len;
    }
    sch->slots[best].len = best_len; /* the rest is forgotten (the stepping thread trims the cache) */
    return best_len;
}

/* Gives the request's slot back (its history stays for later prompts). */
static void unbind(vkslm_sequence *q) {
    vkslm_scheduler *sch = q->sch;
    pthread_mutex_lock(&sch->lock);
    q->generating = 0;
    slot *s = &sch->slots[q->slot];
    s->bound = 0;
    s->used = ++sch->clock;
    q->slot = -1;
    pthread_cond_signal(&sch->work); /* one fewer sequence to wait for */
    pthread_mutex_unlock(&sch->lock);
}

vkslm_status vkslm_sequence_prefill(vkslm_sequence *q, const int32_t *ids, size_t n, size_t *n_cached) {
    if (n_cached)
        *n_cached = 0;
    if (!q || (!ids && n))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_sequence_prefill: NULL sequence or ids");
    vkslm_scheduler *sch = q->sch;
    if (n > sch->n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "prefill: the prompt (%zu tokens) does not fit the context (%u)", n,
                          sch->n_ctx);
    if (n < 2)
        return VKSLM_OK; /* generate computes the last token itself */
    VKSLM_TRY(vkslm_gen_set_prompt(&q->gen, ids, n));
    uint32_t m = (uint32_t)n - 1;
    pthread_mutex_lock(&sch->lock);
    uint32_t cached = bind_slot(sch, q, q->gen.prompt_ids, m + 1, 1);
    q->generating = 1;
    sch->stats.cached_tokens += cached;
    pthread_mutex_unlock(&sch->lock);
    if (n_cached)
        *n_cached = cached;
    q->gen.has_pending = 0;
    q->n_past = cached;
    q->skip = cached;
    vkslm_status st = cached < m ? seq_feed(&q->gen, q->gen.prompt_ids, m, VKSLM_GRAPH_NONE, NULL) : VKSLM_OK;
    unbind(q);
    return st;
}

vkslm_status vkslm_sequence_generate(vkslm_sequence *q, const int32_t *ids, size_t n,
                                     const vkslm_generate_params *params, vkslm_generate_result *result) {
    if (!q || !ids || n == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_sequence_generate: NULL sequence or no prompt");
    if (result)
        memset(result, 0, sizeof *result);
    vkslm_scheduler *sch = q->sch;
    if (n > sch->n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "generate: the prompt (%zu tokens) does not fit the context (%u)", n,
                          sch->n_ctx);
    VKSLM_TRY(vkslm_gen_set_prompt(&q->gen, ids, n));
    pthread_mutex_lock(&sch->lock);
    uint32_t cached = bind_slot(sch, q, q->gen.prompt_ids, (uint32_t)n, 1);
    q->generating = 1;
    sch->stats.cached_tokens += cached;
    pthread_mutex_unlock(&sch->lock);
    q->gen.has_pending = 0;
    q->gen.n_cached = cached;
    q->n_past = cached;
    q->skip = cached;
    q->logits_valid = 0;
    vkslm_status st = vkslm_gen_run(&q->gen, n, params, result);
    unbind(q);
    return st;
}

vkslm_status vkslm_sequence_embed(vkslm_sequence *q, const int32_t *ids, size_t n, vkslm_pooling pooling,
                                  float *out) {
    if (!q || !ids || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_sequence_embed: NULL argument");
    vkslm_scheduler *sch = q->sch;
    VKSLM_TRY(vkslm_embd_check(sch->model, ids, n, sch->n_ctx, &pooling, "vkslm_sequence_embed"));
    const uint32_t E = (uint32_t)vkslm_model_n_embd(sch->model);
    if (n > q->feed_cap) {
        size_t cap = q->feed_cap;
        VKSLM_TRY(vkslm_grow((void **)&q->feed, &cap, n, sizeof *q->feed));
        q->feed_cap = (uint32_t)cap;
    }
    if (!q->embd_sum && !(q->embd_sum = VKSLM_MALLOC((size_t)E * sizeof *q->embd_sum)))
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    memset(q->embd_sum, 0, (size_t)E * sizeof *q->embd_sum);
    q->embd_rows = 0;
    pthread_mutex_lock(&sch->lock);
    /* last-token pooling needs only the last row: a cached prefix of the input is kept as a prompt's is. Mean
     * pooling needs every row, so it takes the least recently used free slot and computes it all */
    uint32_t cached = bind_slot(sch, q, ids, (uint32_t)n, pooling == VKSLM_POOLING_LAST);
    sch->stats.cached_tokens += cached;
    memcpy(q->feed, ids + cached, (n - cached) * sizeof *ids);
    q->feed_n = (uint32_t)n - cached;
    q->feed_done = 0;
    q->want_logits = 0;
    q->embd = pooling;
    q->status = VKSLM_OK;
    q->arrival = ++sch->clock;
    q->queued = 1;
    pthread_cond_signal(&sch->work);
    while (q->queued)
        pthread_cond_wait(&q->done, &sch->lock);
    vkslm_status st = q->status;
    q->embd = 0;
    slot *s = &sch->slots[q->slot];
    s->bound = 0;
    s->used = ++sch->clock;
    q->slot = -1;
    pthread_cond_signal(&sch->work);
    pthread_mutex_unlock(&sch->lock);
    if (st != VKSLM_OK)
        return vkslm_fail(st, "embed: %s", vkslm_status_str(st));
    vkslm_embd_finish(q->embd_sum, q->embd_rows, E, out);
    return VKSLM_OK;
}

/* ---- the stepping thread ---------------------------------------------------------------------- */
static void deadline_in(struct timespec *t, long us) {
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_nsec += us * 1000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int count_queued(const vkslm_scheduler *sch, uint32_t *generating) {
    int n = 0;
    *generating = 0;
    for (uint32_t i = 0; i < sch->n_seq; i++) {
        n += sch->seqs[i].queued;
        *generating += (uint32_t)sch->seqs[i].generating;
    }
    return n;
}

/* Appends tokens of request q to its slot's history (lock held). */
static vkslm_status remember(vkslm_scheduler *sch, vkslm_sequence *q, const int32_t *t, uint32_t n) {
    slot *s = &sch->slots[q->slot];
    if (s->len + n > s->cap) {
        size_t cap = s->cap;
        VKSLM_TRY(vkslm_grow((void **)&s->hist, &cap, s->len + n, sizeof *s->hist));
        s->cap = (uint32_t)cap;
    }
    memcpy(s->hist + s->len, t, (size_t)n * sizeof *t);
    s->len += n;
    return VKSLM_OK;
}

/* The stepping thread (lock held, no step running): the prefix copies bind_slot asked for. The source still
 * holds the prefix: a bound slot only grows, and one released since then is trimmed on the device only by
 * a later step (its history is checked all the same). */
static void make_copies(vkslm_scheduler *sch) {
    for (uint32_t i = 0; i < sch->n_seq; i++) {
        vkslm_sequence *q = &sch->seqs[i];
        if (!q->copy_pending)
            continue;
        const slot *from = &sch->slots[q->copy_src];
        uint32_t len = q->copy_len;
        /* (the request's own tokens: an embedding's are not its generation prompt, which may be unset) */
        int ok = common_prefix(from, &q->lora, q->copy_ids, len) == len &&
                 vkslm_seq_cp(sch->sess, q->copy_src, q->slot, 0, (int32_t)len) == VKSLM_OK;
        sch->slots[q->slot].len = 0;
        if (!ok || remember(sch, q, q->copy_ids, len) != VKSLM_OK) {
            q->copy_len = 0; /* the request computes its whole prompt */
            sch->slots[q->slot].len = 0;
        }
        q->copy_pending = 0;
        sch->copies--;
        pthread_cond_signal(&q->done);
    }
}

/* Builds the next batch from the queued feeds (lock held); returns its size. */
static uint32_t build_batch(vkslm_scheduler *sch, int *any_logits) {
    vkslm_batch_clear(sch->batch);
    uint32_t room = sch->p.n_batch, prefill = sch->p.max_prefill, rows = 0;
    *any_logits = 0;
    /* decode first: every queued single token; then prompt chunks in arrival order */
    for (int pass = 0; pass < 2; pass++) {
        for (;;) {
            vkslm_sequence *pick = NULL;
            for (uint32_t i = 0; i < sch->n_seq; i++) {
                vkslm_sequence *q = &sch->seqs[i];
                uint32_t left = q->queued ? q->feed_n - q->feed_done : 0;
                if (!left || q->in_step || (pass == 0) != (left == 1))
                    continue;
                if (!pick || q->arrival < pick->arrival)
                    pick = q;
            }
            if (!pick || room == 0 || (pass == 1 && prefill == 0))
                break;
            uint32_t left = pick->feed_n - pick->feed_done, take = left < room ? left : room;
            if (pass == 1 && take > prefill)
                take = prefill;
            const slot *s = &sch->slots[pick->slot];
            for (uint32_t j = 0; j < take; j++) {
                int last = pick->feed_done + j + 1 == pick->feed_n;
                /* an embedding wants hidden states (every row's or the last's), never logits */
                bool embd = pick->embd == VKSLM_POOLING_MEAN || (pick->embd && last);
                vkslm_batch_add_embd(sch->batch, pick->feed[pick->feed_done + j], s->len + j, pick->slot,
                                     last && !pick->embd, embd);
                sch->batch_seq[rows + j] = (int32_t)(pick - sch->seqs);
                *any_logits |= last && pick->want_logits;
            }
            rows += take;
            room -= take;
            if (pass == 1)
                prefill -= take;
            pick->in_step = 1;
            if (pass == 0)
                sch->stats.decode_rows += take;
        }
    }
    for (uint32_t i = 0; i < sch->n_seq; i++)
        sch->seqs[i].in_step = 0;
    return rows;
}

static void *step_loop(void *arg) {
    vkslm_scheduler *sch = arg;
    pthread_mutex_lock(&sch->lock);
    while (!sch->stop) {
        if (sch->copies)
            make_copies(sch);
        uint32_t generating;
        int queued = count_queued(sch, &generating);
        if (!queued) {
            if (!sch->copies)
                pthread_cond_wait(&sch->work, &sch->lock);
            continue;
        }
        /* a moment for the other generating sequences to queue their next token */
        struct timespec until;
        deadline_in(&until, GATHER_US);
        while (!sch->stop && (uint32_t)(queued = count_queued(sch, &generating)) < generating)
            if (pthread_cond_timedwait(&sch->work, &sch->lock, &until) != 0)
                break;
        if (sch->stop)
            break;
        int any_logits;
        uint32_t rows = build_batch(sch, &any_logits);
        /* the slots of requests that start trim their caches to what they keep */
        for (uint32_t i = 0; i < sch->n_seq; i++) {
            vkslm_sequence *q = &sch->seqs[i];
            if (q->queued && q->feed_done == 0 && q->slot >= 0)
                vkslm_seq_rm(sch->sess, q->slot, (int32_t)sch->slots[q->slot].len, -1);
        }
        /* and take their adapters */
        for (uint32_t i = 0; i < sch->n_seq; i++) {
            slot *s = &sch->slots[i];
            if (s->lora_dirty && vkslm_session_dev_set_lora(sch->sess->dev, i, s->lora.lora, s->lora.scale,
                                                            s->lora.n) == VKSLM_OK)
                s->lora_dirty = 0;
        }
        pthread_mutex_unlock(&sch->lock);
        /* the step: top-1 of every output row, and the logits when some request samples */
        vkslm_status st = vkslm_decode_ex(sch->sess, sch->batch, 1, any_logits);
        pthread_mutex_lock(&sch->lock);
        sch->stats.steps++;
        sch->stats.rows += rows;
        if (rows > sch->stats.max_rows)
            sch->stats.max_rows = rows;
        /* hand out: each request's entries are consecutive in the batch */
        for (uint32_t e = 0; e < rows;) {
            vkslm_sequence *q = &sch->seqs[sch->batch_seq[e]];
            uint32_t k = 0;
            while (e + k < rows && sch->batch_seq[e + k] == sch->batch_seq[e])
                k++;
            if (st == VKSLM_OK)
                st = remember(sch, q, q->feed + q->feed_done, k);
            for (uint32_t j = 0; st == VKSLM_OK && q->embd && j < k; j++) {
                const float *h = vkslm_embd_ith(sch->sess, (int32_t)(e + j));
                for (uint32_t c = 0; h && c < sch->n_embd; c++)
                    q->embd_sum[c] += h[c];
                q->embd_rows += h != NULL;
            }
            q->feed_done += k;
            if (st != VKSLM_OK || q->feed_done == q->feed_n) {
                q->status = st;
                if (st == VKSLM_OK && q->embd) {
                    /* an embedding's hidden states were summed above */
                } else if (st == VKSLM_OK) {
                    const int32_t *ids;
                    const float *vals;
                    vkslm_top_ith(sch->sess, (int32_t)(e + k - 1), &ids, &vals);
                    q->argmax = vals[0] > -INFINITY ? ids[0] : -1; /* all NaN or -inf: -1, as the sampler */
                    const float *l = q->want_logits ? vkslm_logits_ith(sch->sess, (int32_t)(e + k - 1)) : NULL;
                    if (l) {
                        memcpy(q->logits, l, (size_t)sch->n_vocab * sizeof(float));
                        q->logits_valid = 1;
                    }
                } else {
                    /* the slot's cache is in doubt: forget it */
                    sch->slots[q->slot].len = 0;
                    vkslm_seq_rm(sch->sess, q->slot, 0, -1);
                }
                q->queued = 0;
                pthread_cond_signal(&q->done);
            }
            e += k;
        }
    }
    pthread_mutex_unlock(&sch->lock);
    return NULL;
}

/* ---- lifetime ---------------------------------------------------------------------------------- */
vkslm_status vkslm_scheduler_create(vkslm_model *model, const vkslm_scheduler_params *params,
                                    vkslm_scheduler **out) {
    if (!model || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_scheduler_create: NULL model or output");
    *out = NULL;
    vkslm_scheduler_params p = params ? *params : vkslm_scheduler_default_params();
    if (p.n_seq == 0)
        p.n_seq = DEFAULT_SEQ;
    if (p.n_seq > 256)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "scheduler: %u sequences (at most 256)", p.n_seq);
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = p.n_ctx;
    sp.n_batch = p.n_batch;
    sp.n_seq = p.n_seq;
    sp.kv_f32 = p.kv_f32;
    vkslm_scheduler *sch = VKSLM_CALLOC(1, sizeof *sch);
    if (!sch)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    sch->model = model;
    pthread_mutex_init(&sch->lock, NULL);
    pthread_cond_init(&sch->work, NULL);
    vkslm_status st = vkslm_session_create(model, &sp, &sch->sess);
    if (st == VKSLM_OK) {
        sch->n_seq = p.n_seq;
        sch->n_ctx = vkslm_session_n_ctx(sch->sess);
        sch->n_vocab = (uint32_t)vkslm_model_n_vocab(model);
        sch->n_embd = (uint32_t)vkslm_model_n_embd(model);
        p.n_batch = sch->sess->dev->b.max_tokens;
        if (p.max_prefill == 0 || p.max_prefill > p.n_batch)
            p.max_prefill = p.n_batch;
        sch->p = p;
        sch->slots = VKSLM_CALLOC(p.n_seq, sizeof *sch->slots);
        sch->seqs = VKSLM_CALLOC(p.n_seq, sizeof *sch->seqs);
        sch->batch_seq = VKSLM_CALLOC(p.n_batch, sizeof *sch->batch_seq);
        sch->batch = sch->slots && sch->seqs && sch->batch_seq ? vkslm_batch_init(p.n_batch) : NULL;
        if (!sch->batch)
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    for (uint32_t i = 0; st == VKSLM_OK && i < p.n_seq; i++) {
        vkslm_sequence *q = &sch->seqs[i];
        q->sch = sch;
        q->slot = -1;
        q->gen.model = model;
        q->gen.feed = seq_feed;
        q->gen.logits = seq_logits;
        q->gen.n_past = seq_n_past;
        q->gen.n_ctx = sch->n_ctx;
        pthread_cond_init(&q->done, NULL);
        if (!(q->logits = VKSLM_MALLOC((size_t)sch->n_vocab * sizeof(float))))
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    if (st == VKSLM_OK) {
        if (pthread_create(&sch->thread, NULL, step_loop, sch) != 0)
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "scheduler: cannot start its thread");
        else
            sch->thread_started = 1;
    }
    if (st != VKSLM_OK) {
        vkslm_scheduler_free(sch);
        return st;
    }
    *out = sch;
    return VKSLM_OK;
}

void vkslm_scheduler_free(vkslm_scheduler *sch) {
    if (!sch)
        return;
    if (sch->thread_started) {
        pthread_mutex_lock(&sch->lock);
        sch->stop = 1;
        pthread_cond_broadcast(&sch->work);
        pthread_mutex_unlock(&sch->lock);
        pthread_join(sch->thread, NULL);
    }
    for (uint32_t i = 0; sch->seqs && i < sch->n_seq; i++) {
        vkslm_sequence *q = &sch->seqs[i];
        if (q->sch) {
            vkslm_gen_free_buffers(&q->gen);
            VKSLM_FREE(q->feed);
            VKSLM_FREE(q->logits);
            VKSLM_FREE(q->embd_sum);
            pthread_cond_destroy(&q->done);
        }
    }
    for (uint32_t i = 0; sch->slots && i < sch->n_seq; i++)
        VKSLM_FREE(sch->slots[i].hist);
    VKSLM_FREE(sch->slots);
    VKSLM_FREE(sch->seqs);
    VKSLM_FREE(sch->batch_seq);
    vkslm_batch_free(sch->batch);
    vkslm_session_free(sch->sess);
    pthread_cond_destroy(&sch->work);
    pthread_mutex_destroy(&sch->lock);
    VKSLM_FREE(sch);
}

uint64_t vkslm_scheduler_device_bytes(const vkslm_scheduler *sch) {
    return sch ? vkslm_session_device_bytes(sch->sess) : 0;
}
uint32_t vkslm_scheduler_n_seq(const vkslm_scheduler *sch) { return sch ? sch->n_seq : 0; }
uint32_t vkslm_scheduler_n_ctx(const vkslm_scheduler *sch) { return sch ? sch->n_ctx : 0; }

void vkslm_scheduler_stats_get(vkslm_scheduler *sch, vkslm_scheduler_stats *out) {
    if (!sch || !out)
        return;
    pthread_mutex_lock(&sch->lock);
    *out = sch->stats;
    out->active = 0;
    for (uint32_t i = 0; i < sch->n_seq; i++)
        out->active += (uint32_t)sch->seqs[i].lent;
    pthread_mutex_unlock(&sch->lock);
}

vkslm_status vkslm_scheduler_acquire(vkslm_scheduler *sch, vkslm_sequence **out) {
    if (!sch || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_scheduler_acquire: NULL argument");
    *out = NULL;
    pthread_mutex_lock(&sch->lock);
    for (uint32_t i = 0; i < sch->n_seq && !*out; i++)
        if (!sch->seqs[i].lent) {
            sch->seqs[i].lent = 1;
            *out = &sch->seqs[i];
        }
    pthread_mutex_unlock(&sch->lock);
    return *out ? VKSLM_OK : vkslm_fail(VKSLM_ERR_BUSY, "scheduler: all %u sequences are lent", sch->n_seq);
}

void vkslm_scheduler_release(vkslm_scheduler *sch, vkslm_sequence *q) {
    if (!sch || !q || q->sch != sch)
        return;
    pthread_mutex_lock(&sch->lock);
    q->lent = 0;
    q->lora.n = 0; /* the next borrower starts without adapters */
    pthread_mutex_unlock(&sch->lock);
}

vkslm_status vkslm_sequence_set_lora(vkslm_sequence *q, vkslm_lora *const *lora, const float *scales, size_t n) {
    if (!q)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_sequence_set_lora: NULL sequence");
    vkslm_lora_sel sel;
    VKSLM_TRY(vkslm_lora_select(q->sch->model, lora, scales, n, &sel));
    pthread_mutex_lock(&q->sch->lock);
    q->lora = sel;
    pthread_mutex_unlock(&q->sch->lock);
    return VKSLM_OK;
}

vkslm_model *vkslm_sequence_model(const vkslm_sequence *q) { return q ? q->sch->model : NULL; }
uint32_t vkslm_sequence_n_ctx(const vkslm_sequence *q) { return q ? q->sch->n_ctx : 0; }
