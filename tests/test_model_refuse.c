/* No silently wrong models: a file that asks for a computation vkslm's graph does not implement (a
 * hyperparameter key with a value other than "off", a key vkslm does not know, a tensor the graph would not
 * read) is refused when it loads, with one message naming the key or tensor; the same key with its "off"
 * value, rope scaling keys (the rope branch's) and general./tokenizer. keys load; every shared test model
 * (models/rope/ aside) still loads. Each case copies a small mkmodel file of the architecture and adds one
 * key or tensor. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/model/arch.h"
#include "engine/model/synth.h"
#include "engine/model/tensors.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf_write.h"
#include "tests/harness.h"

static const vkslm_arch archs[] = {VKSLM_ARCH_LLAMA, VKSLM_ARCH_QWEN2, VKSLM_ARCH_PHI3, VKSLM_ARCH_GEMMA,
                                   VKSLM_ARCH_GEMMA2};
#define N_ARCHS (sizeof archs / sizeof *archs)

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_refuse_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag,
             (int)getpid());
}

/* The base model of an architecture: 2 layers, n_embd 64, F32 weights (written once per run). */
static const char *base_model(vkslm_arch arch) {
    static char paths[8][512];
    char *p = paths[arch];
    if (p[0])
        return p;
    tmp_path(p, sizeof paths[0], vkslm_arch_name(arch));
    vkslm_synth_shape s = vkslm_synth_shape_defaults(arch);
    s.n_layer = 2;
    s.n_embd = 64;
    s.n_ff = 128;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_vocab = 300;
    s.n_ctx = 256;
    vkslm_synth_params sp = {s, VKSLM_FTYPE_ALL_F32, 1, 1, NULL, NULL};
    CU_ASSERT_FATAL(vkslm_synth_write(p, &sp) == VKSLM_OK);
    return p;
}

/* One extra key: "<arch>.<suffix>", or the whole key after a '='. */
typedef enum { V_U32, V_I32, V_F32, V_BOOL, V_I32_ARR, V_STR } vkind;
typedef struct extra_key {
    const char *suffix; /* after "<arch>.", or a whole key when it starts with '=' */
    vkind kind;
    double value;       /* every element for V_I32_ARR (4 of them); V_STR writes "x" */
} extra_key;

static void key_name(char *buf, size_t cap, vkslm_arch arch, const char *suffix) {
    if (suffix[0] == '=')
        snprintf(buf, cap, "%s", suffix + 1);
    else
        snprintf(buf, cap, "%s.%s", vkslm_arch_name(arch), suffix);
}

static vkslm_status write_key(vkslm_gguf_writer *w, const char *key, const extra_key *k) {
    switch (k->kind) {
    case V_U32: return vkslm_gguf_write_u32(w, key, (uint32_t)k->value);
    case V_I32: return vkslm_gguf_write_i32(w, key, (int32_t)k->value);
    case V_F32: return vkslm_gguf_write_f32(w, key, (float)k->value);
    case V_BOOL: return vkslm_gguf_write_bool(w, key, k->value != 0);
    case V_STR: return vkslm_gguf_write_str(w, key, "x");
    case V_I32_ARR: {
        int32_t v[4] = {(int32_t)k->value, (int32_t)k->value, (int32_t)k->value, (int32_t)k->value};
        return vkslm_gguf_write_arr(w, key, VKSLM_GGUF_INT32, v, 4);
    }
    }
    return VKSLM_ERR_INVALID_ARG;
}

/* Copies src to dst with the key `add` (may be NULL; it replaces a key of that name) and a zero F32 tensor
 * `tensor` of shape ne (may be NULL) added. */
