/* Typed model hyperparameters read from GGUF metadata, for the architectures vkslm runs (llama, qwen2,
 * phi3, gemma, gemma2). Keys are "<arch>.<name>" as llama.cpp writes them; defaults follow llama.cpp.
 * A file with weights of a supported architecture must have the required keys (a missing or mistyped
 * one is VKSLM_ERR_FORMAT naming the key). Vocab-only files (no tensors) and unknown architectures get
 * whatever keys are present and the tokenizer fields, with has_arch_params telling which. */
#ifndef VKSLM_MODEL_HPARAMS_H
#define VKSLM_MODEL_HPARAMS_H

#include <stdint.h>

#include "loaders/gguf.h"

/* vkslm_arch, vkslm_rope_scaling, vkslm_hparams, vkslm_hparams_load, vkslm_arch_name and
 * vkslm_rope_scaling_name are public: include/vkslm_gguf.h, "hyperparameters". */

/* Whether vkslm's graph computes what the file's "<arch>." keys ask for (a model of a supported
 * architecture, after vkslm_hparams_load). A key the graph does not implement is refused unless its value
 * is the one meaning "off" (expert_count 0, attention.causal true, ...); a key vkslm does not know is
 * refused whatever its value. VKSLM_ERR_UNSUPPORTED with one message naming the key and its value.
 * general.* and tokenizer.* keys are not checked, nor the rope scaling keys (rope.scaling.*,
 * rope.scale_linear), which vkslm_hparams_load reads as they are. */
vkslm_status vkslm_hparams_check_supported(const vkslm_gguf *g, const vkslm_hparams *hp);

#endif
