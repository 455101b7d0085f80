/* Sampler chains, as llama.h's llama_sampler_chain_*: a vkslm_sampler is either a chain (stages applied in
 * order) or one stage working in place on a candidates array (vkslm_token_data_array): penalties, logit
 * bias, top-k, top-p, min-p and temperature change or cut the candidates, greedy and dist pick one, and a
 * hook runs the caller's code (a grammar). vkslm_sampler_sample_logits builds the candidates of a row of
 * logits in a buffer the sampler owns and applies the sampler to them.
 *
 * Speed over a large vocabulary (150k): top-k selects with a bounded heap, min-p keeps what passes its
 * floor before sorting that, top-p widens a partial selection until it holds the mass it needs; only a
 * top-p that needs most of the vocabulary sorts all of it. Penalties and logit biases touch only their own
 * tokens while the candidates are still in id order (data[id].id == id), and scan otherwise.
 *
 * Same tokens as the sampler this replaced (vkslm_generate with the same seed and settings): the stages do
 * its arithmetic in its order (penalties in float; top-p, min-p and the draw in double from the untempered
 * maximum), the draw walks the candidates in its order (sorted, or as they are with the maximum swapped to
 * the front), and a chain runs a temperature stage followed by dist as one stage that draws with
 * exp((l - max) / t) from the untempered logits (then divides the logits by t as the temperature stage
 * would). */
#include "engine/runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/rng.h"

#define PENALTY_HISTORY 4096 /* accepted tokens the penalties remember (last_n -1: all of these) */
#define PENALTY_SLOT_BITS 13 /* hash slots for the window's counts: twice the history */
#define PENALTY_SLOTS (1u << PENALTY_SLOT_BITS)
_Static_assert(PENALTY_SLOTS >= 2 * PENALTY_HISTORY, "the penalty hash must stay at most half full");
#define MIN_KEEP_MAX ((size_t)INT32_MAX)
#define TOP_P_FIRST 256      /* candidates top-p selects first when unsorted */

typedef enum stage_kind {
    STAGE_CHAIN,
    STAGE_GREEDY,
    STAGE_DIST,
    STAGE_TEMP,
    STAGE_TOP_K,
    STAGE_TOP_P,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_LOGIT_BIAS,
    STAGE_HOOK
} stage_kind;

typedef struct penalty_slot {
    int32_t id; /* -1: empty */
    uint32_t count;
} penalty_slot;

struct vkslm_sampler {
    stage_kind kind;
    bool in_chain;           /* a chain owns it (and frees it) */
    vkslm_token_data *cands; /* [cands_cap] sample_logits' candidates */
    size_t cands_cap;
    union {
        struct {
            vkslm_sampler **stages; /* [n] in order */
            size_t n, cap;
        } chain;
        struct {
            uint64_t seed;
            vkslm_rng rng;
        } dist;
        float temp;
        int32_t top_k;
        struct {
            float p;
            size_t min_keep;
        } trunc; /* top-p, min-p */
        struct {
            int32_t last_n;
            float repeat, frequency, presence;
            int32_t *history;     /* [PENALTY_HISTORY] ring of accepted tokens */
            uint32_t len, pos;    /* tokens in it, next slot */
            penalty_slot *slots;  /* [PENALTY_SLOTS] the window's tokens and counts (empty between applies) */
            uint32_t *used;       /* [PENALTY_HISTORY] slots filled by this apply */
        } pen;
        struct {
            vkslm_logit_bias *b; /* [n] sorted by token, one entry per token */
            bool *done;          /* [n] applied by this apply (false between applies) */
            size_t n;
        } bias;
        vkslm_sampler_hook hook;
    } u;
};

/* ---- candidates ---------------------------------------------------------------------------------- */
/* NaN counts as -inf wherever candidates are compared. */
static inline float key(float l) { return l == l ? l : -INFINITY; }

