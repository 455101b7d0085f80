/* RoPE scaling of a model in a session: what the hyperparameters (engine/model/hparams.h) and the session's
 * context make of the angles, as llama.cpp's context setup computes it (llama_context's constructor and
 * llama_model::get_rope_factors): linear position interpolation, YaRN, and Phi-3's LongRoPE factors.
 * The GPU graph and the CPU reference both take their RoPE parameters from here. */
#ifndef VKSLM_MODEL_ROPE_SCALING_H
#define VKSLM_MODEL_ROPE_SCALING_H

#include "engine/cpu/rope.h"
#include "engine/model/hparams.h"

typedef enum vkslm_rope_factors {
    VKSLM_ROPE_FACTORS_NONE = 0,
    VKSLM_ROPE_FACTORS_FREQS, /* rope_freqs.weight (Llama 3.1) */
    VKSLM_ROPE_FACTORS_LONG,  /* rope_factors_long.weight: the context exceeds the original one */
    VKSLM_ROPE_FACTORS_SHORT  /* rope_factors_short.weight */
} vkslm_rope_factors;

typedef struct vkslm_rope_config {
    vkslm_rope_ext ext;          /* angles and magnitude (engine/cpu/rope.h) */
    vkslm_rope_factors factors;  /* which per-pair divisor tensor to use, when the file has it */
} vkslm_rope_config;

/* The configuration for a session of n_ctx tokens:
 * - freq_scale = 1/factor (1 without a factor, or when the type is none);
 * - ext_factor = rope.scaling.yarn_ext_factor, or 1 for type yarn and 0 otherwise;
 * - attn_factor: rope.scaling.attn_factor times, with ext_factor 0, rope.scaling.yarn_attn_factor; with
 *   ext_factor != 0, YaRN's mscale 1 + 0.1 ln(factor) (for factor > 1);
 * - corr dims from the rotated dims, the original context and beta_fast/beta_slow;
 * - factors: rope_freqs when present, else the long LongRoPE factors when n_ctx > the original context,
 *   else the short ones (has_* say which tensors the model has). */
vkslm_rope_config vkslm_rope_config_of(const vkslm_hparams *hp, uint32_t n_ctx, int has_freqs, int has_long,
                                       int has_short);
#endif
