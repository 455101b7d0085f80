/* The CPU sampler: greedy, penalties, top-k/top-p/min-p truncation, temperature, seeded determinism,
 * and the sampled distribution against the softmax. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/sampler.h"
#include "tests/harness.h"

static vkslm_sampler *make(vkslm_generate_params p, uint32_t n) {
    vkslm_sampler *s;
    CU_ASSERT_FATAL(vkslm_sampler_create(&p, n, &s) == VKSLM_OK);
    return s;
}

static void test_greedy_and_ties(void) {
    float l[6] = {0.5f, 2.0f, -1.0f, 2.0f, NAN, 1.0f};
    vkslm_sampler *s = make(vkslm_generate_default_params(), 6);
    CU_ASSERT_TRUE(vkslm_sampler_is_plain_greedy(s));
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, l), 1); /* tie between 1 and 3: the lower id; NaN ignored */
    float nans[3] = {NAN, NAN, NAN};
    vkslm_sampler_free(s);
    s = make(vkslm_generate_default_params(), 3);
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, nans), -1);
    vkslm_sampler_free(s);
}

/* Rows with nothing to pick (every logit NaN or -inf): greedy and sampling both give -1, whatever the
 * mix and with or without truncation or penalties; one finite logit among them is picked both ways. */
static void test_no_finite_logit(void) {
    static const float rows[][4] = {
        {NAN, NAN, NAN, NAN},
        {-INFINITY, NAN, NAN, NAN},
        {NAN, -INFINITY, -INFINITY, NAN},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
    };
    float one[4] = {NAN, -INFINITY, -3.0f, NAN};
    for (int mode = 0; mode < 4; mode++) {
        vkslm_generate_params p = vkslm_generate_default_params();
        if (mode & 1)
            p.temperature = 0.8f, p.top_k = mode == 3 ? 2 : 0, p.seed = 7;
        if (mode & 2)
            p.repeat_penalty = 1.5f, p.frequency_penalty = 0.1f;
        vkslm_sampler *s = make(p, 4);
        vkslm_sampler_accept(s, 0);
        for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
            int32_t t = vkslm_sampler_pick(s, rows[r]);
            if (t != -1)
                fprintf(stderr, "  mode %d row %zu: token %d, want -1\n", mode, r, t);
            CU_ASSERT_EQUAL(t, -1);
        }
        CU_ASSERT_EQUAL(vkslm_sampler_pick(s, one), 2);
        vkslm_sampler_free(s);
    }
}

static void test_penalties(void) {
    vkslm_generate_params p = vkslm_generate_default_params();
    p.repeat_penalty = 2.0f;
    float l[4] = {3.0f, 2.9f, -1.0f, -1.1f};
    vkslm_sampler *s = make(p, 4);
    CU_ASSERT_FALSE(vkslm_sampler_is_plain_greedy(s));
    vkslm_sampler_accept(s, 0);
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, l), 1); /* 3.0 / 2 = 1.5 < 2.9 */
    vkslm_sampler_free(s);

    p = vkslm_generate_default_params();
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    s = make(p, 4);
    for (int i = 0; i < 3; i++)
        vkslm_sampler_accept(s, 1); /* 2.9 - 3*0.5 - 0.25 = 1.15 */
    float m[4] = {1.2f, 2.9f, 1.1f, -5.0f};
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, m), 0);
    m[0] = 1.1f; /* 1.15 now wins */
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, m), 1);
    vkslm_sampler_free(s);

    /* penalty_last_n limits the window */
    p = vkslm_generate_default_params();
    p.repeat_penalty = 100.0f;
    p.penalty_last_n = 2;
    s = make(p, 4);
    vkslm_sampler_accept(s, 0);
    vkslm_sampler_accept(s, 2);
    vkslm_sampler_accept(s, 3);
    float n4[4] = {3.0f, 2.0f, 1.0f, 0.5f};
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, n4), 0); /* token 0 fell out of the last-2 window */
    vkslm_sampler_reset(s);
    CU_ASSERT_EQUAL(vkslm_sampler_pick(s, n4), 0);
    vkslm_sampler_free(s);
}

/* Draws many samples and compares frequencies with the expected probabilities. */
static void check_distribution(vkslm_generate_params p, const float *l, uint32_t n, const double *want) {
    vkslm_sampler *s = make(p, n);
    enum { DRAWS = 40000 };
    int *hits = calloc(n, sizeof *hits);
    for (int i = 0; i < DRAWS; i++) {
        int32_t t = vkslm_sampler_pick(s, l);
        CU_ASSERT_FATAL(t >= 0 && (uint32_t)t < n);
        hits[t]++;
    }
    for (uint32_t i = 0; i < n; i++) {
        double f = (double)hits[i] / DRAWS;
        double sd = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (fabs(f - want[i]) > 5 * sd + 1e-9)
            CU_FAIL("sampled frequency off the expected probability");
    }
    free(hits);
    vkslm_sampler_free(s);
}

