/* Synthetic models and requantization: the named shapes carry the published numbers; files of every
 * architecture parse, bind to the tensor table and pass `vkslm info`; requantizing mkmodel's F16 file
 * gives the very bytes mkmodel writes directly; the type mixes agree with llama.cpp's own files; an
 * already quantized input is refused; rope scaling (linear, YaRN, LongRoPE) is written and read back, and
 * a scaling vkslm does not implement is refused at load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/model/convert.h"
#include "engine/model/hparams.h"
#include "engine/model/synth.h"
#include "engine/model/tensors.h"
#include "engine/tokenizer/tokenizer.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf_write.h"
#include "tests/harness.h"

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_mk_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
}

static vkslm_synth_shape small_shape(vkslm_arch arch, uint32_t n_embd, uint32_t n_layer) {
    vkslm_synth_shape s = vkslm_synth_shape_defaults(arch);
    s.n_layer = n_layer;
    s.n_embd = n_embd;
    s.n_ff = 2 * n_embd;
    s.n_head = 4;
    s.n_head_kv = arch == VKSLM_ARCH_PHI3 ? 4 : 2;
    s.n_vocab = 512;
    s.n_ctx = 256;
    return s;
}

static void make(const char *path, const vkslm_synth_shape *s, vkslm_ftype ft, uint64_t seed) {
    vkslm_synth_params p = {*s, ft, seed, 2, NULL, NULL};
    vkslm_status st = vkslm_synth_write(path, &p);
    if (st != VKSLM_OK)
        fprintf(stderr, "mkmodel: %s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
}

/* Published parameter counts (model cards) and shapes. */
static void test_named_shapes(void) {
    static const struct {
        const char *name;
        uint64_t params;
    } want[] = {
        {"smollm2-135m", 134515008ull},  {"smollm2-360m", 361821120ull}, {"qwen2.5-0.5b", 494032768ull},
        {"llama-3.2-1b", 1235814432ull}, /* 1,235,814,400 + the 32 rope_freqs factors */
        {"tinyllama-1.1b", 1100048384ull}, {"phi-3-mini", 3821079552ull}, {"gemma-2-2b", 2614341888ull},
    };
    int n = 0;
    for (const vkslm_synth_shape *s = vkslm_synth_shapes(); s->name; s++, n++) {
        CU_ASSERT(vkslm_synth_check(s) == VKSLM_OK);
    }
    CU_ASSERT_EQUAL(n, 7);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const vkslm_synth_shape *s = vkslm_synth_shape_find(want[i].name);
        CU_ASSERT_FATAL(s != NULL);
        uint64_t got = vkslm_synth_n_params(s);
        if (got != want[i].params)
            fprintf(stderr, "%s: %llu parameters, published %llu\n", want[i].name, (unsigned long long)got,
                    (unsigned long long)want[i].params);
        CU_ASSERT_EQUAL(got, want[i].params);
    }
    const vkslm_synth_shape *g = vkslm_synth_shape_find("gemma-2-2b");
    CU_ASSERT(g->head_dim == 256 && g->n_head == 8 && g->n_head_kv == 4 && g->tied && g->attn_softcap == 50.0f &&
              g->final_softcap == 30.0f && g->sliding_window == 4096);
    CU_ASSERT(vkslm_synth_shape_find("nonexistent") == NULL);
}

