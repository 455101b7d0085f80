/* RoPE scaling end to end (../shared/testdata/models/rope, refs/rope): llama-linear2 (linear, factor 2),
 * qwen2-yarn4 (YaRN, factor 4, original context 256) and phi3-longrope (LongRoPE factors, original context
 * 256, attention factor 1.1902), short and long prompts, in sessions of 512 tokens as llama.cpp ran them
 * (so LongRoPE uses its long factors). Criteria: identical prompt tokens; last-position logits against
 * llama.cpp's (and the exact file where one exists) with NMSE <= 1e-4, and against the CPU reference;
 * teacher-forced over llama.cpp's greedy tokens, its token our top-1 at >= 95% of the steps. Then: a
 * context of at most 256 tokens selects LongRoPE's short factors (GPU = CPU reference, != long), and each
 * model with its scaling ignored misses llama.cpp's logits by more than the bound, so the checks can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/forward.h"
#include "engine/model/rope_scaling.h"
#include "engine/runtime/session_dev.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/harness.h"
#include "tests/util_refs.h"

#define NMSE_BOUND 1e-4
#define CTX 512

static const char *const models[] = {"llama-linear2", "qwen2-yarn4", "phi3-longrope"};

static int rank_of(const float *l, uint32_t n, int t) {
    int r = 0;
    for (uint32_t i = 0; i < n; i++)
        r += l[i] > l[t];
    return r;
}

static vkslm_model_dev *load_model(vkslm_vk *vk, const test_ref *ref) {
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "models/%s", ref->model);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, rel), &g) == VKSLM_OK);
    vkslm_model_dev *m;
    vkslm_status st = vkslm_model_dev_load(vk, g, NULL, NULL, &m);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", ref->model, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    return m;
}

/* The last prompt position's logits of a fresh GPU session of n_ctx tokens (malloc'd); the session is
 * returned in *out when out is not NULL. */
static float *gpu_logits(vkslm_vk *vk, const vkslm_model_dev *m, const test_ref *ref, uint32_t n_ctx,
                         vkslm_session_dev **out) {
    vkslm_session_dev *s;
    CU_ASSERT_FATAL(vkslm_session_dev_create(vk, m, n_ctx, 32, VKSLM_TYPE_F16, &s) == VKSLM_OK);
    vkslm_status st = vkslm_session_dev_eval(s, ref->prompt_tokens, ref->n_prompt, VKSLM_GRAPH_LOGITS, NULL);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", ref->model, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    float *l = malloc(m->hp.n_vocab * sizeof *l);
    memcpy(l, s->logits, m->hp.n_vocab * sizeof *l);
    if (out)
        *out = s;
    else
        vkslm_session_dev_free(s);
    return l;
}

/* The same logits from the CPU reference (malloc'd). */
static float *cpu_logits(const vkslm_model_dev *m, const test_ref *ref, uint32_t n_ctx) {
    vkslm_cpu_forward *f;
    CU_ASSERT_FATAL(vkslm_cpu_forward_create(&m->hp, &m->w, n_ctx, &f) == VKSLM_OK);
    float *l = malloc(m->hp.n_vocab * sizeof *l);
    CU_ASSERT_FATAL(vkslm_cpu_forward_run(f, ref->prompt_tokens, ref->n_prompt, 0, l) == VKSLM_OK);
    vkslm_cpu_forward_free(f);
    return l;
}

static void load_ref(const char *model, const char *prompt, test_ref *ref, char *name, size_t cap) {
    snprintf(name, cap, "rope/%s.%s", model, prompt);
    CU_ASSERT_FATAL(test_ref_load(name, ref) == 0);
}

static void check_ref(vkslm_vk *vk, const char *model, const char *prompt, double *worst) {
    char name[256];
    test_ref ref;
    load_ref(model, prompt, &ref, name, sizeof name);
    vkslm_model_dev *m = load_model(vk, &ref);
    /* the prompt's tokens, as the reference has them */
    vkslm_tokenizer *tok;
    CU_ASSERT_FATAL(vkslm_tokenizer_load(m->gguf, &tok) == VKSLM_OK);
    int32_t ids[512];
    size_t n_ids = 0;
    CU_ASSERT_FATAL(vkslm_tokenize(tok, ref.prompt, strlen(ref.prompt), 1, 0, ids, 512, &n_ids) == VKSLM_OK);
    CU_ASSERT_EQUAL(n_ids, ref.n_prompt);
    CU_ASSERT_EQUAL(memcmp(ids, ref.prompt_tokens, ref.n_prompt * sizeof *ids), 0);
    vkslm_tokenizer_free(tok);

    vkslm_session_dev *s;
    float *gpu = gpu_logits(vk, m, &ref, CTX, &s), *cpu = cpu_logits(m, &ref, CTX);
    float *lcpp = test_ref_logits(name, ref.n_vocab, 0), *exact = test_ref_logits(name, ref.n_vocab, 1);
    CU_ASSERT_FATAL(lcpp != NULL);
    double e_gpu = test_nmse(gpu, lcpp, ref.n_vocab), e_cpu = test_nmse(cpu, lcpp, ref.n_vocab);
    double e_gc = test_nmse(gpu, cpu, ref.n_vocab);
    CU_ASSERT(e_gpu <= NMSE_BOUND);
    CU_ASSERT(e_cpu <= NMSE_BOUND);
    CU_ASSERT(e_gc <= NMSE_BOUND);
    printf("\n  %-28s vs llama.cpp: gpu %.2e cpu %.2e; gpu vs cpu %.2e", name, e_gpu, e_cpu, e_gc);
    if (exact) {
        double e_exact = test_nmse(gpu, exact, ref.n_vocab);
        CU_ASSERT(e_exact <= NMSE_BOUND);
        printf("; gpu vs exact %.2e", e_exact);
    }
    *worst = e_gpu > *worst ? e_gpu : *worst;
    /* teacher-forced decoding over llama.cpp's greedy tokens */
    int ok = 0;
    for (uint32_t i = 0; i < ref.n_greedy; i++) {
        ok += rank_of(s->logits, ref.n_vocab, ref.greedy[i]) == 0;
        if (i + 1 < ref.n_greedy)
            CU_ASSERT_FATAL(vkslm_session_dev_eval(s, &ref.greedy[i], 1, VKSLM_GRAPH_LOGITS, NULL) == VKSLM_OK);
    }
    printf("; teacher-forced top-1 %d/%u", ok, ref.n_greedy);
    CU_ASSERT(ok * 100 >= 95 * (int)ref.n_greedy);
    free(gpu), free(cpu), free(lcpp), free(exact);
    vkslm_session_dev_free(s);
    vkslm_model_dev_free(m);
}

