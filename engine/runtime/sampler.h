/* Token sampling on the CPU from a row of logits: repetition/frequency/presence penalties, then top-k,
 * top-p (nucleus), min-p, temperature, and a seeded draw. Temperature <= 0 means greedy (argmax after
 * penalties; ties go to the lowest id). Same seed, settings and logits give the same tokens. */
#ifndef VKSLM_RUNTIME_SAMPLER_H
#define VKSLM_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "vkslm.h"

typedef struct vkslm_sampler vkslm_sampler;

/* The settings are the sampling fields of the public vkslm_generate_params (temperature, top_k, top_p,
 * min_p, repeat/frequency/presence penalties, penalty_last_n, seed: their meaning is documented there);
 * the other fields are not read. vkslm_generate_default_params() is greedy with no penalties. */
vkslm_status vkslm_sampler_create(const vkslm_generate_params *p, uint32_t n_vocab, vkslm_sampler **out);
void vkslm_sampler_free(vkslm_sampler *s);
/* Clears the penalty history and re-seeds. */
void vkslm_sampler_reset(vkslm_sampler *s);
/* Records a token (prompt or generated) for the penalties. */
void vkslm_sampler_accept(vkslm_sampler *s, int32_t token);
/* Picks the next token. `logits` (n_vocab values) is not modified; NaN counts as -inf. Returns -1, greedy
 * or not, when no logit (after penalties) is above -inf: all NaN or -inf. */
int32_t vkslm_sampler_pick(vkslm_sampler *s, const float *logits);
/* True when the sampler is greedy with no penalties: the caller may take an on-device argmax instead. */
int vkslm_sampler_is_plain_greedy(const vkslm_sampler *s);
#endif
