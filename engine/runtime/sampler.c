#include "engine/runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/rng.h"

#define HISTORY_CAP 4096

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct vkslm_sampler {
    vkslm_generate_params p; /* only its sampling fields are read */
    uint32_t n_vocab;
    vkslm_rng rng;
    int32_t *history; /* ring of the last HISTORY_CAP tokens */
    uint32_t hist_len, hist_pos;
    cand *cands;      /* [n_vocab] scratch */
    uint32_t *counts; /* [n_vocab] scratch for penalties */
};

vkslm_status vkslm_sampler_create(const vkslm_generate_params *p, uint32_t n_vocab, vkslm_sampler **out) {
    *out = NULL;
    if (!p || n_vocab == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: no parameters or an empty vocabulary");
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->repeat_penalty))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: NaN parameter");
    vkslm_sampler *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->history = VKSLM_MALLOC(HISTORY_CAP * sizeof *s->history);
    s->cands = VKSLM_MALLOC((size_t)n_vocab * sizeof *s->cands);
    s->counts = VKSLM_CALLOC(n_vocab, sizeof *s->counts);
    if (!s->history || !s->cands || !s->counts) {
        vkslm_sampler_free(s);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    vkslm_sampler_reset(s);
    *out = s;
    return VKSLM_OK;
}

void vkslm_sampler_free(vkslm_sampler *s) {
    if (!s)
        return;
    VKSLM_FREE(s->history);
    VKSLM_FREE(s->cands);
    VKSLM_FREE(s->counts);
    VKSLM_FREE(s);
}

void vkslm_sampler_reset(vkslm_sampler *s) {
    s->hist_len = s->hist_pos = 0;
    vkslm_rng_seed(&s->rng, s->p.seed);
}

