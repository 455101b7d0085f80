/* LoRA adapters at run time: the engine with an adapter applied per sequence matches the CPU reference
 * on the weights with the adapter merged in float (ranks 1, 8, 64, scales 1 and 0.5, float and quantized
 * bases, llama's fused-at-load and phi3's fused-in-file projections); a batch whose sequences use adapter
 * A, adapter B and none gives each the tokens it gets alone; bad adapters are refused naming the tensor;
 * vkslm_lora_merge's re-encoded output matches the runtime adapter. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cpu/forward.h"
#include "engine/model/tensors.h"
#include "loaders/gguf_write.h"
#include "tests/harness.h"
#include "vkslm.h"
#include "vkslm_gguf.h"

#define NV 512u
#define NT 12u

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_lora_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag,
             (int)getpid());
}

/* A small synthetic base of arch in file type ft at path. */
static void write_base(const char *path, vkslm_arch arch, vkslm_ftype ft, uint32_t n_embd) {
    vkslm_synth_shape s = vkslm_synth_shape_defaults(arch);
    s.n_layer = 2;
    s.n_embd = n_embd;
    s.n_ff = 2 * n_embd;
    s.n_head = 4;
    s.n_head_kv = arch == VKSLM_ARCH_PHI3 ? 4 : 2;
    s.n_vocab = NV;
    s.n_ctx = 64;
    vkslm_synth_params p = {s, ft, 5, 2, NULL, NULL};
    CU_ASSERT_FATAL(vkslm_synth_write(path, &p) == VKSLM_OK);
}

static void write_adapter(const char *base, const char *path, uint32_t rank, float alpha, const char *targets,
                          uint64_t seed) {
    vkslm_lora_synth_params p = vkslm_lora_synth_default_params();
    p.rank = rank;
    p.alpha = alpha;
    p.targets = targets;
    p.seed = seed;
    vkslm_status st = vkslm_lora_synth_write(base, path, &p);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
}

static vkslm_model *load(const char *path) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(path, &mp, &m);
    if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE) {
        test_skip("no Vulkan device");
        return NULL;
    }
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return m;
}

/* The CPU reference's logits of the last of ids on the model file at path. */
static void cpu_logits(const char *path, const int32_t *ids, uint32_t n, float *out) {
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_model_weights w;
    vkslm_cpu_forward *f;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cpu_forward_create(&hp, &w, 64, &f) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cpu_forward_run(f, ids, n, 0, out) == VKSLM_OK);
    vkslm_cpu_forward_free(f);
    vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
}

/* The engine's logits of the last of ids with sequence 0 using lora at scale (lora NULL: none). */
static void gpu_logits(vkslm_model *m, vkslm_lora *lora, float scale, const int32_t *ids, uint32_t n, float *out) {
    vkslm_session *s;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_seq_set_lora(s, 0, &lora, &scale, lora ? 1 : 0) == VKSLM_OK);
    vkslm_status st = vkslm_session_eval(s, ids, n);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    memcpy(out, vkslm_session_logits(s), NV * sizeof(float));
    vkslm_session_free(s);
}

static void random_ids(int32_t *ids, uint32_t n, uint64_t salt) {
    vkslm_rng r;
    test_rng(&r, salt);
    for (uint32_t i = 0; i < n; i++)
        ids[i] = (int32_t)(vkslm_rng_u64(&r) % NV);
}

typedef struct merge_case {
    vkslm_arch arch;
    vkslm_ftype ft;
    uint32_t rank;
    float alpha, scale;
    const char *targets;
    double bound;
} merge_case;

