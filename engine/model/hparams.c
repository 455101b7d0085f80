/* Hyperparameters from GGUF metadata (see hparams.h for the keys and defaults). */
#include "engine/model/hparams.h"

#include <stdio.h>
#include <string.h>

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
    return r.strict ? check_shapes(&r, hp) : VKSLM_OK;
}
