/* Hyperparameters from GGUF metadata (see hparams.h for the keys and defaults). */
#include "engine/model/hparams.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/model/arch.h"
#include "engine/util/error.h"

static const char *const arch_names[] = {"unknown", "llama", "qwen2", "phi3", "gemma", "gemma2"};

const char *vkslm_arch_name(vkslm_arch arch) {
    return (unsigned)arch < sizeof arch_names / sizeof arch_names[0] ? arch_names[arch] : "unknown";
}

const char *vkslm_rope_scaling_name(vkslm_rope_scaling s) {
    switch (s) {
    case VKSLM_ROPE_SCALING_NONE: return "none";
    case VKSLM_ROPE_SCALING_LINEAR: return "linear";
    case VKSLM_ROPE_SCALING_YARN: return "yarn";
    case VKSLM_ROPE_SCALING_LONGROPE: return "longrope";
    }
    return "unknown";
}

typedef struct reader {
    const vkslm_gguf *g;
    vkslm_str arch;
    int strict; /* required keys must be present */
    char key[320];
} reader;

static const char *arch_key(reader *r, const char *suffix) {
    int n = r->arch.len > 200 ? 200 : (int)r->arch.len;
    snprintf(r->key, sizeof r->key, "%.*s.%s", n, r->arch.ptr ? r->arch.ptr : "", suffix);
    return r->key;
}

static vkslm_status missing(const char *key) {
    return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: required key '%s' is missing", key);
}

/* An unsigned 32-bit value; a per-layer array is accepted when all its elements are equal. */
static vkslm_status get_uint(reader *r, const char *key, int required, uint32_t *out) {
    int64_t i = vkslm_gguf_find_key(r->g, key);
    if (i < 0)
        return required && r->strict ? missing(key) : VKSLM_OK;
    uint64_t v = 0;
    if (vkslm_gguf_kv_type(r->g, (uint64_t)i) == VKSLM_GGUF_ARRAY) {
        uint64_t n = vkslm_gguf_kv_arr_len(r->g, (uint64_t)i);
        if (n == 0)
            return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: key '%s' is an empty array", key);
        for (uint64_t j = 0; j < n; j++) {
            int64_t e;
            vkslm_status st = vkslm_gguf_arr_i64(r->g, (uint64_t)i, j, &e);
            if (st != VKSLM_OK)
                return vkslm_fail_context(st, "hparams");
            if (e < 0 || (uint64_t)e > UINT32_MAX)
                return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: key '%s' element %llu (%lld) is out of range", key,
                                  (unsigned long long)j, (long long)e);
            if (j > 0 && (uint64_t)e != v)
                return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "hparams: key '%s' differs between layers", key);
            v = (uint64_t)e;
        }
    } else {
        vkslm_status st = vkslm_gguf_kv_u64(r->g, (uint64_t)i, &v);
        if (st != VKSLM_OK)
            return vkslm_fail_context(st, "hparams");
        if (v > UINT32_MAX)
            return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: key '%s' value %llu is out of range", key, (unsigned long long)v);
    }
    *out = (uint32_t)v;
    return VKSLM_OK;
}

static vkslm_status get_float(reader *r, const char *key, int required, float *out) {
    int64_t i = vkslm_gguf_find_key(r->g, key);
    if (i < 0)
        return required && r->strict ? missing(key) : VKSLM_OK;
    double v;
    vkslm_status st = vkslm_gguf_kv_f64(r->g, (uint64_t)i, &v);
    if (st != VKSLM_OK)
        return vkslm_fail_context(st, "hparams");
    *out = (float)v;
    return VKSLM_OK;
}

static vkslm_status get_string(reader *r, const char *key, vkslm_str *out) {
    int64_t i = vkslm_gguf_find_key(r->g, key);
    if (i < 0)
        return VKSLM_OK;
    vkslm_status st = vkslm_gguf_kv_str(r->g, (uint64_t)i, out);
    return st == VKSLM_OK ? st : vkslm_fail_context(st, "hparams");
}