/* smollm2-135m in Q4_0: the metadata a reader sees is the published configuration. */
static void test_smollm2_metadata(void) {
    char path[512];
    tmp_path(path, sizeof path, "smollm2");
    vkslm_synth_params p = {*vkslm_synth_shape_find("smollm2-135m"), VKSLM_FTYPE_Q4_0, 7, 0, NULL, NULL};
    CU_ASSERT_FATAL(vkslm_synth_write(path, &p) == VKSLM_OK);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    vkslm_hparams hp;
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT(hp.arch == VKSLM_ARCH_LLAMA);
    CU_ASSERT(hp.n_layer == 30 && hp.n_embd == 576 && hp.n_ff == 1536 && hp.n_head == 9 && hp.n_head_kv == 3);
    CU_ASSERT(hp.n_embd_head_k == 64 && hp.n_rot == 64 && hp.n_ctx_train == 8192);
    CU_ASSERT(hp.rope_freq_base == 100000.0f && hp.norm_rms_eps == 1e-5f);
    CU_ASSERT(hp.n_vocab == 49152 && hp.bos_id == 256 && hp.eos_id == 257);
    uint32_t ft = 0, align = 0;
    CU_ASSERT(vkslm_gguf_get_u32(g, "general.file_type", &ft) == VKSLM_OK && ft == VKSLM_FTYPE_Q4_0);
    CU_ASSERT(vkslm_gguf_get_u32(g, "general.alignment", &align) == VKSLM_OK && align == 32);
    vkslm_model_weights w;
    CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
    CU_ASSERT(w.tied_output); /* tied embeddings: no output.weight */
    /* llama.cpp's rule: the tied embedding is the output matrix, rows of 576 are not a multiple of 256 */
    CU_ASSERT(w.tok_embd->type == VKSLM_TYPE_Q8_0);
    CU_ASSERT(w.layers[0].wq->type == VKSLM_TYPE_Q4_0 && w.layers[29].ffn_down->type == VKSLM_TYPE_Q4_0);
    CU_ASSERT(w.layers[0].attn_norm->type == VKSLM_TYPE_F32);
    vkslm_model_weights_free(&w);
    /* the tokenizer loads and round-trips text through merges */
    vkslm_tokenizer *tok;
    CU_ASSERT_FATAL(vkslm_tokenizer_load(g, &tok) == VKSLM_OK);
    int32_t ids[64];
    size_t n = 0;
    CU_ASSERT(vkslm_tokenize(tok, "the cat sat", 11, 1, 0, ids, 64, &n) == VKSLM_OK);
    CU_ASSERT(n >= 2 && n < 11 && ids[0] == 256); /* BOS, then fewer tokens than bytes: merges applied */
    vkslm_tokenizer_free(tok);
    vkslm_gguf_close(g);
    remove(path);
}

/* Every tensor's type, shape and bytes equal between two files. */
static int same_tensors(const char *a_path, const char *b_path, int verbose) {
    vkslm_gguf *a, *b;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(a_path, &a) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_gguf_open_file(b_path, &b) == VKSLM_OK);
    int same = vkslm_gguf_tensor_count(a) == vkslm_gguf_tensor_count(b);
    for (uint64_t i = 0; same && i < vkslm_gguf_tensor_count(a); i++) {
        const vkslm_gguf_tensor *x = vkslm_gguf_tensor_at(a, i), *y = vkslm_gguf_tensor_at(b, i);
        same = x->name.len == y->name.len && memcmp(x->name.ptr, y->name.ptr, x->name.len) == 0 &&
               x->type == y->type && x->size == y->size && memcmp(x->ne, y->ne, sizeof x->ne) == 0 &&
               memcmp(x->data, y->data, x->size) == 0;
        if (!same && verbose)
            fprintf(stderr, "tensor %.*s differs\n", (int)x->name.len, x->name.ptr);
    }
    vkslm_gguf_close(a);
    vkslm_gguf_close(b);
    return same;
}

/* mkmodel F16 -> quantize T == mkmodel T, byte for byte, across architectures and types. */
static void test_quantize_matches_mkmodel(void) {
    static const vkslm_ftype types[] = {VKSLM_FTYPE_Q4_0, VKSLM_FTYPE_Q4_1, VKSLM_FTYPE_Q5_0, VKSLM_FTYPE_Q5_1,
                                        VKSLM_FTYPE_Q8_0, VKSLM_FTYPE_Q4_K_M, VKSLM_FTYPE_Q6_K};
    static const vkslm_arch archs[] = {VKSLM_ARCH_LLAMA, VKSLM_ARCH_QWEN2, VKSLM_ARCH_PHI3, VKSLM_ARCH_GEMMA2};
    char f16[512], direct[512], requant[512];
    tmp_path(f16, sizeof f16, "f16");
    tmp_path(direct, sizeof direct, "direct");
    tmp_path(requant, sizeof requant, "requant");
    for (size_t a = 0; a < sizeof archs / sizeof *archs; a++) {
        vkslm_synth_shape s = small_shape(archs[a], 256, 3);
        make(f16, &s, VKSLM_FTYPE_F16, 42);
        for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
            make(direct, &s, types[t], 42);
            CU_ASSERT_FATAL(vkslm_model_quantize(f16, requant, types[t], 2, NULL, NULL) == VKSLM_OK);
            int same = same_tensors(direct, requant, 1);
            if (!same)
                fprintf(stderr, "%s %s: requantized file differs from the direct one\n", vkslm_arch_name(archs[a]),
                        vkslm_ftype_name(types[t]));
            CU_ASSERT(same);
            vkslm_gguf *g;
            uint32_t ft = 0;
            CU_ASSERT_FATAL(vkslm_gguf_open_file(requant, &g) == VKSLM_OK);
            CU_ASSERT(vkslm_gguf_get_u32(g, "general.file_type", &ft) == VKSLM_OK && ft == (uint32_t)types[t]);
            vkslm_str name;
            CU_ASSERT(vkslm_gguf_get_str(g, "general.name", &name) == VKSLM_OK && name.len > 0);
            vkslm_gguf_close(g);
        }
    }
    /* a different seed gives different weights */
    vkslm_synth_shape s = small_shape(VKSLM_ARCH_LLAMA, 256, 1);
    make(direct, &s, VKSLM_FTYPE_Q4_0, 1);
    make(requant, &s, VKSLM_FTYPE_Q4_0, 2);
    CU_ASSERT(!same_tensors(direct, requant, 0));
    remove(f16);
    remove(direct);
    remove(requant);
}

