/* Sampler chains (vkslm.h, "sampler chains"): the public vkslm_sampler is one type for a chain and for
 * each kind of stage. This header adds what the rest of the engine needs beyond the public calls. */
#ifndef VKSLM_RUNTIME_SAMPLER_H
#define VKSLM_RUNTIME_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "vkslm.h"

/* vkslm_sampler_init_from_params with the reason of a failure as a status (bad settings:
 * VKSLM_ERR_INVALID_ARG; out of memory: VKSLM_ERR_OUT_OF_HOST_MEMORY). params NULL: the defaults. */
vkslm_status vkslm_sampler_from_params(const vkslm_generate_params *params, vkslm_sampler **out);

/* vkslm_sampler_chain_add, putting the stage first (a grammar, before the stages that pick). */
vkslm_status vkslm_sampler_chain_push_front(vkslm_sampler *chain, vkslm_sampler *stage);

/* Picks a token from a row of n_vocab logits as vkslm_sampler_sample_logits does, without accepting it
 * (the caller accepts it when it keeps it). logits NULL: -1 (an entry without logits). The candidates
 * array lives in a buffer the sampler owns, grown only when n_vocab grows. */
int32_t vkslm_sampler_pick(vkslm_sampler *s, const float *logits, int32_t n_vocab);

/* True when the sampler is a greedy stage, or a chain of nothing but greedy stages (no penalties, bias,
 * hook, ...): its pick is the argmax of the raw logits, ties to the lowest id, -1 when no logit is above
 * -inf, so a caller may take an on-device argmax instead. */
bool vkslm_sampler_is_plain_greedy(const vkslm_sampler *s);

/* For vkslm_sampler_sample (defined beside the batch decode): its body is
 *     return vkslm_sampler_sample_logits(sampler, vkslm_logits_ith(session, i), n_vocab);
 * sample_logits gives -1 (accepting nothing) when the logits are NULL. */
#endif
