/* Loading a model onto the device: every tensor's bytes arrive intact, progress is reported, a
 * cancelled or bad load fails cleanly and frees what it took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model.h"
#include "engine/model/weight_tiles.h"
#include "engine/runtime/api_internal.h"
#include "tests/harness.h"

static float last_fraction;
static int calls, cancel_after;
static int on_progress(float f, void *user) {
    (void)user;
    CU_ASSERT(f >= last_fraction && f <= 1.0f);
    last_fraction = f;
    calls++;
    return !(cancel_after && calls >= cancel_after);
}

static void load(vkslm_vk *vk, const char *rel, vkslm_model_dev **m, vkslm_status *st) {
    char path[1024];
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, rel), &g) == VKSLM_OK);
    last_fraction = 0;
    calls = 0;
    *st = vkslm_model_dev_load(vk, g, on_progress, NULL, m);
}

/* A copy of t's bytes as the device holds them: GGUF's rows, or tiles of `tile` rows. */
static void *laid_out(const vkslm_model_dev *m, const vkslm_gguf_tensor *t, uint32_t tile) {
    (void)m;
    void *b = malloc(t->size);
    CU_ASSERT_FATAL(b != NULL);
    if (tile)
        vkslm_tile_pack(b, t->data, t->type, t->ne[0], t->ne[1], tile);
    else
        memcpy(b, t->data, t->size);
    return b;
}

static void test_weights_arrive_intact(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    uint64_t used0, res;
    vkslm_vk_memory_usage(vk, &used0, &res);
    vkslm_model_dev *m;
    vkslm_status st;
    cancel_after = 0;
    load(vk, "models/tiny-qwen2-random.gguf", &m, &st);
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_EQUAL(last_fraction, 1.0f);
    CU_ASSERT_EQUAL(calls, (int)m->n_tensors);
    uint64_t kept = 0, tiled = 0;
    for (uint64_t i = 0; i < m->n_tensors; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(m->gguf, i);
        if (!m->bufs[i].buffer)
            continue; /* fused into a layer tensor: checked below */
        kept++;
        void *back = malloc(t->size), *want = laid_out(m, t, m->tiles[i]);
        CU_ASSERT_FATAL(vkslm_vk_download(vk, &m->bufs[i], 0, back, t->size) == VKSLM_OK);
        CU_ASSERT_EQUAL(memcmp(back, want, t->size), 0);
        free(back);
        free(want);
        tiled += m->tiles[i] != 0;
    }
    /* CPU devices: the weight matrices in tiles of rows (the output is tied to the embedding here) */
    const uint32_t tile = vkslm_vk_get_enabled(vk)->weight_tile;
    CU_ASSERT_EQUAL(tiled, tile ? 1 + 2 * m->hp.n_layer : 0); /* embedding, wo, ffn_down (the rest fused) */
    CU_ASSERT_EQUAL(vkslm_model_dev_tensor(m, m->w.tok_embd).tile, tile);
    CU_ASSERT(kept >= 2 + 4 * m->hp.n_layer); /* embedding, norms, wo, ffn_down stay as loaded */
    /* fused tensors: the parts' bytes one after another (q|k|v with their biases, gate|up) */
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const vkslm_layer_weights *L = &m->w.layers[il];
        const vkslm_dev_layer *D = &m->layers[il];
        struct {
            const vkslm_tensor *fused;
            vkslm_wt parts[3];
        } checks[3] = {{&D->wqkv, {L->wq, L->wk, L->wv}}, {&D->bqkv, {L->bq, L->bk, L->bv}},
                       {&D->ffn_up, {L->ffn_gate, L->ffn_up, NULL}}};
        CU_ASSERT_PTR_NOT_NULL(D->wqkv.buf);
        CU_ASSERT_PTR_NULL(D->ffn_gate.buf);
        for (int k = 0; k < 3; k++) {
            if (!checks[k].fused->buf)
                continue;
            uint64_t total = checks[k].fused->buf->size, at = 0;
            unsigned char *back = malloc(total);
            CU_ASSERT_FATAL(vkslm_vk_download(vk, checks[k].fused->buf, 0, back, total) == VKSLM_OK);
            for (int j = 0; j < 3 && checks[k].parts[j]; j++) {
                void *want = laid_out(m, checks[k].parts[j], checks[k].fused->tile);
                CU_ASSERT_EQUAL(memcmp(back + at, want, checks[k].parts[j]->size), 0);
                free(want);
                at += checks[k].parts[j]->size;
            }
            CU_ASSERT_EQUAL(at, total);
            free(back);
        }
    }
    vkslm_tensor out = vkslm_model_dev_tensor(m, m->w.output);
    CU_ASSERT_PTR_NOT_NULL(out.buf); /* tied: the embedding matrix */
    CU_ASSERT_EQUAL(out.ne[1], m->hp.n_vocab);
    vkslm_model_dev_free(m);
    uint64_t used1;
    vkslm_vk_memory_usage(vk, &used1, &res);
    CU_ASSERT_EQUAL(used1, used0);
    test_gpu_assert_clean(vk);
}