/* Order of the candidates: logit descending, ties to the lower id. */
static int by_logit_desc(const void *a, const void *b) {
    const vkslm_token_data *x = a, *y = b;
    float lx = key(x->logit), ly = key(y->logit);
    if (lx != ly)
        return lx < ly ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void swap_td(vkslm_token_data *a, vkslm_token_data *b) {
    vkslm_token_data t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k best candidates of c[0..n) to the front, sorted; k >= n sorts them all. A bounded min-heap
 * scan: O(n) compares against the worst kept, plus O(log k) for each candidate that enters. */
static void select_top(vkslm_token_data *c, size_t n, size_t k) {
    if (k >= n) {
        qsort(c, n, sizeof *c, by_logit_desc);
        return;
    }
    if (k == 0)
        return;
    qsort(c, k, sizeof *c, by_logit_desc); /* descending, reversed below: ascending is a valid min-heap */
    for (size_t i = 0; i < k / 2; i++)
        swap_td(&c[i], &c[k - 1 - i]);
    for (size_t i = k; i < n; i++) {
        if (c[i].logit < c[0].logit || by_logit_desc(&c[i], &c[0]) >= 0)
            continue; /* not better than the worst kept (the first test is the quick one) */
        swap_td(&c[0], &c[i]);
        for (size_t j = 0;;) { /* sift down: the worst to the root */
            size_t l = 2 * j + 1, r = l + 1, m = j;
            if (l < k && by_logit_desc(&c[l], &c[m]) > 0)
                m = l;
            if (r < k && by_logit_desc(&c[r], &c[m]) > 0)
                m = r;
            if (m == j)
                break;
            swap_td(&c[j], &c[m]);
            j = m;
        }
    }
    qsort(c, k, sizeof *c, by_logit_desc);
}

/* Index of the largest candidate (the first of equals in array order; 0 when sorted) and its logit, which
 * is -inf when no candidate is above -inf. */
static size_t find_max(const vkslm_token_data_array *cur, float *max) {
    size_t best = 0;
    float m = -INFINITY;
    if (cur->sorted)
        m = key(cur->data[0].logit);
    else
        for (size_t i = 0; i < cur->size; i++)
            if (cur->data[i].logit > m) {
                m = cur->data[i].logit;
                best = i;
            }
    *max = m;
    return best;
}

/* ---- stages -------------------------------------------------------------------------------------- */
static void greedy_apply(vkslm_token_data_array *cur) {
    int64_t best = -1;
    float bl = -INFINITY;
    for (size_t i = 0; i < cur->size; i++) {
        float l = cur->data[i].logit;
        if (l > bl || (l == bl && best >= 0 && cur->data[i].id < cur->data[best].id)) {
            best = (int64_t)i;
            bl = l;
        } else if (cur->sorted && l < bl)
            break; /* sorted: nothing later is as large */
    }
    cur->selected = best;
}

/* The order the draw walks the candidates in (that of the sampler before the chains: same seeds, same
 * tokens): the largest (at best) first, the candidate at 0 in its place; the identity when sorted. */
static inline size_t walk(size_t i, size_t best) { return i == 0 ? best : i == best ? 0 : i; }

/* The seeded draw from softmax(logits / t) (t 1 for dist alone; t > 0 of a temperature stage fused in:
 * the logits are divided by t afterwards, as that stage would). Sets p of every candidate. */
static void dist_apply(vkslm_sampler *s, vkslm_token_data_array *cur, float t) {
    size_t n = cur->size;
    vkslm_token_data *d = cur->data;
    cur->selected = -1;
    float max = -INFINITY;
    size_t best = n ? find_max(cur, &max) : 0;
    if (max > -INFINITY) {
        double inv_t = 1.0 / t, total = 0;
        for (size_t i = 0; i < n; i++) {
            vkslm_token_data *c = &d[walk(i, best)];
            double e = c->logit > -INFINITY ? exp(((double)c->logit - max) * inv_t) : 0;
            total += e;
            c->p = (float)e;
        }
        double r = (double)vkslm_rng_f32(&s->u.dist.rng) * total, acc = 0;
        size_t pick = walk(n - 1, best);
        for (size_t i = 0; i < n; i++) {
            size_t j = walk(i, best);
            acc += d[j].logit > -INFINITY ? exp(((double)d[j].logit - max) * inv_t) : 0;
            if (r < acc) {
                pick = j;
                break;
            }
        }
        float inv_total = (float)(1.0 / total);
        if (t != 1.0f)
            for (size_t i = 0; i < n; i++) {
                d[i].p *= inv_total;
                d[i].logit /= t;
            }
        else
            for (size_t i = 0; i < n; i++)
                d[i].p *= inv_total;
        cur->selected = (int64_t)pick;
    } else if (t != 1.0f)
        for (size_t i = 0; i < n; i++)
            d[i].logit /= t;
}

static void temp_apply(float t, vkslm_token_data_array *cur) {
    if (t <= 0) { /* keep the largest */
        if (cur->size > 1) {
            select_top(cur->data, cur->size, 1);
            cur->size = 1;
        }
        cur->sorted = true;
        return;
    }
    if (t != 1.0f) /* dividing by t > 0 keeps the order: sorted stays sorted */
        for (size_t i = 0; i < cur->size; i++)
            cur->data[i].logit /= t;
}

static void top_k_apply(int32_t k, vkslm_token_data_array *cur) {
    if (k <= 0 || (size_t)k >= cur->size)
        return; /* off, or keeps them all: unchanged */
    if (!cur->sorted)
        select_top(cur->data, cur->size, (size_t)k);
    cur->size = (size_t)k;
    cur->sorted = true;
}

/* Keeps the smallest prefix of the sorted candidates whose probabilities reach p (at least min_keep). */
static void top_p_apply(float p, size_t min_keep, vkslm_token_data_array *cur) {
    size_t n = cur->size;
    if (p >= 1 || n == 0)
        return;
    vkslm_token_data *d = cur->data;
    float max;
    find_max(cur, &max);
    if (!(max > -INFINITY))
        return;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += d[i].logit > -INFINITY ? exp((double)d[i].logit - max) : 0;
    /* sorted: all of them at once; else the best TOP_P_FIRST, widened 8x until they hold p */
    size_t m = cur->sorted || n <= TOP_P_FIRST ? n : TOP_P_FIRST;
    for (;;) {
        if (!cur->sorted)
            select_top(d, n, m);
        double acc = 0;
        for (size_t i = 0; i < m; i++) {
            double q = d[i].logit > -INFINITY ? exp((double)d[i].logit - max) / sum : 0;
            acc += q;
            d[i].p = (float)q;
            if (acc >= p && i + 1 >= min_keep) {
                cur->size = i + 1;
                cur->sorted = true;
                return;
            }
        }
        if (m == n)
            break; /* never reached p (rounding, or min_keep >= n): keep them all */
        m = m * 8 >= n / 2 ? n : m * 8;
    }
    cur->sorted = true;
}

/* Keeps the candidates with p >= p_min * p_max, i.e. logit >= max + log(p_min) (at least min_keep, and
 * at least one), sorted. Unsorted, it sorts only what passes. */
static void min_p_apply(float p, size_t min_keep, vkslm_token_data_array *cur) {
    size_t n = cur->size;
    if (p <= 0 || n == 0)
        return;
    vkslm_token_data *d = cur->data;
    if (min_keep < 1)
        min_keep = 1;
    if (min_keep > n)
        min_keep = n;
    float max;
    find_max(cur, &max);
    if (!(max > -INFINITY))
        return;
    double floor_l = max + log((double)p);
    size_t m;
    if (cur->sorted) {
        for (m = 1; m < n && d[m].logit >= floor_l;)
            m++;
    } else {
        m = 0; /* the passing ones to the front, then sorted */
        for (size_t i = 0; i < n; i++)
            if (d[i].logit >= floor_l)
                swap_td(&d[m++], &d[i]);
        if (m >= min_keep)
            qsort(d, m, sizeof *d, by_logit_desc);
    }
    if (m < min_keep) {
        if (!cur->sorted)
            select_top(d, n, min_keep);
        m = min_keep;
    }
    cur->size = m;
    cur->sorted = true;
}

static bool penalties_active(const vkslm_sampler *s) {
    return s->u.pen.last_n != 0 && ((s->u.pen.repeat > 0 && s->u.pen.repeat != 1.0f) || s->u.pen.frequency != 0 ||
                                     s->u.pen.presence != 0);
}

static uint32_t penalty_slot_of(const penalty_slot *slots, int32_t id) {
    uint32_t h = ((uint32_t)id * 2654435761u) >> (32 - PENALTY_SLOT_BITS);
    while (slots[h].id != -1 && slots[h].id != id)
        h = (h + 1) & (PENALTY_SLOTS - 1);
    return h;
}

static void penalize(const vkslm_sampler *s, float *l, uint32_t count) {
    float rep = s->u.pen.repeat;
    if (rep > 0 && rep != 1.0f)
        *l = *l > 0 ? *l / rep : *l * rep;
    *l -= (float)count * s->u.pen.frequency + s->u.pen.presence;
}

static void penalties_apply(vkslm_sampler *s, vkslm_token_data_array *cur) {
    if (!penalties_active(s))
        return;
    uint32_t n = s->u.pen.len, nd = 0;
    if (s->u.pen.last_n > 0 && (uint32_t)s->u.pen.last_n < n)
        n = (uint32_t)s->u.pen.last_n;
    if (n == 0)
        return;
    penalty_slot *slots = s->u.pen.slots;
    uint32_t *used = s->u.pen.used;
    for (uint32_t i = 0; i < n; i++) { /* the window, most recent first */
        int32_t id = s->u.pen.history[(s->u.pen.pos + PENALTY_HISTORY - 1 - i) % PENALTY_HISTORY];
        uint32_t h = penalty_slot_of(slots, id);
        if (slots[h].id == -1) {
            slots[h].id = id;
            used[nd++] = h;
        }
        slots[h].count++;
    }
    bool scan = false; /* some token is not at data[id]: look for every candidate */
    for (uint32_t k = 0; k < nd; k++) {
        penalty_slot *sl = &slots[used[k]];
        if ((size_t)sl->id < cur->size && cur->data[sl->id].id == sl->id) {
            penalize(s, &cur->data[sl->id].logit, sl->count);
            sl->count = 0;
        } else
            scan = true;
    }
    if (scan)
        for (size_t i = 0; i < cur->size; i++) {
            if (cur->data[i].id < 0)
                continue;
            penalty_slot *sl = &slots[penalty_slot_of(slots, cur->data[i].id)];
            if (sl->id != -1 && sl->count) {
                penalize(s, &cur->data[i].logit, sl->count);
                sl->count = 0;
            }
        }
    for (uint32_t k = 0; k < nd; k++)
        slots[used[k]] = (penalty_slot){-1, 0};
    cur->sorted = false;
}

static int bias_by_token(const void *a, const void *b) {
    int32_t x = ((const vkslm_logit_bias *)a)->token, y = ((const vkslm_logit_bias *)b)->token;
    return x < y ? -1 : x > y;
}

static void logit_bias_apply(vkslm_sampler *s, vkslm_token_data_array *cur) {
    size_t nb = s->u.bias.n;
    if (nb == 0)
        return;
    const vkslm_logit_bias *b = s->u.bias.b;
    bool *done = s->u.bias.done, scan = false;
    for (size_t k = 0; k < nb; k++) {
        size_t t = (size_t)b[k].token;
        if (t < cur->size && cur->data[t].id == b[k].token) {
            cur->data[t].logit += b[k].bias;
            done[k] = true;
        } else
            scan = true;
    }
    if (scan)
        for (size_t i = 0; i < cur->size; i++) {
            vkslm_logit_bias want = {cur->data[i].id, 0};
            const vkslm_logit_bias *hit = bsearch(&want, b, nb, sizeof *b, bias_by_token);
            if (hit && !done[hit - b]) {
                cur->data[i].logit += hit->bias;
                done[hit - b] = true;
            }
        }
    memset(done, 0, nb * sizeof *done);
    cur->sorted = false;
}

/* ---- the sampler object -------------------------------------------------------------------------- */
static vkslm_sampler *stage_new(stage_kind kind) {
    vkslm_sampler *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s) {
        vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "sampler: out of host memory");
        return NULL;
    }
    s->kind = kind;
    return s;
}

