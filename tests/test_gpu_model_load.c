/* Loading a model onto the device: every tensor's bytes arrive intact, progress is reported, a
 * cancelled or bad load fails cleanly and frees what it took. */
#include <stdlib.h>
#include <string.h>

#include "engine/model/model.h"
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
    for (uint64_t i = 0; i < m->n_tensors; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(m->gguf, i);
        void *back = malloc(t->size);
        CU_ASSERT_FATAL(vkslm_vk_download(vk, &m->bufs[i], 0, back, t->size) == VKSLM_OK);
        CU_ASSERT_EQUAL(memcmp(back, t->data, t->size), 0);
        free(back);
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

int main(void) {
    static const vkslm_test tests[] = {
        {"weights arrive on the device intact, with progress", test_weights_arrive_intact},
        {"a cancelled load and a vocab-only file fail cleanly", test_cancel_and_refusal},
        {NULL, NULL},
    };
    return test_run_suite("gpu_model_load", tests);
}