static vkslm_status get_token_id(reader *r, const char *key, int32_t *out) {
    uint32_t v = UINT32_MAX;
    VKSLM_TRY(get_uint(r, key, 0, &v));
    if (v == UINT32_MAX)
        return VKSLM_OK;
    if (v > INT32_MAX)
        return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: key '%s' value %u is out of range", key, v);
    *out = (int32_t)v;
    return VKSLM_OK;
}

static vkslm_status load_tokenizer(reader *r, vkslm_hparams *hp) {
    VKSLM_TRY(get_string(r, "tokenizer.ggml.model", &hp->tok_model));
    VKSLM_TRY(get_string(r, "tokenizer.ggml.pre", &hp->tok_pre));
    int64_t i = vkslm_gguf_find_key(r->g, "tokenizer.ggml.tokens");
    if (i >= 0) {
        if (vkslm_gguf_kv_type(r->g, (uint64_t)i) != VKSLM_GGUF_ARRAY ||
            vkslm_gguf_kv_arr_type(r->g, (uint64_t)i) != VKSLM_GGUF_STRING)
            return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: key 'tokenizer.ggml.tokens' is not an array of strings");
        uint64_t n = vkslm_gguf_kv_arr_len(r->g, (uint64_t)i);
        if (n > INT32_MAX)
            return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: %llu tokens are too many", (unsigned long long)n);
        hp->n_vocab = (uint32_t)n;
    }
    VKSLM_TRY(get_token_id(r, "tokenizer.ggml.bos_token_id", &hp->bos_id));
    VKSLM_TRY(get_token_id(r, "tokenizer.ggml.eos_token_id", &hp->eos_id));
    i = vkslm_gguf_find_key(r->g, "tokenizer.chat_template");
    if (i >= 0) {
        vkslm_str t;
        vkslm_status st = vkslm_gguf_kv_str(r->g, (uint64_t)i, &t);
        if (st != VKSLM_OK)
            return vkslm_fail_context(st, "hparams");
        hp->has_chat_template = 1;
        hp->chat_template_len = t.len;
    }
    return VKSLM_OK;
}

/* The rope scaling keys (llama.cpp's names and defaults; engine/model/rope_scaling.c turns them into angles).
 * A type or key that would change RoPE in a way vkslm does not implement is refused, never ignored. */
static vkslm_status load_rope_scaling(reader *r, vkslm_hparams *hp) {
    vkslm_str type = {NULL, 0};
    VKSLM_TRY(get_string(r, arch_key(r, "rope.scaling.type"), &type));
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.factor"), 0, &hp->rope_scaling_factor));
    if (hp->rope_scaling_factor == 0.0f)
        VKSLM_TRY(get_float(r, arch_key(r, "rope.scale_linear"), 0, &hp->rope_scaling_factor));
    if (hp->rope_scaling_factor < 0.0f || !(hp->rope_scaling_factor < 1e30f))
        return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: rope scaling factor %g is not a positive number",
                          (double)hp->rope_scaling_factor);
    VKSLM_TRY(get_uint(r, arch_key(r, "rope.scaling.original_context_length"), 0, &hp->rope_scaling_orig_ctx));
    if (hp->rope_scaling_orig_ctx == 0)
        hp->rope_scaling_orig_ctx = hp->n_ctx_train;
    hp->rope_scaling_attn_factor = 1.0f;
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.attn_factor"), 0, &hp->rope_scaling_attn_factor));
    hp->rope_yarn_ext_factor = -1.0f;
    hp->rope_yarn_attn_factor = 1.0f;
    hp->rope_yarn_beta_fast = 32.0f;
    hp->rope_yarn_beta_slow = 1.0f;
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.yarn_ext_factor"), 0, &hp->rope_yarn_ext_factor));
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.yarn_attn_factor"), 0, &hp->rope_yarn_attn_factor));
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.yarn_beta_fast"), 0, &hp->rope_yarn_beta_fast));
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.yarn_beta_slow"), 0, &hp->rope_yarn_beta_slow));
    float log_mul = 0.0f;
    VKSLM_TRY(get_float(r, arch_key(r, "rope.scaling.yarn_log_multiplier"), 0, &log_mul));
    if (log_mul != 0.0f)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "hparams: key '%s' (%g: DeepSeek-style YaRN magnitude scaling) is "
                          "not supported", arch_key(r, "rope.scaling.yarn_log_multiplier"), (double)log_mul);
    if (type.len == 0) {
        int longrope = vkslm_gguf_find_tensor(r->g, "rope_factors_long.weight") ||
                       vkslm_gguf_find_tensor(r->g, "rope_factors_short.weight");
        hp->rope_scaling = longrope ? VKSLM_ROPE_SCALING_LONGROPE
                           : hp->rope_scaling_factor != 0.0f && hp->rope_scaling_factor != 1.0f
                               ? VKSLM_ROPE_SCALING_LINEAR : VKSLM_ROPE_SCALING_NONE;
    } else if (vkslm_str_eq(type, "none")) {
        hp->rope_scaling = VKSLM_ROPE_SCALING_NONE;
    } else if (vkslm_str_eq(type, "linear")) {
        hp->rope_scaling = VKSLM_ROPE_SCALING_LINEAR;
    } else if (vkslm_str_eq(type, "yarn")) {
        hp->rope_scaling = VKSLM_ROPE_SCALING_YARN;
    } else if (vkslm_str_eq(type, "longrope")) {
        hp->rope_scaling = VKSLM_ROPE_SCALING_LONGROPE;
    } else {
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "hparams: rope scaling type '%.*s' (key '%s') is not supported: vkslm "
                          "implements none, linear, yarn and longrope", (int)(type.len > 64 ? 64 : type.len), type.ptr,
                          arch_key(r, "rope.scaling.type"));
    }
    return VKSLM_OK;
}

