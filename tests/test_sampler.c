/* Sampler chains (vkslm.h, "sampler chains"): each stage against hand-computed expectations on small
 * arrays, chain order, penalties' history and window, logit bias, min_keep, greedy ties, seeded draws and
 * reset, the hook's calls, NaN, bad arguments, sampled frequencies against the softmax, and the chain of
 * vkslm_generate_params against a copy of the sampler it replaced (same picks, same seed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/sampler.h"
#include "tests/harness.h"

/* ---- the sampler before the chains, kept here as the reference of vkslm_sampler_init_from_params ---- */
#define REF_HISTORY 4096
typedef struct ref_cand {
    float logit;
    int32_t id;
} ref_cand;
typedef struct ref_sampler {
    vkslm_generate_params p;
    uint32_t n_vocab;
    vkslm_rng rng;
    int32_t *history;
    uint32_t hist_len, hist_pos;
    ref_cand *cands;
    uint32_t *counts;
} ref_sampler;

static ref_sampler *ref_create(const vkslm_generate_params *p, uint32_t n_vocab) {
    ref_sampler *s = calloc(1, sizeof *s);
    s->p = *p;
    s->n_vocab = n_vocab;
    s->history = malloc(REF_HISTORY * sizeof *s->history);
    s->cands = malloc((size_t)n_vocab * sizeof *s->cands);
    s->counts = calloc(n_vocab, sizeof *s->counts);
    vkslm_rng_seed(&s->rng, p->seed);
    return s;
}
static void ref_free(ref_sampler *s) {
    free(s->history);
    free(s->cands);
    free(s->counts);
    free(s);
}
static void ref_accept(ref_sampler *s, int32_t token) {
    if (token < 0 || (uint32_t)token >= s->n_vocab)
        return;
    s->history[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % REF_HISTORY;
    if (s->hist_len < REF_HISTORY)
        s->hist_len++;
}
static int ref_has_penalties(const ref_sampler *s) {
    return s->p.penalty_last_n != 0 && ((s->p.repeat_penalty > 0 && s->p.repeat_penalty != 1.0f) ||
                                        s->p.frequency_penalty != 0 || s->p.presence_penalty != 0);
}
static void ref_apply_penalties(ref_sampler *s) {
    uint32_t n = s->hist_len;
    if (s->p.penalty_last_n > 0 && (uint32_t)s->p.penalty_last_n < n)
        n = (uint32_t)s->p.penalty_last_n;
    for (uint32_t i = 0; i < n; i++)
        s->counts[s->history[(s->hist_pos + REF_HISTORY - 1 - i) % REF_HISTORY]]++;
    for (uint32_t i = 0; i < n; i++) {
        int32_t id = s->history[(s->hist_pos + REF_HISTORY - 1 - i) % REF_HISTORY];
        uint32_t c = s->counts[id];
        if (c == 0)
            continue;
        float *l = &s->cands[id].logit;
        if (s->p.repeat_penalty > 0 && s->p.repeat_penalty != 1.0f)
            *l = *l > 0 ? *l / s->p.repeat_penalty : *l * s->p.repeat_penalty;
        *l -= (float)c * s->p.frequency_penalty + s->p.presence_penalty;
        s->counts[id] = 0;
    }
}
static int ref_by_logit_desc(const void *a, const void *b) {
    const ref_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}
static void ref_select_top(ref_cand *c, uint32_t n, uint32_t k) { /* a full sort: same order as the heap */
    (void)k;
    qsort(c, n, sizeof *c, ref_by_logit_desc);
}
static int32_t ref_pick(ref_sampler *s, const float *logits) {
    uint32_t n = s->n_vocab;
    for (uint32_t i = 0; i < n; i++) {
        s->cands[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        s->cands[i].id = (int32_t)i;
    }
    if (ref_has_penalties(s))
        ref_apply_penalties(s);
    if (s->p.temperature <= 0) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (s->cands[i].logit > s->cands[best].logit)
                best = i;
        return s->cands[best].logit == -INFINITY ? -1 : (int32_t)best;
    }
    uint32_t k = s->p.top_k > 0 && (uint32_t)s->p.top_k < n ? (uint32_t)s->p.top_k : n;
    int need_sorted = k < n || (s->p.top_p > 0 && s->p.top_p < 1) || s->p.min_p > 0;
    if (need_sorted)
        ref_select_top(s->cands, n, k);
    else {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (s->cands[i].logit > s->cands[best].logit)
                best = i;
        ref_cand t = s->cands[0];
        s->cands[0] = s->cands[best];
        s->cands[best] = t;
    }
    float max = s->cands[0].logit;
    if (max == -INFINITY)
        return -1;
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
            double floor_l = max + log((double)s->p.min_p);
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

/* ---- helpers ------------------------------------------------------------------------------------ */
#define MAXN 16
typedef struct cands {
    vkslm_token_data d[MAXN];
    vkslm_token_data_array a;
} cands;

/* Candidates of logits l[0..n) in id order. */
static void cands_of(cands *c, const float *l, size_t n) {
    for (size_t i = 0; i < n; i++)
        c->d[i] = (vkslm_token_data){(int32_t)i, l[i], 0};
    c->a = (vkslm_token_data_array){c->d, n, -1, false};
}

/* Asserts that the candidates are exactly the ids want[0..n), in that order. */
static void expect_ids(const cands *c, const int32_t *want, size_t n, const char *what) {
    int ok = c->a.size == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = c->a.data[i].id == want[i];
    if (!ok) {
        fprintf(stderr, "  %s: got", what);
        for (size_t i = 0; i < c->a.size; i++)
            fprintf(stderr, " %d", c->a.data[i].id);
        fprintf(stderr, ", want");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
    CU_ASSERT(ok);
}

/* Applies one stage (freed after) to the candidates. */
static void apply1(vkslm_sampler *stage, cands *c) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(stage);
    vkslm_sampler_apply(stage, &c->a);
    vkslm_sampler_free(stage);
}

static vkslm_sampler *chain_of(vkslm_sampler *const *stages, size_t n) {
    vkslm_sampler *c = vkslm_sampler_chain_init();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(stages[i]);
        CU_ASSERT_EQUAL_FATAL(vkslm_sampler_chain_add(c, stages[i]), VKSLM_OK);
    }
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(c), n);
    return c;
}
#define CHAIN(...) chain_of((vkslm_sampler *const[]){__VA_ARGS__}, sizeof((vkslm_sampler *const[]){__VA_ARGS__}) / sizeof(vkslm_sampler *))

