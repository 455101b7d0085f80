/* Synthetic models run: a file of every architecture from mkmodel loads through the public API and
 * generates a few tokens with finite logits; `vkslm run` works on one; a model declaring rope scaling
 * (linear, YaRN, LongRoPE) gives other logits than the same weights without it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/model/synth.h"
#include "tests/harness.h"
#include "vkslm.h"

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_gmk_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
}

static void run_arch(vkslm_arch arch, vkslm_ftype ft) {
    char path[512];
    tmp_path(path, sizeof path, vkslm_arch_name(arch));
    vkslm_synth_shape s = vkslm_synth_shape_defaults(arch);
    s.n_layer = 2;
    s.n_embd = 128;
    s.n_ff = 256;
    s.n_head = 4;
    s.n_head_kv = arch == VKSLM_ARCH_PHI3 ? 4 : 2;
    s.n_vocab = 512;
    s.n_ctx = 128;
    if (arch == VKSLM_ARCH_GEMMA2)
        s.sliding_window = 8; /* shorter than the test's tokens, so the window matters */
    vkslm_synth_params p = {s, ft, 11, 2, NULL, NULL};
    CU_ASSERT_FATAL(vkslm_synth_write(path, &p) == VKSLM_OK);

    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(path, &mp, &m);
    if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE) {
        test_skip("no Vulkan device");
        remove(path);
        return;
    }
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", vkslm_arch_name(arch), vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_STRING_EQUAL(vkslm_model_arch(m), vkslm_arch_name(arch));
    CU_ASSERT_EQUAL(vkslm_model_n_vocab(m), 512);
    vkslm_session *sess;
    CU_ASSERT_FATAL(vkslm_session_create(m, NULL, &sess) == VKSLM_OK);
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 6;
    vkslm_generate_result r;
    st = vkslm_generate(sess, "the quick brown fox", &gp, &r);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", vkslm_arch_name(arch), vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT(r.n_prompt_tokens >= 2 && r.n_prompt_tokens < 20); /* BOS + merged tokens */
    CU_ASSERT(r.n_tokens >= 1 && r.n_tokens <= 6);
    /* the logits after one more token through the plain eval path */
    int32_t last = r.tokens[r.n_tokens - 1];
    CU_ASSERT_FATAL(vkslm_session_eval(sess, &last, 1) == VKSLM_OK);
    const float *logits = vkslm_session_logits(sess);
    CU_ASSERT_FATAL(logits != NULL);
    int finite = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 512; i++) {
        finite &= isfinite(logits[i]) != 0;
        lo = logits[i] < lo ? logits[i] : lo;
        hi = logits[i] > hi ? logits[i] : hi;
    }
    CU_ASSERT(finite);
    CU_ASSERT(hi > lo); /* not a constant output */
    printf("\n  %-7s %-6s prompt %zu tokens, generated %zu, logits in [%.3f, %.3f]", vkslm_arch_name(arch),
           vkslm_ftype_name(ft), r.n_prompt_tokens, r.n_tokens, lo, hi);
    vkslm_session_free(sess);
    vkslm_model_free(m);
    remove(path);
}

static void test_every_arch(void) {
    run_arch(VKSLM_ARCH_LLAMA, VKSLM_FTYPE_Q4_0);
    run_arch(VKSLM_ARCH_QWEN2, VKSLM_FTYPE_Q8_0);
    run_arch(VKSLM_ARCH_PHI3, VKSLM_FTYPE_Q4_K_M);
    run_arch(VKSLM_ARCH_GEMMA, VKSLM_FTYPE_Q5_1);
    run_arch(VKSLM_ARCH_GEMMA2, VKSLM_FTYPE_Q6_K);
    printf("\n");
}

