/* Semantic routing with a small router model: the log-likelihood of each expert's name as the label
 * that follows a classification prompt listing the experts and their roles, then the request. The
 * per-token mean log-likelihoods go through a softmax to give each expert a probability. */
#ifndef VKSLM_ROUTER_SEMANTIC_H
#define VKSLM_ROUTER_SEMANTIC_H

#include <pthread.h>
#include <stddef.h>

#include "vkslm.h"

typedef struct vkslm_semantic vkslm_semantic;

vkslm_status vkslm_semantic_create(const char *model_path, const vkslm_model_params *mp,
                                   const vkslm_expert_desc *experts, size_t n, vkslm_semantic **out);
void vkslm_semantic_free(vkslm_semantic *s);
/* probs[n]: each expert's probability for text. One request at a time (serialised inside). */
vkslm_status vkslm_semantic_score(vkslm_semantic *s, const char *text, float *probs);
const vkslm_model *vkslm_semantic_model(const vkslm_semantic *s);
/* Prompt tokens every request so far found in the router's cache (the listing of the experts that
 * starts every prompt) instead of computing them. */
uint64_t vkslm_semantic_reused(vkslm_semantic *s);
/* Device bytes of the router model's weights and its session. */
uint64_t vkslm_semantic_bytes(const vkslm_semantic *s);
#endif