static void rewrite(const char *src, const char *dst, vkslm_arch arch, const extra_key *add, const char *tensor,
                    const uint64_t ne[2]) {
    vkslm_gguf *g;
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(src, &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(dst, 32, &w) == VKSLM_OK);
    vkslm_status st = VKSLM_OK;
    char key[256] = "";
    if (add)
        key_name(key, sizeof key, arch, add->suffix);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g) && st == VKSLM_OK; i++)
        if (!vkslm_str_eq(vkslm_gguf_kv_key(g, i), key))
            st = vkslm_gguf_writer_copy_kv(w, g, i);
    if (add && st == VKSLM_OK)
        st = write_key(w, key, add);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g) && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        st = vkslm_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne);
    }
    if (tensor && st == VKSLM_OK)
        st = vkslm_gguf_writer_add_tensor(w, tensor, VKSLM_TYPE_F32, ne[1] > 1 ? 2 : 1, ne);
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g) && st == VKSLM_OK; i++)
        st = vkslm_gguf_writer_write(w, vkslm_gguf_tensor_at(g, i)->data, vkslm_gguf_tensor_at(g, i)->size);
    if (tensor && st == VKSLM_OK) {
        float *zeros = calloc(ne[0] * ne[1], sizeof *zeros);
        CU_ASSERT_FATAL(zeros != NULL);
        st = vkslm_gguf_writer_write(w, zeros, ne[0] * ne[1] * sizeof *zeros);
        free(zeros);
    }
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_close(w);
    else
        vkslm_gguf_writer_abort(w);
    if (st != VKSLM_OK)
        fprintf(stderr, "rewrite %s: %s\n", dst, vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    vkslm_gguf_close(g);
}

/* Loads path as a model (hyperparameters, then the tensor table, as vkslm_model_load does): the status,
 * with the message in msg. */
static vkslm_status load(const char *path, char *msg, size_t cap) {
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_model_weights w;
    vkslm_status st = vkslm_gguf_open_file(path, &g);
    if (st != VKSLM_OK) {
        snprintf(msg, cap, "%s", vkslm_last_error());
        return st;
    }
    st = vkslm_hparams_load(g, &hp);
    if (st == VKSLM_OK)
        st = vkslm_model_weights_bind(g, &hp, &w);
    snprintf(msg, cap, "%s", st == VKSLM_OK ? "" : vkslm_last_error());
    if (st == VKSLM_OK)
        vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
    return st;
}

/* The file of arch with key k added: refused (naming the key) or loading, as `refused` says. */
static void check_key(vkslm_arch arch, const extra_key *k, int refused) {
    char path[512], msg[1024], key[256];
    tmp_path(path, sizeof path, "case");
    rewrite(base_model(arch), path, arch, k, NULL, NULL);
    vkslm_status st = load(path, msg, sizeof msg);
    key_name(key, sizeof key, arch, k->suffix);
    int ok = refused ? st == VKSLM_ERR_UNSUPPORTED && strstr(msg, key) != NULL : st == VKSLM_OK;
    if (!ok)
        fprintf(stderr, "%s with %s: status %d (%s), expected %s\n", vkslm_arch_name(arch), key, (int)st, msg,
                refused ? "refused naming the key" : "loaded");
    else if (refused)
        printf("  %s\n", msg);
    CU_ASSERT(ok);
    remove(path);
}

/* Keys every architecture refuses with the value given and accepts with its "off" value. */
static void test_keys_refused_everywhere(void) {
    static const struct {
        extra_key bad, off;
    } cases[] = {
        {{"expert_count", V_U32, 8}, {"expert_count", V_U32, 0}},
        {{"expert_used_count", V_U32, 2}, {"expert_used_count", V_U32, 0}},
        {{"nextn_predict_layers", V_U32, 1}, {"nextn_predict_layers", V_U32, 0}},
        {{"pooling_type", V_U32, 2}, {"pooling_type", V_U32, 0}}, /* CLS: refused; mean and last load */
        {{"pooling_type", V_U32, 4}, {"pooling_type", V_U32, 1}},
        {{"pooling_type", V_U32, 7}, {"pooling_type", V_U32, 3}},
        {{"use_parallel_residual", V_BOOL, 1}, {"use_parallel_residual", V_BOOL, 0}},
        {{"attention.causal", V_BOOL, 0}, {"attention.causal", V_BOOL, 1}},
        {{"rope.dimension_sections", V_I32_ARR, 2}, {"rope.dimension_sections", V_I32_ARR, 0}},
        {{"rope.freq_base_swa", V_F32, 12345}, {"expert_group_count", V_U32, 0}},
        {{"attention.key_length_swa", V_U32, 8}, {"attention.key_length_swa", V_U32, 16}},
        {{"embedding_length_out", V_U32, 32}, {"embedding_length_out", V_U32, 64}},
        {{"logit_scale", V_F32, 0.5}, {"logit_scale", V_F32, 1}},
        {{"attention.scale", V_F32, 0.5}, {"attention.scale", V_F32, 0}},
        {{"attention.max_alibi_bias", V_F32, 8}, {"attention.max_alibi_bias", V_F32, 0}},
        {{"router_logit_softcapping", V_F32, 30}, {"router_logit_softcapping", V_F32, 0}},
        {{"expert_gating_func", V_U32, 2}, {"leading_dense_block_count", V_U32, 0}},
        {{"ssm.conv_kernel", V_U32, 4}, {"vocab_size", V_U32, 300}},        /* unknown to vkslm / inert */
        {{"hidden_activation", V_STR, 0}, {"attention.layer_norm_epsilon", V_F32, 1e-5}},
    };
    for (size_t a = 0; a < N_ARCHS; a++)
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            check_key(archs[a], &cases[i].bad, 1);
            check_key(archs[a], &cases[i].off, 0);
        }
}