static vkslm_sampler *from_params(vkslm_generate_params p) {
    vkslm_sampler *s = vkslm_sampler_init_from_params(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* the five logits of the hand computations: softmax 0.5630 0.2071 0.0762 0.0280 0.1256 (ids 0..4) */
static const float L5[5] = {2.0f, 1.0f, 0.0f, -1.0f, 0.5f};

/* ---- stages ------------------------------------------------------------------------------------- */
static void test_greedy(void) {
    cands c;
    float l[6] = {0.5f, 2.0f, -1.0f, 2.0f, NAN, 1.0f};
    cands_of(&c, l, 6);
    apply1(vkslm_sampler_init_greedy(), &c);
    CU_ASSERT_EQUAL(c.a.selected, 1); /* tie between ids 1 and 3: the lower id; NaN ignored */
    /* ties go to the lowest id, not the first index */
    c.a.data[1].id = 7;
    c.a.selected = -1;
    apply1(vkslm_sampler_init_greedy(), &c);
    CU_ASSERT_EQUAL(c.a.selected, 3);
    float nans[3] = {NAN, -INFINITY, NAN};
    cands_of(&c, nans, 3);
    apply1(vkslm_sampler_init_greedy(), &c);
    CU_ASSERT_EQUAL(c.a.selected, -1);

    vkslm_sampler *g = vkslm_sampler_init_greedy();
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(g, l, 6), 1);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(g, nans, 3), -1);
    CU_ASSERT(strstr(vkslm_last_error(), "above -inf") != NULL);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(g));
    vkslm_sampler_free(g);
}

static void test_top_k(void) {
    cands c;
    float l[5] = {1.0f, 5.0f, 3.0f, 5.0f, -2.0f};
    cands_of(&c, l, 5);
    apply1(vkslm_sampler_init_top_k(3), &c);
    expect_ids(&c, (int32_t[]){1, 3, 2}, 3, "top-k 3");
    CU_ASSERT_TRUE(c.a.sorted);
    for (int32_t k = -1; k <= 5; k += 6) { /* off, and k >= size: unchanged, not sorted */
        cands_of(&c, l, 5);
        apply1(vkslm_sampler_init_top_k(k), &c);
        expect_ids(&c, (int32_t[]){0, 1, 2, 3, 4}, 5, "top-k off");
        CU_ASSERT_FALSE(c.a.sorted);
    }
    cands_of(&c, l, 5);
    apply1(vkslm_sampler_init_top_k(0), &c);
    CU_ASSERT_EQUAL(c.a.size, 5);
}

static void test_top_p(void) {
    static const struct {
        float p;
        size_t min_keep;
        size_t n;
        int32_t ids[5];
    } cases[] = {
        {0.7f, 0, 2, {0, 1}},        /* 0.563 + 0.207 = 0.770 >= 0.7 */
        {0.5f, 1, 1, {0}},           /* 0.563 alone */
        {0.5f, 3, 3, {0, 1, 4}},     /* min_keep */
        {0.8f, 0, 3, {0, 1, 4}},     /* 0.770 < 0.8 <= 0.896 */
        {0.99f, 0, 5, {0, 1, 4, 2, 3}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cands c;
        cands_of(&c, L5, 5);
        apply1(vkslm_sampler_init_top_p(cases[i].p, cases[i].min_keep), &c);
        expect_ids(&c, cases[i].ids, cases[i].n, "top-p");
        CU_ASSERT_TRUE(c.a.sorted);
        CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].p, 0.5630, 1e-4); /* p: the softmax before the cut */
    }
    cands c; /* p 1: off */
    cands_of(&c, L5, 5);
    apply1(vkslm_sampler_init_top_p(1.0f, 0), &c);
    expect_ids(&c, (int32_t[]){0, 1, 2, 3, 4}, 5, "top-p 1");

    /* a large unsorted row (the widening partial selection) against a full sort */
    enum { N = 20000 };
    vkslm_token_data *d = malloc(N * sizeof *d), *ref = malloc(N * sizeof *ref);
    vkslm_rng r;
    test_rng(&r, 3);
    for (float p = 0.1f; p < 1.0f; p += 0.2f) {
        for (int i = 0; i < N; i++)
            d[i] = (vkslm_token_data){i, vkslm_rng_range(&r, -4, 4), 0};
        memcpy(ref, d, N * sizeof *d);
        vkslm_token_data_array a = {d, N, -1, false};
        vkslm_sampler *s = vkslm_sampler_init_top_p(p, 0);
        vkslm_sampler_apply(s, &a);
        vkslm_sampler_free(s);
        /* reference: sort all, keep the prefix whose mass reaches p */
        vkslm_token_data_array all = {ref, N, -1, false};
        s = vkslm_sampler_init_top_k(N - 1); /* sorts everything but the worst */
        vkslm_sampler_apply(s, &all);
        vkslm_sampler_free(s);
        double sum = 0, acc = 0;
        for (int i = 0; i < N; i++)
            sum += exp(ref[i].logit); /* the worst one is outside: negligible for the cut */
        size_t keep = 0;
        while (keep < N - 1 && acc < p)
            acc += exp(ref[keep++].logit) / sum;
        CU_ASSERT(a.sorted);
        int same = a.size == keep || a.size == keep + 1 || a.size + 1 == keep; /* rounding at the edge */
        for (size_t i = 0; same && i < a.size && i < keep; i++)
            same = a.data[i].id == ref[i].id;
        if (!same)
            fprintf(stderr, "  top-p %g: kept %zu, want %zu\n", (double)p, a.size, keep);
        CU_ASSERT(same);
        CU_ASSERT(a.size > 50); /* a flat row: much more than the first selection */
    }
    free(d);
    free(ref);
}

