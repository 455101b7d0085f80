/* Synthetic models: a GGUF file of any supported architecture and shape with seeded random weights,
 * complete llama.cpp-style metadata and a synthetic byte-level BPE tokenizer, for benchmarks and tests
 * that need no download. Named shapes copy published configurations. Weights are generated row by row
 * from (seed, tensor name, row) and rounded to F16 before conversion, so the same seed gives the same
 * model in every file type, and requantizing the F16 file (vkslm_gguf_quantize) reproduces the
 * directly written quantized file byte for byte. */
#ifndef VKSLM_MODEL_SYNTH_H
#define VKSLM_MODEL_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/model/hparams.h"
#include "engine/model/quant_mix.h"
#include "vkslm_gguf.h"

/* The shapes (vkslm_synth_shape, the named table, defaults, parameter count), vkslm_synth_params,
 * vkslm_synth_check and vkslm_synth_write are public: include/vkslm_gguf.h, "synthetic models". */

/* synth_vocab.c: the tokenizer keys of a synthetic byte-level BPE vocabulary of exactly n_vocab tokens:
 * 256 byte tokens, the architecture's special tokens (BOS = 256, EOS = 257: <|bos|> and <|eos|>; phi3:
 * <s>, <|endoftext|>, </s>, <unk>, as llama.cpp wants of a Phi-3), then merges of common letter pairs and
 * triples. */
#include "loaders/gguf_write.h"
uint32_t vkslm_synth_vocab_min(vkslm_arch arch);
uint32_t vkslm_synth_vocab_max(vkslm_arch arch);
vkslm_status vkslm_synth_vocab_write(vkslm_gguf_writer *w, vkslm_arch arch, uint32_t n_vocab);
#endif
