/* The token-level API (vkslm.h: batches, vkslm_decode, sequence operations): a batched step equals the
 * same sequences stepped alone, for 1 to 8 sequences of different lengths and positions with prefill and
 * decode mixed in one step, on several architectures and weight types; the sequence operations leave the
 * cache equal to a cold recompute; invalid batches are refused whole. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/util_models.h"
#include "vkslm.h"

#define N_SEQ 8
#define MAX_TOK 48

static vkslm_session *session(vkslm_model *m, uint32_t n_seq, uint32_t n_batch) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = 96;
    sp.n_batch = n_batch;
    sp.n_seq = n_seq;
    vkslm_session *s = NULL;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    return s;
}

static int32_t argmax(const float *l, int32_t n, float *gap) {
    int32_t best = 0, second = -1;
    for (int32_t i = 1; i < n; i++)
        if (l[i] > l[best]) {
            second = best;
            best = i;
        } else if (second < 0 || l[i] > l[second]) {
            second = i;
        }
    *gap = second < 0 ? INFINITY : l[best] - l[second];
    return best;
}

/* The logits of every position of tokens[0..n), each sequence alone in a one-sequence session. */
static float *cold_logits(vkslm_model *m, const int32_t *tokens, size_t n) {
    size_t nv = (size_t)vkslm_model_n_vocab(m);
    float *all = malloc(nv * n * sizeof(float));
    CU_ASSERT_FATAL(all != NULL);
    vkslm_session *s = session(m, 1, 32);
    for (size_t i = 0; i < n; i++) { /* one token at a time: the plainest schedule */
        CU_ASSERT_FATAL(vkslm_session_eval(s, tokens + i, 1) == VKSLM_OK);
        memcpy(all + i * nv, vkslm_session_logits(s), nv * sizeof(float));
    }
    vkslm_session_free(s);
    return all;
}

typedef struct tally {
    size_t compared, near_ties;
    double worst;
} tally;

static void compare_row(const float *got, const float *want, int32_t nv, tally *t) {
    double e = test_nmse(got, want, (size_t)nv);
    if (e > t->worst)
        t->worst = e;
    CU_ASSERT(e <= 1e-6);
    float gap_got, gap_want;
    int32_t a = argmax(got, nv, &gap_got), b = argmax(want, nv, &gap_want);
    if (gap_want < 1e-3f)
        t->near_ties++;
    else
        CU_ASSERT_EQUAL(a, b);
    t->compared++;
}

/* n_seq sequences with prompts of different lengths; steps mix one sequence's prompt chunk with the
 * others' single tokens, entries of different sequences interleaved; every output is compared with the
 * sequence decoded alone. */