static void test_min_p(void) {
    static const struct {
        float p;
        size_t min_keep;
        size_t n;
        int32_t ids[5];
    } cases[] = {
        {0.3f, 0, 2, {0, 1}},        /* logit >= 2 + ln 0.3 = 0.796 */
        {0.3f, 3, 3, {0, 1, 4}},     /* min_keep */
        {0.05f, 0, 4, {0, 1, 4, 2}}, /* >= 2 + ln 0.05 = -0.996: not -1 */
        {2.0f, 0, 1, {0}},           /* above 1: only the best (at least one) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int sorted = 0; sorted < 2; sorted++) { /* unsorted and already sorted input */
            cands c;
            cands_of(&c, L5, 5);
            if (sorted)
                apply1(vkslm_sampler_init_top_k(4), &c); /* sorted, the worst (id 3) gone */
            apply1(vkslm_sampler_init_min_p(cases[i].p, cases[i].min_keep), &c);
            expect_ids(&c, cases[i].ids, cases[i].n, "min-p");
            CU_ASSERT_TRUE(c.a.sorted);
        }
    cands c;
    cands_of(&c, L5, 5);
    apply1(vkslm_sampler_init_min_p(0.0f, 3), &c); /* 0: off */
    CU_ASSERT_EQUAL(c.a.size, 5);
    CU_ASSERT_FALSE(c.a.sorted);
}

static void test_temp(void) {
    cands c;
    float l[3] = {2.0f, -1.0f, 0.0f};
    cands_of(&c, l, 3);
    apply1(vkslm_sampler_init_temp(2.0f), &c);
    CU_ASSERT_EQUAL(c.a.size, 3);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, 1.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[1].logit, -0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[2].logit, 0.0, 1e-7);
    float t2[4] = {1.0f, 3.0f, -2.0f, 3.0f};
    for (int i = 0; i < 2; i++) { /* t <= 0 (0 and -inf) keeps the largest, ties to the lower id */
        cands_of(&c, t2, 4);
        apply1(vkslm_sampler_init_temp(i ? -INFINITY : 0.0f), &c);
        expect_ids(&c, (int32_t[]){1}, 1, "temp 0");
        CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, 3.0, 0);
    }
}

/* Draws many samples from one chain and compares frequencies with the expected probabilities. */
static void check_distribution(vkslm_sampler *s, const float *l, int32_t n, const double *want) {
    enum { DRAWS = 40000 };
    int *hits = calloc((size_t)n, sizeof *hits);
    for (int i = 0; i < DRAWS; i++) {
        int32_t t = vkslm_sampler_sample_logits(s, l, n);
        CU_ASSERT_FATAL(t >= 0 && t < n);
        hits[t]++;
    }
    for (int32_t i = 0; i < n; i++) {
        double f = (double)hits[i] / DRAWS;
        double sd = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (fabs(f - want[i]) > 5 * sd + 1e-9) {
            fprintf(stderr, "  id %d: frequency %.4f, want %.4f\n", i, f, want[i]);
            CU_FAIL("sampled frequency off the expected probability");
        }
    }
    free(hits);
    vkslm_sampler_free(s);
}

static void softmax5(double t, double *want) {
    double sum = 0;
    for (int i = 0; i < 5; i++)
        sum += want[i] = exp(L5[i] / t);
    for (int i = 0; i < 5; i++)
        want[i] /= sum;
}

static void test_dist(void) {
    /* p of every candidate is the softmax */
    cands c;
    cands_of(&c, L5, 5);
    apply1(vkslm_sampler_init_dist(1), &c);
    double want[5], psum = 0;
    softmax5(1, want);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_DOUBLE_EQUAL(c.a.data[i].p, want[i], 1e-6);
        psum += c.a.data[i].p;
    }
    CU_ASSERT_DOUBLE_EQUAL(psum, 1.0, 1e-6);
    CU_ASSERT(c.a.selected >= 0 && c.a.selected < 5);

    uint64_t seed = test_seed();
    check_distribution(CHAIN(vkslm_sampler_init_dist(seed)), L5, 5, want);
    softmax5(2, want);
    check_distribution(CHAIN(vkslm_sampler_init_temp(2.0f), vkslm_sampler_init_dist(seed)), L5, 5, want);
    double z = exp(2.0) + exp(1.0);
    double two[5] = {exp(2.0) / z, exp(1.0) / z, 0, 0, 0};
    check_distribution(CHAIN(vkslm_sampler_init_top_k(2), vkslm_sampler_init_dist(seed)), L5, 5, two);
    check_distribution(CHAIN(vkslm_sampler_init_top_p(0.7f, 1), vkslm_sampler_init_dist(seed)), L5, 5, two);
    check_distribution(CHAIN(vkslm_sampler_init_min_p(0.3f, 1), vkslm_sampler_init_dist(seed)), L5, 5, two);
    /* the chain of generate params: temperature 2 over top-k 2 */
    vkslm_generate_params p = vkslm_generate_default_params();
    p.temperature = 2.0f;
    p.top_k = 2;
    p.seed = seed;
    z = exp(1.0) + exp(0.5);
    double two_t[5] = {exp(1.0) / z, exp(0.5) / z, 0, 0, 0};
    check_distribution(from_params(p), L5, 5, two_t);
}

