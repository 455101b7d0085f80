/* Synthetic models (see synth.h): the named shapes, the tensor list and metadata of each architecture as
 * llama.cpp's converter writes them, and seeded weights converted on several threads. */
#include "engine/model/synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/model/convert.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/half.h"
#include "engine/util/rng.h"
#include "loaders/ggml_types.h"

/* Published configurations (the models' config.json on Hugging Face). */
static const vkslm_synth_shape shapes[] = {
    /* name            arch               L   E     F     H   KV  hd   V       ctx     rope_base  eps  tied swa caps   llama3
     * rope scaling */
    {"smollm2-135m", VKSLM_ARCH_LLAMA, 30, 576, 1536, 9, 3, 64, 49152, 8192, 100000.0f, 1e-5f, 1, 0, 0, 0, 0, {0}},
    {"smollm2-360m", VKSLM_ARCH_LLAMA, 32, 960, 2560, 15, 5, 64, 49152, 8192, 100000.0f, 1e-5f, 1, 0, 0, 0, 0, {0}},
    {"qwen2.5-0.5b", VKSLM_ARCH_QWEN2, 24, 896, 4864, 14, 2, 64, 151936, 32768, 1000000.0f, 1e-6f, 1, 0, 0, 0, 0, {0}},
    {"llama-3.2-1b", VKSLM_ARCH_LLAMA, 16, 2048, 8192, 32, 8, 64, 128256, 131072, 500000.0f, 1e-5f, 1, 0, 0, 0, 1, {0}},
    {"tinyllama-1.1b", VKSLM_ARCH_LLAMA, 22, 2048, 5632, 32, 4, 64, 32000, 2048, 10000.0f, 1e-5f, 0, 0, 0, 0, 0, {0}},
    {"phi-3-mini", VKSLM_ARCH_PHI3, 32, 3072, 8192, 32, 32, 96, 32064, 4096, 10000.0f, 1e-5f, 0, 2047, 0, 0, 0, {0}},
    {"gemma-2-2b", VKSLM_ARCH_GEMMA2, 26, 2304, 9216, 8, 4, 256, 256000, 8192, 10000.0f, 1e-6f, 1, 4096, 50.0f, 30.0f, 0,
     {0}},
    {NULL, VKSLM_ARCH_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0}},
};

const vkslm_synth_shape *vkslm_synth_shapes(void) { return shapes; }