/* Shapes later code divides by and indexes with. */
static vkslm_status check_shapes(reader *r, const vkslm_hparams *hp) {
    if (!hp->n_layer || !hp->n_embd || !hp->n_head || !hp->n_head_kv || !hp->n_ff || !hp->n_ctx_train)
        return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: a %.*s shape is zero (layers %u, embd %u, heads %u/%u, ff %u, ctx %u)",
                          (int)(r->arch.len > 32 ? 32 : r->arch.len), r->arch.ptr, hp->n_layer, hp->n_embd, hp->n_head,
                          hp->n_head_kv, hp->n_ff, hp->n_ctx_train);
    if (hp->n_head % hp->n_head_kv != 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: head_count %u is not a multiple of head_count_kv %u", hp->n_head,
                          hp->n_head_kv);
    if (!hp->n_embd_head_k || !hp->n_embd_head_v || hp->n_rot > hp->n_embd_head_k || hp->n_rot % 2 != 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "hparams: head widths k %u / v %u with rope dims %u are inconsistent",
                          hp->n_embd_head_k, hp->n_embd_head_v, hp->n_rot);
    return VKSLM_OK;
}

static vkslm_arch arch_from_name(vkslm_str s) {
    for (int a = VKSLM_ARCH_LLAMA; a <= VKSLM_ARCH_GEMMA2; a++)
        if (vkslm_str_eq(s, arch_names[a]))
            return (vkslm_arch)a;
    return VKSLM_ARCH_UNKNOWN;
}

