/* What differs between the supported architectures, as plain switches the forward passes (the GPU graph
 * and the CPU reference) read: one place for every per-architecture rule. */
#ifndef VKSLM_MODEL_ARCH_H
#define VKSLM_MODEL_ARCH_H

#include "engine/model/hparams.h"

typedef struct vkslm_arch_rules {
    int rope_neox;        /* rotate pairs (i, i + n_rot/2) (qwen2, phi3, gemma, gemma2) instead of (2i, 2i+1) */
    int gelu;             /* GeGLU feed-forward (gemma, gemma2) instead of SwiGLU */
    float embd_scale;     /* token embeddings multiplied by this (gemma: sqrt(n_embd)); 1 otherwise */
    int post_norms;       /* RMSNorm after attention and after the FFN, before the residual add (gemma2) */
    float attn_scale;     /* scores scale: 1/sqrt(head_k) (Gemma 2 27B: 1/sqrt(n_embd / n_head)) */
    float attn_softcap;   /* 0 or the cap (gemma2) */
    float final_softcap;  /* 0 or the cap (gemma2) */
} vkslm_arch_rules;

vkslm_arch_rules vkslm_arch_rules_of(const vkslm_hparams *hp);
/* The sliding window of layer il in tokens (0: full attention). gemma2 alternates: even layers slide;
 * phi3 slides on every layer when the file gives a window. */
uint32_t vkslm_arch_layer_window(const vkslm_hparams *hp, uint32_t il);
#endif
