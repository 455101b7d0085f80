/* Embeddings (vkslm.h, "embeddings"): vectors have unit norm; the same input gives the same vector; mean
 * pooling equals the mean of the CPU reference forward's final hidden states and last-token pooling its last
 * row; the session call and the scheduler's agree, also while other sequences generate (whose greedy tokens do
 * not change); bad inputs are refused before anything runs. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cpu/forward.h"
#include "tests/harness.h"
#include "tests/util_models.h"
#include "loaders/gguf_write.h"
#include "vkslm.h"

#define MODEL "models/stories260K.gguf"
#define N_IDS 21

static void make_ids(int32_t *ids, size_t n, uint64_t salt, int32_t n_vocab) {
    vkslm_rng r;
    test_rng(&r, salt);
    ids[0] = 1; /* BOS */
    for (size_t i = 1; i < n; i++)
        ids[i] = 3 + (int32_t)(vkslm_rng_u64(&r) % (uint64_t)(n_vocab - 3));
}

static double norm_of(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) { /* not fmax(): aarch64 GCC 12.2 crashes vectorizing that reduction */
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

static vkslm_session *session(vkslm_model *m, uint32_t n_seq, uint32_t n_ctx, uint32_t n_batch) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_seq = n_seq;
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    sp.kv_f32 = true;
    vkslm_session *s = NULL;
    vkslm_status st = vkslm_session_create(m, &sp, &s);
    if (st != VKSLM_OK)
        fprintf(stderr, "session: %s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return s;
}

/* The CPU reference's pooled vectors (mean and last) of ids, normalised. */
static void cpu_reference(const int32_t *ids, uint32_t n, float *mean, float *last, uint32_t *n_embd) {
    char path[1024];
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, MODEL), &g) == VKSLM_OK);
    vkslm_hparams hp;
    vkslm_model_weights w;
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
    vkslm_cpu_forward *f;
    CU_ASSERT_FATAL(vkslm_cpu_forward_create(&hp, &w, n, &f) == VKSLM_OK);
    const uint32_t E = hp.n_embd;
    float *hidden = malloc((size_t)n * E * sizeof *hidden);
    CU_ASSERT_FATAL(hidden && vkslm_cpu_forward_run_ex(f, ids, n, 0, NULL, hidden) == VKSLM_OK);
    double *sum = calloc(E, sizeof *sum), nm = 0, nl = 0;
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t j = 0; j < E; j++)
            sum[j] += hidden[(size_t)t * E + j];
    for (uint32_t j = 0; j < E; j++) {
        nm += sum[j] * sum[j];
        nl += (double)hidden[(size_t)(n - 1) * E + j] * hidden[(size_t)(n - 1) * E + j];
    }
    for (uint32_t j = 0; j < E; j++) {
        mean[j] = (float)(sum[j] / sqrt(nm));
        last[j] = (float)(hidden[(size_t)(n - 1) * E + j] / sqrt(nl));
    }
    *n_embd = E;
    free(sum);
    free(hidden);
    vkslm_cpu_forward_free(f);
    vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
}