static void batched_equals_alone(const char *rel, uint32_t n_seq) {
    vkslm_model *m = test_model_load(rel);
    const int32_t nv = vkslm_model_n_vocab(m);
    vkslm_rng rng;
    test_rng(&rng, n_seq * 977u + strlen(rel));
    int32_t tok[N_SEQ][MAX_TOK];
    uint32_t plen[N_SEQ], fed[N_SEQ];
    for (uint32_t q = 0; q < n_seq; q++) {
        for (int i = 0; i < MAX_TOK; i++)
            tok[q][i] = 1 + (int32_t)(vkslm_rng_u64(&rng) % (uint64_t)(nv - 1));
        plen[q] = 1 + (q * 7u + 3u) % 17u; /* 1 .. 17 tokens of prompt */
        fed[q] = 0;
    }
    float *want[N_SEQ];
    for (uint32_t q = 0; q < n_seq; q++)
        want[q] = cold_logits(m, tok[q], MAX_TOK);

    vkslm_session *s = session(m, n_seq, 16); /* steps of 16 rows: big batches split */
    CU_ASSERT_EQUAL(vkslm_session_n_seq(s), n_seq);
    vkslm_batch *b = vkslm_batch_init(128);
    CU_ASSERT_FATAL(b != NULL);
    tally t = {0, 0, 0};
    /* step 0: the even sequences' whole prompts; then rounds where one sequence prefills a chunk of up to 5
     * tokens (its prompt first) while the others decode one token each */
    for (int round = 0; round < 12; round++) {
        vkslm_batch_clear(b);
        int32_t ent_seq[128], ent_pos[128];
        for (uint32_t j = 0; j < n_seq; j++) {
            uint32_t q = (round & 1) ? n_seq - 1 - j : j; /* the order of sequences changes */
            uint32_t want_n;
            if (round == 0)
                want_n = q % 2 == 0 ? plen[q] : 0;
            else if (fed[q] < plen[q] || (uint32_t)round % n_seq == q)
                want_n = fed[q] < plen[q] ? (plen[q] - fed[q] < 5 ? plen[q] - fed[q] : 5) : 3;
            else
                want_n = 1;
            if (fed[q] + want_n > MAX_TOK)
                want_n = MAX_TOK - fed[q];
            for (uint32_t i = 0; i < want_n; i++) {
                uint32_t p = fed[q] + i;
                bool logits = i == want_n - 1 || (p % 4 == 1); /* the last entry, and some inside chunks */
                ent_seq[vkslm_batch_size(b)] = (int32_t)q;
                ent_pos[vkslm_batch_size(b)] = (int32_t)p;
                CU_ASSERT_FATAL(vkslm_batch_add(b, tok[q][p], p, (int32_t)q, logits) == VKSLM_OK);
            }
            fed[q] += want_n;
        }
        if (vkslm_batch_size(b) == 0)
            continue;
        vkslm_status st = vkslm_decode(s, b);
        if (st != VKSLM_OK)
            fprintf(stderr, "decode: %s\n", vkslm_last_error());
        CU_ASSERT_FATAL(st == VKSLM_OK);
        uint32_t last_out = 0;
        for (uint32_t i = 0; i < vkslm_batch_size(b); i++) {
            const float *l = vkslm_logits_ith(s, (int32_t)i);
            if (!l)
                continue;
            last_out = i;
            compare_row(l, want[ent_seq[i]] + (size_t)ent_pos[i] * nv, nv, &t);
        }
        CU_ASSERT(vkslm_logits_ith(s, -1) == vkslm_logits_ith(s, (int32_t)last_out));
        for (uint32_t q = 0; q < n_seq; q++)
            CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, (int32_t)q), (int32_t)fed[q] - 1);
    }
    printf("\n  %s, %u sequences: %zu outputs compared, worst NMSE %.2e, %zu near-ties (top two within 1e-3)", rel,
           n_seq, t.compared, t.worst, t.near_ties);
    CU_ASSERT(t.compared >= 10 * n_seq);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_batch_free(b);
    vkslm_session_free(s);
    for (uint32_t q = 0; q < n_seq; q++)
        free(want[q]);
    vkslm_model_free(m);
}

static void test_batched_llama_f32(void) {
    TEST_REQUIRE_DATA();
    for (uint32_t n = 1; n <= N_SEQ; n++)
        batched_equals_alone("models/stories260K.gguf", n);
}
static void test_batched_qwen2(void) {
    TEST_REQUIRE_DATA();
    batched_equals_alone("models/tiny-qwen2-random.gguf", 5);
}
static void test_batched_phi3_fused(void) {
    TEST_REQUIRE_DATA();
    batched_equals_alone("models/tiny-phi3-random.gguf", 8);
}
static void test_batched_gemma2(void) {
    TEST_REQUIRE_DATA();
    batched_equals_alone("models/tiny-gemma2-random.gguf", 3);
}
static void test_batched_q4_0(void) {
    TEST_REQUIRE_DATA();
    batched_equals_alone("models/quant/tiny-llama-256-random-Q4_0.gguf", 8);
}
static void test_batched_q4_k(void) {
    TEST_REQUIRE_DATA();
    batched_equals_alone("models/quant/tiny-llama-256-random-Q4_K_M.gguf", 4);
}

/* Decodes tokens[from..to) of seq one step at a time and returns the last logits. */
static const float *feed(vkslm_session *s, vkslm_batch *b, int32_t seq, const int32_t *tokens, uint32_t from,
                         uint32_t to) {
    vkslm_batch_clear(b);
    for (uint32_t p = from; p < to; p++)
        CU_ASSERT_FATAL(vkslm_batch_add(b, tokens[p], p, seq, p + 1 == to) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_decode(s, b) == VKSLM_OK);
    return vkslm_logits_ith(s, -1);
}