/* The Q4_K_M mix on 8 layers: attn_v and ffn_down get Q6_K on layers 0, 3, 6, 7 (use_more_bits). */
static void test_q4_k_m_layers(void) {
    char path[512];
    tmp_path(path, sizeof path, "mix");
    vkslm_synth_shape s = small_shape(VKSLM_ARCH_LLAMA, 256, 8);
    s.n_vocab = 300;
    make(path, &s, VKSLM_FTYPE_Q4_K_M, 3);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    for (int il = 0; il < 8; il++) {
        char name[64];
        int more = il == 0 || il == 3 || il == 6 || il == 7;
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", il);
        CU_ASSERT(vkslm_gguf_find_tensor(g, name)->type == (more ? VKSLM_TYPE_Q6_K : VKSLM_TYPE_Q4_K));
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", il);
        CU_ASSERT(vkslm_gguf_find_tensor(g, name)->type == (more ? VKSLM_TYPE_Q6_K : VKSLM_TYPE_Q4_K));
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", il);
        CU_ASSERT(vkslm_gguf_find_tensor(g, name)->type == VKSLM_TYPE_Q4_K);
    }
    CU_ASSERT(vkslm_gguf_find_tensor(g, "output.weight")->type == VKSLM_TYPE_Q6_K);
    CU_ASSERT(vkslm_gguf_find_tensor(g, "token_embd.weight")->type == VKSLM_TYPE_Q4_K);
    vkslm_gguf_close(g);
    remove(path);
}

/* Requantizing llama.cpp's F16 test model gives the tensor types llama.cpp's quantize chose. */
static void test_mix_matches_llama_cpp(void) {
    TEST_REQUIRE_DATA();
    static const char *const types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K_M", "Q6_K"};
    char src[1024], ref[1024], rel[256], out[512];
    test_data_path(src, sizeof src, "models/quant/tiny-llama-256-random-F16.gguf");
    tmp_path(out, sizeof out, "llamacpp");
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        vkslm_ftype ft;
        CU_ASSERT_FATAL(vkslm_ftype_from_name(types[t], &ft));
        snprintf(rel, sizeof rel, "models/quant/tiny-llama-256-random-%s.gguf", types[t]);
        test_data_path(ref, sizeof ref, rel);
        CU_ASSERT_FATAL(vkslm_model_quantize(src, out, ft, 2, NULL, NULL) == VKSLM_OK);
        vkslm_gguf *a, *b;
        CU_ASSERT_FATAL(vkslm_gguf_open_file(out, &a) == VKSLM_OK);
        CU_ASSERT_FATAL(vkslm_gguf_open_file(ref, &b) == VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_gguf_tensor_count(a), vkslm_gguf_tensor_count(b));
        CU_ASSERT_EQUAL(vkslm_gguf_kv_count(a), vkslm_gguf_kv_count(b));
        for (uint64_t i = 0; i < vkslm_gguf_tensor_count(b); i++) {
            const vkslm_gguf_tensor *y = vkslm_gguf_tensor_at(b, i);
            char name[96];
            snprintf(name, sizeof name, "%.*s", (int)y->name.len, y->name.ptr);
            const vkslm_gguf_tensor *x = vkslm_gguf_find_tensor(a, name);
            CU_ASSERT_FATAL(x != NULL);
            if (x->type != y->type)
                fprintf(stderr, "%s %s: %s, llama.cpp chose %s\n", types[t], name, vkslm_type_info(x->type)->name,
                        vkslm_type_info(y->type)->name);
            CU_ASSERT_EQUAL(x->type, y->type);
        }
        vkslm_gguf_close(a);
        vkslm_gguf_close(b);
    }
    remove(out);
}