static void test_cancel_and_refusal(void) {
    TEST_REQUIRE_DATA();
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    uint64_t used0, res, used1;
    vkslm_vk_memory_usage(vk, &used0, &res);
    vkslm_model_dev *m = NULL;
    vkslm_status st;
    cancel_after = 3;
    load(vk, "models/stories260K.gguf", &m, &st);
    cancel_after = 0;
    CU_ASSERT_EQUAL(st, VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "cancelled"));
    load(vk, "vocab/ggml-vocab-qwen2.gguf", &m, &st);
    CU_ASSERT_NOT_EQUAL(st, VKSLM_OK);
    CU_ASSERT_PTR_NULL(m);
    vkslm_vk_memory_usage(vk, &used1, &res);
    CU_ASSERT_EQUAL(used1, used0);
    test_gpu_assert_clean(vk);
}

/* Loading resolves the pipelines of decode and of a default prefill chunk: running them makes none. */
static void test_pipelines_resolved_at_load(void) {
    TEST_REQUIRE_DATA();
    if (!test_gpu())
        return;
    static const char *const models[] = {"models/tiny-qwen2-random.gguf", "models/tiny-gemma2-random.gguf",
                                         "models/stories260K.gguf"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        vkslm_model_params mp = vkslm_model_default_params();
        vkslm_model *model;
        CU_ASSERT_FATAL(vkslm_model_load(test_data_path(path, sizeof path, models[i]), &mp, &model) == VKSLM_OK);
        uint32_t made = vkslm_vk_pipeline_count(model->vk);
        CU_ASSERT(made > 5);
        vkslm_session_dev *s;
        uint32_t ctx = model->dev->hp.n_ctx_train < 256 ? model->dev->hp.n_ctx_train : 256;
        CU_ASSERT_FATAL(vkslm_session_dev_create(model->vk, model->dev, ctx, 64, VKSLM_TYPE_F16, &s) == VKSLM_OK);
        int32_t prompt[64], next = 1;
        for (int t = 0; t < 64; t++)
            prompt[t] = (t * 7 + 1) % (int32_t)model->dev->hp.n_vocab;
        CU_ASSERT_EQUAL(vkslm_session_dev_eval(s, prompt, 64, VKSLM_GRAPH_LOGITS, NULL), VKSLM_OK);
        for (int t = 0; t < 4; t++)
            CU_ASSERT_EQUAL(vkslm_session_dev_eval(s, &next, 1, VKSLM_GRAPH_ARGMAX, &next), VKSLM_OK);
        if (vkslm_vk_pipeline_count(model->vk) != made)
            fprintf(stderr, "%s: %u pipelines after load, %u after a prefill and decode\n", models[i], made,
                    vkslm_vk_pipeline_count(model->vk));
        CU_ASSERT_EQUAL(vkslm_vk_pipeline_count(model->vk), made);
        vkslm_session_dev_free(s);
        test_gpu_assert_clean(model->vk);
        vkslm_model_free(model);
    }
}

int main(void) {
    static const vkslm_test tests[] = {
        {"weights arrive on the device intact, with progress", test_weights_arrive_intact},
        {"a cancelled load and a vocab-only file fail cleanly", test_cancel_and_refusal},
        {"loading resolves the pipelines of decode and prefill", test_pipelines_resolved_at_load},
        {NULL, NULL},
    };
    return test_run_suite("gpu_model_load", tests);
}