/* remove a tail, copy a prefix, clear: the next logits equal a cold recompute of what the sequence holds */
static void test_seq_ops_equal_cold(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    const int32_t nv = vkslm_model_n_vocab(m);
    int32_t a[40], c[40];
    for (int i = 0; i < 40; i++) {
        a[i] = 1 + (i * 37) % (nv - 1);
        c[i] = 1 + (i * 91 + 5) % (nv - 1);
    }
    memcpy(c, a, 12 * sizeof *c); /* c shares a's first 12 tokens */
    float *cold_a = cold_logits(m, a, 40), *cold_c = cold_logits(m, c, 40);
    vkslm_session *s = session(m, 4, 16);
    vkslm_batch *b = vkslm_batch_init(64);
    tally t = {0, 0, 0};

    /* seq 0 holds a[0..30); seq 1 gets a copy of its first 12 positions, then c's own tokens */
    feed(s, b, 0, a, 0, 30);
    CU_ASSERT_EQUAL(vkslm_seq_cp(s, 0, 1, 0, 12), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 1), 11);
    compare_row(feed(s, b, 1, c, 12, 20), cold_c + 19 * (size_t)nv, nv, &t);
    /* seq 0 forgets its tail from 10 and takes c's tokens there (c[10..12) = a[10..12)) */
    CU_ASSERT_EQUAL(vkslm_seq_rm(s, 0, 10, -1), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), 9);
    compare_row(feed(s, b, 0, c, 10, 25), cold_c + 24 * (size_t)nv, nv, &t);
    /* removing from inside a sequence is refused and changes nothing */
    CU_ASSERT_EQUAL(vkslm_seq_rm(s, 0, 3, 5), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), 24);
    /* a range that covers the end (p1 past it) is a removal of the tail */
    CU_ASSERT_EQUAL(vkslm_seq_rm(s, 0, 20, 100), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), 19);
    /* clear, then a fresh sequence */
    CU_ASSERT_EQUAL(vkslm_seq_clear(s, 0), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), -1);
    compare_row(feed(s, b, 0, a, 0, 7), cold_a + 6 * (size_t)nv, nv, &t);
    /* a copy over a longer sequence: dst ends where the copy ends */
    feed(s, b, 2, c, 0, 30);
    CU_ASSERT_EQUAL(vkslm_seq_cp(s, 0, 2, 0, -1), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 2), 6);
    compare_row(feed(s, b, 2, a, 7, 16), cold_a + 15 * (size_t)nv, nv, &t);
    /* copies that would leave gaps or read past the source are refused */
    CU_ASSERT_EQUAL(vkslm_seq_cp(s, 0, 3, 2, 5), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_seq_cp(s, 0, 3, 0, 50), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_seq_cp(s, 0, 9, 0, 1), VKSLM_ERR_INVALID_ARG);
    /* clear all */
    CU_ASSERT_EQUAL(vkslm_seq_clear(s, -1), VKSLM_OK);
    for (int q = 0; q < 4; q++)
        CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, q), -1);
    printf("\n  sequence operations: %zu outputs, worst NMSE %.2e", t.compared, t.worst);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_batch_free(b);
    vkslm_session_free(s);
    free(cold_a);
    free(cold_c);
    vkslm_model_free(m);
}

