#include "engine/model/rope_scaling.h"

#include <math.h>

/* YaRN's magnitude correction for a scale factor (transformers' get_mscale with mscale 1). */
static float yarn_mscale(float factor) { return factor <= 1.0f ? 1.0f : 0.1f * logf(factor) + 1.0f; }

vkslm_rope_config vkslm_rope_config_of(const vkslm_hparams *hp, uint32_t n_ctx, int has_freqs, int has_long,
                                       int has_short) {
    vkslm_rope_config c = {{1.0f, 0.0f, 1.0f, 0.0f, 0.0f}, VKSLM_ROPE_FACTORS_NONE};
    vkslm_rope_ext *e = &c.ext;
    if (hp->rope_scaling != VKSLM_ROPE_SCALING_NONE && hp->rope_scaling_factor != 0.0f)
        e->freq_scale = 1.0f / hp->rope_scaling_factor;
    e->ext_factor = hp->rope_yarn_ext_factor >= 0.0f ? hp->rope_yarn_ext_factor
                    : hp->rope_scaling == VKSLM_ROPE_SCALING_YARN ? 1.0f : 0.0f;
    float attn = hp->rope_yarn_attn_factor;
    if (e->ext_factor != 0.0f) {
        /* llama.cpp sets mscale(factor), divided by the 1 + 0.1 ln(factor) that ggml's rope_yarn multiplies
         * in again whenever ext_factor != 0 (below) */
        float factor = 1.0f / e->freq_scale;
        attn = yarn_mscale(factor) / (1.0f + 0.1f * logf(factor));
    }
    attn *= hp->rope_scaling_attn_factor;
    if (e->ext_factor != 0.0f) {
        float dims[2];
        vkslm_rope_yarn_corr_dims(hp->n_rot, hp->rope_scaling_orig_ctx, hp->rope_freq_base, hp->rope_yarn_beta_fast,
                                  hp->rope_yarn_beta_slow, dims);
        e->corr_low = dims[0];
        e->corr_high = dims[1];
        attn *= 1.0f + 0.1f * logf(1.0f / e->freq_scale); /* ggml's rope_yarn */
    }
    e->attn_factor = attn;
    if (has_freqs)
        c.factors = VKSLM_ROPE_FACTORS_FREQS;
    else if (n_ctx > hp->rope_scaling_orig_ctx)
        c.factors = has_long ? VKSLM_ROPE_FACTORS_LONG : VKSLM_ROPE_FACTORS_NONE;
    else
        c.factors = has_short ? VKSLM_ROPE_FACTORS_SHORT : VKSLM_ROPE_FACTORS_NONE;
    return c;
}