/* Soft-capping and sliding windows load where the graph implements them and are refused elsewhere. */
static void test_keys_per_arch(void) {
    static const extra_key attn_cap = {"attn_logit_softcapping", V_F32, 50}, final_cap = {"final_logit_softcapping",
                                                                                          V_F32, 30};
    static const extra_key swa = {"attention.sliding_window", V_U32, 64}, swa_off = {"attention.sliding_window",
                                                                                      V_U32, 0};
    static const extra_key pattern2 = {"attention.sliding_window_pattern", V_U32, 2},
                           pattern3 = {"attention.sliding_window_pattern", V_U32, 3};
    for (size_t a = 0; a < N_ARCHS; a++) {
        vkslm_arch arch = archs[a];
        int gemma2 = arch == VKSLM_ARCH_GEMMA2, slides = gemma2 || arch == VKSLM_ARCH_PHI3;
        if (!gemma2) { /* gemma2's base model has both caps and a window already */
            check_key(arch, &attn_cap, 1);
            check_key(arch, &final_cap, 1);
            check_key(arch, &swa, !slides);
            check_key(arch, &swa_off, 0);
        }
        check_key(arch, &pattern3, 1);
        check_key(arch, &pattern2, !gemma2);
    }
}

/* Rope scaling keys are read by engine/model/rope_scaling.c, which refuses what it does not implement
 * (test_mkmodel checks those refusals, a non-zero yarn_log_multiplier among them); their neutral values
 * load here. general.* and tokenizer.* keys are outside the computation. */
static void test_keys_left_alone(void) {
    static const extra_key keys[] = {
        {"rope.scaling.yarn_beta_fast", V_F32, 32},  {"rope.scaling.yarn_log_multiplier", V_F32, 0},
        {"rope.scaling.alpha", V_F32, 1000},         {"rope.scaling.finetuned", V_BOOL, 1},
        {"rope.scale_linear", V_F32, 1},             {"=general.some_note", V_STR, 0},
        {"=tokenizer.ggml.some_flag", V_BOOL, 1},    {"=qwen3.expert_count", V_U32, 8}, /* another arch's key */
    };
    for (size_t a = 0; a < N_ARCHS; a++)
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            check_key(archs[a], &keys[i], 0);
}

/* Key and value head widths that differ are refused (the attention needs them equal). */
static void test_key_value_width(void) {
    for (size_t a = 0; a < N_ARCHS; a++) {
        const extra_key v = {"attention.value_length", V_U32, 32}; /* head_k stays 16 */
        char path[512], msg[1024];
        tmp_path(path, sizeof path, "kv");
        rewrite(base_model(archs[a]), path, archs[a], &v, NULL, NULL);
        CU_ASSERT_EQUAL(load(path, msg, sizeof msg), VKSLM_ERR_UNSUPPORTED);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "attention.key_length"));
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "attention.value_length"));
        printf("  %s\n", msg);
        remove(path);
    }
}