/* Invalid batches are refused whole; decode_top agrees with the logits; entries without logits have none. */
static void test_batch_refusals_and_top(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load("models/stories260K.gguf");
    const int32_t nv = vkslm_model_n_vocab(m);
    vkslm_session *s = session(m, 2, 16);
    vkslm_batch *b = vkslm_batch_init(4);
    CU_ASSERT(vkslm_batch_init(0) == NULL);
    CU_ASSERT_EQUAL(vkslm_decode(s, b), VKSLM_ERR_INVALID_ARG); /* empty */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(vkslm_batch_add(b, 5, (uint32_t)i, 0, true), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_batch_add(b, 5, 4, 0, true), VKSLM_ERR_LIMIT); /* full */
    struct {
        int32_t token;
        uint32_t pos;
        int32_t seq;
        vkslm_status want;
    } bad[] = {
        {nv, 0, 0, VKSLM_ERR_INVALID_ARG},  /* outside the vocabulary */
        {-1, 0, 0, VKSLM_ERR_INVALID_ARG},
        {5, 0, 2, VKSLM_ERR_INVALID_ARG},   /* no such sequence */
        {5, 1, 1, VKSLM_ERR_INVALID_ARG},   /* a gap: sequence 1 is empty */
        {5, 96, 1, VKSLM_ERR_LIMIT},        /* past the context */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vkslm_batch_clear(b);
        CU_ASSERT_EQUAL(vkslm_batch_add(b, 7, 0, 0, true), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_batch_add(b, bad[i].token, bad[i].pos, bad[i].seq, true), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_decode(s, b), bad[i].want);
        CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), -1); /* nothing ran */
    }
    vkslm_batch_clear(b); /* positions of one sequence must follow each other */
    vkslm_batch_add(b, 7, 0, 0, false);
    vkslm_batch_add(b, 7, 2, 0, true);
    CU_ASSERT_EQUAL(vkslm_decode(s, b), VKSLM_ERR_INVALID_ARG);

    /* two sequences; entry 1 asks for no logits */
    vkslm_batch_clear(b);
    vkslm_batch_add(b, 7, 0, 0, true);
    vkslm_batch_add(b, 9, 0, 1, false);
    vkslm_batch_add(b, 11, 1, 1, true);
    CU_ASSERT_EQUAL_FATAL(vkslm_decode(s, b), VKSLM_OK);
    CU_ASSERT(vkslm_logits_ith(s, 1) == NULL);
    CU_ASSERT(vkslm_logits_ith(s, 3) == NULL);
    CU_ASSERT(vkslm_logits_ith(s, -3) == NULL);
    CU_ASSERT(vkslm_logits_ith(s, -1) == vkslm_logits_ith(s, 2));
    CU_ASSERT(vkslm_logits_ith(s, -2) == vkslm_logits_ith(s, 0));
    /* a sampler chain picks from a row of the decode: greedy = the argmax; an entry without logits: -1 */
    vkslm_sampler *chain = vkslm_sampler_chain_init();
    CU_ASSERT_FATAL(chain != NULL);
    CU_ASSERT_EQUAL(vkslm_sampler_chain_add(chain, vkslm_sampler_init_greedy()), VKSLM_OK);
    float gap0;
    CU_ASSERT_EQUAL(vkslm_sampler_sample(chain, s, 0), argmax(vkslm_logits_ith(s, 0), nv, &gap0));
    CU_ASSERT_EQUAL(vkslm_sampler_sample(chain, s, -1), argmax(vkslm_logits_ith(s, 2), nv, &gap0));
    CU_ASSERT_EQUAL(vkslm_sampler_sample(chain, s, 1), -1);
    vkslm_sampler_free(chain);
    float *l0 = malloc((size_t)nv * 2 * sizeof(float));
    memcpy(l0, vkslm_logits_ith(s, 0), (size_t)nv * sizeof(float));
    memcpy(l0 + nv, vkslm_logits_ith(s, 2), (size_t)nv * sizeof(float));
    /* the same step again from position 0, top 5 on the device */
    CU_ASSERT_EQUAL(vkslm_seq_clear(s, -1), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_decode_top(s, b, 5), VKSLM_OK);
    CU_ASSERT(vkslm_logits_ith(s, 0) == NULL);
    for (int e = 0; e < 2; e++) {
        const int32_t *ids;
        const float *vals;
        CU_ASSERT_EQUAL_FATAL(vkslm_top_ith(s, e ? 2 : 0, &ids, &vals), 5);
        for (int j = 0; j < 5; j++) {
            CU_ASSERT(fabsf(vals[j] - l0[e * nv + ids[j]]) <= 1e-5f * (1 + fabsf(vals[j])));
            if (j)
                CU_ASSERT(vals[j] <= vals[j - 1]);
        }
        float gap;
        CU_ASSERT_EQUAL(ids[0], argmax(l0 + e * nv, nv, &gap));
    }
    CU_ASSERT_EQUAL(vkslm_top_ith(s, 1, NULL, NULL), 0);
    CU_ASSERT_EQUAL(vkslm_decode_top(s, b, 0), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_decode_top(s, b, VKSLM_TOP_K_MAX + 1), VKSLM_ERR_INVALID_ARG);
    free(l0);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_batch_free(b);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"batched step = each sequence alone: llama f32, 1..8 sequences", test_batched_llama_f32},
        {"batched step = alone: qwen2", test_batched_qwen2},
        {"batched step = alone: phi3 (fused qkv)", test_batched_phi3_fused},
        {"batched step = alone: gemma2 (sliding window, soft-capping)", test_batched_gemma2},
        {"batched step = alone: Q4_0", test_batched_q4_0},
        {"batched step = alone: Q4_K_M", test_batched_q4_k},
        {"sequence operations = cold recompute", test_seq_ops_equal_cold},
        {"bad batches refused whole; top-k on the device", test_batch_refusals_and_top},
        {NULL, NULL},
    };
    return test_run_suite("batch", tests);
}