static void stage_free(vkslm_sampler *s) {
    switch (s->kind) {
    case STAGE_CHAIN:
        for (size_t i = 0; i < s->u.chain.n; i++)
            stage_free(s->u.chain.stages[i]);
        VKSLM_FREE(s->u.chain.stages);
        break;
    case STAGE_PENALTIES:
        VKSLM_FREE(s->u.pen.history);
        VKSLM_FREE(s->u.pen.slots);
        VKSLM_FREE(s->u.pen.used);
        break;
    case STAGE_LOGIT_BIAS:
        VKSLM_FREE(s->u.bias.b);
        VKSLM_FREE(s->u.bias.done);
        break;
    case STAGE_HOOK:
        if (s->u.hook.free)
            s->u.hook.free(s->u.hook.user);
        break;
    default:
        break;
    }
    VKSLM_FREE(s->cands);
    VKSLM_FREE(s);
}

void vkslm_sampler_free(vkslm_sampler *s) {
    if (s && !s->in_chain) /* a stage of a chain goes with its chain */
        stage_free(s);
}

vkslm_sampler *vkslm_sampler_chain_init(void) { return stage_new(STAGE_CHAIN); }

/* True when `inner` is s or one of its stages, at any depth. */
static bool contains(const vkslm_sampler *s, const vkslm_sampler *inner) {
    if (s == inner)
        return true;
    if (s->kind == STAGE_CHAIN)
        for (size_t i = 0; i < s->u.chain.n; i++)
            if (contains(s->u.chain.stages[i], inner))
                return true;
    return false;
}