static void check_merged(const merge_case *mc) {
    char base[512], ad[512], merged[512];
    tmp_path(base, sizeof base, "base");
    tmp_path(ad, sizeof ad, "ad");
    tmp_path(merged, sizeof merged, "merged");
    write_base(base, mc->arch, mc->ft, 64);
    write_adapter(base, ad, mc->rank, mc->alpha, mc->targets, mc->rank);
    CU_ASSERT_FATAL(vkslm_lora_merge(base, ad, mc->scale, 1, merged) == VKSLM_OK);
    int32_t ids[NT];
    random_ids(ids, NT, mc->rank);
    float ref[NV], plain[NV], got[NV];
    cpu_logits(merged, ids, NT, ref);
    vkslm_model *m = load(base);
    if (!m)
        return;
    vkslm_lora *l;
    vkslm_status st = vkslm_lora_load(m, ad, &l);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT(vkslm_lora_rank(l) == mc->rank);
    CU_ASSERT(vkslm_lora_device_bytes(l) > 0);
    gpu_logits(m, l, mc->scale, ids, NT, got);
    gpu_logits(m, NULL, 0, ids, NT, plain);
    double e = test_nmse(got, ref, NV), moved = test_nmse(plain, ref, NV);
    printf("\n  %-6s %-5s rank %2u alpha %4.1f scale %.1f %-22s NMSE vs merged %.2e (bound %g), base alone %.2e",
           vkslm_arch_name(mc->arch), vkslm_ftype_name(mc->ft), mc->rank, mc->alpha, mc->scale,
           mc->targets ? mc->targets : "(all)", e, mc->bound, moved);
    CU_ASSERT(e <= mc->bound);
    CU_ASSERT(moved > 100 * mc->bound); /* the adapter changes the logits */
    vkslm_lora_free(l);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_model_free(m);
    remove(base);
    remove(ad);
    remove(merged);
}

static void test_merged_reference(void) {
    static const merge_case cases[] = {
        {VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 1, 0.0f, 1.0f, NULL, 1e-6},
        {VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 8, 16.0f, 0.5f, NULL, 1e-6},
        {VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 64, 32.0f, 1.0f, "attn_k,attn_output,ffn_up", 1e-6},
        {VKSLM_ARCH_QWEN2, VKSLM_FTYPE_Q8_0, 8, 8.0f, 1.0f, NULL, 1e-4},
        {VKSLM_ARCH_PHI3, VKSLM_FTYPE_ALL_F32, 8, 8.0f, 0.5f, NULL, 1e-6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_merged(&cases[i]);
    printf("\n");
}

/* Greedy tokens of three sequences in one batch (adapters sel[i], NULL: none) against each alone. */
static void greedy(vkslm_model *m, vkslm_lora *const *sel, uint32_t n_seq, const int32_t *prompt, uint32_t n,
                   uint32_t steps, int32_t *out /* [n_seq][steps] */) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_seq = n_seq;
    vkslm_session *s;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &s) == VKSLM_OK);
    float one = 1.0f;
    for (uint32_t q = 0; q < n_seq; q++)
        CU_ASSERT_FATAL(vkslm_seq_set_lora(s, (int32_t)q, &sel[q], &one, sel[q] ? 1 : 0) == VKSLM_OK);
    vkslm_batch *b = vkslm_batch_init(n * n_seq);
    for (uint32_t q = 0; q < n_seq; q++)
        for (uint32_t i = 0; i < n; i++)
            CU_ASSERT_FATAL(vkslm_batch_add(b, prompt[i], i, (int32_t)q, i == n - 1) == VKSLM_OK);
    for (uint32_t t = 0; t < steps; t++) {
        CU_ASSERT_FATAL(vkslm_decode(s, b) == VKSLM_OK);
        for (uint32_t q = 0; q < n_seq; q++) {
            const float *l = vkslm_logits_ith(s, t == 0 ? (int32_t)((q + 1) * n - 1) : (int32_t)q);
            CU_ASSERT_FATAL(l != NULL);
            int32_t best = 0;
            for (uint32_t v = 1; v < NV; v++)
                best = l[v] > l[best] ? (int32_t)v : best;
            out[q * steps + t] = best;
        }
        vkslm_batch_clear(b);
        for (uint32_t q = 0; q < n_seq; q++)
            CU_ASSERT_FATAL(vkslm_batch_add(b, out[q * steps + t], n + t, (int32_t)q, true) == VKSLM_OK);
    }
    vkslm_batch_free(b);
    vkslm_session_free(s);
}