/* A tensor the graph would not read is refused, named; rope factors are the rope branch's. */
static void test_unused_tensors(void) {
    static const struct {
        vkslm_arch arch; /* UNKNOWN: every arch */
        const char *name;
        uint64_t ne[2];
        int refused;
    } cases[] = {
        {VKSLM_ARCH_UNKNOWN, "blk.0.attn_output.bias", {64, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "blk.1.attn_q_norm.weight", {16, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "blk.0.ffn_down.bias", {64, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "blk.1.ffn_gate_inp.weight", {64, 4}, 1},
        {VKSLM_ARCH_UNKNOWN, "blk.0.attn_output.scale", {1, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "token_embd_norm.weight", {64, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "output.bias", {300, 1}, 1},
        {VKSLM_ARCH_UNKNOWN, "blk.2.attn_norm.weight", {64, 1}, 1}, /* a layer past block_count */
        {VKSLM_ARCH_PHI3, "blk.0.attn_qkv.bias", {128, 1}, 1},
        {VKSLM_ARCH_LLAMA, "blk.0.post_attention_norm.weight", {64, 1}, 1},
        {VKSLM_ARCH_PHI3, "rope_factors_long.weight", {8, 1}, 0},
        {VKSLM_ARCH_PHI3, "rope_factors_short.weight", {8, 1}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t a = 0; a < N_ARCHS; a++) {
            if (cases[i].arch != VKSLM_ARCH_UNKNOWN && cases[i].arch != archs[a])
                continue;
            char path[512], msg[1024];
            tmp_path(path, sizeof path, "tensor");
            rewrite(base_model(archs[a]), path, archs[a], NULL, cases[i].name, cases[i].ne);
            vkslm_status st = load(path, msg, sizeof msg);
            int ok = cases[i].refused ? st == VKSLM_ERR_UNSUPPORTED && strstr(msg, cases[i].name) : st == VKSLM_OK;
            if (!ok)
                fprintf(stderr, "%s with tensor %s: status %d (%s)\n", vkslm_arch_name(archs[a]), cases[i].name,
                        (int)st, msg);
            else if (cases[i].refused && a == 0)
                printf("  %s\n", msg);
            CU_ASSERT(ok);
            remove(path);
        }
}

/* Every model of the shared test set loads (models/rope/ is the rope branch's). */
static void test_shared_models_load(void) {
    TEST_REQUIRE_DATA();
    static const char *const dirs[] = {"models", "models/quant"};
    int n = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        char dir[1024];
        test_data_path(dir, sizeof dir, dirs[d]);
        DIR *dp = opendir(dir);
        CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
                continue;
            char path[2048], msg[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            vkslm_status st = load(path, msg, sizeof msg);
            if (st != VKSLM_OK)
                fprintf(stderr, "%s: %s\n", path, msg);
            CU_ASSERT_EQUAL(st, VKSLM_OK);
            n++;
        }
        closedir(dp);
    }
    CU_ASSERT(n >= 22);
}

/* Gemma 2 27B (46 layers) scales scores by 1/sqrt(n_embd / n_head), as llama.cpp does; other sizes by
 * 1/sqrt(head_k). */
static void test_gemma2_27b_scale(void) {
    vkslm_hparams hp = {0};
    hp.arch = VKSLM_ARCH_GEMMA2;
    hp.n_embd = 4608;
    hp.n_head = 32;
    hp.n_embd_head_k = 128;
    hp.n_layer = 46;
    CU_ASSERT(fabsf(vkslm_arch_rules_of(&hp).attn_scale - 1.0f / 12.0f) < 1e-7f);
    hp.n_layer = 42;
    CU_ASSERT(fabsf(vkslm_arch_rules_of(&hp).attn_scale - 1.0f / sqrtf(128.0f)) < 1e-7f);
}

static void cleanup(void) {
    for (size_t a = 0; a < N_ARCHS; a++) {
        char p[512];
        tmp_path(p, sizeof p, vkslm_arch_name(archs[a]));
        remove(p);
    }
}

int main(void) {
    static const vkslm_test tests[] = {
        {"keys no architecture implements are refused, their off values load", test_keys_refused_everywhere},
        {"soft-caps and sliding windows load only where implemented", test_keys_per_arch},
        {"rope scaling, general and tokenizer keys are left alone", test_keys_left_alone},
        {"differing key and value head widths are refused", test_key_value_width},
        {"tensors the graph would not read are refused, named", test_unused_tensors},
        {"every shared test model still loads", test_shared_models_load},
        {"gemma2 27B scales attention as llama.cpp does", test_gemma2_27b_scale},
        {NULL, NULL},
    };
    int rc = test_run_suite("model_refuse", tests);
    cleanup();
    return rc;
}