vkslm_status vkslm_sampler_chain_add(vkslm_sampler *chain, vkslm_sampler *stage) {
    if (!chain || !stage)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_chain_add: NULL %s", chain ? "stage" : "chain");
    if (chain->kind != STAGE_CHAIN)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_chain_add: the sampler added to is not a chain");
    if (stage->in_chain)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_chain_add: the stage is in a chain already");
    if (contains(stage, chain))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_chain_add: a chain cannot be added to itself (or to a "
                                                 "chain inside it)");
    VKSLM_TRY(vkslm_grow((void **)&chain->u.chain.stages, &chain->u.chain.cap, chain->u.chain.n + 1,
                         sizeof *chain->u.chain.stages));
    chain->u.chain.stages[chain->u.chain.n++] = stage;
    stage->in_chain = true;
    return VKSLM_OK;
}

vkslm_status vkslm_sampler_chain_push_front(vkslm_sampler *chain, vkslm_sampler *stage) {
    VKSLM_TRY(vkslm_sampler_chain_add(chain, stage));
    vkslm_sampler **st = chain->u.chain.stages;
    memmove(st + 1, st, (chain->u.chain.n - 1) * sizeof *st);
    st[0] = stage;
    return VKSLM_OK;
}

size_t vkslm_sampler_chain_n(const vkslm_sampler *chain) {
    return chain && chain->kind == STAGE_CHAIN ? chain->u.chain.n : 0;
}