vkslm_status vkslm_hparams_load(const vkslm_gguf *g, vkslm_hparams *hp) {
    if (!g || !hp)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "hparams: NULL argument");
    memset(hp, 0, sizeof *hp);
    hp->bos_id = hp->eos_id = -1;
    reader r = {.g = g};
    VKSLM_TRY(get_string(&r, "general.architecture", &hp->arch_name));
    VKSLM_TRY(load_tokenizer(&r, hp));
    hp->arch = arch_from_name(hp->arch_name);
    r.arch = hp->arch_name;
    r.strict = hp->arch != VKSLM_ARCH_UNKNOWN && vkslm_gguf_tensor_count(g) > 0;
    if (hp->arch_name.len == 0) {
        if (vkslm_gguf_tensor_count(g) > 0)
            return missing("general.architecture");
        return VKSLM_OK;
    }
    hp->has_arch_params = vkslm_gguf_find_key(g, arch_key(&r, "block_count")) >= 0;
    VKSLM_TRY(get_uint(&r, arch_key(&r, "block_count"), 1, &hp->n_layer));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "embedding_length"), 1, &hp->n_embd));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "feed_forward_length"), 1, &hp->n_ff));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "attention.head_count"), 1, &hp->n_head));
    hp->n_head_kv = hp->n_head;
    VKSLM_TRY(get_uint(&r, arch_key(&r, "attention.head_count_kv"), 0, &hp->n_head_kv));
    hp->n_embd_head_k = hp->n_embd_head_v = hp->n_head ? hp->n_embd / hp->n_head : 0;
    VKSLM_TRY(get_uint(&r, arch_key(&r, "attention.key_length"), 0, &hp->n_embd_head_k));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "attention.value_length"), 0, &hp->n_embd_head_v));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "context_length"), 1, &hp->n_ctx_train));
    hp->n_rot = hp->n_embd_head_k;
    VKSLM_TRY(get_uint(&r, arch_key(&r, "rope.dimension_count"), 0, &hp->n_rot));
    hp->rope_freq_base = 10000.0f;
    VKSLM_TRY(get_float(&r, arch_key(&r, "rope.freq_base"), 0, &hp->rope_freq_base));
    VKSLM_TRY(load_rope_scaling(&r, hp));
    VKSLM_TRY(get_float(&r, arch_key(&r, "attention.layer_norm_rms_epsilon"), 1, &hp->norm_rms_eps));
    VKSLM_TRY(get_float(&r, arch_key(&r, "attention.layer_norm_epsilon"), 0, &hp->norm_eps));
    if (hp->arch == VKSLM_ARCH_GEMMA2) {
        hp->n_swa = 4096;
        hp->attn_softcap = 50.0f;
        hp->final_softcap = 30.0f;
    }
    VKSLM_TRY(get_uint(&r, arch_key(&r, "attention.sliding_window"), 0, &hp->n_swa));
    VKSLM_TRY(get_float(&r, arch_key(&r, "attn_logit_softcapping"), 0, &hp->attn_softcap));
    VKSLM_TRY(get_float(&r, arch_key(&r, "final_logit_softcapping"), 0, &hp->final_softcap));
    VKSLM_TRY(get_uint(&r, arch_key(&r, "pooling_type"), 0, &hp->pooling_type));
    return r.strict ? check_shapes(&r, hp) : VKSLM_OK;
}

/* ---- keys the graph does not implement ------------------------------------------------------- */
/* The "<arch>." keys vkslm accepts in some form, from llama.cpp's key list: those its loader reads for every
 * architecture, those its converters write for these five, and soft-caps and windows. Any other key
 * (an SSM's, MLA's, a classifier's, ...) is refused whatever its value. */
typedef enum key_rule {
    KEY_READ,  /* read by vkslm_hparams_load for the archs in `read_by`; for the others as KEY_ZERO */
    KEY_INERT, /* does not change what the graph computes */
    KEY_ROPE,  /* rope scaling: read by load_rope_scaling as it is, not checked here */
    KEY_ZERO,  /* accepted when 0 / false (every element of an array) */
    KEY_UNIT,  /* a scale: accepted when 0 (unset) or 1 */
    KEY_SAME,  /* accepted when it equals what vkslm computes anyway (same_value) */
    KEY_SAME0, /* as KEY_SAME, or 0 (unset) */
    KEY_POOL   /* pooling_type: none (0), mean (1) and last (3) are what vkslm_embed computes */
} key_rule;

#define ALL_ARCHS 0xffu
#define ARCH_BIT(a) (1u << (a))