const vkslm_synth_shape *vkslm_synth_shape_find(const char *name) {
    for (const vkslm_synth_shape *s = shapes; name && s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

vkslm_synth_shape vkslm_synth_shape_defaults(vkslm_arch arch) {
    vkslm_synth_shape s = {0};
    s.arch = arch;
    s.n_ctx = 4096;
    s.rope_base = 10000.0f;
    s.norm_eps = 1e-5f;
    s.tied = arch == VKSLM_ARCH_QWEN2 || arch == VKSLM_ARCH_GEMMA || arch == VKSLM_ARCH_GEMMA2;
    if (arch == VKSLM_ARCH_QWEN2) {
        s.rope_base = 1000000.0f;
        s.norm_eps = 1e-6f;
    }
    if (arch == VKSLM_ARCH_GEMMA || arch == VKSLM_ARCH_GEMMA2)
        s.norm_eps = 1e-6f;
    if (arch == VKSLM_ARCH_GEMMA2) {
        s.sliding_window = 4096;
        s.attn_softcap = 50.0f;
        s.final_softcap = 30.0f;
    }
    return s;
}

static uint32_t head_dim(const vkslm_synth_shape *s) { return s->head_dim ? s->head_dim : s->n_embd / s->n_head; }

/* The original context of a scaled shape: given, or the context divided by the factor. */
static uint32_t rope_orig_ctx(const vkslm_synth_shape *s) {
    const vkslm_synth_rope *r = &s->rope_scaling;
    return r->orig_ctx ? r->orig_ctx : r->factor > 0.0f ? (uint32_t)((double)s->n_ctx / r->factor) : 0;
}

vkslm_status vkslm_synth_check(const vkslm_synth_shape *s) {
    if (!s)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: NULL shape");
    if (s->arch == VKSLM_ARCH_UNKNOWN)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: no architecture");
    if (!s->n_layer || !s->n_embd || !s->n_ff || !s->n_head || !s->n_head_kv || !s->n_ctx)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: layers, dim, ffn, heads, kv-heads and ctx must be positive");
    if (s->n_head % s->n_head_kv != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: heads %u is not a multiple of kv-heads %u", s->n_head,
                          s->n_head_kv);
    if (!s->head_dim && s->n_embd % s->n_head != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: dim %u is not a multiple of heads %u", s->n_embd, s->n_head);
    if (head_dim(s) % 2 != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: the head width %u must be even (rope rotates pairs)",
                          head_dim(s));
    if (s->n_vocab < vkslm_synth_vocab_min(s->arch) || s->n_vocab > vkslm_synth_vocab_max(s->arch))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: vocab %u outside the synthetic tokenizer's range %u..%u for %s",
                          s->n_vocab, vkslm_synth_vocab_min(s->arch), vkslm_synth_vocab_max(s->arch),
                          vkslm_arch_name(s->arch));
    const vkslm_synth_rope *r = &s->rope_scaling;
    if (r->type != VKSLM_ROPE_SCALING_NONE && !(r->factor > 0.0f && r->factor < 1e6f))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: rope scaling %s needs a factor > 0",
                          vkslm_rope_scaling_name(r->type));
    if (r->type == VKSLM_ROPE_SCALING_LONGROPE && s->arch != VKSLM_ARCH_PHI3)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: longrope scaling is Phi-3's (llama.cpp reads its factors "
                          "for phi3 only), not %s's", vkslm_arch_name(s->arch));
    if (r->type != VKSLM_ROPE_SCALING_NONE && rope_orig_ctx(s) == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: the original context (ctx %u / factor %g) is 0", s->n_ctx,
                          (double)r->factor);
    return VKSLM_OK;
}

/* ---- the tensor list ------------------------------------------------------------------------- */
typedef enum init_kind {
    INIT_WEIGHT, INIT_NORM, INIT_BIAS, INIT_ROPE_FREQS, INIT_ROPE_LONG, INIT_ROPE_SHORT
} init_kind;

typedef struct synth_tensor {
    char name[64];
    uint32_t n_dims;
    uint64_t ne[2];
    init_kind init;
} synth_tensor;

typedef struct tensor_list {
    synth_tensor *t;
    uint32_t n, cap;
} tensor_list;

static void add(tensor_list *l, init_kind init, uint64_t ne0, uint64_t ne1, const char *fmt, int layer) {
    if (l->n >= l->cap)
        return; /* the caller sized the list */
    synth_tensor *t = &l->t[l->n++];
    snprintf(t->name, sizeof t->name, fmt, layer);
    t->n_dims = ne1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->init = init;
}