static void test_session_against_cpu(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    const int32_t E = vkslm_model_n_embd(m);
    CU_ASSERT_FATAL(E == 64);
    CU_ASSERT_EQUAL(vkslm_model_pooling(m), VKSLM_POOLING_MEAN); /* stories260K has no pooling_type */
    int32_t ids[N_IDS];
    make_ids(ids, N_IDS, 1, vkslm_model_n_vocab(m));
    /* 3 sequences, steps of 8 rows: the input runs in three steps; sequence 2 holds tokens of its own */
    vkslm_session *s = session(m, 3, 64, 8);
    CU_ASSERT_FATAL(vkslm_session_eval(s, ids, 5) == VKSLM_OK); /* sequence 0 */
    float mean[64], mean2[64], last[64], ref_mean[64], ref_last[64];
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 1, ids, N_IDS, VKSLM_POOLING_MEAN, mean), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 1, ids, N_IDS, VKSLM_POOLING_DEFAULT, mean2), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 2, ids, N_IDS, VKSLM_POOLING_LAST, last), VKSLM_OK);
    CU_ASSERT(memcmp(mean, mean2, sizeof mean) == 0); /* the same input: the same vector */
    CU_ASSERT(fabs(norm_of(mean, 64) - 1) < 1e-5);
    CU_ASSERT(fabs(norm_of(last, 64) - 1) < 1e-5);
    CU_ASSERT(max_diff(mean, last, 64) > 1e-3); /* the poolings differ */
    /* the embedding's sequences are emptied again; sequence 0 keeps its 5 tokens */
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 1), -1);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 2), -1);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), 4);
    uint32_t E_ref = 0;
    cpu_reference(ids, N_IDS, ref_mean, ref_last, &E_ref);
    CU_ASSERT_FATAL(E_ref == 64);
    double nm = test_nmse(mean, ref_mean, 64), nl = test_nmse(last, ref_last, 64);
    printf("\n  vs the CPU reference: mean NMSE %.2e, last NMSE %.2e\n", nm, nl);
    CU_ASSERT(nm < 1e-8);
    CU_ASSERT(nl < 1e-8);
    /* the text call: the vocabulary's own BOS, then the same as the token call */
    size_t n_tok = 0, n_ids = 0;
    int32_t text_ids[64];
    float from_text[64], from_ids[64];
    CU_ASSERT_EQUAL_FATAL(vkslm_embed(s, 0, "Once upon a time", VKSLM_POOLING_MEAN, from_text, &n_tok), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_model_tokenize_special(m, "Once upon a time", 16, true, false, text_ids, 64, &n_ids),
                          VKSLM_OK);
    CU_ASSERT_EQUAL(n_tok, n_ids);
    CU_ASSERT_EQUAL(text_ids[0], 1);
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 2, text_ids, n_ids, VKSLM_POOLING_MEAN, from_ids), VKSLM_OK);
    CU_ASSERT(max_diff(from_text, from_ids, 64) < 1e-6);
    CU_ASSERT_EQUAL(vkslm_seq_pos_max(s, 0), -1); /* sequence 0 was the text's scratch */
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_session_free(s);
    vkslm_model_free(m);
}

static void test_refusals(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    vkslm_session *s = session(m, 2, 16, 8);
    int32_t ids[20];
    make_ids(ids, 20, 2, vkslm_model_n_vocab(m));
    float v[64];
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s, 0, ids, 17, VKSLM_POOLING_MEAN, v), VKSLM_ERR_LIMIT);
    CU_ASSERT(strstr(vkslm_last_error(), "17 tokens") != NULL);
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s, 0, ids, 0, VKSLM_POOLING_MEAN, v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s, 2, ids, 4, VKSLM_POOLING_MEAN, v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s, 0, ids, 4, (vkslm_pooling)7, v), VKSLM_ERR_INVALID_ARG);
    ids[3] = 100000;
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s, 0, ids, 4, VKSLM_POOLING_MEAN, v), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT(strstr(vkslm_last_error(), "vocabulary") != NULL);
    CU_ASSERT_EQUAL(vkslm_embed(s, 0, "", VKSLM_POOLING_MEAN, v, NULL), VKSLM_OK); /* BOS alone */
    CU_ASSERT(fabs(norm_of(v, 64) - 1) < 1e-5);
    char long_text[256];
    memset(long_text, 0, sizeof long_text);
    for (int i = 0; i < 30; i++)
        strcat(long_text, "cat ");
    size_t n_tok = 0;
    CU_ASSERT_EQUAL(vkslm_embed(s, 0, long_text, VKSLM_POOLING_MEAN, v, &n_tok), VKSLM_ERR_LIMIT);
    CU_ASSERT(n_tok > 16);
    CU_ASSERT_STRING_EQUAL(vkslm_pooling_str(VKSLM_POOLING_LAST), "last");
    vkslm_session_free(s);
    vkslm_model_free(m);
}

