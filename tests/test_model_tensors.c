/* The per-architecture tensor table binds every shared test model and rejects bad ones clearly. */
#include <stdio.h>
#include <string.h>

#include "engine/model/tensors.h"
#include "tests/harness.h"

static void bind_file(const char *rel, vkslm_gguf **g, vkslm_hparams *hp, vkslm_model_weights *w, vkslm_status *st) {
    char path[1024];
    test_data_path(path, sizeof path, rel);
    *st = vkslm_gguf_open_file(path, g);
    CU_ASSERT_FATAL(*st == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_hparams_load(*g, hp) == VKSLM_OK);
    *st = vkslm_model_weights_bind(*g, hp, w);
}

static void test_every_model_binds(void) {
    TEST_REQUIRE_DATA();
    static const struct {
        const char *file;
        int tied, fused_qkv, biases, post_norms, rope_freqs;
    } cases[] = {
        {"models/stories260K.gguf", 0, 0, 0, 0, 0},
        {"models/llama-2-tiny-random.gguf", 0, 0, 0, 0, 0},
        {"models/tiny-llama3-random.gguf", 1, 0, 0, 0, 1},
        {"models/tiny-qwen2-random.gguf", 1, 0, 1, 0, 0},
        {"models/tiny-mistral-style-random.gguf", 0, 0, 0, 0, 0},
        {"models/tiny-phi3-random.gguf", 0, 1, 0, 0, 0},
        {"models/tiny-gemma-random.gguf", 1, 0, 0, 0, 0},
        {"models/tiny-gemma2-random.gguf", 1, 0, 0, 1, 0},
        {"models/quant/tiny-llama-256-random-Q4_K_M.gguf", 0, 0, 0, 0, 0},
        {"models/quant/tiny-llama-256-random-IQ4_XS.gguf", 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkslm_gguf *g;
        vkslm_hparams hp;
        vkslm_model_weights w;
        vkslm_status st;
        bind_file(cases[i].file, &g, &hp, &w, &st);
        if (st != VKSLM_OK)
            fprintf(stderr, "%s: %s\n", cases[i].file, vkslm_last_error());
        CU_ASSERT_EQUAL(st, VKSLM_OK);
        if (st == VKSLM_OK) {
            CU_ASSERT_EQUAL(w.n_layer, hp.n_layer);
            CU_ASSERT_EQUAL(w.tied_output, cases[i].tied);
            CU_ASSERT_EQUAL(w.tied_output, w.output == w.tok_embd);
            CU_ASSERT_EQUAL(w.layers[0].wqkv != NULL, cases[i].fused_qkv);
            CU_ASSERT_EQUAL(w.layers[0].ffn_gate == NULL, cases[i].fused_qkv); /* phi3 fuses both */
            CU_ASSERT_EQUAL(w.layers[hp.n_layer - 1].bq != NULL, cases[i].biases);
            CU_ASSERT_EQUAL(w.layers[hp.n_layer - 1].ffn_post_norm != NULL, cases[i].post_norms);
            CU_ASSERT_EQUAL(w.rope_freqs != NULL, cases[i].rope_freqs);
        }
        vkslm_model_weights_free(&w);
        vkslm_gguf_close(g);
    }
}

static void test_vocab_only_is_refused(void) {
    TEST_REQUIRE_DATA();
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_model_weights w;
    vkslm_status st;
    bind_file("vocab/ggml-vocab-llama-bpe.gguf", &g, &hp, &w, &st);
    CU_ASSERT_NOT_EQUAL(st, VKSLM_OK);
    CU_ASSERT(strlen(vkslm_last_error()) > 10);
    vkslm_gguf_close(g);
}

/* A model whose hyperparameters disagree with a tensor's shape names the tensor. */
static void test_shape_mismatch_names_tensor(void) {
    TEST_REQUIRE_DATA();
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_model_weights w;
    char path[1024];
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, "models/stories260K.gguf"), &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    hp.n_ff += 1;
    CU_ASSERT_EQUAL(vkslm_model_weights_bind(g, &hp, &w), VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "blk.0.ffn_gate.weight"));
    hp.n_ff -= 1;
    hp.arch = VKSLM_ARCH_UNKNOWN;
    CU_ASSERT_EQUAL(vkslm_model_weights_bind(g, &hp, &w), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "not supported"));
    vkslm_gguf_close(g);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every shared model binds its architecture's tensors", test_every_model_binds},
        {"a vocab-only file is refused as a model", test_vocab_only_is_refused},
        {"shape mismatches and unknown architectures are named", test_shape_mismatch_names_tensor},
        {NULL, NULL},
    };
    return test_run_suite("model_tensors", tests);
}
