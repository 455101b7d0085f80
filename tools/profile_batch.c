/* Per-op GPU profile of the batched decode step: N sequences, each prefilled with P tokens, then S steps of
 * one token per sequence in one vkslm_decode_top batch (k = 1), the model loaded with per-dispatch timestamps.
 * Prints, per op, ms per step, share, dispatches per step, and the same for N = 1 beside it (what a batch
 * costs over one sequence, op by op). Public API only. Not a test: it measures.
 * With -P it profiles instead the prefill of P tokens of one sequence in one step (the second of two).
 *   vkslm_profile_batch MODEL.gguf [-n N] [-p P] [-s S] [-P] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkslm.h"

#define MAX_OPS 64

typedef struct prof {
    vkslm_profile_entry e[MAX_OPS];
    size_t n;
} prof;

static int fail(const char *what) {
    fprintf(stderr, "vkslm_profile_batch: %s: %s\n", what, vkslm_last_error());
    return 1;
}

/* Prefills n_seq sequences with p tokens each, then profiles s decode steps of one token per sequence. */
static int run(vkslm_model *m, uint32_t n_seq, uint32_t p, uint32_t s, prof *out) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_seq = n_seq;
    sp.n_ctx = p + s + 8;
    sp.n_batch = 128;
    vkslm_session *ses = NULL;
    if (vkslm_session_create(m, &sp, &ses) != VKSLM_OK)
        return fail("session");
    vkslm_batch *b = vkslm_batch_init(n_seq * (p > 1 ? p : 1));
    int rc = b ? 0 : fail("batch");
    uint32_t vocab = vkslm_model_n_vocab(m);
    for (uint32_t q = 0; q < n_seq && !rc; q++)
        for (uint32_t i = 0; i < p && !rc; i++)
            rc = vkslm_batch_add(b, (int32_t)((q * 7919u + i * 104729u + 17u) % vocab), i, (int32_t)q, i + 1 == p) !=
                 VKSLM_OK;
    if (!rc && vkslm_decode_top(ses, b, 1) != VKSLM_OK)
        rc = fail("prefill");
    for (uint32_t step = 0; step <= s && !rc; step++) {
        if (step == 1) /* the first step compiles nothing new but warms up; profile the rest */
            vkslm_session_profile_reset(ses);
        vkslm_batch_clear(b);
        for (uint32_t q = 0; q < n_seq && !rc; q++) {
            const int32_t *ids;
            const float *lg;
            int32_t next = vkslm_top_ith(ses, (int32_t)q, &ids, &lg) ? ids[0] : 0;
            rc = vkslm_batch_add(b, next, p + step, (int32_t)q, true) != VKSLM_OK;
        }
        if (!rc && vkslm_decode_top(ses, b, 1) != VKSLM_OK)
            rc = fail("decode");
    }
    if (!rc)
        out->n = vkslm_session_profile(ses, out->e, MAX_OPS);
    vkslm_batch_free(b);
    vkslm_session_free(ses);
    return rc;
}

/* One sequence's prefill of p tokens, twice (the first warms up); the second profiled. */
static int run_prefill(vkslm_model *m, uint32_t p, prof *out) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = p + 8;
    sp.n_batch = p;
    vkslm_session *ses = NULL;
    if (vkslm_session_create(m, &sp, &ses) != VKSLM_OK)
        return fail("session");
    vkslm_batch *b = vkslm_batch_init(p);
    int rc = b ? 0 : fail("batch");
    uint32_t vocab = vkslm_model_n_vocab(m);
    for (uint32_t i = 0; i < p && !rc; i++)
        rc = vkslm_batch_add(b, (int32_t)((i * 104729u + 17u) % vocab), i, 0, i + 1 == p) != VKSLM_OK;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        vkslm_session_profile_reset(ses);
        if (vkslm_seq_clear(ses, 0) != VKSLM_OK || vkslm_decode_top(ses, b, 1) != VKSLM_OK)
            rc = fail("prefill");
    }
    if (!rc)
        out->n = vkslm_session_profile(ses, out->e, MAX_OPS);
    vkslm_batch_free(b);
    vkslm_session_free(ses);
    return rc;
}

static const vkslm_profile_entry *find(const prof *p, const char *op) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].op, op))
            return &p->e[i];
    return NULL;
}

int main(int argc, char **argv) {
    uint32_t n = 8, p = 32, s = 16;
    int prefill = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            p = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            s = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-P"))
            prefill = 1;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: vkslm_profile_batch MODEL.gguf [-n N] [-p P] [-s S]\n");
            return 2;
        }
    }
    if (!path || n == 0 || p == 0 || s == 0) {
        fprintf(stderr, "usage: vkslm_profile_batch MODEL.gguf [-n N] [-p P] [-s S]\n");
        return 2;
    }
    vkslm_model_params mp = vkslm_model_default_params();
    mp.profile = true;
    vkslm_model *m = NULL;
    if (vkslm_model_load(path, &mp, &m) != VKSLM_OK)
        return fail("load");
    static prof one, many;
    if (prefill) {
        int rc = run_prefill(m, p, &one);
        double t = 0, d = 0;
        for (size_t i = 0; !rc && i < one.n; i++)
            t += one.e[i].ms, d += (double)one.e[i].dispatches;
        if (!rc)
            printf("prefill of %u tokens, GPU timestamps: %.2f ms (%.1f tokens/s), %.0f dispatches\n| op | ms | share | "
                   "dispatches |\n|---|---|---|---|\n", p, t, p * 1000.0 / t, d);
        for (size_t i = 0; !rc && i < one.n; i++)
            printf("| %s | %.3f | %.1f%% | %llu |\n", one.e[i].op, one.e[i].ms, 100.0 * one.e[i].ms / t,
                   (unsigned long long)one.e[i].dispatches);
        vkslm_model_free(m);
        return rc;
    }
    int rc = run(m, 1, p, s, &one) || run(m, n, p, s, &many);
    if (!rc) {
        double t1 = 0, tn = 0, d1 = 0, dn = 0;
        for (size_t i = 0; i < one.n; i++)
            t1 += one.e[i].ms, d1 += (double)one.e[i].dispatches;
        for (size_t i = 0; i < many.n; i++)
            tn += many.e[i].ms, dn += (double)many.e[i].dispatches;
        printf("decode step, GPU timestamps: 1 sequence %.2f ms and %.0f dispatches; %u sequences %.2f ms and %.0f "
               "dispatches (x%.2f the time for x%u the tokens: aggregate x%.2f)\n",
               t1 / s, d1 / s, n, tn / s, dn / s, tn / t1, n, n * t1 / tn);
        printf("| op | ms/step (1) | ms/step (%u) | ratio | share (%u) | dispatches/step (1) | dispatches/step (%u) |\n",
               n, n, n);
        printf("|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < many.n; i++) {
            const vkslm_profile_entry *e = &many.e[i], *o = find(&one, e->op);
            double m1 = o ? o->ms / s : 0, mn = e->ms / s;
            printf("| %s | %.3f | %.3f | %.2f | %.1f%% | %.1f | %.1f |\n", e->op, m1, mn, m1 > 0 ? mn / m1 : 0.0,
                   100.0 * e->ms / tn, o ? (double)o->dispatches / s : 0.0, (double)e->dispatches / s);
        }
    }
    vkslm_model_free(m);
    return rc;
}