/* Every tensor of the shape, in the order llama.cpp's converter writes them. */
static vkslm_status list_tensors(const vkslm_synth_shape *s, tensor_list *l) {
    l->cap = 6 + 16 * s->n_layer;
    l->t = VKSLM_CALLOC(l->cap, sizeof *l->t);
    if (!l->t)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    const uint64_t E = s->n_embd, F = s->n_ff, V = s->n_vocab, hd = head_dim(s);
    const uint64_t Q = s->n_head * hd, KV = s->n_head_kv * hd;
    const int phi3 = s->arch == VKSLM_ARCH_PHI3, qwen2 = s->arch == VKSLM_ARCH_QWEN2,
              gemma2 = s->arch == VKSLM_ARCH_GEMMA2;
    if (s->llama3_rope)
        add(l, INIT_ROPE_FREQS, hd / 2, 0, "rope_freqs.weight", 0);
    if (s->rope_scaling.type == VKSLM_ROPE_SCALING_LONGROPE) {
        add(l, INIT_ROPE_LONG, hd / 2, 0, "rope_factors_long.weight", 0);
        add(l, INIT_ROPE_SHORT, hd / 2, 0, "rope_factors_short.weight", 0);
    }
    add(l, INIT_WEIGHT, E, V, "token_embd.weight", 0);
    for (int il = 0; il < (int)s->n_layer; il++) {
        add(l, INIT_NORM, E, 0, "blk.%d.attn_norm.weight", il);
        if (phi3) {
            add(l, INIT_WEIGHT, E, Q + 2 * KV, "blk.%d.attn_qkv.weight", il);
        } else {
            add(l, INIT_WEIGHT, E, Q, "blk.%d.attn_q.weight", il);
            add(l, INIT_WEIGHT, E, KV, "blk.%d.attn_k.weight", il);
            add(l, INIT_WEIGHT, E, KV, "blk.%d.attn_v.weight", il);
            if (qwen2) {
                add(l, INIT_BIAS, Q, 0, "blk.%d.attn_q.bias", il);
                add(l, INIT_BIAS, KV, 0, "blk.%d.attn_k.bias", il);
                add(l, INIT_BIAS, KV, 0, "blk.%d.attn_v.bias", il);
            }
        }
        add(l, INIT_WEIGHT, Q, E, "blk.%d.attn_output.weight", il);
        if (gemma2)
            add(l, INIT_NORM, E, 0, "blk.%d.post_attention_norm.weight", il);
        add(l, INIT_NORM, E, 0, "blk.%d.ffn_norm.weight", il);
        if (phi3) {
            add(l, INIT_WEIGHT, E, 2 * F, "blk.%d.ffn_up.weight", il);
        } else {
            add(l, INIT_WEIGHT, E, F, "blk.%d.ffn_gate.weight", il);
            add(l, INIT_WEIGHT, E, F, "blk.%d.ffn_up.weight", il);
        }
        add(l, INIT_WEIGHT, F, E, "blk.%d.ffn_down.weight", il);
        if (gemma2)
            add(l, INIT_NORM, E, 0, "blk.%d.post_ffw_norm.weight", il);
    }
    add(l, INIT_NORM, E, 0, "output_norm.weight", 0);
    if (!s->tied)
        add(l, INIT_WEIGHT, E, V, "output.weight", 0);
    return VKSLM_OK;
}

uint64_t vkslm_synth_n_params(const vkslm_synth_shape *s) {
    tensor_list l = {0};
    uint64_t n = 0;
    if (s && list_tensors(s, &l) == VKSLM_OK)
        for (uint32_t i = 0; i < l.n; i++)
            n += l.t[i].ne[0] * l.t[i].ne[1];
    VKSLM_FREE(l.t);
    return n;
}

/* ---- metadata -------------------------------------------------------------------------------- */
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)

/* rope.scaling.* as llama.cpp's converters write them: linear and YaRN give type and factor (YaRN the
 * original context too); Phi-3's LongRoPE gives the original context and the attention factor
 * sqrt(1 + ln(factor) / ln(original context)), and no factor key (which llama.cpp would apply as linear
 * scaling on top of the LongRoPE factors). */
static vkslm_status write_rope_scaling(vkslm_gguf_writer *w, const vkslm_synth_shape *s) {
    const vkslm_synth_rope *r = &s->rope_scaling;
    const char *arch = vkslm_arch_name(s->arch);
    char key[128];
    if (r->type == VKSLM_ROPE_SCALING_NONE)
        return VKSLM_OK;
    VKSLM_TRY(vkslm_gguf_write_str(w, KEY("rope.scaling.type"), vkslm_rope_scaling_name(r->type)));
    if (r->type != VKSLM_ROPE_SCALING_LONGROPE)
        VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("rope.scaling.factor"), r->factor));
    if (r->type != VKSLM_ROPE_SCALING_LINEAR || r->orig_ctx)
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("rope.scaling.original_context_length"), rope_orig_ctx(s)));
    if (r->type == VKSLM_ROPE_SCALING_LONGROPE) {
        double orig = rope_orig_ctx(s), attn = 1.0;
        if (r->factor > 1.0f && orig > 1.0)
            attn = sqrt(1.0 + log((double)r->factor) / log(orig));
        VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("rope.scaling.attn_factor"), (float)attn));
    }
    return VKSLM_OK;
}

