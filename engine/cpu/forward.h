/* A plain-C forward pass of every supported architecture, built from the engine/cpu/ op references:
 * the end-to-end oracle the GPU graph is checked against (and, on its own, checked against llama.cpp's
 * reference logits). Slow and simple: weights are dequantized row by row as they are used. */
#ifndef VKSLM_CPU_FORWARD_H
#define VKSLM_CPU_FORWARD_H

#include "engine/model/hparams.h"
#include "engine/model/tensors.h"

typedef struct vkslm_cpu_forward vkslm_cpu_forward;

/* hp and w must outlive the handle. The KV cache holds n_ctx positions, in f32. */
vkslm_status vkslm_cpu_forward_create(const vkslm_hparams *hp, const vkslm_model_weights *w, uint32_t n_ctx,
                                      vkslm_cpu_forward **out);
void vkslm_cpu_forward_free(vkslm_cpu_forward *f);
/* Runs n tokens at positions p0 .. p0+n-1 (earlier positions must already be in the cache) and writes
 * the logits of the last one (n_vocab floats). */
vkslm_status vkslm_cpu_forward_run(vkslm_cpu_forward *f, const int32_t *tokens, uint32_t n, uint32_t p0,
                                   float *logits);
/* As run; logits may be NULL (none computed), and hidden (when not NULL) gets every token's final hidden
 * state, the output norm's result that the logits are projected from (n rows of n_embd floats). */
vkslm_status vkslm_cpu_forward_run_ex(vkslm_cpu_forward *f, const int32_t *tokens, uint32_t n, uint32_t p0,
                                      float *logits, float *hidden);
#endif