static const struct known_key {
    const char *suffix; /* after "<arch>."; a trailing '.' matches every key that starts with it */
    key_rule rule;
    unsigned read_by;   /* KEY_READ: the archs whose graph implements it */
    const char *what;   /* what a value other than "off" asks for */
} known_keys[] = {
    {"block_count", KEY_READ, ALL_ARCHS, NULL},
    {"context_length", KEY_READ, ALL_ARCHS, NULL},
    {"embedding_length", KEY_READ, ALL_ARCHS, NULL},
    {"feed_forward_length", KEY_READ, ALL_ARCHS, NULL},
    {"attention.head_count", KEY_READ, ALL_ARCHS, NULL},
    {"attention.head_count_kv", KEY_READ, ALL_ARCHS, NULL},
    {"attention.key_length", KEY_READ, ALL_ARCHS, NULL},
    {"attention.value_length", KEY_READ, ALL_ARCHS, NULL},
    {"attention.layer_norm_rms_epsilon", KEY_READ, ALL_ARCHS, NULL},
    {"rope.dimension_count", KEY_READ, ALL_ARCHS, NULL},
    {"rope.freq_base", KEY_READ, ALL_ARCHS, NULL},
    {"attention.sliding_window", KEY_READ, ARCH_BIT(VKSLM_ARCH_PHI3) | ARCH_BIT(VKSLM_ARCH_GEMMA2),
     "sliding-window attention"},
    {"attn_logit_softcapping", KEY_READ, ARCH_BIT(VKSLM_ARCH_GEMMA2), "attention logit soft-capping"},
    {"final_logit_softcapping", KEY_READ, ARCH_BIT(VKSLM_ARCH_GEMMA2), "final logit soft-capping"},
    {"vocab_size", KEY_INERT, 0, NULL},                     /* the tensors' shapes are checked against the vocab */
    {"attention.layer_norm_epsilon", KEY_INERT, 0, NULL},   /* for LayerNorm models; these use RMSNorm */
    {"tensor_data_layout", KEY_INERT, 0, NULL},             /* old converters' note on q/k row order */
    {"rope.scaling.", KEY_ROPE, 0, NULL},
    {"rope.scale_linear", KEY_ROPE, 0, NULL},
    {"attention.sliding_window_pattern", KEY_SAME, 0, "a sliding-window layer pattern other than vkslm's"},
    {"attention.causal", KEY_SAME, 0, "non-causal attention"},
    {"attention.key_length_swa", KEY_SAME, 0, "other head widths on sliding-window layers"},
    {"attention.value_length_swa", KEY_SAME, 0, "other head widths on sliding-window layers"},
    {"rope.dimension_count_swa", KEY_SAME, 0, "other rotary dimensions on sliding-window layers"},
    {"rope.freq_base_swa", KEY_SAME, 0, "another rope base on sliding-window layers"},
    {"embedding_length_out", KEY_SAME0, 0, "an output width other than the embedding width"},
    {"embedding_scale", KEY_SAME0, 0, "scaled token embeddings"},
    {"attention.scale", KEY_SAME0, 0, "an attention score scale other than vkslm's"},
    {"logit_scale", KEY_UNIT, 0, "scaled output logits"},
    {"residual_scale", KEY_UNIT, 0, "scaled residual branches"},
    {"attention.output_scale", KEY_UNIT, 0, "a scaled attention output"},
    {"attention.value_scale", KEY_UNIT, 0, "scaled attention values"},
    {"rope.dimension_sections", KEY_ZERO, 0, "multimodal rope sections (M-RoPE)"},
    {"expert_count", KEY_ZERO, 0, "mixture-of-experts layers"},
    {"expert_used_count", KEY_ZERO, 0, "mixture-of-experts layers"},
    {"expert_shared_count", KEY_ZERO, 0, "shared experts"},
    {"expert_group_count", KEY_ZERO, 0, "expert groups"},
    {"expert_group_used_count", KEY_ZERO, 0, "expert groups"},
    {"expert_feed_forward_length", KEY_ZERO, 0, "mixture-of-experts layers"},
    {"expert_shared_feed_forward_length", KEY_ZERO, 0, "shared experts"},
    {"expert_weights_scale", KEY_ZERO, 0, "scaled expert weights"},
    {"expert_weights_norm", KEY_ZERO, 0, "normalised expert weights"},
    {"expert_gating_func", KEY_ZERO, 0, "expert gating"},
    {"leading_dense_block_count", KEY_ZERO, 0, "mixture-of-experts layers"},
    {"interleave_moe_layer_step", KEY_ZERO, 0, "interleaved mixture-of-experts layers"},
    {"moe_every_n_layers", KEY_ZERO, 0, "interleaved mixture-of-experts layers"},
    {"nextn_predict_layers", KEY_ZERO, 0, "multi-token prediction layers"},
    {"embedding_length_per_layer_input", KEY_ZERO, 0, "per-layer input embeddings"},
    {"use_parallel_residual", KEY_ZERO, 0, "parallel attention and feed-forward residuals"},
    {"pooling_type", KEY_POOL, 0, "CLS or rank pooling (vkslm pools by mean or last token)"},
    {"router_logit_softcapping", KEY_ZERO, 0, "router logit soft-capping"},
    {"swin_norm", KEY_ZERO, 0, "Swin-style norms"},
    {"attention.max_alibi_bias", KEY_ZERO, 0, "ALiBi position biases"},
    {"attention.clamp_kqv", KEY_ZERO, 0, "clamped q/k/v"},
    {"attention.q_lora_rank", KEY_ZERO, 0, "low-rank (MLA) attention"},
    {"attention.kv_lora_rank", KEY_ZERO, 0, "low-rank (MLA) attention"},
    {"attention.temperature_length", KEY_ZERO, 0, "attention temperature tuning"},
};