void vkslm_sampler_accept(vkslm_sampler *s, int32_t token) {
    if (token < 0 || (uint32_t)token >= s->n_vocab)
        return;
    s->history[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % HISTORY_CAP;
    if (s->hist_len < HISTORY_CAP)
        s->hist_len++;
}

static int has_penalties(const vkslm_sampler *s) {
    return s->p.penalty_last_n != 0 && ((s->p.repeat_penalty > 0 && s->p.repeat_penalty != 1.0f) ||
                                        s->p.frequency_penalty != 0 || s->p.presence_penalty != 0);
}

int vkslm_sampler_is_plain_greedy(const vkslm_sampler *s) { return s->p.temperature <= 0 && !has_penalties(s); }

/* Applies the penalties to cands (indexed by id) from the last penalty_last_n tokens. */
static void apply_penalties(vkslm_sampler *s) {
    uint32_t n = s->hist_len;
    if (s->p.penalty_last_n > 0 && (uint32_t)s->p.penalty_last_n < n)
        n = (uint32_t)s->p.penalty_last_n;
    for (uint32_t i = 0; i < n; i++)
        s->counts[s->history[(s->hist_pos + HISTORY_CAP - 1 - i) % HISTORY_CAP]]++;
    for (uint32_t i = 0; i < n; i++) {
        int32_t id = s->history[(s->hist_pos + HISTORY_CAP - 1 - i) % HISTORY_CAP];
        uint32_t c = s->counts[id];
        if (c == 0)
            continue; /* already applied for this id */
        float *l = &s->cands[id].logit;
        if (s->p.repeat_penalty > 0 && s->p.repeat_penalty != 1.0f)
            *l = *l > 0 ? *l / s->p.repeat_penalty : *l * s->p.repeat_penalty;
        *l -= (float)c * s->p.frequency_penalty + s->p.presence_penalty;
        s->counts[id] = 0;
    }
}

static int by_logit_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Moves the k largest candidates to the front (sorted descending), by a bounded min-heap scan. */
static void select_top(cand *c, uint32_t n, uint32_t k) {
    if (k >= n) {
        qsort(c, n, sizeof *c, by_logit_desc);
        return;
    }
    /* heap of the k best so far at c[0..k) with the worst at the root */
    qsort(c, k, sizeof *c, by_logit_desc); /* descending: reverse below into a min-heap by sift-down */
    for (uint32_t i = 0; i < k / 2; i++) {
        cand t = c[i];
        c[i] = c[k - 1 - i];
        c[k - 1 - i] = t;
    } /* ascending: a valid min-heap */
    for (uint32_t i = k; i < n; i++) {
        if (by_logit_desc(&c[i], &c[0]) >= 0)
            continue; /* not better than the worst kept */
        cand t = c[0];
        c[0] = c[i];
        c[i] = t;
        for (uint32_t j = 0;;) { /* sift down: smallest (worst) to the root */
            uint32_t l = 2 * j + 1, r = l + 1, m = j;
            if (l < k && by_logit_desc(&c[l], &c[m]) > 0)
                m = l;
            if (r < k && by_logit_desc(&c[r], &c[m]) > 0)
                m = r;
            if (m == j)
                break;
            t = c[j];
            c[j] = c[m];
            c[m] = t;
            j = m;
        }
    }
    qsort(c, k, sizeof *c, by_logit_desc);
}

int32_t vkslm_sampler_pick(vkslm_sampler *s, const float *logits) {
    uint32_t n = s->n_vocab;
    for (uint32_t i = 0; i < n; i++) {
        s->cands[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        s->cands[i].id = (int32_t)i;
    }
    if (has_penalties(s))
        apply_penalties(s);
    if (s->p.temperature <= 0) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (s->cands[i].logit > s->cands[best].logit)
                best = i;
        return s->cands[best].logit == -INFINITY ? -1 : (int32_t)best; /* as sampling: nothing to pick */
    }
    /* candidates, best first: all of them, or the top k */
    uint32_t k = s->p.top_k > 0 && (uint32_t)s->p.top_k < n ? (uint32_t)s->p.top_k : n;
    int need_sorted = k < n || (s->p.top_p > 0 && s->p.top_p < 1) || s->p.min_p > 0;
    if (need_sorted)
        select_top(s->cands, n, k);
    else {
        uint32_t best = 0; /* only the maximum is needed for a stable softmax */
        for (uint32_t i = 1; i < n; i++)
            if (s->cands[i].logit > s->cands[best].logit)
                best = i;
        cand t = s->cands[0];
        s->cands[0] = s->cands[best];
        s->cands[best] = t;
    }
    float max = s->cands[0].logit;
    if (max == -INFINITY)
        return -1;
    /* top-p and min-p on the untempered distribution (llama.cpp's order), then temperature */
    if (need_sorted) {
        double sum = 0;
        for (uint32_t i = 0; i < k; i++)
            sum += exp((double)s->cands[i].logit - max);
        uint32_t keep = k;
        if (s->p.top_p > 0 && s->p.top_p < 1) {
            double acc = 0;
            for (uint32_t i = 0; i < k; i++) {
                acc += exp((double)s->cands[i].logit - max) / sum;
                if (acc >= s->p.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (s->p.min_p > 0) {
            double floor_l = max + log((double)s->p.min_p); /* p_i >= min_p * p_max */
            uint32_t m = 1;
            while (m < keep && s->cands[m].logit >= floor_l)
                m++;
            keep = m;
        }
        k = keep;
    }
    double inv_t = 1.0 / s->p.temperature, total = 0;
    for (uint32_t i = 0; i < k; i++)
        total += exp(((double)s->cands[i].logit - max) * inv_t);
    double r = (double)vkslm_rng_f32(&s->rng) * total, acc = 0;
    for (uint32_t i = 0; i < k; i++) {
        acc += exp(((double)s->cands[i].logit - max) * inv_t);
        if (r < acc)
            return s->cands[i].id;
    }
    return s->cands[k - 1].id;
}