vkslm_sampler *vkslm_sampler_init_greedy(void) { return stage_new(STAGE_GREEDY); }

vkslm_sampler *vkslm_sampler_init_dist(uint64_t seed) {
    vkslm_sampler *s = stage_new(STAGE_DIST);
    if (s) {
        s->u.dist.seed = seed;
        vkslm_rng_seed(&s->u.dist.rng, seed);
    }
    return s;
}

vkslm_sampler *vkslm_sampler_init_temp(float t) {
    if (isnan(t) || t == INFINITY) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_temp: temperature %g (NaN or +inf)", (double)t);
        return NULL;
    }
    vkslm_sampler *s = stage_new(STAGE_TEMP);
    if (s)
        s->u.temp = t;
    return s;
}

vkslm_sampler *vkslm_sampler_init_top_k(int32_t k) {
    vkslm_sampler *s = stage_new(STAGE_TOP_K);
    if (s)
        s->u.top_k = k;
    return s;
}

static vkslm_sampler *trunc_new(stage_kind kind, const char *what, float p, size_t min_keep) {
    if (isnan(p) || (kind == STAGE_TOP_P ? (p <= 0 || p > 1) : p < 0)) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_%s: p %g is outside %s", what, (double)p,
                   kind == STAGE_TOP_P ? "(0, 1]" : "[0, inf)");
        return NULL;
    }
    if (min_keep > MIN_KEEP_MAX) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_%s: min_keep %zu is negative (a signed value cast to size_t) "
                   "or larger than any vocabulary", what, min_keep);
        return NULL;
    }
    vkslm_sampler *s = stage_new(kind);
    if (s) {
        s->u.trunc.p = p;
        s->u.trunc.min_keep = min_keep;
    }
    return s;
}

vkslm_sampler *vkslm_sampler_init_top_p(float p, size_t min_keep) { return trunc_new(STAGE_TOP_P, "top_p", p, min_keep); }
vkslm_sampler *vkslm_sampler_init_min_p(float p, size_t min_keep) { return trunc_new(STAGE_MIN_P, "min_p", p, min_keep); }

