/* File types ("Q4_K_M", ...) and the per-tensor weight type each one gives, following the rules of
 * llama.cpp's quantize tool so files made here look like the ones users download:
 * - only 2-D weights are converted; 1-D tensors (norms, biases, rope_freqs) stay F32;
 * - for quantized file types the output matrix (or the token embedding when it is tied to the output)
 *   becomes Q6_K, or Q8_0 when its rows are not a multiple of 256; a Q8_0 file keeps Q8_0 there;
 * - Q4_K_M: attn_v and ffn_down get Q6_K on the layers use_more_bits() picks (the first and last
 *   eighth and every third layer between), a fused attn_qkv gets Q5_K, everything else Q4_K;
 * - a K-quant whose rows are not a multiple of 256 falls back (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0),
 *   and any type whose block does not divide the rows falls back to F16. */
#ifndef VKSLM_MODEL_QUANT_MIX_H
#define VKSLM_MODEL_QUANT_MIX_H

#include <stdint.h>

#include "vkslm_gguf.h"

/* The file types (vkslm_ftype) and their names are public: include/vkslm_gguf.h, "file types". */

/* The base weight type of a file type (Q4_K for Q4_K_M). */
uint32_t vkslm_ftype_base_type(vkslm_ftype f);

/* What the rules need to know about the whole model. */
typedef struct vkslm_mix_model {
    vkslm_ftype ftype;
    uint32_t n_layer; /* transformer blocks (for use_more_bits) */
    int has_output;   /* output.weight exists (else token_embd doubles as the output) */
} vkslm_mix_model;

/* True for the tensors a file type converts (2-D weights); the others keep their type (F32 in files
 * made here). */
int vkslm_mix_converts(const char *name, uint32_t n_dims);
/* The type a tensor gets: its name as llama.cpp writes it, its dimensions and its current type. */
uint32_t vkslm_mix_tensor_type(const vkslm_mix_model *m, const char *name, uint32_t n_dims, const uint64_t *ne);
#endif