/* stories260K with "llama.pooling_type" = value added, at dst. */
static void with_pooling_type(const char *dst, uint32_t value) {
    char src[1024];
    vkslm_gguf *g;
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(src, sizeof src, MODEL), &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(dst, 32, &w) == VKSLM_OK);
    vkslm_status st = VKSLM_OK;
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g) && st == VKSLM_OK; i++)
        st = vkslm_gguf_writer_copy_kv(w, g, i);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_u32(w, "llama.pooling_type", value);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g) && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        st = vkslm_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne);
    }
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g) && st == VKSLM_OK; i++)
        st = vkslm_gguf_writer_write(w, vkslm_gguf_tensor_at(g, i)->data, vkslm_gguf_tensor_at(g, i)->size);
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_close(w);
    else
        vkslm_gguf_writer_abort(w);
    CU_ASSERT_FATAL(st == VKSLM_OK);
    vkslm_gguf_close(g);
}

/* A file whose pooling_type says last pools by the last token by default; one that says CLS is refused. */
static void test_pooling_type(void) {
    TEST_REQUIRE_DATA();
    char path[256];
    snprintf(path, sizeof path, "/tmp/vkslm-test-embed-pool-%d.gguf", (int)getpid());
    with_pooling_type(path, 3);
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *last_model = NULL, *m = test_model_load(MODEL);
    CU_ASSERT_FATAL(vkslm_model_load(path, &mp, &last_model) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_model_pooling(last_model), VKSLM_POOLING_LAST);
    int32_t ids[N_IDS];
    make_ids(ids, N_IDS, 7, vkslm_model_n_vocab(m));
    vkslm_session *s1 = session(last_model, 1, 32, 8), *s2 = session(m, 1, 32, 8);
    float by_default[64], last[64];
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s1, 0, ids, N_IDS, VKSLM_POOLING_DEFAULT, by_default), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_embed_tokens(s2, 0, ids, N_IDS, VKSLM_POOLING_LAST, last), VKSLM_OK);
    CU_ASSERT(memcmp(by_default, last, sizeof last) == 0);
    vkslm_session_free(s1);
    vkslm_session_free(s2);
    vkslm_model_free(last_model);
    vkslm_model_free(m);
    with_pooling_type(path, 2);
    vkslm_model *cls = NULL;
    CU_ASSERT_EQUAL(vkslm_model_load(path, &mp, &cls), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(vkslm_last_error(), "pooling_type") != NULL);
    remove(path);
}

/* ---- the scheduler -------------------------------------------------------------------------------- */
typedef struct job {
    vkslm_scheduler *sch;
    const int32_t *ids;
    size_t n;
    int embed;              /* 0: generate greedily; else the pooling */
    int32_t max_tokens;
    int32_t got[32];
    size_t n_got, cached;
    float vec[64];
    vkslm_status st;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    vkslm_sequence *q = NULL;
    j->st = vkslm_scheduler_acquire(j->sch, &q);
    if (j->st != VKSLM_OK)
        return NULL;
    if (j->embed) {
        j->st = vkslm_sequence_embed(q, j->ids, j->n, (vkslm_pooling)j->embed, j->vec);
    } else {
        vkslm_generate_params gp = vkslm_generate_default_params();
        gp.max_tokens = j->max_tokens;
        vkslm_generate_result r;
        j->st = vkslm_sequence_generate(q, j->ids, j->n, &gp, &r);
        if (j->st == VKSLM_OK) {
            memcpy(j->got, r.tokens, r.n_tokens * sizeof *j->got);
            j->n_got = r.n_tokens;
            j->cached = r.n_cached_tokens;
        }
    }
    vkslm_scheduler_release(j->sch, q);
    return NULL;
}