static void test_dist_seeded(void) {
    enum { N = 1000, DRAWS = 200 };
    float *l = malloc(N * sizeof *l);
    vkslm_rng r;
    test_rng(&r, 1);
    for (int i = 0; i < N; i++)
        l[i] = vkslm_rng_range(&r, -3, 3);
    vkslm_sampler *a = vkslm_sampler_init_dist(1234), *b = vkslm_sampler_init_dist(1234);
    vkslm_sampler *c = vkslm_sampler_init_dist(1235);
    int32_t first[DRAWS];
    int same = 1, differ = 0, distinct = 0;
    for (int i = 0; i < DRAWS; i++) {
        first[i] = vkslm_sampler_sample_logits(a, l, N);
        int32_t y = vkslm_sampler_sample_logits(b, l, N);
        same &= first[i] == y;
        differ += first[i] != vkslm_sampler_sample_logits(c, l, N);
        distinct += i > 0 && first[i] != first[i - 1];
    }
    CU_ASSERT(same);
    CU_ASSERT(differ > DRAWS / 2);
    CU_ASSERT(distinct > 20); /* it does sample, not just repeat one token */
    vkslm_sampler_reset(a); /* the same sequence again */
    int again = 1;
    for (int i = 0; i < DRAWS; i++)
        again &= vkslm_sampler_sample_logits(a, l, N) == first[i];
    CU_ASSERT(again);
    /* a stage reset inside a chain restarts too */
    vkslm_sampler *ch = CHAIN(vkslm_sampler_init_dist(1234));
    for (int i = 0; i < 5; i++)
        vkslm_sampler_sample_logits(ch, l, N);
    vkslm_sampler_reset(ch);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, l, N), first[0]);
    vkslm_sampler_free(a);
    vkslm_sampler_free(b);
    vkslm_sampler_free(c);
    vkslm_sampler_free(ch);
    free(l);
}

static void test_chain_order(void) {
    /* top-p 0.7 on the raw logits keeps ids 0 and 1; after temperature 0.25 (logits x4) id 0 alone holds
     * 0.98; after temperature 4 (flatter) it takes ids 0, 1, 4, 2 (0.282 + 0.220 + 0.194 + 0.171) */
    static const struct {
        float t;
        int temp_first;
        size_t n;
        int32_t ids[4];
    } cases[] = {
        {0.25f, 0, 2, {0, 1}},
        {0.25f, 1, 1, {0}},
        {4.0f, 0, 2, {0, 1}},
        {4.0f, 1, 4, {0, 1, 4, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkslm_sampler *t = vkslm_sampler_init_temp(cases[i].t), *p = vkslm_sampler_init_top_p(0.7f, 1);
        vkslm_sampler *ch = cases[i].temp_first ? CHAIN(t, p) : CHAIN(p, t);
        cands c;
        cands_of(&c, L5, 5);
        vkslm_sampler_apply(ch, &c.a);
        expect_ids(&c, cases[i].ids, cases[i].n, cases[i].temp_first ? "temp, top-p" : "top-p, temp");
        CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, 2.0 / cases[i].t, 1e-6);
        vkslm_sampler_free(ch);
    }
    /* nested chains apply in order too */
    vkslm_sampler *inner = CHAIN(vkslm_sampler_init_top_k(3), vkslm_sampler_init_temp(0.5f));
    vkslm_sampler *outer = CHAIN(inner, vkslm_sampler_init_greedy());
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(outer, L5, 5), 0);
    cands c;
    cands_of(&c, L5, 5);
    vkslm_sampler_apply(outer, &c.a);
    expect_ids(&c, (int32_t[]){0, 1, 4}, 3, "nested");
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[2].logit, 1.0, 1e-7);
    CU_ASSERT_EQUAL(c.a.selected, 0);
    vkslm_sampler_free(outer);
    /* a chain without a picking stage picks nothing */
    vkslm_sampler *nopick = CHAIN(vkslm_sampler_init_top_k(2));
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(nopick, L5, 5), -1);
    CU_ASSERT(strstr(vkslm_last_error(), "no stage picked") != NULL);
    vkslm_sampler_free(nopick);
    vkslm_sampler *empty = vkslm_sampler_chain_init();
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(empty, L5, 5), -1);
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(empty));
    vkslm_sampler_free(empty);
}

/* ---- penalties and bias ------------------------------------------------------------------------- */
/* Greedy after penalties, on candidates in id order and shuffled (the scan path): same pick. */
static int32_t pick_both(vkslm_sampler *pen, const float *l, size_t n) {
    cands c;
    cands_of(&c, l, n);
    vkslm_sampler_apply(pen, &c.a);
    vkslm_sampler *g = vkslm_sampler_init_greedy();
    vkslm_sampler_apply(g, &c.a);
    int32_t in_order = c.a.selected >= 0 ? c.a.data[c.a.selected].id : -1;
    cands_of(&c, l, n);
    for (size_t i = 0; i + 1 < n; i += 2) { /* swap neighbours: no id at its index */
        vkslm_token_data t = c.d[i];
        c.d[i] = c.d[i + 1];
        c.d[i + 1] = t;
    }
    vkslm_sampler_apply(pen, &c.a);
    vkslm_sampler_apply(g, &c.a);
    vkslm_sampler_free(g);
    int32_t shuffled = c.a.selected >= 0 ? c.a.data[c.a.selected].id : -1;
    CU_ASSERT_EQUAL(in_order, shuffled);
    CU_ASSERT_FALSE(c.a.sorted);
    return in_order;
}

