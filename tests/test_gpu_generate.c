/* The GPU decoder graph end to end against llama.cpp's references (../shared/testdata/refs), with the
 * issue's criteria: identical prompt tokens; last-position logits against the exact float64 logits
 * (float models: NMSE <= 1e-4 and the exact top-1 as our top-1, or one of the exact top two where those
 * are within 0.02; quantized: NMSE <= 2e-3 and the exact top-1 in our top 3); teacher-forced over the
 * reference's greedy tokens (float: our top-1 is the reference token at >= 95% of the steps; quantized:
 * it is in our top 3 at >= 95%). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/session_dev.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/harness.h"
#include "tests/util_refs.h"

static int rank_of(const float *l, uint32_t n, int t) {
    int r = 0;
    for (uint32_t i = 0; i < n; i++)
        r += l[i] > l[t];
    return r;
}

static void top2(const float *l, uint32_t n, int *a, int *b) {
    *a = 0;
    *b = -1;
    for (uint32_t i = 1; i < n; i++) {
        if (l[i] > l[*a]) {
            *b = *a;
            *a = (int)i;
        } else if (*b < 0 || l[i] > l[*b])
            *b = (int)i;
    }
}

static int is_float_model(const char *model) {
    return !strstr(model, "quant/") || strstr(model, "-F16") || strstr(model, "-BF16");
}

/* The KV cache's type: F16 (what the CLI and server use), or F32 with env VKSLM_TEST_KV=F32 (to tell a cache
 * problem from a kernel one; arm64 lavapipe once needed it, before the soft-f16 quirk: docs/devices.md). */
static uint32_t kv_type(void) {
    const char *e = getenv("VKSLM_TEST_KV");
    if (e && strcmp(e, "F32") == 0)
        return VKSLM_TYPE_F32;
    CU_ASSERT_FATAL(!e || !*e || strcmp(e, "F16") == 0); /* any other value is a mistake, not F16 */
    return VKSLM_TYPE_F16;
}

/* Runs one reference; returns its NMSE against the exact logits. */
static double check_ref(vkslm_vk *vk, const char *name, uint32_t max_batch, int *steps_ok, int *steps) {
    test_ref ref;
    CU_ASSERT_FATAL(test_ref_load(name, &ref) == 0);
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "models/%s", ref.model);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, rel), &g) == VKSLM_OK);
    /* the prompt's tokens, as the reference has them */
    vkslm_tokenizer *tok;
    CU_ASSERT_FATAL(vkslm_tokenizer_load(g, &tok) == VKSLM_OK);
    int32_t ids[512];
    size_t n_ids = 0;
    CU_ASSERT_FATAL(vkslm_tokenize(tok, ref.prompt, strlen(ref.prompt), 1, 0, ids, 512, &n_ids) == VKSLM_OK);
    CU_ASSERT_EQUAL(n_ids, ref.n_prompt);
    CU_ASSERT_EQUAL(memcmp(ids, ref.prompt_tokens, ref.n_prompt * sizeof *ids), 0);
    vkslm_tokenizer_free(tok);

    vkslm_model_dev *m;
    vkslm_status st = vkslm_model_dev_load(vk, g, NULL, NULL, &m);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", name, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    vkslm_session_dev *s;
    CU_ASSERT_FATAL(vkslm_session_dev_create(vk, m, ref.n_prompt + ref.n_greedy + 1, max_batch, kv_type(), &s) ==
                    VKSLM_OK);
    st = vkslm_session_dev_eval(s, ref.prompt_tokens, ref.n_prompt, VKSLM_GRAPH_LOGITS, NULL);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", name, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    float *exact = test_ref_logits(name, ref.n_vocab, 1);
    CU_ASSERT_FATAL(exact != NULL);
    double nmse = test_nmse(s->logits, exact, ref.n_vocab);
    int e1, e2;
    top2(exact, ref.n_vocab, &e1, &e2);
    int fl = is_float_model(ref.model);
    if (fl) {
        int ours = rank_of(s->logits, ref.n_vocab, e1) == 0 ||
                   (exact[e1] - exact[e2] < 0.02f && rank_of(s->logits, ref.n_vocab, e2) == 0);
        CU_ASSERT(nmse <= 1e-4);
        CU_ASSERT(ours);
    } else {
        CU_ASSERT(nmse <= 2e-3);
        CU_ASSERT(rank_of(s->logits, ref.n_vocab, e1) < 3);
    }
    /* teacher-forced decoding over the reference's greedy tokens */
    int ok = 0;
    for (uint32_t i = 0; i < ref.n_greedy; i++) {
        int r = rank_of(s->logits, ref.n_vocab, ref.greedy[i]);
        ok += fl ? r == 0 : r < 3;
        if (i + 1 < ref.n_greedy)
            CU_ASSERT_FATAL(vkslm_session_dev_eval(s, &ref.greedy[i], 1, VKSLM_GRAPH_LOGITS, NULL) == VKSLM_OK);
    }
    printf("\n  %-36s nmse %.2e  teacher-forced %s %d/%u", name, nmse, fl ? "top-1" : "top-3", ok, ref.n_greedy);
    CU_ASSERT(ok * 100 >= 95 * (int)ref.n_greedy);
    *steps_ok += ok;
    *steps += (int)ref.n_greedy;
    free(exact);
    vkslm_session_dev_free(s);
    vkslm_model_dev_free(m);
    return nmse;
}

static void test_every_reference(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    double worst = 0;
    int n = 0, ok = 0, steps = 0;
    for (const char *const *name = test_ref_names(); *name; name++, n++) {
        double e = check_ref(vk, *name, 32, &ok, &steps);
        if (e > worst)
            worst = e;
    }
    printf("\n  %d references, worst NMSE vs exact logits %.2e, teacher-forced %d/%d steps\n", n, worst, ok, steps);
    CU_ASSERT(n >= (test_refs_filtered() ? 1 : 44));
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every reference model: prompt tokens, exact logits, teacher-forced greedy", test_every_reference},
        {NULL, NULL},
    };
    return test_run_suite("gpu_generate", tests);
}