static void test_mixed_batch(void) {
    char base[512], a[512], bpath[512];
    tmp_path(base, sizeof base, "mbase");
    tmp_path(a, sizeof a, "ma");
    tmp_path(bpath, sizeof bpath, "mb");
    write_base(base, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 64);
    write_adapter(base, a, 8, 16.0f, NULL, 101);
    write_adapter(base, bpath, 4, 0.0f, "attn_q,attn_v,ffn_down", 202);
    vkslm_model *m = load(base);
    if (!m)
        return;
    vkslm_lora *la, *lb;
    CU_ASSERT_FATAL(vkslm_lora_load(m, a, &la) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_lora_load(m, bpath, &lb) == VKSLM_OK);
    int32_t prompt[6];
    random_ids(prompt, 6, 7);
    enum { STEPS = 8 };
    vkslm_lora *sel[3] = {la, lb, NULL};
    int32_t together[3 * STEPS], alone[STEPS];
    greedy(m, sel, 3, prompt, 6, STEPS, together);
    for (int q = 0; q < 3; q++) {
        greedy(m, &sel[q], 1, prompt, 6, STEPS, alone);
        CU_ASSERT(memcmp(alone, together + q * STEPS, sizeof alone) == 0);
    }
    float la_l[NV], lb_l[NV], none_l[NV]; /* the adapters change the logits (tokens may agree by chance) */
    gpu_logits(m, la, 1.0f, prompt, 6, la_l);
    gpu_logits(m, lb, 1.0f, prompt, 6, lb_l);
    gpu_logits(m, NULL, 0.0f, prompt, 6, none_l);
    CU_ASSERT(test_nmse(la_l, none_l, NV) > 1e-3 && test_nmse(lb_l, none_l, NV) > 1e-3 &&
              test_nmse(la_l, lb_l, NV) > 1e-3);
    printf("\n  tokens A %d %d %d, B %d %d %d, none %d %d %d\n", together[0], together[1], together[2],
           together[STEPS], together[STEPS + 1], together[STEPS + 2], together[2 * STEPS],
           together[2 * STEPS + 1], together[2 * STEPS + 2]);
    /* unloading one adapter leaves the base and the other working */
    vkslm_lora_free(la);
    greedy(m, &sel[1], 1, prompt, 6, STEPS, alone);
    CU_ASSERT(memcmp(alone, together + STEPS, sizeof alone) == 0);
    vkslm_lora_free(lb);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_model_free(m);
    remove(base);
    remove(a);
    remove(bpath);
}

/* A scheduler's sequences with adapter A, B, none, one request after another on the same prompt: each gets
 * the tokens a session gets with that adapter (a cache computed with other adapters is not reused), then
 * three at once in the scheduler's batched steps. */
typedef struct sched_job {
    vkslm_scheduler *sch;
    vkslm_lora *lora;
    const int32_t *prompt;
    int32_t out[8];
    size_t n; /* tokens generated (fewer than 8 when one is an end of generation) */
    vkslm_status st;
} sched_job;

static void *sched_run(void *arg) {
    sched_job *j = arg;
    vkslm_sequence *q;
    j->st = vkslm_scheduler_acquire(j->sch, &q);
    if (j->st != VKSLM_OK)
        return NULL;
    float one = 1.0f;
    j->st = vkslm_sequence_set_lora(q, &j->lora, &one, j->lora ? 1 : 0);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 8;
    gp.temperature = 0;
    vkslm_generate_result r;
    if (j->st == VKSLM_OK)
        j->st = vkslm_sequence_generate(q, j->prompt, 6, &gp, &r);
    if (j->st == VKSLM_OK && r.n_tokens <= 8) {
        j->n = r.n_tokens;
        memcpy(j->out, r.tokens, r.n_tokens * sizeof *r.tokens);
    }
    vkslm_scheduler_release(j->sch, q);
    return NULL;
}

static void test_scheduler(void) {
    char base[512], a[512], bpath[512];
    tmp_path(base, sizeof base, "sbase");
    tmp_path(a, sizeof a, "sa");
    tmp_path(bpath, sizeof bpath, "sb");
    write_base(base, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 64);
    write_adapter(base, a, 8, 16.0f, NULL, 11);
    write_adapter(base, bpath, 8, 16.0f, NULL, 22);
    vkslm_model *m = load(base);
    if (!m)
        return;
    vkslm_lora *l[3] = {NULL, NULL, NULL};
    CU_ASSERT_FATAL(vkslm_lora_load(m, a, &l[0]) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_lora_load(m, bpath, &l[1]) == VKSLM_OK);
    int32_t prompt[6];
    random_ids(prompt, 6, 8);
    int32_t want[3][8];
    for (int i = 0; i < 3; i++) { /* the session's greedy tokens: the prompt's last logits, then 7 more */
        int32_t all[8 * 1];
        greedy(m, &l[i], 1, prompt, 6, 8, all);
        memcpy(want[i], all, sizeof all);
    }
    vkslm_scheduler_params sp = vkslm_scheduler_default_params();
    sp.n_seq = 3;
    vkslm_scheduler *sch;
    CU_ASSERT_FATAL(vkslm_scheduler_create(m, &sp, &sch) == VKSLM_OK);
    sched_job jobs[3];
    for (int round = 0; round < 2; round++) { /* one after another, then together */
        pthread_t th[3];
        for (int i = 0; i < 3; i++) {
            jobs[i] = (sched_job){sch, l[i], prompt, {0}, 0, VKSLM_OK};
            if (round == 0)
                sched_run(&jobs[i]);
            else
                CU_ASSERT_FATAL(pthread_create(&th[i], NULL, sched_run, &jobs[i]) == 0);
        }
        for (int i = 0; i < 3; i++) {
            if (round == 1)
                pthread_join(th[i], NULL);
            CU_ASSERT(jobs[i].st == VKSLM_OK);
            CU_ASSERT(jobs[i].n >= 1);
            CU_ASSERT(memcmp(jobs[i].out, want[i], jobs[i].n * sizeof *want[i]) == 0);
        }
    }
    vkslm_scheduler_free(sch);
    vkslm_lora_free(l[0]);
    vkslm_lora_free(l[1]);
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_model_free(m);
    remove(base);
    remove(a);
    remove(bpath);
}