static void test_scheduler(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    const int32_t nv = vkslm_model_n_vocab(m);
    int32_t a[N_IDS], b[N_IDS], p[9];
    make_ids(a, N_IDS, 3, nv);
    make_ids(b, N_IDS, 4, nv);
    make_ids(p, 9, 5, nv);
    /* what each gives alone: the session's embeddings and the greedy tokens of p */
    vkslm_session *s = session(m, 1, 64, 8);
    float a_mean[64], b_last[64];
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 0, a, N_IDS, VKSLM_POOLING_MEAN, a_mean), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 0, b, N_IDS, VKSLM_POOLING_LAST, b_last), VKSLM_OK);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 24;
    vkslm_generate_result r;
    CU_ASSERT_EQUAL_FATAL(vkslm_generate_tokens(s, p, 9, &gp, &r), VKSLM_OK);
    int32_t p_alone[32];
    size_t n_alone = r.n_tokens;
    memcpy(p_alone, r.tokens, n_alone * sizeof *p_alone);
    vkslm_session_free(s);

    vkslm_scheduler_params sp = vkslm_scheduler_default_params();
    sp.n_seq = 3;
    sp.n_ctx = 64;
    sp.n_batch = 16;
    sp.max_prefill = 5; /* the embeddings' rows run over several steps beside the generating sequence */
    sp.kv_f32 = true;
    vkslm_scheduler *sch = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_scheduler_create(m, &sp, &sch), VKSLM_OK);
    job jobs[3] = {
        {.sch = sch, .ids = p, .n = 9, .max_tokens = 24},
        {.sch = sch, .ids = a, .n = N_IDS, .embed = VKSLM_POOLING_MEAN},
        {.sch = sch, .ids = b, .n = N_IDS, .embed = VKSLM_POOLING_LAST},
    };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, run_job, &jobs[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(jobs[i].st, VKSLM_OK);
    CU_ASSERT_EQUAL(jobs[0].n_got, n_alone);
    CU_ASSERT(memcmp(jobs[0].got, p_alone, n_alone * sizeof *p_alone) == 0);
    double da = max_diff(jobs[1].vec, a_mean, 64), db = max_diff(jobs[2].vec, b_last, 64);
    printf("\n  scheduler vs session: mean max diff %.2e, last max diff %.2e\n", da, db);
    CU_ASSERT(da < 1e-5);
    CU_ASSERT(db < 1e-5);
    CU_ASSERT(fabs(norm_of(jobs[1].vec, 64) - 1) < 1e-5);
    /* the embedding's cache stays consistent: after a's embedding (alone now: above, b may have taken over a's
     * slot, which shares its BOS), a prompt that begins with a reuses it and generates as a cold prefill does;
     * an embedding of a's prefix (last pooling) reuses it too */
    job a_again = {.sch = sch, .ids = a, .n = N_IDS, .embed = VKSLM_POOLING_MEAN};
    run_job(&a_again);
    CU_ASSERT_EQUAL(a_again.st, VKSLM_OK);
    CU_ASSERT(memcmp(a_again.vec, jobs[1].vec, sizeof a_again.vec) == 0);
    int32_t a_more[N_IDS + 2];
    memcpy(a_more, a, sizeof a);
    a_more[N_IDS] = 5;
    a_more[N_IDS + 1] = 6;
    job g = {.sch = sch, .ids = a_more, .n = N_IDS + 2, .max_tokens = 8};
    run_job(&g);
    CU_ASSERT_EQUAL(g.st, VKSLM_OK);
    CU_ASSERT(g.cached >= N_IDS);
    s = session(m, 1, 64, 8);
    gp.max_tokens = 8;
    CU_ASSERT_EQUAL_FATAL(vkslm_generate_tokens(s, a_more, N_IDS + 2, &gp, &r), VKSLM_OK);
    CU_ASSERT_EQUAL(g.n_got, r.n_tokens);
    CU_ASSERT(memcmp(g.got, r.tokens, r.n_tokens * sizeof *r.tokens) == 0);
    float a_last[64];
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 0, a, 12, VKSLM_POOLING_LAST, a_last), VKSLM_OK);
    vkslm_session_free(s);
    vkslm_scheduler_stats before, after;
    vkslm_scheduler_stats_get(sch, &before);
    job e = {.sch = sch, .ids = a, .n = 12, .embed = VKSLM_POOLING_LAST};
    run_job(&e);
    vkslm_scheduler_stats_get(sch, &after);
    CU_ASSERT_EQUAL(e.st, VKSLM_OK);
    CU_ASSERT_EQUAL(after.cached_tokens - before.cached_tokens, 11); /* all but the last token */
    CU_ASSERT(max_diff(e.vec, a_last, 64) < 1e-5);
    /* too long: refused, and the scheduler goes on */
    int32_t big[65];
    make_ids(big, 65, 6, nv);
    job too_long = {.sch = sch, .ids = big, .n = 65, .embed = VKSLM_POOLING_MEAN};
    run_job(&too_long);
    CU_ASSERT_EQUAL(too_long.st, VKSLM_ERR_LIMIT);
    job again = {.sch = sch, .ids = a, .n = N_IDS, .embed = VKSLM_POOLING_MEAN};
    run_job(&again);
    CU_ASSERT_EQUAL(again.st, VKSLM_OK);
    CU_ASSERT(max_diff(again.vec, a_mean, 64) < 1e-5);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_scheduler_free(sch);
    vkslm_model_free(m);
}

