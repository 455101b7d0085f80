/* Token sampling on the CPU from a row of logits: repetition/frequency/presence penalties, then top-k,
 * top-p (nucleus), min-p, temperature, and a seeded draw. Temperature <= 0 means greedy (argmax after
 * penalties; ties go to the lowest id). Same seed, settings and logits give the same tokens. */
#ifndef VKSLM_RUNTIME_SAMPLER_H
#define VKSLM_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "vkslm.h"

typedef struct vkslm_sampler_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* >= 1 (or <= 0): off */
    float min_p;             /* <= 0: off; keep tokens with p >= min_p * p_max */
    float repeat_penalty;    /* 1 (or <= 0): off; llama.cpp's rule: positive logits divided, negative multiplied */
    float frequency_penalty; /* subtracted once per earlier occurrence */
    float presence_penalty;  /* subtracted once if the token occurred */
    int32_t penalty_last_n;  /* how many recent tokens the penalties look at; 0: none, -1: all kept (up to 4096) */
    uint64_t seed;
} vkslm_sampler_params;

typedef struct vkslm_sampler vkslm_sampler;

vkslm_sampler_params vkslm_sampler_default_params(void); /* greedy, no penalties, last_n 64, seed 0 */
vkslm_status vkslm_sampler_create(const vkslm_sampler_params *p, uint32_t n_vocab, vkslm_sampler **out);
void vkslm_sampler_free(vkslm_sampler *s);
/* Clears the penalty history and re-seeds. */
void vkslm_sampler_reset(vkslm_sampler *s);
/* Records a token (prompt or generated) for the penalties. */
void vkslm_sampler_accept(vkslm_sampler *s, int32_t token);
/* Picks the next token. `logits` (n_vocab values) is not modified; NaN counts as -inf. Returns -1, greedy
 * or not, when no logit (after penalties) is above -inf: all NaN or -inf. */
int32_t vkslm_sampler_sample(vkslm_sampler *s, const float *logits);
/* True when the sampler is greedy with no penalties: the caller may take an on-device argmax instead. */
int vkslm_sampler_is_plain_greedy(const vkslm_sampler *s);
#endif
