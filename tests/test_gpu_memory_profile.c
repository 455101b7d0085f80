/* Memory-constrained devices: under the phone-1gib profile (a 1 GiB device-local heap), a model that needs more
 * is refused before any of its weights is allocated, with a message giving what it needs and what the device
 * has; synthetic qwen2.5-0.5b in Q4_0 (334 MiB of weights) loads through the 16 MiB staging ring and
 * generates. Both models are written with mkmodel's writer into TMPDIR and removed afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "vkslm.h"
#include "vkslm_gguf.h"

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_memprofile_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag,
             (int)getpid());
}

static vkslm_status write_model(const char *path, const vkslm_synth_shape *shape, vkslm_ftype type) {
    vkslm_synth_params p = {.shape = *shape, .ftype = type, .seed = 1};
    vkslm_status st = vkslm_synth_write(path, &p);
    if (st != VKSLM_OK)
        fprintf(stderr, "  writing %s: %s\n", path, vkslm_last_error());
    return st;
}

static vkslm_status load(const char *path, vkslm_model **m) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    *m = NULL;
    return vkslm_model_load(path, &mp, m);
}

/* 303.5M F32 parameters (1158 MiB): one wide layer and an untied 140000-token vocabulary */
static void test_too_big_is_refused(void) {
    TEST_REQUIRE_GPU(test_gpu());
    vkslm_synth_shape s = vkslm_synth_shape_defaults(VKSLM_ARCH_LLAMA);
    s.n_layer = 1, s.n_embd = 1024, s.n_ff = 4096, s.n_head = 8, s.n_head_kv = 8, s.n_vocab = 140000;
    s.tied = 0;
    char path[512];
    tmp_path(path, sizeof path, "big");
    CU_ASSERT_EQUAL_FATAL(write_model(path, &s, VKSLM_FTYPE_ALL_F32), VKSLM_OK);
    setenv("VKSLM_DEVICE_PROFILE", "phone-1gib", 1);
    vkslm_model *m;
    vkslm_status st = load(path, &m);
    const char *msg = vkslm_last_error();
    fprintf(stderr, "  refused: %s\n", msg);
    CU_ASSERT_EQUAL(st, VKSLM_ERR_OUT_OF_DEVICE_MEMORY);
    CU_ASSERT_PTR_NULL(m);
    /* what it needs (its weights) and what the device has: the whole 1 GiB heap still free, so nothing was
     * allocated for the model before the refusal */
    char need[64];
    snprintf(need, sizeof need, "need %.1f MiB", (double)vkslm_synth_n_params(&s) * 4 / 1048576.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, need));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "1024.0 MiB of 1024.0 MiB are free"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "under profile phone-1gib"));
    vkslm_model_free(m);
    unsetenv("VKSLM_DEVICE_PROFILE");
    remove(path);
}

static void test_qwen_half_b_fits(void) {
    TEST_REQUIRE_GPU(test_gpu());
    char path[512];
    tmp_path(path, sizeof path, "qwen05");
    CU_ASSERT_EQUAL_FATAL(write_model(path, vkslm_synth_shape_find("qwen2.5-0.5b"), VKSLM_FTYPE_Q4_0), VKSLM_OK);
    setenv("VKSLM_DEVICE_PROFILE", "phone-1gib", 1);
    vkslm_model *m;
    vkslm_status st = load(path, &m);
    if (st != VKSLM_OK)
        fprintf(stderr, "  qwen2.5-0.5b Q4_0 under phone-1gib: %s\n", vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    if (st == VKSLM_OK) {
        vkslm_session_params sp = vkslm_session_default_params();
        sp.n_ctx = 64;
        vkslm_session *s = NULL;
        st = vkslm_session_create(m, &sp, &s);
        CU_ASSERT_EQUAL(st, VKSLM_OK);
        if (st == VKSLM_OK) {
            vkslm_generate_params gp = vkslm_generate_default_params();
            gp.max_tokens = 4;
            vkslm_generate_result r;
            st = vkslm_generate(s, "Once upon a time", &gp, &r);
            if (st != VKSLM_OK)
                fprintf(stderr, "  generate: %s\n", vkslm_last_error());
            CU_ASSERT_EQUAL(st, VKSLM_OK);
            CU_ASSERT_EQUAL(r.n_tokens, 4);
        }
        vkslm_session_free(s);
        CU_ASSERT_EQUAL(vkslm_model_validation_messages(m), 0);
    }
    vkslm_model_free(m);
    unsetenv("VKSLM_DEVICE_PROFILE");
    remove(path);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"a model over the phone-1gib heap is refused before allocation, saying need and have", test_too_big_is_refused},
        {"synthetic qwen2.5-0.5b Q4_0 loads and generates under phone-1gib", test_qwen_half_b_fits},
        {NULL, NULL},
    };
    return test_run_suite("gpu_memory_profile", tests);
}