vkslm_sampler *vkslm_sampler_init_penalties(int32_t last_n, float repeat, float frequency, float presence) {
    if (last_n < -1 || isnan(repeat) || isnan(frequency) || isnan(presence)) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG,
                   "sampler_init_penalties: last_n %d (below -1) or a NaN penalty (repeat %g, frequency %g, presence %g)",
                   last_n, (double)repeat, (double)frequency, (double)presence);
        return NULL;
    }
    vkslm_sampler *s = stage_new(STAGE_PENALTIES);
    if (!s)
        return NULL;
    s->u.pen.last_n = last_n;
    s->u.pen.repeat = repeat;
    s->u.pen.frequency = frequency;
    s->u.pen.presence = presence;
    s->u.pen.history = VKSLM_MALLOC(PENALTY_HISTORY * sizeof *s->u.pen.history);
    s->u.pen.slots = VKSLM_MALLOC(PENALTY_SLOTS * sizeof *s->u.pen.slots);
    s->u.pen.used = VKSLM_MALLOC(PENALTY_HISTORY * sizeof *s->u.pen.used);
    if (!s->u.pen.history || !s->u.pen.slots || !s->u.pen.used) {
        stage_free(s);
        vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "sampler: out of host memory");
        return NULL;
    }
    for (size_t i = 0; i < PENALTY_SLOTS; i++)
        s->u.pen.slots[i] = (penalty_slot){-1, 0};
    return s;
}

vkslm_sampler *vkslm_sampler_init_logit_bias(size_t n, const vkslm_logit_bias *biases) {
    if (n && !biases) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_logit_bias: NULL biases (n %zu)", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (biases[i].token < 0 || isnan(biases[i].bias) || biases[i].bias == INFINITY) {
            vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_logit_bias: bias %zu (token %d, bias %g): a token below 0, "
                       "or a NaN or +inf bias", i, biases[i].token, (double)biases[i].bias);
            return NULL;
        }
    vkslm_sampler *s = stage_new(STAGE_LOGIT_BIAS);
    if (!s || n == 0)
        return s;
    s->u.bias.b = VKSLM_MALLOC(n * sizeof *s->u.bias.b);
    s->u.bias.done = VKSLM_CALLOC(n, sizeof *s->u.bias.done);
    if (!s->u.bias.b || !s->u.bias.done) {
        stage_free(s);
        vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "sampler: out of host memory (%zu logit biases)", n);
        return NULL;
    }
    memcpy(s->u.bias.b, biases, n * sizeof *biases);
    qsort(s->u.bias.b, n, sizeof *biases, bias_by_token);
    size_t m = 0; /* one entry per token: the biases of a token listed twice add up */
    for (size_t i = 0; i < n; i++)
        if (m && s->u.bias.b[m - 1].token == s->u.bias.b[i].token)
            s->u.bias.b[m - 1].bias += s->u.bias.b[i].bias;
        else
            s->u.bias.b[m++] = s->u.bias.b[i];
    s->u.bias.n = m;
    return s;
}

vkslm_sampler *vkslm_sampler_init_hook(const vkslm_sampler_hook *hook) {
    if (!hook) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler_init_hook: NULL hook");
        return NULL;
    }
    vkslm_sampler *s = stage_new(STAGE_HOOK);
    if (s)
        s->u.hook = *hook;
    return s;
}

static void stage_apply(vkslm_sampler *s, vkslm_token_data_array *cur) {
    switch (s->kind) {
    case STAGE_CHAIN:
        for (size_t i = 0; i < s->u.chain.n; i++) {
            vkslm_sampler *st = s->u.chain.stages[i];
            if (st->kind == STAGE_TEMP && st->u.temp > 0 && i + 1 < s->u.chain.n &&
                s->u.chain.stages[i + 1]->kind == STAGE_DIST) {
                dist_apply(s->u.chain.stages[++i], cur, st->u.temp); /* temperature and draw in one */
                continue;
            }
            stage_apply(st, cur);
        }
        break;
    case STAGE_GREEDY: greedy_apply(cur); break;
    case STAGE_DIST: dist_apply(s, cur, 1.0f); break;
    case STAGE_TEMP: temp_apply(s->u.temp, cur); break;
    case STAGE_TOP_K: top_k_apply(s->u.top_k, cur); break;
    case STAGE_TOP_P: top_p_apply(s->u.trunc.p, s->u.trunc.min_keep, cur); break;
    case STAGE_MIN_P: min_p_apply(s->u.trunc.p, s->u.trunc.min_keep, cur); break;
    case STAGE_PENALTIES: penalties_apply(s, cur); break;
    case STAGE_LOGIT_BIAS: logit_bias_apply(s, cur); break;
    case STAGE_HOOK:
        if (s->u.hook.apply) {
            s->u.hook.apply(cur, s->u.hook.user);
            cur->sorted = false; /* it may have changed logits: later stages do not trust the order */
        }
        break;
    }
}