static void test_refuses_quantized_input(void) {
    char q[512], out[512];
    tmp_path(q, sizeof q, "q4");
    tmp_path(out, sizeof out, "q4out");
    vkslm_synth_shape s = small_shape(VKSLM_ARCH_LLAMA, 64, 1);
    s.n_vocab = 300;
    make(q, &s, VKSLM_FTYPE_Q4_0, 5);
    CU_ASSERT(vkslm_model_quantize(q, out, VKSLM_FTYPE_Q8_0, 1, NULL, NULL) == VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "already quantized"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "Q4_0"));
    CU_ASSERT(access(out, F_OK) != 0);
    /* and through the CLI: exit status 1 and the message */
    char cmd[2048], buf[4096];
    snprintf(cmd, sizeof cmd, VKSLM_CLI " quantize %s %s Q4_0 2>&1", q, out);
    CU_ASSERT_EQUAL(test_run_command(cmd, buf, sizeof buf), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "already quantized"));
    remove(q);
}

/* `vkslm mkmodel` then `vkslm info` for every architecture (custom shapes, one each in a few types). */
static void test_cli_every_arch(void) {
    static const char *const archs[] = {"llama", "qwen2", "phi3", "gemma", "gemma2"};
    static const char *const types[] = {"Q4_0", "Q8_0", "F16", "Q4_K_M", "Q6_K"};
    char path[512], cmd[2048], buf[1 << 15];
    tmp_path(path, sizeof path, "cli");
    for (size_t a = 0; a < 5; a++) {
        snprintf(cmd, sizeof cmd,
                 VKSLM_CLI " mkmodel --arch %s --layers 2 --dim 64 --ffn 128 --heads 4 --kv-heads 2 --vocab 400 "
                           "--type %s --seed 9 -o %s 2>&1 && " VKSLM_CLI " info %s 2>&1",
                 archs[a], types[a], path, path);
        int rc = test_run_command(cmd, buf, sizeof buf);
        if (rc != 0)
            fprintf(stderr, "%s\n", buf);
        CU_ASSERT_EQUAL(rc, 0);
        char want[64];
        snprintf(want, sizeof want, "architecture:  %s\n", archs[a]);
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "vocab 400"));
    }
    /* usage errors: exit status 2 */
    snprintf(cmd, sizeof cmd, VKSLM_CLI " mkmodel --shape nonexistent --type Q4_0 -o %s >/dev/null 2>&1", path);
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof cmd, VKSLM_CLI " mkmodel --shape smollm2-135m --type Q3_K -o %s >/dev/null 2>&1", path);
    st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    remove(path);
}

/* The hyperparameters and factor tensors of a file mkmodel wrote with rope scaling r (ctx 1024). */
static void check_scaling(const char *path, vkslm_arch arch, vkslm_synth_rope r, uint32_t want_orig,
                          float want_attn) {
    vkslm_synth_shape s = small_shape(arch, 64, 2);
    s.n_ctx = 1024;
    s.rope_scaling = r;
    make(path, &s, VKSLM_FTYPE_Q8_0, 3);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    vkslm_hparams hp;
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT_EQUAL(hp.rope_scaling, r.type);
    CU_ASSERT_EQUAL(hp.rope_scaling_factor, r.type == VKSLM_ROPE_SCALING_LONGROPE ? 0.0f : r.factor);
    CU_ASSERT_EQUAL(hp.rope_scaling_orig_ctx, want_orig);
    CU_ASSERT(fabsf(hp.rope_scaling_attn_factor - want_attn) < 1e-6f);
    CU_ASSERT(hp.rope_yarn_ext_factor == -1.0f && hp.rope_yarn_beta_fast == 32.0f && hp.rope_yarn_beta_slow == 1.0f);
    vkslm_model_weights w;
    CU_ASSERT_FATAL(vkslm_model_weights_bind(g, &hp, &w) == VKSLM_OK);
    int longrope = r.type == VKSLM_ROPE_SCALING_LONGROPE;
    CU_ASSERT_EQUAL(w.rope_long != NULL, longrope);
    CU_ASSERT_EQUAL(w.rope_short != NULL, longrope);
    if (longrope) { /* F32 [n_rot/2]: long from 1 to the factor, short their fourth root */
        const float *lf = (const float *)w.rope_long->data, *sf = (const float *)w.rope_short->data;
        uint64_t n = w.rope_long->n_elems;
        CU_ASSERT(w.rope_long->type == VKSLM_TYPE_F32 && n == hp.n_rot / 2);
        CU_ASSERT(lf[0] == 1.0f && fabsf(lf[n - 1] - r.factor) < 1e-4f);
        CU_ASSERT(fabsf(sf[n - 1] - powf(r.factor, 0.25f)) < 1e-4f);
    }
    vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
}