static void test_rope_references(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        check_ref(vk, models[i], "short", &worst);
        check_ref(vk, models[i], "long", &worst);
    }
    printf("\n  worst NMSE vs llama.cpp %.2e (bound %g)\n", worst, NMSE_BOUND);
    test_gpu_assert_clean(vk);
}

/* A session of at most the original 256 tokens uses the short factors: the GPU agrees with the CPU
 * reference there, and both differ from the long factors' logits by more than the bound. */
static void test_longrope_short_context(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    char name[256];
    test_ref ref;
    load_ref("phi3-longrope", "long", &ref, name, sizeof name);
    vkslm_model_dev *m = load_model(vk, &ref);
    CU_ASSERT_EQUAL(m->hp.rope_scaling, VKSLM_ROPE_SCALING_LONGROPE);
    CU_ASSERT_EQUAL(m->hp.rope_scaling_orig_ctx, 256);
    CU_ASSERT_EQUAL(vkslm_rope_config_of(&m->hp, 256, 0, 1, 1).factors, VKSLM_ROPE_FACTORS_SHORT);
    CU_ASSERT_EQUAL(vkslm_rope_config_of(&m->hp, 257, 0, 1, 1).factors, VKSLM_ROPE_FACTORS_LONG);
    float *gpu = gpu_logits(vk, m, &ref, 256, NULL), *cpu = cpu_logits(m, &ref, 256);
    float *lng = gpu_logits(vk, m, &ref, CTX, NULL);
    double e_short = test_nmse(gpu, cpu, ref.n_vocab), e_long = test_nmse(gpu, lng, ref.n_vocab);
    printf("\n  context 256: gpu vs cpu %.2e; vs the long factors (context 512) %.2e\n", e_short, e_long);
    CU_ASSERT(e_short <= NMSE_BOUND);
    CU_ASSERT(e_long > NMSE_BOUND);
    free(gpu), free(cpu), free(lng);
    vkslm_model_dev_free(m);
    test_gpu_assert_clean(vk);
}

/* With its scaling ignored (freq_scale 1, no YaRN, no LongRoPE factors or attention factor) each model
 * misses llama.cpp's logits by more than the bound. */
static void test_ignored_scaling_fails(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    for (int i = 0; i < 3; i++)
        for (int p = 0; p < 2; p++) {
            char name[256];
            test_ref ref;
            load_ref(models[i], p ? "long" : "short", &ref, name, sizeof name);
            vkslm_model_dev *m = load_model(vk, &ref);
            m->hp.rope_scaling = VKSLM_ROPE_SCALING_NONE;
            m->hp.rope_scaling_attn_factor = 1.0f;
            m->rope_long.buf = m->rope_short.buf = NULL; /* views only: the model frees its buffers by index */
            float *gpu = gpu_logits(vk, m, &ref, CTX, NULL), *lcpp = test_ref_logits(name, ref.n_vocab, 0);
            CU_ASSERT_FATAL(lcpp != NULL);
            double e = test_nmse(gpu, lcpp, ref.n_vocab);
            printf("\n  %-28s scaling ignored: NMSE vs llama.cpp %.2e", name, e);
            CU_ASSERT(e > NMSE_BOUND);
            free(gpu), free(lcpp);
            vkslm_model_dev_free(m);
        }
    printf("\n");
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"rope-scaled models (linear, YaRN, LongRoPE) against llama.cpp at context 512", test_rope_references},
        {"LongRoPE in a context of the original 256 tokens uses the short factors", test_longrope_short_context},
        {"each model with its rope scaling ignored misses llama.cpp's logits", test_ignored_scaling_fails},
        {NULL, NULL},
    };
    return test_run_suite("gpu_rope_generate", tests);
}