/* Three adapter experts on one base in an orchestra: the base loads once (one load, one slot's bytes: the
 * base's weights once plus each expert's adapters and sessions), requests route to each expert by keyword,
 * and each expert answers with its adapter's tokens. */
static void test_orchestra(void) {
    char base[512], ad[3][512];
    tmp_path(base, sizeof base, "obase");
    write_base(base, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 256); /* weights larger than the sessions' buffers */
    static const char *const tags[3] = {"o0", "o1", "o2"};
    for (int i = 0; i < 3; i++) {
        tmp_path(ad[i], sizeof ad[i], tags[i]);
        write_adapter(base, ad[i], 8, 16.0f, NULL, 31 + (uint64_t)i);
    }
    static const char *const names[3] = {"sentiment", "code", "docs"};
    static const char *const kw[3][1] = {{"feel"}, {"python"}, {"manual"}};
    vkslm_expert_lora el[3];
    vkslm_expert_desc d[3];
    memset(d, 0, sizeof d);
    for (int i = 0; i < 3; i++) {
        el[i] = (vkslm_expert_lora){ad[i], i == 2 ? 0.5f : 1.0f};
        d[i].name = names[i];
        d[i].model_path = base;
        d[i].keywords = kw[i];
        d[i].n_keywords = 1;
        d[i].n_ctx = 64;
        d[i].max_sessions = 2;
        d[i].lora = &el[i];
        d[i].n_lora = 1;
    }
    vkslm_orchestra_params op = vkslm_orchestra_default_params();
    op.model.validate = true;
    vkslm_orchestra *o;
    CU_ASSERT_FATAL(vkslm_orchestra_create(d, 3, &op, &o) == VKSLM_OK);
    /* the reference: each adapter on a plain session */
    vkslm_model *m = load(base);
    if (!m) {
        vkslm_orchestra_free(o);
        return;
    }
    uint64_t weights = vkslm_model_weight_bytes(m);
    int32_t prompt[6], want[3][8];
    random_ids(prompt, 6, 9);
    for (int i = 0; i < 3; i++) {
        vkslm_lora *l;
        CU_ASSERT_FATAL(vkslm_lora_load(m, ad[i], &l) == VKSLM_OK);
        vkslm_session *s;
        CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &s) == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_seq_set_lora(s, 0, &l, &el[i].scale, 1) == VKSLM_OK);
        vkslm_generate_params gp = vkslm_generate_default_params();
        gp.max_tokens = 8;
        gp.temperature = 0;
        vkslm_generate_result r;
        CU_ASSERT_FATAL(vkslm_generate_tokens(s, prompt, 6, &gp, &r) == VKSLM_OK);
        memset(want[i], 0xff, sizeof want[i]);
        memcpy(want[i], r.tokens, r.n_tokens * sizeof *r.tokens);
        vkslm_session_free(s);
        vkslm_lora_free(l);
    }
    vkslm_model_free(m);
    static const char *const asks[3] = {"how do you feel about it", "write python for me", "read the manual"};
    for (int i = 0; i < 3; i++) {
        vkslm_route_decision rd;
        CU_ASSERT_FATAL(vkslm_orchestra_route(o, "auto", asks[i], &rd) == VKSLM_OK);
        CU_ASSERT_EQUAL(rd.expert, i);
        vkslm_sequence *q;
        CU_ASSERT_FATAL(vkslm_orchestra_acquire(o, (size_t)rd.expert, &q) == VKSLM_OK);
        vkslm_generate_params gp = vkslm_generate_default_params();
        gp.max_tokens = 8;
        gp.temperature = 0;
        vkslm_generate_result r;
        CU_ASSERT_FATAL(vkslm_sequence_generate(q, prompt, 6, &gp, &r) == VKSLM_OK);
        CU_ASSERT(r.n_tokens >= 1 && memcmp(r.tokens, want[i], r.n_tokens * sizeof *r.tokens) == 0);
        vkslm_orchestra_release(o, (size_t)rd.expert, q);
    }
    uint64_t used, budget, lora = 0;
    vkslm_orchestra_memory(o, &used, &budget);
    for (int i = 0; i < 3; i++) {
        vkslm_expert_stats es;
        CU_ASSERT_FATAL(vkslm_orchestra_expert_stats(o, (size_t)i, &es) == VKSLM_OK);
        CU_ASSERT(es.loaded && es.loads == 1);
        CU_ASSERT(es.device_bytes == used); /* one slot: the shared base */
        CU_ASSERT(es.lora_bytes > 0);
        lora += es.lora_bytes;
    }
    CU_ASSERT(vkslm_orchestra_validation_messages(o) == 0);
    vkslm_orchestra_free(o);
    /* the same three experts as whole models (the adapters merged in): the budget holds three bases */
    char merged[3][512];
    static const char *const mtags[3] = {"m0", "m1", "m2"};
    for (int i = 0; i < 3; i++) {
        tmp_path(merged[i], sizeof merged[i], mtags[i]);
        CU_ASSERT_FATAL(vkslm_lora_merge(base, ad[i], el[i].scale, 0, merged[i]) == VKSLM_OK);
        d[i].model_path = merged[i];
        d[i].lora = NULL;
        d[i].n_lora = 0;
    }
    CU_ASSERT_FATAL(vkslm_orchestra_create(d, 3, &op, &o) == VKSLM_OK);
    for (int i = 0; i < 3; i++) {
        vkslm_sequence *q;
        CU_ASSERT_FATAL(vkslm_orchestra_acquire(o, (size_t)i, &q) == VKSLM_OK);
        vkslm_orchestra_release(o, (size_t)i, q);
    }
    uint64_t used_whole;
    vkslm_orchestra_memory(o, &used_whole, NULL);
    vkslm_orchestra_free(o);
    printf("\n  3 experts: adapters on one base %.2f MiB (base %.2f MiB once, adapters %.2f MiB), whole models "
           "%.2f MiB\n", used / 1048576.0, weights / 1048576.0, lora / 1048576.0, used_whole / 1048576.0);
    CU_ASSERT(used >= weights + lora);
    CU_ASSERT(used_whole == used + 2 * weights - lora); /* the same sessions; two more bases, no adapters */
    remove(base);
    for (int i = 0; i < 3; i++) {
        remove(ad[i]);
        remove(merged[i]);
    }
}