void vkslm_sampler_apply(vkslm_sampler *s, vkslm_token_data_array *cur) {
    if (s && cur && (cur->data || cur->size == 0))
        stage_apply(s, cur);
}

void vkslm_sampler_accept(vkslm_sampler *s, int32_t token) {
    if (!s)
        return;
    switch (s->kind) {
    case STAGE_CHAIN:
        for (size_t i = 0; i < s->u.chain.n; i++)
            vkslm_sampler_accept(s->u.chain.stages[i], token);
        break;
    case STAGE_PENALTIES:
        if (token < 0)
            break;
        s->u.pen.history[s->u.pen.pos] = token;
        s->u.pen.pos = (s->u.pen.pos + 1) % PENALTY_HISTORY;
        if (s->u.pen.len < PENALTY_HISTORY)
            s->u.pen.len++;
        break;
    case STAGE_HOOK:
        if (s->u.hook.accept)
            s->u.hook.accept(token, s->u.hook.user);
        break;
    default:
        break;
    }
}

void vkslm_sampler_reset(vkslm_sampler *s) {
    if (!s)
        return;
    switch (s->kind) {
    case STAGE_CHAIN:
        for (size_t i = 0; i < s->u.chain.n; i++)
            vkslm_sampler_reset(s->u.chain.stages[i]);
        break;
    case STAGE_DIST: vkslm_rng_seed(&s->u.dist.rng, s->u.dist.seed); break;
    case STAGE_PENALTIES: s->u.pen.len = s->u.pen.pos = 0; break;
    case STAGE_HOOK:
        if (s->u.hook.reset)
            s->u.hook.reset(s->u.hook.user);
        break;
    default:
        break;
    }
}

int32_t vkslm_sampler_pick(vkslm_sampler *s, const float *logits, int32_t n_vocab) {
    if (!s || !logits || n_vocab <= 0) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: %s", !s ? "NULL sampler" : !logits ? "no logits" : "n_vocab <= 0");
        return -1;
    }
    size_t n = (size_t)n_vocab;
    if (n > s->cands_cap) { /* the only allocation: the first call, or a larger vocabulary */
        vkslm_token_data *c = VKSLM_REALLOC(s->cands, n * sizeof *c);
        if (!c) {
            vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "sampler: out of host memory (%zu candidates)", n);
            return -1;
        }
        s->cands = c;
        s->cands_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        s->cands[i] = (vkslm_token_data){(int32_t)i, isnan(logits[i]) ? -INFINITY : logits[i], 0.0f};
    vkslm_token_data_array cur = {s->cands, n, -1, false};
    stage_apply(s, &cur);
    if (cur.selected < 0 || (size_t)cur.selected >= cur.size) {
        size_t live = 0;
        while (live < cur.size && !(cur.data[live].logit > -INFINITY))
            live++;
        vkslm_fail(VKSLM_ERR_INVALID_ARG, live < cur.size ? "sampler: no stage picked a token (a chain ends with greedy "
                                                            "or dist)"
                                                          : "sampler: no candidate is left above -inf");
        return -1;
    }
    int32_t id = cur.data[cur.selected].id;
    if (id < 0 || id >= n_vocab) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: the pick %d is outside the vocabulary of %d", id, n_vocab);
        return -1;
    }
    return id;
}

int32_t vkslm_sampler_sample_logits(vkslm_sampler *s, const float *logits, int32_t n_vocab) {
    int32_t id = vkslm_sampler_pick(s, logits, n_vocab);
    if (id >= 0)
        vkslm_sampler_accept(s, id);
    return id;
}