/* The value vkslm computes with, for a KEY_SAME key. */
static double same_value(const char *suffix, const vkslm_hparams *hp) {
    vkslm_arch_rules R = vkslm_arch_rules_of(hp);
    if (strcmp(suffix, "attention.sliding_window_pattern") == 0)
        return hp->arch == VKSLM_ARCH_GEMMA2 ? 2 : 0; /* gemma2: even layers slide */
    if (strcmp(suffix, "attention.causal") == 0)
        return 1;
    if (strcmp(suffix, "attention.key_length_swa") == 0)
        return hp->n_embd_head_k;
    if (strcmp(suffix, "attention.value_length_swa") == 0)
        return hp->n_embd_head_v;
    if (strcmp(suffix, "rope.dimension_count_swa") == 0)
        return hp->n_rot;
    if (strcmp(suffix, "rope.freq_base_swa") == 0)
        return hp->rope_freq_base;
    if (strcmp(suffix, "embedding_length_out") == 0)
        return hp->n_embd;
    if (strcmp(suffix, "embedding_scale") == 0)
        return R.embd_scale;
    return R.attn_scale; /* attention.scale */
}

/* Element j of key i (j = 0 for a scalar) as a number, bools as 0/1. 0 when it is not a number. */
static int value_at(const vkslm_gguf *g, uint64_t i, uint64_t j, double *v) {
    vkslm_gguf_vtype t = vkslm_gguf_kv_type(g, i);
    if (t == VKSLM_GGUF_ARRAY) {
        vkslm_gguf_vtype at = vkslm_gguf_kv_arr_type(g, i);
        if (at == VKSLM_GGUF_BOOL) {
            *v = ((const uint8_t *)vkslm_gguf_arr_data(g, i))[j];
            return 1;
        }
        return at != VKSLM_GGUF_STRING && vkslm_gguf_arr_f64(g, i, j, v) == VKSLM_OK;
    }
    if (t == VKSLM_GGUF_BOOL) {
        int b = 0;
        vkslm_status st = vkslm_gguf_kv_bool(g, i, &b);
        *v = b;
        return st == VKSLM_OK;
    }
    return t != VKSLM_GGUF_STRING && vkslm_gguf_kv_f64(g, i, v) == VKSLM_OK;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fmax(fabs(a), fabs(b)); }