static void test_penalties(void) {
    float l[4] = {3.0f, 2.9f, -1.0f, -1.1f};
    vkslm_sampler *s = vkslm_sampler_init_penalties(64, 2.0f, 0, 0);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 0); /* nothing accepted yet */
    vkslm_sampler_accept(s, 0);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 1); /* 3.0 / 2 = 1.5 < 2.9 */
    cands c;
    float neg[2] = {-1.0f, 1.0f};
    cands_of(&c, neg, 2);
    vkslm_sampler_accept(s, 1);
    vkslm_sampler_apply(s, &c.a);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, -2.0, 0); /* negative: multiplied */
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[1].logit, 0.5, 0);  /* positive: divided */
    vkslm_sampler_free(s);

    s = vkslm_sampler_init_penalties(-1, 1.0f, 0.5f, 0.25f);
    for (int i = 0; i < 3; i++)
        vkslm_sampler_accept(s, 1); /* 2.9 - 3 * 0.5 - 0.25 = 1.15 */
    float m[4] = {1.2f, 2.9f, 1.1f, -5.0f};
    CU_ASSERT_EQUAL(pick_both(s, m, 4), 0);
    m[0] = 1.1f; /* 1.15 now wins */
    CU_ASSERT_EQUAL(pick_both(s, m, 4), 1);
    cands_of(&c, m, 4);
    vkslm_sampler_apply(s, &c.a);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[1].logit, 1.15, 1e-6);
    vkslm_sampler_free(s);

    /* last_n limits the window; reset forgets; -1 is everything kept (up to 4096) */
    s = vkslm_sampler_init_penalties(2, 100.0f, 0, 0);
    vkslm_sampler_accept(s, 0);
    vkslm_sampler_accept(s, 2);
    vkslm_sampler_accept(s, 3);
    float n4[4] = {3.0f, 2.0f, 1.0f, 0.5f};
    CU_ASSERT_EQUAL(pick_both(s, n4, 4), 0); /* token 0 fell out of the last-2 window */
    vkslm_sampler_accept(s, 0);
    CU_ASSERT_EQUAL(pick_both(s, n4, 4), 1); /* 0 and 3 penalised now */
    vkslm_sampler_reset(s);
    CU_ASSERT_EQUAL(pick_both(s, n4, 4), 0);
    vkslm_sampler_free(s);
    s = vkslm_sampler_init_penalties(-1, 1.0f, 0.001f, 0);
    for (int i = 0; i < 5000; i++)
        vkslm_sampler_accept(s, i < 904 ? 0 : 1); /* 904 zeros then 4096 ones: the zeros are forgotten */
    float two[2] = {0.0f, 0.0f};
    cands_of(&c, two, 2);
    vkslm_sampler_apply(s, &c.a);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[1].logit, -4.096, 1e-5);
    vkslm_sampler_free(s);

    /* 0 and neutral settings are off; tokens beyond the candidates and negative ones are ignored */
    s = vkslm_sampler_init_penalties(0, 2.0f, 1.0f, 1.0f);
    vkslm_sampler_accept(s, 0);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 0);
    vkslm_sampler_free(s);
    s = vkslm_sampler_init_penalties(8, 1.5f, 0, 0);
    vkslm_sampler_accept(s, 1000);
    vkslm_sampler_accept(s, -5);
    vkslm_sampler_accept(s, 0);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 1); /* 3 / 1.5 = 2 < 2.9 */
    vkslm_sampler_free(s);
}

static void test_logit_bias(void) {
    vkslm_logit_bias ban[2] = {{0, -INFINITY}, {9, 5.0f}}; /* 9: no such candidate */
    vkslm_sampler *s = vkslm_sampler_init_logit_bias(2, ban);
    float l[4] = {3.0f, 2.9f, -1.0f, -1.1f};
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 1);
    vkslm_sampler_free(s);
    vkslm_logit_bias boost[3] = {{3, 2.0f}, {2, -0.5f}, {3, 2.5f}}; /* token 3 twice: +4.5 */
    s = vkslm_sampler_init_logit_bias(3, boost);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 3);
    cands c;
    cands_of(&c, l, 4);
    vkslm_sampler_apply(s, &c.a);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[3].logit, 3.4, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[2].logit, -1.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c.a.data[0].logit, 3.0, 0);
    vkslm_sampler_free(s);
    /* a ban in a sampling chain: the banned token never comes */
    vkslm_logit_bias ban1 = {0, -INFINITY};
    vkslm_sampler *ch = CHAIN(vkslm_sampler_init_logit_bias(1, &ban1), vkslm_sampler_init_temp(3.0f),
                              vkslm_sampler_init_dist(test_seed()));
    int zero = 0;
    for (int i = 0; i < 500; i++)
        zero += vkslm_sampler_sample_logits(ch, l, 4) == 0;
    CU_ASSERT_EQUAL(zero, 0);
    vkslm_sampler_free(ch);
    /* no biases: nothing changes */
    s = vkslm_sampler_init_logit_bias(0, NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    CU_ASSERT_EQUAL(pick_both(s, l, 4), 0);
    vkslm_sampler_free(s);
}

/* ---- hooks, NaN ---------------------------------------------------------------------------------- */
typedef struct hook_counts {
    int apply, accept, reset, free;
    int32_t last_accepted;
    int32_t only; /* >= 0: ban every other token */
} hook_counts;
static void h_apply(vkslm_token_data_array *cur, void *u) {
    hook_counts *h = u;
    h->apply++;
    if (h->only >= 0)
        for (size_t i = 0; i < cur->size; i++)
            if (cur->data[i].id != h->only)
                cur->data[i].logit = -INFINITY;
}
static void h_accept(int32_t token, void *u) {
    ((hook_counts *)u)->accept++;
    ((hook_counts *)u)->last_accepted = token;
}
static void h_reset(void *u) { ((hook_counts *)u)->reset++; }
static void h_free(void *u) { ((hook_counts *)u)->free++; }