/* mkmodel's rope scaling, through the API and the CLI. */
static void test_rope_scaling(void) {
    char path[512];
    tmp_path(path, sizeof path, "rope");
    check_scaling(path, VKSLM_ARCH_LLAMA, (vkslm_synth_rope){VKSLM_ROPE_SCALING_LINEAR, 2.0f, 0}, 1024, 1.0f);
    check_scaling(path, VKSLM_ARCH_LLAMA, (vkslm_synth_rope){VKSLM_ROPE_SCALING_LINEAR, 2.0f, 512}, 512, 1.0f);
    check_scaling(path, VKSLM_ARCH_QWEN2, (vkslm_synth_rope){VKSLM_ROPE_SCALING_YARN, 4.0f, 0}, 256, 1.0f);
    check_scaling(path, VKSLM_ARCH_PHI3, (vkslm_synth_rope){VKSLM_ROPE_SCALING_LONGROPE, 4.0f, 0}, 256,
                  sqrtf(1.0f + logf(4.0f) / logf(256.0f)));
    /* longrope is Phi-3's; a factor is needed */
    vkslm_synth_shape s = small_shape(VKSLM_ARCH_LLAMA, 64, 2);
    s.rope_scaling = (vkslm_synth_rope){VKSLM_ROPE_SCALING_LONGROPE, 4.0f, 0};
    CU_ASSERT_EQUAL(vkslm_synth_check(&s), VKSLM_ERR_INVALID_ARG);
    s.rope_scaling = (vkslm_synth_rope){VKSLM_ROPE_SCALING_YARN, 0.0f, 0};
    CU_ASSERT_EQUAL(vkslm_synth_check(&s), VKSLM_ERR_INVALID_ARG);
    /* the CLI writes the same keys; info shows them */
    char cmd[2048], buf[1 << 15];
    snprintf(cmd, sizeof cmd,
             VKSLM_CLI " mkmodel --arch qwen2 --layers 2 --dim 64 --ffn 128 --heads 4 --kv-heads 2 --vocab 400 "
                       "--type F16 --ctx 2048 --rope-scaling yarn --rope-factor 4 --rope-orig-ctx 300 -o %s 2>&1 && "
                       VKSLM_CLI " info %s 2>&1", path, path);
    CU_ASSERT_EQUAL(test_run_command(cmd, buf, sizeof buf), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "scaling yarn (factor 4, original context 300)"));
    snprintf(cmd, sizeof cmd,
             VKSLM_CLI " mkmodel --arch phi3 --layers 2 --dim 64 --ffn 128 --heads 4 --kv-heads 4 --vocab 400 "
                       "--type Q4_0 --ctx 1024 --rope-scaling longrope --rope-factor 4 -o %s 2>&1 && "
                       VKSLM_CLI " info %s 2>&1", path, path);
    CU_ASSERT_EQUAL(test_run_command(cmd, buf, sizeof buf), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "scaling longrope (original context 256, attention factor 1.11803)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "rope_factors_long.weight"));
    static const char *const bad[] = {"--rope-scaling dynamic --rope-factor 2", "--rope-scaling linear",
                                      "--rope-factor 2", "--rope-scaling yarn --rope-factor 0"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd,
                 VKSLM_CLI " mkmodel --arch llama --layers 1 --dim 64 --ffn 64 --heads 4 --kv-heads 2 --vocab 300 "
                           "--type F16 %s -o %s >/dev/null 2>&1", bad[i], path);
        int st = system(cmd);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    }
    remove(path);
}