/* Whether every value of key i is an "off" value of the rule. */
static int key_is_off(const vkslm_gguf *g, uint64_t i, const struct known_key *k, const vkslm_hparams *hp) {
    uint64_t n = vkslm_gguf_kv_type(g, i) == VKSLM_GGUF_ARRAY ? vkslm_gguf_kv_arr_len(g, i) : 1;
    for (uint64_t j = 0; j < n; j++) {
        double v;
        if (!value_at(g, i, j, &v))
            return 0;
        int off = k->rule == KEY_SAME    ? near(v, same_value(k->suffix, hp))
                  : k->rule == KEY_SAME0 ? v == 0 || near(v, same_value(k->suffix, hp))
                  : k->rule == KEY_UNIT  ? v == 0 || v == 1
                  : k->rule == KEY_POOL  ? v == 0 || v == 1 || v == 3
                                         : v == 0;
        if (!off)
            return 0;
    }
    return 1;
}

/* The value of key i for a message: a number, the first elements of an array, or a string. */
static void describe_value(const vkslm_gguf *g, uint64_t i, char *buf, size_t cap) {
    vkslm_gguf_vtype t = vkslm_gguf_kv_type(g, i);
    double v;
    vkslm_str s;
    if (t == VKSLM_GGUF_ARRAY) {
        uint64_t n = vkslm_gguf_kv_arr_len(g, i);
        size_t at = (size_t)snprintf(buf, cap, "[");
        for (uint64_t j = 0; j < n && j < 4 && at < cap; j++) {
            if (value_at(g, i, j, &v))
                at += (size_t)snprintf(buf + at, cap - at, "%s%g", j ? ", " : "", v);
            else
                at += (size_t)snprintf(buf + at, cap - at, "%s?", j ? ", " : "");
        }
        if (at < cap)
            snprintf(buf + at, cap - at, "%s] (%llu elements)", n > 4 ? ", ..." : "", (unsigned long long)n);
    } else if (t == VKSLM_GGUF_STRING && vkslm_gguf_kv_str(g, i, &s) == VKSLM_OK) {
        snprintf(buf, cap, "'%.*s'", (int)(s.len > 64 ? 64 : s.len), s.ptr);
    } else if (value_at(g, i, 0, &v)) {
        snprintf(buf, cap, "%g", v);
    } else {
        snprintf(buf, cap, "?");
    }
}

static const struct known_key *find_known(vkslm_str suffix) {
    for (size_t k = 0; k < sizeof known_keys / sizeof *known_keys; k++) {
        size_t n = strlen(known_keys[k].suffix);
        int prefix = known_keys[k].suffix[n - 1] == '.';
        if ((prefix ? suffix.len >= n : suffix.len == n) && memcmp(suffix.ptr, known_keys[k].suffix, n) == 0)
            return &known_keys[k];
    }
    return NULL;
}

vkslm_status vkslm_hparams_check_supported(const vkslm_gguf *g, const vkslm_hparams *hp) {
    const char *arch = vkslm_arch_name(hp->arch);
    const size_t arch_len = strlen(arch);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++) {
        vkslm_str key = vkslm_gguf_kv_key(g, i);
        if (key.len <= arch_len + 1 || memcmp(key.ptr, arch, arch_len) != 0 || key.ptr[arch_len] != '.')
            continue;
        vkslm_str suffix = {key.ptr + arch_len + 1, key.len - arch_len - 1};
        const struct known_key *k = find_known(suffix);
        int shown = (int)(key.len > 128 ? 128 : key.len);
        if (!k)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: key '%.*s' is not known to vkslm (it may change what the "
                              "model computes, so the model is refused rather than run wrongly)", shown, key.ptr);
        if (k->rule == KEY_INERT || k->rule == KEY_ROPE || (k->rule == KEY_READ && (k->read_by & ARCH_BIT(hp->arch))))
            continue;
        if (!key_is_off(g, i, k, hp)) {
            char value[160];
            describe_value(g, i, value, sizeof value);
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: key '%.*s' = %s asks for %s, which vkslm does not "
                              "implement for %s", shown, key.ptr, value, k->what, arch);
        }
    }
    if (hp->n_embd_head_k != hp->n_embd_head_v)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: key '%s.attention.key_length' (%u) differs from '%s."
                          "attention.value_length' (%u); vkslm's attention needs equal key and value head widths",
                          arch, hp->n_embd_head_k, arch, hp->n_embd_head_v);
    return VKSLM_OK;
}