static void test_hook(void) {
    hook_counts h = {0, 0, 0, 0, -1, 7};
    vkslm_sampler_hook hook = {h_apply, h_accept, h_reset, h_free, &h};
    enum { N = 50 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = (float)(i % 10); /* token 7 is never the best */
    vkslm_sampler *ch = CHAIN(vkslm_sampler_init_top_k(40), vkslm_sampler_init_hook(&hook),
                              vkslm_sampler_init_temp(2.0f), vkslm_sampler_init_dist(1));
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, l, N), 7); /* the hook bans all others */
    CU_ASSERT_EQUAL(h.apply, 20);
    CU_ASSERT_EQUAL(h.accept, 20);
    CU_ASSERT_EQUAL(h.last_accepted, 7);
    vkslm_sampler_accept(ch, 3);
    CU_ASSERT_EQUAL(h.accept, 21);
    CU_ASSERT_EQUAL(h.last_accepted, 3);
    vkslm_sampler_reset(ch);
    CU_ASSERT_EQUAL(h.reset, 1);
    /* the hook bans the only tokens top-k kept: nothing left, nothing accepted */
    float low7[N];
    for (int i = 0; i < N; i++)
        low7[i] = i == 7 ? -5.0f : (float)i;
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, low7, N), -1);
    CU_ASSERT_EQUAL(h.accept, 21);
    CU_ASSERT_EQUAL(h.free, 0);
    vkslm_sampler_free(ch);
    CU_ASSERT_EQUAL(h.free, 1);
    CU_ASSERT_EQUAL(h.apply, 21);

    /* NULL functions are fine; a lone hook stage is freed by itself */
    vkslm_sampler_hook none = {NULL, NULL, NULL, NULL, NULL};
    vkslm_sampler *s = vkslm_sampler_init_hook(&none);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    vkslm_sampler_accept(s, 1);
    vkslm_sampler_reset(s);
    cands c;
    cands_of(&c, L5, 5);
    vkslm_sampler_apply(s, &c.a);
    vkslm_sampler_free(s);
}

static void test_nan(void) {
    float l[6] = {NAN, 1.0f, NAN, -INFINITY, 0.5f, NAN};
    vkslm_sampler *samplers[3] = {
        vkslm_sampler_init_greedy(),
        CHAIN(vkslm_sampler_init_top_k(3), vkslm_sampler_init_top_p(0.99f, 1), vkslm_sampler_init_min_p(0.01f, 1),
              vkslm_sampler_init_temp(5.0f), vkslm_sampler_init_dist(3)),
        CHAIN(vkslm_sampler_init_temp(5.0f), vkslm_sampler_init_dist(4)),
    };
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 200; i++) {
            int32_t t = vkslm_sampler_sample_logits(samplers[k], l, 6);
            CU_ASSERT(t == 1 || t == 4); /* never a NaN or -inf token */
            if (k == 0)
                CU_ASSERT_EQUAL(t, 1);
        }
        float all[4] = {NAN, -INFINITY, NAN, NAN};
        CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(samplers[k], all, 4), -1);
        vkslm_sampler_free(samplers[k]);
    }
    /* all NaN: nothing accepted (the penalties would remember it) */
    hook_counts h = {0, 0, 0, 0, -1, -1};
    vkslm_sampler_hook hook = {h_apply, h_accept, h_reset, h_free, &h};
    vkslm_sampler *ch = CHAIN(vkslm_sampler_init_hook(&hook), vkslm_sampler_init_greedy());
    float nans[3] = {NAN, NAN, NAN};
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, nans, 3), -1);
    CU_ASSERT_EQUAL(h.accept, 0);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, NULL, 3), -1); /* an entry without logits */
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, L5, 0), -1);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(NULL, L5, 5), -1);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(ch, L5, 5), 0);
    CU_ASSERT_EQUAL(h.accept, 1);
    vkslm_sampler_free(ch);
    /* the caller's logits are not modified; a growing vocabulary is fine */
    float big[300];
    for (int i = 0; i < 300; i++)
        big[i] = i == 250 ? 9.0f : NAN;
    vkslm_sampler *g = vkslm_sampler_init_greedy();
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(g, L5, 5), 0);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(g, big, 300), 250);
    CU_ASSERT(isnan(big[0]));
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(g, L5, 5), 0);
    vkslm_sampler_free(g);
}

/* ---- construction, ownership, bad arguments ------------------------------------------------------- */
static void expect_refused(vkslm_sampler *s, const char *what) {
    if (s)
        fprintf(stderr, "  %s: accepted\n", what);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT(vkslm_last_error()[0] != 0);
    vkslm_sampler_free(s);
}

static void test_bad_args(void) {
    expect_refused(vkslm_sampler_init_temp(NAN), "temp NaN");
    expect_refused(vkslm_sampler_init_temp(INFINITY), "temp +inf");
    expect_refused(vkslm_sampler_init_top_p(0.0f, 1), "top-p 0");
    expect_refused(vkslm_sampler_init_top_p(-0.5f, 1), "top-p < 0");
    expect_refused(vkslm_sampler_init_top_p(1.5f, 1), "top-p > 1");
    expect_refused(vkslm_sampler_init_top_p(NAN, 1), "top-p NaN");
    expect_refused(vkslm_sampler_init_top_p(0.9f, (size_t)-1), "top-p min_keep -1");
    expect_refused(vkslm_sampler_init_min_p(-0.1f, 1), "min-p < 0");
    expect_refused(vkslm_sampler_init_min_p(NAN, 1), "min-p NaN");
    expect_refused(vkslm_sampler_init_min_p(0.1f, (size_t)-3), "min-p min_keep -3");
    expect_refused(vkslm_sampler_init_penalties(-2, 1.1f, 0, 0), "penalties last_n -2");
    expect_refused(vkslm_sampler_init_penalties(64, NAN, 0, 0), "penalties NaN");
    expect_refused(vkslm_sampler_init_penalties(64, 1.1f, 0, NAN), "penalties NaN presence");
    vkslm_logit_bias b[2] = {{1, 1.0f}, {-1, 1.0f}};
    expect_refused(vkslm_sampler_init_logit_bias(2, b), "bias token -1");
    b[1] = (vkslm_logit_bias){2, NAN};
    expect_refused(vkslm_sampler_init_logit_bias(2, b), "bias NaN");
    b[1] = (vkslm_logit_bias){2, INFINITY};
    expect_refused(vkslm_sampler_init_logit_bias(2, b), "bias +inf");
    expect_refused(vkslm_sampler_init_logit_bias(2, NULL), "biases NULL");
    expect_refused(vkslm_sampler_init_hook(NULL), "hook NULL");
    vkslm_generate_params p = vkslm_generate_default_params();
    p.temperature = NAN;
    expect_refused(vkslm_sampler_init_from_params(&p), "params temperature NaN");
    vkslm_sampler *s;
    CU_ASSERT_EQUAL(vkslm_sampler_from_params(&p, &s), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(s);
    p = vkslm_generate_default_params();
    p.top_p = NAN;
    expect_refused(vkslm_sampler_init_from_params(&p), "params top_p NaN");
    /* the edges that are valid */
    vkslm_sampler *ok[] = {vkslm_sampler_init_top_p(1.0f, 0), vkslm_sampler_init_min_p(0.0f, 0),
                           vkslm_sampler_init_temp(-1.0f), vkslm_sampler_init_penalties(-1, -1.0f, 0, 0),
                           vkslm_sampler_init_top_k(INT32_MIN), vkslm_sampler_init_from_params(NULL)};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        CU_ASSERT_PTR_NOT_NULL(ok[i]);
        vkslm_sampler_free(ok[i]);
    }
    vkslm_sampler_free(NULL);
    vkslm_sampler_apply(NULL, NULL);
    vkslm_sampler_accept(NULL, 1);
    vkslm_sampler_reset(NULL);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(NULL), 0);
}

