/* Synthetic models: a GGUF file of any supported architecture and shape with seeded random weights,
 * complete llama.cpp-style metadata and a synthetic byte-level BPE tokenizer, for benchmarks and tests
 * that need no download. Named shapes copy published configurations. Weights are generated row by row
 * from (seed, tensor name, row) and rounded to F16 before conversion, so the same seed gives the same
 * model in every file type, and requantizing the F16 file (vkslm_model_quantize) reproduces the
 * directly written quantized file byte for byte. */
#ifndef VKSLM_MODEL_SYNTH_H
#define VKSLM_MODEL_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/model/hparams.h"
#include "engine/model/quant_mix.h"

/* RoPE scaling a synthetic model declares (written as llama.cpp's converters write it). */
typedef struct vkslm_synth_rope {
    vkslm_rope_scaling type; /* NONE; LINEAR, YARN, or LONGROPE (phi3 only: with rope_factors_long/short) */
    float factor;            /* the scale factor, > 0 */
    uint32_t orig_ctx;       /* rope.scaling.original_context_length; 0: n_ctx / factor (linear: not written) */
} vkslm_synth_rope;

typedef struct vkslm_synth_shape {
    const char *name;       /* "smollm2-135m"; NULL for a custom shape */
    vkslm_arch arch;
    uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv;
    uint32_t head_dim;      /* per-head width; 0 means n_embd / n_head */
    uint32_t n_vocab, n_ctx;
    float rope_base, norm_eps;
    int tied;               /* no output.weight: the token embedding doubles as the output matrix */
    uint32_t sliding_window; /* tokens; 0 = none */
    float attn_softcap, final_softcap; /* gemma2; 0 = none */
    int llama3_rope;        /* rope_freqs.weight with Llama 3.1 scaling (factor 32, low 1, high 4, orig 8192) */
    vkslm_synth_rope rope_scaling; /* none for the named shapes */
} vkslm_synth_shape;

/* The named shapes (a NULL-name-terminated table) and lookup by name (NULL when unknown). */
const vkslm_synth_shape *vkslm_synth_shapes(void);
const vkslm_synth_shape *vkslm_synth_shape_find(const char *name);
/* The defaults a custom shape starts from (rope base, eps, tying, gemma2 caps and window). */
vkslm_synth_shape vkslm_synth_shape_defaults(vkslm_arch arch);
/* Parameter count of a shape (every tensor's elements). */
uint64_t vkslm_synth_n_params(const vkslm_synth_shape *s);

typedef struct vkslm_synth_params {
    vkslm_synth_shape shape;
    vkslm_ftype ftype;
    uint64_t seed;
    int n_threads;          /* 0: the online CPUs */
    bool (*progress)(float fraction, void *user); /* may be NULL */
    void *user;
} vkslm_synth_params;

/* Checks a shape: VKSLM_ERR_INVALID_ARG naming what is wrong (zero sizes, heads not dividing, a vocab
 * the synthetic tokenizer cannot fill). */
vkslm_status vkslm_synth_check(const vkslm_synth_shape *s);
/* Writes the model to path (removed again on failure). */
vkslm_status vkslm_synth_write(const char *path, const vkslm_synth_params *p);

/* synth_vocab.c: the tokenizer keys of a synthetic byte-level BPE vocabulary of exactly n_vocab tokens
 * (256 byte tokens, <|bos|> = 256, <|eos|> = 257, then merges of common letter pairs and triples). */
#include "loaders/gguf_write.h"
uint32_t vkslm_synth_vocab_max(void);
vkslm_status vkslm_synth_vocab_write(vkslm_gguf_writer *w, uint32_t n_vocab);
#endif