/* Copies the adapter at src to dst without tensor `drop` (by name). */
static void copy_without(const char *src, const char *dst, const char *drop) {
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(src, &g) == VKSLM_OK);
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(dst, 32, &w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++)
        CU_ASSERT_FATAL(vkslm_gguf_writer_copy_kv(w, g, i) == VKSLM_OK);
    char name[128];
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (strcmp(name, drop))
            CU_ASSERT_FATAL(vkslm_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == VKSLM_OK);
    }
    CU_ASSERT_FATAL(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (strcmp(name, drop))
            CU_ASSERT_FATAL(vkslm_gguf_writer_write(w, t->data, t->size) == VKSLM_OK);
    }
    CU_ASSERT_FATAL(vkslm_gguf_writer_close(w) == VKSLM_OK);
    vkslm_gguf_close(g);
}

static void expect_refusal(vkslm_model *m, const char *path, vkslm_status want, const char *says) {
    vkslm_lora *l = NULL;
    vkslm_status st = vkslm_lora_load(m, path, &l);
    printf("\n  refused (%s): %s", vkslm_status_str(st), vkslm_last_error());
    CU_ASSERT(st == want);
    CU_ASSERT(l == NULL);
    CU_ASSERT(strstr(vkslm_last_error(), says) != NULL);
}