static void test_chain_ownership(void) {
    vkslm_sampler *a = vkslm_sampler_chain_init(), *b = vkslm_sampler_chain_init();
    vkslm_sampler *g = vkslm_sampler_init_greedy(), *k = vkslm_sampler_init_top_k(3);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, a), VKSLM_ERR_INVALID_ARG); /* itself */
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(NULL, g), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, NULL), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(k, g), VKSLM_ERR_INVALID_ARG); /* not a chain */
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, k), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(b, k), VKSLM_ERR_INVALID_ARG); /* in a chain already */
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, k), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(b, a), VKSLM_OK);              /* a inside b */
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, b), VKSLM_ERR_INVALID_ARG); /* b inside a: a cycle */
    CU_ASSERT(vkslm_last_error()[0] != 0);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(a, g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(a), 2);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(b), 1);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(g), 0);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(g));
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(b)); /* top-k inside */
    vkslm_sampler_free(k); /* in a chain: nothing happens, the chain frees it */
    vkslm_sampler_free(a);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(b, L5, 5), 0);
    vkslm_sampler_free(b); /* frees a, k and g (ASan checks) */

    /* is_plain_greedy of the generate chains */
    vkslm_generate_params p = vkslm_generate_default_params();
    vkslm_sampler *s = from_params(p);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(s));
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(s), 1);
    vkslm_sampler_free(s);
    p.top_k = 5; /* truncation is left out when greedy */
    p.top_p = 0.5f;
    s = from_params(p);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(s));
    vkslm_sampler_free(s);
    p.repeat_penalty = 1.2f;
    s = from_params(p);
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(s));
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(s), 2);
    vkslm_sampler_free(s);
    p.penalty_last_n = 0; /* no window: no penalties */
    s = from_params(p);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(s));
    vkslm_sampler_free(s);
    p = vkslm_generate_default_params();
    p.temperature = 0.7f;
    p.top_k = 40;
    p.top_p = 0.9f;
    p.min_p = 0.05f;
    s = from_params(p);
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(s));
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(s), 5); /* top-k, top-p, min-p, temp, dist */
    vkslm_sampler_free(s);
}

/* ---- from_params against the sampler it replaced ------------------------------------------------- */
static void random_row(vkslm_rng *r, float *l, uint32_t n, int spice) {
    for (uint32_t i = 0; i < n; i++)
        l[i] = vkslm_rng_range(r, -4, 4) * vkslm_rng_range(r, 0, 1.5f);
    for (int i = 0; i < 5; i++) /* a few strong candidates, sometimes tied */
        l[vkslm_rng_u64(r) % n] = 6.0f + (float)(vkslm_rng_u64(r) % 3);
    if (spice) /* NaN and -inf here and there */
        for (int i = 0; i < 10; i++)
            l[vkslm_rng_u64(r) % n] = i & 1 ? NAN : -INFINITY;
}

/* Runs both samplers over `steps` random rows (accepting each pick, after a prompt); counts mismatches. */
static int compare_with_ref(const vkslm_generate_params *p, uint32_t n, int steps, vkslm_rng *r, float *l) {
    ref_sampler *ref = ref_create(p, n);
    vkslm_sampler *s = vkslm_sampler_init_from_params(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int i = 0; i < 20; i++) {
        int32_t t = (int32_t)(vkslm_rng_u64(r) % n);
        ref_accept(ref, t);
        vkslm_sampler_accept(s, t);
    }
    int bad = 0;
    for (int step = 0; step < steps; step++) {
        random_row(r, l, n, step % 3 == 2);
        if (step % 4 == 1) /* a repeated token gets a strong logit: the penalties matter */
            l[ref->history[(ref->hist_pos + REF_HISTORY - 1) % REF_HISTORY]] = 9.0f;
        int32_t want = ref_pick(ref, l), got = vkslm_sampler_pick(s, l, (int32_t)n);
        if (want != got && bad++ == 0)
            fprintf(stderr, "  temp %g top-k %d top-p %g min-p %g rep %g freq %g pres %g last_n %d, n %u, step %d: "
                    "%d, want %d\n", (double)p->temperature, p->top_k, (double)p->top_p, (double)p->min_p,
                    (double)p->repeat_penalty, (double)p->frequency_penalty, (double)p->presence_penalty,
                    p->penalty_last_n, n, step, got, want);
        if (want >= 0) {
            ref_accept(ref, want);
            vkslm_sampler_accept(s, want);
        }
    }
    ref_free(ref);
    vkslm_sampler_free(s);
    return bad;
}