static vkslm_status write_metadata(vkslm_gguf_writer *w, const vkslm_synth_params *p) {
    const vkslm_synth_shape *s = &p->shape;
    const char *arch = vkslm_arch_name(s->arch);
    char key[128], name[96];
    if (s->name)
        snprintf(name, sizeof name, "synthetic %s", s->name);
    else
        snprintf(name, sizeof name, "synthetic %s %uL-%uE", arch, s->n_layer, s->n_embd);
    vkslm_ftype ft = p->ftype;
    int quantized = ft != VKSLM_FTYPE_ALL_F32 && ft != VKSLM_FTYPE_F16 && ft != VKSLM_FTYPE_BF16;
    const uint32_t hd = head_dim(s);
    VKSLM_TRY(vkslm_gguf_write_str(w, "general.architecture", arch));
    VKSLM_TRY(vkslm_gguf_write_str(w, "general.type", "model"));
    VKSLM_TRY(vkslm_gguf_write_str(w, "general.name", name));
    VKSLM_TRY(vkslm_gguf_write_u32(w, "general.alignment", 32));
    VKSLM_TRY(vkslm_gguf_write_u64(w, "general.seed", p->seed)); /* not a llama.cpp key: how it was made */
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("block_count"), s->n_layer));
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("context_length"), s->n_ctx));
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("embedding_length"), s->n_embd));
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("feed_forward_length"), s->n_ff));
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("attention.head_count"), s->n_head));
    VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("attention.head_count_kv"), s->n_head_kv));
    VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("rope.freq_base"), s->rope_base));
    VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("attention.layer_norm_rms_epsilon"), s->norm_eps));
    if (s->arch == VKSLM_ARCH_LLAMA || s->arch == VKSLM_ARCH_PHI3)
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("rope.dimension_count"), hd));
    if (s->arch == VKSLM_ARCH_GEMMA || s->arch == VKSLM_ARCH_GEMMA2 || hd != s->n_embd / s->n_head) {
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("attention.key_length"), hd));
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("attention.value_length"), hd));
    }
    if (s->arch == VKSLM_ARCH_LLAMA)
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("vocab_size"), s->n_vocab));
    if (s->sliding_window)
        VKSLM_TRY(vkslm_gguf_write_u32(w, KEY("attention.sliding_window"), s->sliding_window));
    if (s->attn_softcap > 0)
        VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("attn_logit_softcapping"), s->attn_softcap));
    if (s->final_softcap > 0)
        VKSLM_TRY(vkslm_gguf_write_f32(w, KEY("final_logit_softcapping"), s->final_softcap));
    VKSLM_TRY(write_rope_scaling(w, s));
    VKSLM_TRY(vkslm_gguf_write_u32(w, "general.file_type", (uint32_t)ft));
    if (quantized)
        VKSLM_TRY(vkslm_gguf_write_u32(w, "general.quantization_version", 2));
    return vkslm_synth_vocab_write(w, s->arch, s->n_vocab);
}

/* ---- weights --------------------------------------------------------------------------------- */
typedef struct gen_ctx {
    const vkslm_synth_shape *shape;
    const synth_tensor *t;
    uint64_t seed; /* of this tensor: the model seed mixed with the tensor name */
} gen_ctx;