static void test_distributions(void) {
    float l[5] = {2.0f, 1.0f, 0.0f, -1.0f, 0.5f};
    double e[5], sum = 0;
    for (int i = 0; i < 5; i++)
        sum += e[i] = exp(l[i]);
    double want[5];
    for (int i = 0; i < 5; i++)
        want[i] = e[i] / sum;
    vkslm_generate_params p = vkslm_generate_default_params();
    p.temperature = 1.0f;
    p.seed = test_seed();
    check_distribution(p, l, 5, want);

    /* temperature 2: probabilities from l / 2 */
    p.temperature = 2.0f;
    sum = 0;
    for (int i = 0; i < 5; i++)
        sum += e[i] = exp(l[i] / 2);
    for (int i = 0; i < 5; i++)
        want[i] = e[i] / sum;
    check_distribution(p, l, 5, want);

    /* top-k 2: only ids 0 and 1, renormalised */
    p.temperature = 1.0f;
    p.top_k = 2;
    double z = exp(2.0) + exp(1.0);
    double tk[5] = {exp(2.0) / z, exp(1.0) / z, 0, 0, 0};
    check_distribution(p, l, 5, tk);

    /* top-p 0.7: ids 0 (0.56) and 1 (0.21) reach 0.77 >= 0.7 */
    p.top_k = 0;
    p.top_p = 0.7f;
    check_distribution(p, l, 5, tk);

    /* min-p 0.3: keep p >= 0.3 * p_max, i.e. logit >= 2 + ln 0.3 = 0.796: ids 0 and 1 */
    p.top_p = 1.0f;
    p.min_p = 0.3f;
    check_distribution(p, l, 5, tk);
}

static void test_seeded_determinism(void) {
    enum { N = 1000 };
    float *l = malloc(N * sizeof *l);
    vkslm_rng r;
    test_rng(&r, 1);
    for (int i = 0; i < N; i++)
        l[i] = vkslm_rng_range(&r, -3, 3);
    vkslm_generate_params p = vkslm_generate_default_params();
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.seed = 1234;
    vkslm_sampler *a = make(p, N), *b = make(p, N);
    int same = 1, distinct = 0, last = -1;
    for (int i = 0; i < 200; i++) {
        int32_t x = vkslm_sampler_pick(a, l), y = vkslm_sampler_pick(b, l);
        same &= x == y;
        distinct += x != last;
        last = x;
    }
    CU_ASSERT(same);
    CU_ASSERT(distinct > 20); /* it does sample, not just repeat one token */
    p.seed = 1235;
    vkslm_sampler *c = make(p, N);
    vkslm_sampler_reset(a);
    int differ = 0;
    for (int i = 0; i < 50; i++)
        differ += vkslm_sampler_pick(a, l) != vkslm_sampler_pick(c, l);
    CU_ASSERT(differ > 0);
    /* top-k 1 is greedy at any temperature */
    p.top_k = 1;
    p.temperature = 5.0f;
    vkslm_sampler *g = make(p, N);
    int best = 0;
    for (int i = 1; i < N; i++)
        if (l[i] > l[best])
            best = i;
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(vkslm_sampler_pick(g, l), best);
    vkslm_sampler_free(a);
    vkslm_sampler_free(b);
    vkslm_sampler_free(c);
    vkslm_sampler_free(g);
    free(l);
}

static void test_bad_params(void) {
    vkslm_generate_params p = vkslm_generate_default_params();
    vkslm_sampler *s;
    CU_ASSERT_EQUAL(vkslm_sampler_create(&p, 0, &s), VKSLM_ERR_INVALID_ARG);
    p.temperature = NAN;
    CU_ASSERT_EQUAL(vkslm_sampler_create(&p, 10, &s), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(s);
    vkslm_sampler_free(NULL);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"greedy picks the lowest id among ties and ignores NaN", test_greedy_and_ties},
        {"all NaN or -inf: greedy and sampling both find nothing (-1)", test_no_finite_logit},
        {"repetition, frequency and presence penalties", test_penalties},
        {"sampled frequencies match softmax, temperature, top-k, top-p, min-p", test_distributions},
        {"same seed, same tokens; top-k 1 is greedy", test_seeded_determinism},
        {"bad parameters are refused", test_bad_params},
        {NULL, NULL},
    };
    return test_run_suite("sampler", tests);
}
