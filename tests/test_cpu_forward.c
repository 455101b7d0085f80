/* The plain-C forward pass against llama.cpp's references for every shared model: logits at the last
 * prompt position against the exact (float64) logits, and teacher-forced greedy decoding; the rope-scaled
 * models (refs/rope: linear, YaRN, LongRoPE, in a context of 512 as llama.cpp ran them) against
 * llama.cpp's logits (NMSE <= 1e-4; there is no exact file for them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/forward.h"
#include "tests/harness.h"
#include "tests/util_refs.h"

static int argmax(const float *l, uint32_t n) {
    int b = 0;
    for (uint32_t i = 1; i < n; i++)
        if (l[i] > l[b])
            b = (int)i;
    return b;
}

/* Rank of token t in l (0 = top). */
static int rank_of(const float *l, uint32_t n, int t) {
    int r = 0;
    for (uint32_t i = 0; i < n; i++)
        r += l[i] > l[t];
    return r;
}

static void check_ref(const char *name, double *worst_nmse) {
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load(name, &ref) == 0);
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "models/%s", ref.model);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, rel), &g) == VKSLM_OK);
    vkslm_hparams hp;
    vkslm_model_weights w;
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
    vkslm_cpu_forward *f;
    uint32_t n_ctx = ref.n_prompt + ref.n_greedy + 1;
    CU_ASSERT_FATAL(vkslm_cpu_forward_create(&hp, &w, n_ctx, &f) == VKSLM_OK);
    float *logits = malloc(hp.n_vocab * sizeof *logits);
    vkslm_status st = vkslm_cpu_forward_run(f, ref.prompt_tokens, ref.n_prompt, 0, logits);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", name, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    float *exact = test_ref_logits(name, ref.n_vocab, 1);
    CU_ASSERT_FATAL(exact != NULL);
    double nmse = test_nmse(logits, exact, ref.n_vocab);
    if (nmse > *worst_nmse)
        *worst_nmse = nmse;
    printf("\n  %-40s nmse vs exact %.2e", name, nmse);
    CU_ASSERT(nmse < 1e-6);
    CU_ASSERT_EQUAL(argmax(logits, hp.n_vocab), argmax(exact, ref.n_vocab));
    /* teacher-forced greedy: feed llama.cpp's tokens; its choice must be our top-1 or a near tie (top 3) */
    int top1 = 0, top3 = 0;
    uint32_t steps = ref.n_greedy < 8 ? ref.n_greedy : 8;
    for (uint32_t i = 0; i < steps; i++) {
        int r = rank_of(logits, hp.n_vocab, ref.greedy[i]);
        top1 += r == 0;
        top3 += r < 3;
        if (i + 1 < steps)
            CU_ASSERT_FATAL(vkslm_cpu_forward_run(f, &ref.greedy[i], 1, ref.n_prompt + i, logits) == VKSLM_OK);
    }
    printf(" greedy top1 %d/%u top3 %d/%u", top1, steps, top3, steps);
    CU_ASSERT(top3 == (int)steps);
    free(exact);
    free(logits);
    vkslm_cpu_forward_free(f);
    vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
}

static void test_every_reference(void) {
    TEST_REQUIRE_DATA();
    double worst = 0;
    int n = 0;
    for (const char *const *name = test_ref_names(); *name; name++, n++)
        check_ref(*name, &worst);
    printf("\n  %d references, worst NMSE %.2e\n", n, worst);
    CU_ASSERT(n >= (test_refs_filtered() ? 1 : 40));
}

static void test_rope_references(void) {
    TEST_REQUIRE_DATA();
    static const char *const names[] = {"llama-linear2", "qwen2-yarn4", "phi3-longrope"};
    for (int i = 0; i < 6; i++) {
        char name[128], rel[512], path[1024];
        snprintf(name, sizeof name, "rope/%s.%s", names[i / 2], i % 2 ? "long" : "short");
        test_ref ref;
        CU_ASSERT_FATAL(test_ref_load(name, &ref) == 0);
        snprintf(rel, sizeof rel, "models/%s", ref.model);
        vkslm_gguf *g;
        CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, rel), &g) == VKSLM_OK);
        vkslm_hparams hp;
        vkslm_model_weights w;
        CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
        vkslm_cpu_forward *f;
        CU_ASSERT_FATAL(vkslm_cpu_forward_create(&hp, &w, 512, &f) == VKSLM_OK);
        float *logits = malloc(hp.n_vocab * sizeof *logits), *lcpp = test_ref_logits(name, ref.n_vocab, 0);
        CU_ASSERT_FATAL(lcpp != NULL);
        CU_ASSERT_FATAL(vkslm_cpu_forward_run(f, ref.prompt_tokens, ref.n_prompt, 0, logits) == VKSLM_OK);
        double nmse = test_nmse(logits, lcpp, ref.n_vocab);
        printf("\n  %-28s nmse vs llama.cpp %.2e", name, nmse);
        CU_ASSERT(nmse <= 1e-4);
        CU_ASSERT_EQUAL(argmax(logits, hp.n_vocab), ref.greedy[0]);
        free(logits), free(lcpp);
        vkslm_cpu_forward_free(f);
        vkslm_model_weights_free(&w);
        vkslm_gguf_close(g);
    }
    printf("\n");
}

int main(void) {
    static const vkslm_test tests[] = {
        {"CPU forward matches llama.cpp's exact logits on every reference", test_every_reference},
        {"CPU forward of the rope-scaled models matches llama.cpp's logits", test_rope_references},
        {NULL, NULL},
    };
    return test_run_suite("cpu_forward", tests);
}