bool vkslm_sampler_is_plain_greedy(const vkslm_sampler *s) {
    if (!s)
        return false;
    if (s->kind == STAGE_GREEDY)
        return true;
    if (s->kind != STAGE_CHAIN || s->u.chain.n == 0)
        return false;
    for (size_t i = 0; i < s->u.chain.n; i++)
        if (!vkslm_sampler_is_plain_greedy(s->u.chain.stages[i]))
            return false;
    return true;
}

/* ---- the chain of vkslm_generate_params ---------------------------------------------------------- */
static vkslm_status add_new(vkslm_sampler *chain, vkslm_sampler *stage) {
    if (!stage)
        return VKSLM_ERR_OUT_OF_HOST_MEMORY; /* the settings were checked: only memory can fail */
    vkslm_status st = vkslm_sampler_chain_add(chain, stage);
    if (st != VKSLM_OK)
        stage_free(stage);
    return st;
}

vkslm_status vkslm_sampler_from_params(const vkslm_generate_params *params, vkslm_sampler **out) {
    *out = NULL;
    vkslm_generate_params p = params ? *params : vkslm_generate_default_params();
    if (isnan(p.temperature) || p.temperature == INFINITY || isnan(p.top_p) || isnan(p.min_p) ||
        isnan(p.repeat_penalty) || isnan(p.frequency_penalty) || isnan(p.presence_penalty))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: a NaN setting, or temperature +inf (temperature %g, top_p %g, "
                          "min_p %g, penalties %g %g %g)", (double)p.temperature, (double)p.top_p, (double)p.min_p,
                          (double)p.repeat_penalty, (double)p.frequency_penalty, (double)p.presence_penalty);
    if (p.n_logit_bias && !p.logit_bias)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: NULL logit_bias with n_logit_bias %zu", p.n_logit_bias);
    for (size_t i = 0; i < p.n_logit_bias; i++)
        if (p.logit_bias[i].token < 0 || isnan(p.logit_bias[i].bias) || p.logit_bias[i].bias == INFINITY)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "sampler: logit bias %zu (token %d, bias %g): a token below 0, "
                              "or a NaN or +inf bias", i, p.logit_bias[i].token, (double)p.logit_bias[i].bias);
    vkslm_sampler *c = vkslm_sampler_chain_init();
    if (!c)
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    vkslm_status st = VKSLM_OK;
    if (p.n_logit_bias) { /* first, as llama.cpp's common sampler puts it: penalties see the biased logits */
        st = add_new(c, vkslm_sampler_init_logit_bias(p.n_logit_bias, p.logit_bias));
    }
    bool repeat = p.repeat_penalty > 0 && p.repeat_penalty != 1.0f;
    if (p.penalty_last_n != 0 && (repeat || p.frequency_penalty != 0 || p.presence_penalty != 0))
        st = add_new(c, vkslm_sampler_init_penalties(p.penalty_last_n < 0 ? -1 : p.penalty_last_n,
                                                     repeat ? p.repeat_penalty : 1.0f, p.frequency_penalty,
                                                     p.presence_penalty));
    if (p.temperature <= 0) {
        if (st == VKSLM_OK)
            st = add_new(c, vkslm_sampler_init_greedy());
    } else {
        if (st == VKSLM_OK && p.top_k > 0)
            st = add_new(c, vkslm_sampler_init_top_k(p.top_k));
        if (st == VKSLM_OK && p.top_p > 0 && p.top_p < 1)
            st = add_new(c, vkslm_sampler_init_top_p(p.top_p, 1));
        if (st == VKSLM_OK && p.min_p > 0)
            st = add_new(c, vkslm_sampler_init_min_p(p.min_p, 1));
        if (st == VKSLM_OK)
            st = add_new(c, vkslm_sampler_init_temp(p.temperature));
        if (st == VKSLM_OK)
            st = add_new(c, vkslm_sampler_init_dist(p.seed));
    }
    if (st != VKSLM_OK) {
        stage_free(c);
        return st;
    }
    *out = c;
    return VKSLM_OK;
}

vkslm_sampler *vkslm_sampler_init_from_params(const vkslm_generate_params *params) {
    vkslm_sampler *s;
    return vkslm_sampler_from_params(params, &s) == VKSLM_OK ? s : NULL;
}