/* An embedding (last pooling: it reuses cached prefixes) that arrives while a generating request's slot, still
 * bound, holds a longer prefix of its input than any free slot: the stepping thread copies that prefix into the
 * embedding's slot, checked against the embedding's own tokens. (It once checked them against the sequence's
 * generation prompt, which an embedding-only sequence never set: a NULL read, a crash seen now and then when
 * test_scheduler's embeddings happened to arrive after the first step.) */
static void test_scheduler_copy_for_embedding(void) {
    TEST_REQUIRE_DATA();
    vkslm_model *m = test_model_load(MODEL);
    const int32_t nv = vkslm_model_n_vocab(m);
    int32_t p[12], e[16];
    make_ids(p, 12, 7, nv);
    memcpy(e, p, sizeof p); /* the embedding's input: the prompt, then 4 more tokens */
    make_ids(e + 12, 4, 8, nv);
    e[12] = 5;
    float want[64];
    vkslm_session *s = session(m, 1, 64, 8);
    CU_ASSERT_EQUAL_FATAL(vkslm_embed_tokens(s, 0, e, 16, VKSLM_POOLING_LAST, want), VKSLM_OK);
    vkslm_session_free(s);

    vkslm_scheduler_params sp = vkslm_scheduler_default_params();
    sp.n_seq = 3;
    sp.n_ctx = 64;
    sp.n_batch = 16;
    sp.max_prefill = 4;
    sp.kv_f32 = true;
    vkslm_scheduler *sch = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_scheduler_create(m, &sp, &sch), VKSLM_OK);
    job gen = {.sch = sch, .ids = p, .n = 12, .max_tokens = 32}; /* far more steps than the embedding needs */
    pthread_t t;
    pthread_create(&t, NULL, run_job, &gen);
    /* wait until the prompt is in its slot (3 prefill steps of 4), then embed from a sequence that never
     * generated */
    vkslm_scheduler_stats st;
    /* no time limit (a busy machine only makes it wait longer): the generation runs its 12 prompt rows whatever */
    for (vkslm_scheduler_stats_get(sch, &st); st.rows < 12; vkslm_scheduler_stats_get(sch, &st))
        usleep(100);
    job emb = {.sch = sch, .ids = e, .n = 16, .embed = VKSLM_POOLING_LAST};
    run_job(&emb);
    vkslm_scheduler_stats_get(sch, &st);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(gen.st, VKSLM_OK);
    CU_ASSERT_EQUAL(emb.st, VKSLM_OK);
    CU_ASSERT(st.cached_tokens >= 12); /* the prompt's tokens, copied (or found in the slot, had it finished) */
    double d = max_diff(emb.vec, want, 64);
    printf("\n  embedding beside a generation, prefix copied: max diff %.2e, cached %llu\n", d,
           (unsigned long long)st.cached_tokens);
    CU_ASSERT(d < 1e-5);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_scheduler_free(sch);
    vkslm_model_free(m);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"session: unit norm, same input same vector, = CPU reference (mean, last), text", test_session_against_cpu},
        {"refusals: too long, empty, bad sequence, pooling, token", test_refusals},
        {"pooling_type 3: last by default; 2 (CLS): refused", test_pooling_type},
        {"scheduler: beside a generating sequence, = session, cache kept consistent", test_scheduler},
        {"scheduler: an embedding copies a generating slot's prefix", test_scheduler_copy_for_embedding},
        {NULL, NULL},
    };
    return test_run_suite("embed", tests);
}