static uint64_t hash_name(const char *s) { /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* Llama 3.1 rope scaling as llama.cpp's converter computes rope_freqs: frequency i is divided by 1 for
 * short wavelengths, by the factor for long ones, and smoothly between. */
static float llama3_rope_factor(const vkslm_synth_shape *s, uint64_t i) {
    const double factor = 32.0, low = 1.0, high = 4.0, orig = 8192.0, pi = 3.14159265358979323846;
    double freq = 1.0 / pow((double)s->rope_base, (double)(2 * i) / (double)head_dim(s));
    double wavelen = 2.0 * pi / freq;
    if (wavelen < orig / high)
        return 1.0f;
    if (wavelen > orig / low)
        return (float)factor;
    double smooth = (orig / wavelen - low) / (high - low);
    return (float)(1.0 / ((1.0 - smooth) / factor + smooth));
}

/* LongRoPE's per-pair divisors: the long factors rise geometrically from 1 (the fastest pair) to the
 * factor (the slowest); the short ones are their fourth root. */
static float longrope_factor(const vkslm_synth_shape *s, uint64_t i, int is_long) {
    uint64_t n = head_dim(s) / 2;
    double t = n > 1 ? (double)i / (double)(n - 1) : 0.0;
    double f = pow((double)s->rope_scaling.factor, t);
    return (float)(is_long ? f : pow(f, 0.25));
}

/* One row: approximately normal values (a sum of four uniforms) with std 0.02 around 0 (weights,
 * biases) or 1 (norms), rounded to F16 so that every file type starts from the same numbers. */
static vkslm_status gen_row(void *ctx, uint64_t row, float *out) {
    const gen_ctx *g = ctx;
    const uint64_t n = g->t->ne[0];
    if (g->t->init == INIT_ROPE_FREQS || g->t->init == INIT_ROPE_LONG || g->t->init == INIT_ROPE_SHORT) {
        for (uint64_t i = 0; i < n; i++)
            out[i] = g->t->init == INIT_ROPE_FREQS ? llama3_rope_factor(g->shape, i)
                                                   : longrope_factor(g->shape, i, g->t->init == INIT_ROPE_LONG);
        return VKSLM_OK;
    }
    vkslm_rng r;
    vkslm_rng_seed(&r, g->seed ^ (row * 0xd1b54a32d192ed03ull));
    const float scale = 0.02f * 1.7320508f / 32768.0f; /* sum of 4 U(-32768, 32768) has std 32768*2/sqrt(3) */
    const float mean = g->t->init == INIT_NORM ? 1.0f : 0.0f;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = vkslm_rng_u64(&r);
        int32_t sum = (int32_t)(u & 0xffff) + (int32_t)((u >> 16) & 0xffff) + (int32_t)((u >> 32) & 0xffff) +
                      (int32_t)(u >> 48) - 4 * 32768;
        out[i] = vkslm_f16_to_f32(vkslm_f32_to_f16(mean + (float)sum * scale));
    }
    return VKSLM_OK;
}

static vkslm_status write_all(vkslm_gguf_writer *w, const vkslm_synth_params *p, const tensor_list *l) {
    vkslm_mix_model mix = {p->ftype, p->shape.n_layer, !p->shape.tied};
    uint32_t *types = VKSLM_CALLOC(l->n, sizeof *types);
    if (!types)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkslm_convert_progress pr = {p->progress, p->user, 0, 0};
    vkslm_status st = write_metadata(w, p);
    for (uint32_t i = 0; i < l->n && st == VKSLM_OK; i++) {
        const synth_tensor *t = &l->t[i];
        types[i] = vkslm_mix_tensor_type(&mix, t->name, t->n_dims, t->ne);
        st = vkslm_gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne);
        pr.total += t->ne[0] * t->ne[1];
    }
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    for (uint32_t i = 0; i < l->n && st == VKSLM_OK; i++) {
        const synth_tensor *t = &l->t[i];
        gen_ctx g = {&p->shape, t, hash_name(t->name) ^ (p->seed * 0x9e3779b97f4a7c15ull)};
        st = vkslm_convert_rows(w, types[i], t->ne[1], t->ne[0], gen_row, &g, p->n_threads, &pr);
    }
    VKSLM_FREE(types);
    return st;
}

vkslm_status vkslm_synth_write(const char *path, const vkslm_synth_params *p) {
    if (!path || !p)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: NULL argument");
    VKSLM_TRY(vkslm_synth_check(&p->shape));
    if (strcmp(vkslm_ftype_name(p->ftype), "?") == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "mkmodel: unknown file type %d", (int)p->ftype);
    tensor_list l = {0};
    VKSLM_TRY(list_tensors(&p->shape, &l));
    vkslm_gguf_writer *w;
    vkslm_status st = vkslm_gguf_writer_open(path, 32, &w);
    if (st == VKSLM_OK) {
        st = write_all(w, p, &l);
        if (st == VKSLM_OK) {
            if (p->progress)
                p->progress(1.0f, p->user);
            st = vkslm_gguf_writer_close(w);
        } else {
            vkslm_gguf_writer_abort(w);
        }
    }
    VKSLM_FREE(l.t);
    return st;
}