static void test_bad_adapters(void) {
    char base[512], other[512], wide[512], ad[512], bad[512];
    tmp_path(base, sizeof base, "bbase");
    tmp_path(other, sizeof other, "bother");
    tmp_path(wide, sizeof wide, "bwide");
    tmp_path(ad, sizeof ad, "bad_ok");
    tmp_path(bad, sizeof bad, "bad");
    write_base(base, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 64);
    vkslm_model *m = load(base);
    if (!m)
        return;
    /* another architecture */
    write_base(other, VKSLM_ARCH_QWEN2, VKSLM_FTYPE_ALL_F32, 64);
    write_adapter(other, bad, 4, 0.0f, NULL, 1);
    expect_refusal(m, bad, VKSLM_ERR_UNSUPPORTED, "architecture 'qwen2'");
    /* the same architecture, another width: the first pair does not fit */
    write_base(wide, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_ALL_F32, 128);
    write_adapter(wide, bad, 4, 0.0f, NULL, 1);
    expect_refusal(m, bad, VKSLM_ERR_FORMAT, "blk.0.attn_q.weight.lora_a");
    /* a missing half */
    write_adapter(base, ad, 4, 0.0f, NULL, 1);
    copy_without(ad, bad, "blk.1.ffn_up.weight.lora_b");
    expect_refusal(m, bad, VKSLM_ERR_FORMAT, "blk.1.ffn_up.weight.lora_b");
    /* a model is not an adapter */
    expect_refusal(m, base, VKSLM_ERR_FORMAT, "not an adapter");
    /* the good one loads, and the model still runs with it */
    vkslm_lora *l;
    CU_ASSERT_FATAL(vkslm_lora_load(m, ad, &l) == VKSLM_OK);
    int32_t ids[4] = {1, 2, 3, 4};
    float out[NV];
    gpu_logits(m, l, 1.0f, ids, 4, out);
    vkslm_lora_free(l);
    /* a bad target is refused before anything is written */
    vkslm_lora_synth_params p = vkslm_lora_synth_default_params();
    p.targets = "attn_qkv";
    CU_ASSERT(vkslm_lora_synth_write(base, bad, &p) == VKSLM_ERR_INVALID_ARG);
    printf("\n  refused: %s\n", vkslm_last_error());
    CU_ASSERT(vkslm_model_validation_messages(m) == 0);
    vkslm_model_free(m);
    remove(base);
    remove(other);
    remove(wide);
    remove(ad);
    remove(bad);
}

/* lora-merge re-encoded in the base's types (Q8_0) against the adapter at run time on that base. */
static void test_merge_requantized(void) {
    char base[512], ad[512], merged[512];
    tmp_path(base, sizeof base, "qbase");
    tmp_path(ad, sizeof ad, "qad");
    tmp_path(merged, sizeof merged, "qmerged");
    write_base(base, VKSLM_ARCH_LLAMA, VKSLM_FTYPE_Q8_0, 64);
    write_adapter(base, ad, 8, 16.0f, NULL, 9);
    CU_ASSERT_FATAL(vkslm_lora_merge(base, ad, 0.5f, 0, merged) == VKSLM_OK);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(merged, &g) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_find_tensor(g, "blk.0.attn_q.weight")->type == VKSLM_TYPE_Q8_0);
    vkslm_gguf_close(g);
    int32_t ids[NT];
    random_ids(ids, NT, 3);
    float runtime[NV], baked[NV], plain[NV];
    vkslm_model *m = load(base);
    if (!m)
        return;
    vkslm_lora *l;
    CU_ASSERT_FATAL(vkslm_lora_load(m, ad, &l) == VKSLM_OK);
    gpu_logits(m, l, 0.5f, ids, NT, runtime);
    gpu_logits(m, NULL, 0, ids, NT, plain);
    vkslm_lora_free(l);
    vkslm_model_free(m);
    vkslm_model *mm = load(merged);
    gpu_logits(mm, NULL, 0, ids, NT, baked);
    vkslm_model_free(mm);
    double e = test_nmse(baked, runtime, NV), moved = test_nmse(plain, runtime, NV);
    printf("\n  Q8_0 merged vs runtime NMSE %.2e (bound 1e-3), base alone %.2e\n", e, moved);
    CU_ASSERT(e <= 1e-3); /* one more Q8_0 rounding of every adapted weight */
    CU_ASSERT(moved > 1e-2);
    remove(base);
    remove(ad);
    remove(merged);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"merged_reference", test_merged_reference},
        {"mixed_batch", test_mixed_batch},
        {"scheduler", test_scheduler},
        {"orchestra", test_orchestra},
        {"bad_adapters", test_bad_adapters},
        {"merge_requantized", test_merge_requantized},
        {NULL, NULL},
    };
    return test_run_suite("gpu_lora", tests);
}