static void test_cli_run(void) {
    char path[512], cmd[2048], buf[1 << 14];
    tmp_path(path, sizeof path, "run");
    snprintf(cmd, sizeof cmd,
             VKSLM_CLI " mkmodel --arch llama --layers 2 --dim 64 --ffn 128 --heads 2 --kv-heads 1 --vocab 300 "
                       "--type Q4_1 -o %s 2>&1 && " VKSLM_CLI " run -m %s -p 'hello there' -n 4 --json 2>&1",
             path, path);
    int rc = test_run_command(cmd, buf, sizeof buf);
    if (strstr(buf, "No usable Vulkan driver")) {
        test_skip("no Vulkan driver");
        remove(path);
        return;
    }
    if (rc != 0)
        fprintf(stderr, "%s\n", buf);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"stop_reason\": \"length\"")); /* 4 tokens, no early stop */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"prompt_tokens\": [256, ")); /* BOS first */
    remove(path);
}

/* The logits after 40 fixed tokens in a session of n_ctx (malloc'd n_vocab floats); NULL without a device. */
static float *logits_of(const char *path, uint32_t n_ctx) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.validate = true;
    vkslm_model *m = NULL;
    vkslm_status st = vkslm_model_load(path, &mp, &m);
    if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE)
        return NULL;
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", path, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = n_ctx;
    vkslm_session *sess;
    CU_ASSERT_FATAL(vkslm_session_create(m, &sp, &sess) == VKSLM_OK);
    int32_t ids[40];
    for (int i = 0; i < 40; i++)
        ids[i] = (i * 37 + 11) % 512;
    CU_ASSERT_FATAL(vkslm_session_eval(sess, ids, 40) == VKSLM_OK);
    float *l = malloc(512 * sizeof *l);
    memcpy(l, vkslm_session_logits(sess), 512 * sizeof *l);
    vkslm_session_free(sess);
    vkslm_model_free(m);
    return l;
}

static double nmse(const float *a, const float *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return num / den;
}

/* Each scaling against the same weights unscaled: the logits move by far more than an NMSE of 1e-4
 * (LongRoPE in a session longer than its original context, so the long factors apply). */
static void test_rope_scaling_changes_logits(void) {
    static const struct {
        vkslm_arch arch;
        vkslm_synth_rope rope;
    } cases[] = {
        {VKSLM_ARCH_LLAMA, {VKSLM_ROPE_SCALING_LINEAR, 2.0f, 0}},
        {VKSLM_ARCH_QWEN2, {VKSLM_ROPE_SCALING_YARN, 4.0f, 0}},
        {VKSLM_ARCH_PHI3, {VKSLM_ROPE_SCALING_LONGROPE, 4.0f, 0}},
    };
    char plain[512], scaled[512];
    tmp_path(plain, sizeof plain, "rope_plain");
    tmp_path(scaled, sizeof scaled, "rope_scaled");
    for (int i = 0; i < 3; i++) {
        vkslm_synth_shape s = vkslm_synth_shape_defaults(cases[i].arch);
        s.n_layer = 2;
        s.n_embd = 128;
        s.n_ff = 256;
        s.n_head = 4;
        s.n_head_kv = 2;
        s.n_vocab = 512;
        s.n_ctx = 1024; /* original context 1024 / factor */
        vkslm_synth_params p = {s, VKSLM_FTYPE_F16, 21, 2, NULL, NULL};
        CU_ASSERT_FATAL(vkslm_synth_write(plain, &p) == VKSLM_OK);
        p.shape.rope_scaling = cases[i].rope;
        CU_ASSERT_FATAL(vkslm_synth_write(scaled, &p) == VKSLM_OK);
        float *a = logits_of(plain, 512), *b = a ? logits_of(scaled, 512) : NULL;
        if (!a) {
            test_skip("no Vulkan device");
            break;
        }
        double e = nmse(b, a, 512);
        printf("\n  %-6s %-8s factor %g: NMSE vs unscaled %.2e", vkslm_arch_name(cases[i].arch),
               vkslm_rope_scaling_name(cases[i].rope.type), (double)cases[i].rope.factor, e);
        CU_ASSERT(e > 1e-3);
        free(a), free(b);
    }
    printf("\n");
    remove(plain);
    remove(scaled);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"mkmodel files of every architecture generate through the public API", test_every_arch},
        {"vkslm run on a mkmodel file", test_cli_run},
        {"mkmodel's rope scaling changes the logits", test_rope_scaling_changes_logits},
        {NULL, NULL},
    };
    return test_run_suite("gpu_mkmodel", tests);
}
