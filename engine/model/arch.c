#include "engine/model/arch.h"

#include <math.h>

vkslm_arch_rules vkslm_arch_rules_of(const vkslm_hparams *hp) {
    vkslm_arch_rules r = {0};
    r.rope_neox = hp->arch != VKSLM_ARCH_LLAMA;
    r.gelu = hp->arch == VKSLM_ARCH_GEMMA || hp->arch == VKSLM_ARCH_GEMMA2;
    r.embd_scale = r.gelu ? sqrtf((float)hp->n_embd) : 1.0f;
    r.post_norms = hp->arch == VKSLM_ARCH_GEMMA2;
    r.attn_scale = hp->n_embd_head_k ? 1.0f / sqrtf((float)hp->n_embd_head_k) : 1.0f;
    /* Gemma 2 27B scales queries by 1/sqrt(n_embd / n_head) (its query_pre_attn_scalar), not 1/sqrt(head_k);
     * GGUF has no key for it and llama.cpp recognises the model by its 46 layers, as here. */
    if (hp->arch == VKSLM_ARCH_GEMMA2 && hp->n_layer == 46 && hp->n_head)
        r.attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    if (hp->arch == VKSLM_ARCH_GEMMA2) {
        r.attn_softcap = hp->attn_softcap;
        r.final_softcap = hp->final_softcap;
    }
    return r;
}

uint32_t vkslm_arch_layer_window(const vkslm_hparams *hp, uint32_t il) {
    switch (hp->arch) {
    case VKSLM_ARCH_GEMMA2: return il % 2 == 0 ? hp->n_swa : 0;
    case VKSLM_ARCH_PHI3: return hp->n_swa;
    default: return 0;
    }
}
