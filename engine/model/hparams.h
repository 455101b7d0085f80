/* Typed model hyperparameters read from GGUF metadata, for the architectures vkslm runs (llama, qwen2,
 * phi3, gemma, gemma2). Keys are "<arch>.<name>" as llama.cpp writes them; defaults follow llama.cpp.
 * A file with weights of a supported architecture must have the required keys (a missing or mistyped
 * one is VKSLM_ERR_FORMAT naming the key). Vocab-only files (no tensors) and unknown architectures get
 * whatever keys are present and the tokenizer fields, with has_arch_params telling which. */
#ifndef VKSLM_MODEL_HPARAMS_H
#define VKSLM_MODEL_HPARAMS_H

#include <stdint.h>

#include "loaders/gguf.h"

typedef enum vkslm_arch {
    VKSLM_ARCH_UNKNOWN = 0, /* absent, or an architecture vkslm does not run */
    VKSLM_ARCH_LLAMA,
    VKSLM_ARCH_QWEN2,
    VKSLM_ARCH_PHI3,
    VKSLM_ARCH_GEMMA,
    VKSLM_ARCH_GEMMA2
} vkslm_arch;

typedef enum vkslm_rope_scaling {
    VKSLM_ROPE_SCALING_NONE = 0,
    VKSLM_ROPE_SCALING_LINEAR,
    VKSLM_ROPE_SCALING_YARN,
    VKSLM_ROPE_SCALING_LONGROPE
} vkslm_rope_scaling;

typedef struct vkslm_hparams {
    /* Views into the GGUF file: valid while it stays open. len 0 when absent. */
    vkslm_str arch_name;  /* general.architecture, e.g. "llama" */
    vkslm_arch arch;
    int has_arch_params;  /* 1 when <arch>.block_count was present (not a vocab-only file) */

    uint32_t n_layer;       /* block_count: transformer blocks */
    uint32_t n_embd;        /* embedding_length: residual stream width */
    uint32_t n_ff;          /* feed_forward_length: FFN hidden width */
    uint32_t n_head;        /* attention.head_count: query heads */
    uint32_t n_head_kv;     /* attention.head_count_kv: key/value heads (GQA); default n_head */
    uint32_t n_embd_head_k; /* attention.key_length: per-head key width; default n_embd / n_head */
    uint32_t n_embd_head_v; /* attention.value_length: per-head value width; default n_embd / n_head */
    uint32_t n_ctx_train;   /* context_length: trained context, tokens */
    uint32_t n_rot;         /* rope.dimension_count: rotated dims per head; default n_embd_head_k */
    float rope_freq_base;   /* rope.freq_base; default 10000 */
    vkslm_rope_scaling rope_scaling; /* rope.scaling.type; default none (linear when only a factor is given,
                                      * longrope when rope_factors_long/short.weight are present) */
    float rope_scaling_factor;       /* rope.scaling.factor (or legacy rope.scale_linear); 0 = none */
    uint32_t rope_scaling_orig_ctx;  /* rope.scaling.original_context_length; default (and for 0) n_ctx_train */
    float rope_scaling_attn_factor;  /* rope.scaling.attn_factor; default 1 */
    float rope_yarn_ext_factor;      /* rope.scaling.yarn_ext_factor; default -1: 1 for yarn, else 0 */
    float rope_yarn_attn_factor;     /* rope.scaling.yarn_attn_factor; default 1 (replaced when ext_factor != 0) */
    float rope_yarn_beta_fast;       /* rope.scaling.yarn_beta_fast; default 32 */
    float rope_yarn_beta_slow;       /* rope.scaling.yarn_beta_slow; default 1 */
    float norm_rms_eps;     /* attention.layer_norm_rms_epsilon; required for the supported archs */
    float norm_eps;         /* attention.layer_norm_epsilon; 0 when absent */
    uint32_t n_swa;         /* attention.sliding_window, tokens; 0 = none (gemma2 default 4096) */
    float attn_softcap;     /* attn_logit_softcapping; 0 = none (gemma2 default 50) */
    float final_softcap;    /* final_logit_softcapping; 0 = none (gemma2 default 30) */

    /* Tokenizer (tokenizer.ggml.*): present in model and vocab-only files. */
    vkslm_str tok_model;    /* tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE), ... */
    vkslm_str tok_pre;      /* tokenizer.ggml.pre: pre-tokenizer name, e.g. "llama-bpe"; len 0 when absent */
    uint32_t n_vocab;       /* number of tokenizer.ggml.tokens */
    int32_t bos_id;         /* tokenizer.ggml.bos_token_id, or -1 */
    int32_t eos_id;         /* tokenizer.ggml.eos_token_id, or -1 */
    int has_chat_template;  /* tokenizer.chat_template present */
    uint64_t chat_template_len; /* bytes */
} vkslm_hparams;

/* Reads every hyperparameter above. VKSLM_ERR_FORMAT names the key that is missing (required only for a
 * supported architecture with tensors), mistyped or out of range. */
vkslm_status vkslm_hparams_load(const vkslm_gguf *g, vkslm_hparams *hp);

const char *vkslm_arch_name(vkslm_arch arch);
const char *vkslm_rope_scaling_name(vkslm_rope_scaling s);
#endif