static void test_from_params_equals_old(void) {
    static const float temps[] = {0.0f, 0.5f, 1.0f, 1.7f};
    static const int32_t top_ks[] = {0, 1, 40, 600, 5000};
    static const float top_ps[] = {1.0f, 0.95f, 0.5f, 0.0f};
    static const float min_ps[] = {0.0f, 0.05f, 0.3f};
    static const struct {
        float rep, freq, pres;
        int32_t last_n;
    } pens[] = {{1.0f, 0, 0, 64}, {1.3f, 0, 0, 64}, {1.1f, 0.5f, 0.2f, -1}, {0.0f, 0.3f, 0, 8}, {2.0f, 0, 0, 0}};
    enum { N = 1000 };
    float *l = malloc(151936 * sizeof *l);
    vkslm_rng r;
    test_rng(&r, 11);
    int bad = 0, runs = 0;
    for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
        for (size_t b = 0; b < sizeof top_ks / sizeof *top_ks; b++)
            for (size_t c = 0; c < sizeof top_ps / sizeof *top_ps; c++)
                for (size_t d = 0; d < sizeof min_ps / sizeof *min_ps; d++)
                    for (size_t e = 0; e < sizeof pens / sizeof *pens; e++) {
                        vkslm_generate_params p = vkslm_generate_default_params();
                        p.temperature = temps[a];
                        p.top_k = top_ks[b];
                        p.top_p = top_ps[c];
                        p.min_p = min_ps[d];
                        p.repeat_penalty = pens[e].rep;
                        p.frequency_penalty = pens[e].freq;
                        p.presence_penalty = pens[e].pres;
                        p.penalty_last_n = pens[e].last_n;
                        p.seed = vkslm_rng_u64(&r);
                        bad += compare_with_ref(&p, N, 12, &r, l) != 0;
                        runs++;
                    }
    /* a vocabulary of 151936 (qwen2's): the partial selections of top-p and min-p at full size */
    static const float big[][4] = {{0.8f, 0, 0.9f, 0}, {1.0f, 0, 0.0f, 0.05f}, {0.7f, 0, 0.95f, 0.02f},
                                   {0.9f, 40, 0.9f, 0}, {1.0f, 0, 1.0f, 0}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        vkslm_generate_params p = vkslm_generate_default_params();
        p.temperature = big[i][0];
        p.top_k = (int32_t)big[i][1];
        p.top_p = big[i][2];
        p.min_p = big[i][3];
        p.repeat_penalty = 1.1f;
        p.seed = vkslm_rng_u64(&r);
        bad += compare_with_ref(&p, 151936, 4, &r, l) != 0;
        runs++;
    }
    printf("\n  %d settings, %d with a different pick\n", runs, bad);
    CU_ASSERT_EQUAL(bad, 0);
    free(l);
}

/* the generate params' logit bias comes first in the chain: penalties see the biased logits, greedy picks
 * after it; the chain is no longer plain greedy; a bad bias is refused */
static void test_from_params_bias(void) {
    float l[6] = {1, 5, 2, 4, 0, 3};
    vkslm_logit_bias ban = {1, -INFINITY}, lift = {4, 4.5f};
    vkslm_generate_params p = vkslm_generate_default_params();
    p.logit_bias = &ban;
    p.n_logit_bias = 1;
    vkslm_sampler *s = vkslm_sampler_init_from_params(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(s), 2);
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(s));
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(s, l, 6), 3);
    vkslm_sampler_free(s);
    /* a repetition penalty of 2 on token 4 (seen once) after the bias: (0 + 4.5) / 2 = 2.25 loses to token 1's
     * 3 (the penalty first would leave 0 * 2 + 4.5, the winner) */
    float l2[6] = {1, 3, 2, 2.5f, 0, 2};
    p.logit_bias = &lift;
    p.repeat_penalty = 2.0f;
    s = vkslm_sampler_init_from_params(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_n(s), 3);
    vkslm_sampler_accept(s, 4);
    CU_ASSERT_EQUAL(vkslm_sampler_sample_logits(s, l2, 6), 1);
    vkslm_sampler_free(s);
    vkslm_logit_bias bad = {2, NAN};
    p.logit_bias = &bad;
    expect_refused(vkslm_sampler_init_from_params(&p), "params logit bias NaN");
    p.logit_bias = NULL;
    expect_refused(vkslm_sampler_init_from_params(&p), "params logit_bias NULL with n 1");
}

int main(void) {
    static const vkslm_test tests[] = {
        {"greedy: the largest, ties to the lowest id, NaN ignored, none: -1", test_greedy},
        {"top-k keeps the k best, sorted; off and k >= size leave the candidates", test_top_k},
        {"top-p keeps the fewest whose mass reaches p, min_keep; a large unsorted row", test_top_p},
        {"min-p keeps p >= min_p * p_max, min_keep, sorted or not", test_min_p},
        {"temperature divides; t <= 0 keeps the largest", test_temp},
        {"dist: p is the softmax; frequencies match, after temperature and truncations", test_dist},
        {"dist: same seed, same draws; reset restarts the sequence", test_dist_seeded},
        {"chain order matters (temperature before or after top-p); nested chains; no picker", test_chain_order},
        {"penalties: repetition, frequency, presence, last_n window, reset, unordered candidates", test_penalties},
        {"logit bias bans and boosts", test_logit_bias},
        {"hook: apply, accept, reset and free are called; a hook that allows one token forces it", test_hook},
        {"NaN logits count as -inf; nothing left: -1 and nothing accepted", test_nan},
        {"bad arguments are refused with a message", test_bad_args},
        {"chains own their stages; self, shared and cyclic adds refused; plain greedy", test_chain_ownership},
        {"the chain of generate params picks what the old sampler picked", test_from_params_equals_old},
        {"the chain of generate params starts with its logit bias", test_from_params_bias},
        {NULL, NULL},
    };
    return test_run_suite("sampler", tests);
}