/* Copies in_path to out_path without the key `drop` (NULL: none) and with one string or float key added. */
static void rewrite(const char *in_path, const char *out_path, const char *drop, const char *key, const char *sval,
                    float fval) {
    vkslm_gguf *g;
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(in_path, &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(out_path, 32, &w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++) {
        vkslm_str k = vkslm_gguf_kv_key(g, i);
        if (!drop || !vkslm_str_eq(k, drop))
            CU_ASSERT_FATAL(vkslm_gguf_writer_copy_kv(w, g, i) == VKSLM_OK);
    }
    CU_ASSERT_FATAL((sval ? vkslm_gguf_write_str(w, key, sval) : vkslm_gguf_write_f32(w, key, fval)) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        CU_ASSERT_FATAL(vkslm_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == VKSLM_OK);
    }
    CU_ASSERT_FATAL(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        CU_ASSERT_FATAL(vkslm_gguf_writer_write(w, t->data, t->size) == VKSLM_OK);
    }
    CU_ASSERT_FATAL(vkslm_gguf_writer_close(w) == VKSLM_OK);
    vkslm_gguf_close(g);
}

/* Loading a file with rope.* edited: returns the status of hparams then tensor binding. */
static vkslm_status load_status(const char *path) {
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    vkslm_hparams hp;
    vkslm_model_weights w;
    vkslm_status st = vkslm_hparams_load(g, &hp);
    if (st == VKSLM_OK && (st = vkslm_model_weights_bind(g, &hp, &w)) == VKSLM_OK)
        vkslm_model_weights_free(&w);
    vkslm_gguf_close(g);
    return st;
}

/* A scaling vkslm does not implement is refused with a message naming it, never ignored; the YaRN keys
 * are read. */
static void test_rope_scaling_refused(void) {
    char base[512], path[512];
    tmp_path(base, sizeof base, "rope_base");
    tmp_path(path, sizeof path, "rope_edit");
    vkslm_synth_shape s = small_shape(VKSLM_ARCH_QWEN2, 64, 1);
    s.rope_scaling = (vkslm_synth_rope){VKSLM_ROPE_SCALING_YARN, 4.0f, 0};
    make(base, &s, VKSLM_FTYPE_F16, 3);
    rewrite(base, path, "qwen2.rope.scaling.type", "qwen2.rope.scaling.type", "dynamic", 0);
    CU_ASSERT_EQUAL(load_status(path), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "rope scaling type 'dynamic'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "not supported"));
    rewrite(base, path, NULL, "qwen2.rope.scaling.yarn_log_multiplier", NULL, 0.1f);
    CU_ASSERT_EQUAL(load_status(path), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "qwen2.rope.scaling.yarn_log_multiplier"));
    rewrite(base, path, "qwen2.rope.scaling.type", "qwen2.rope.scaling.type", "longrope", 0); /* no factors */
    CU_ASSERT_EQUAL(load_status(path), VKSLM_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "longrope without its factors"));
    rewrite(base, path, NULL, "qwen2.rope.scaling.yarn_beta_fast", NULL, 16.0f);
    CU_ASSERT_EQUAL(load_status(path), VKSLM_OK);
    vkslm_gguf *g;
    vkslm_hparams hp;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(path, &g) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_hparams_load(g, &hp) == VKSLM_OK);
    CU_ASSERT(hp.rope_yarn_beta_fast == 16.0f && hp.rope_yarn_beta_slow == 1.0f);
    vkslm_gguf_close(g);
    remove(base);
    remove(path);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"named shapes carry the published numbers", test_named_shapes},
        {"smollm2-135m Q4_0: published hyperparameters, tied embedding, working tokenizer", test_smollm2_metadata},
        {"quantize of mkmodel's F16 file equals mkmodel's direct output", test_quantize_matches_mkmodel},
        {"Q4_K_M gives Q6_K to attn_v and ffn_down on use_more_bits layers", test_q4_k_m_layers},
        {"type mixes match llama.cpp's quantize on its test model", test_mix_matches_llama_cpp},
        {"an already quantized input is refused", test_refuses_quantized_input},
        {"mkmodel and info through the CLI for every architecture", test_cli_every_arch},
        {"mkmodel writes linear, YaRN and LongRoPE scaling; it reads back", test_rope_scaling},
        {"rope scaling vkslm does not implement is refused at load", test_rope_scaling_refused},
        {NULL, NULL},
    };
    return test_run_suite("mkmodel", tests);
}
