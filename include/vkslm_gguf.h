/* vkslm_gguf.h: vkslm's model-file API, beside vkslm.h. Reading a GGUF file (its header, metadata keys and
 * values, the tensor table, the hyperparameters vkslm reads from it), tensor and file type names and sizes,
 * requantizing a file into another type, and writing synthetic models of a published or custom shape.
 * Nothing here opens a Vulkan device: these calls work on any machine. `vkslm info`, `vkslm quantize` and
 * `vkslm mkmodel` are built on them.
 *
 * Example (print a file's architecture and tensor table):
 *
 *     #include <stdio.h>
 *     #include <vkslm_gguf.h>
 *     int main(int argc, char **argv) {
 *         vkslm_gguf *g;
 *         vkslm_hparams hp;
 *         if (vkslm_gguf_open_file(argv[1], &g) != VKSLM_OK || vkslm_hparams_load(g, &hp) != VKSLM_OK) {
 *             fprintf(stderr, "%s\n", vkslm_last_error());
 *             return 1;
 *         }
 *         printf("%.*s, %u layers\n", (int)hp.arch_name.len, hp.arch_name.ptr, hp.n_layer);
 *         for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
 *             const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
 *             printf("%.*s %s %llu bytes\n", (int)t->name.len, t->name.ptr, vkslm_type_info(t->type)->name,
 *                    (unsigned long long)t->size);
 *         }
 *         vkslm_gguf_close(g);
 *         return 0;
 *     }
 *
 * Build: cc example.c $(pkg-config --cflags --libs vkslm)
 *
 * Conventions are vkslm.h's: fallible calls return a vkslm_status with the reason in vkslm_last_error();
 * handles are opaque, and close/free(NULL) is a no-op; zero in a params struct means the default. */
#ifndef VKSLM_GGUF_H
#define VKSLM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tensor types ------------------------------------------------------------------------------ */
/* Tensor element types as GGUF numbers them (ggml's type ids). */
typedef enum vkslm_ggml_type {
    VKSLM_TYPE_F32 = 0,
    VKSLM_TYPE_F16 = 1,
    VKSLM_TYPE_Q4_0 = 2,
    VKSLM_TYPE_Q4_1 = 3,
    VKSLM_TYPE_Q5_0 = 6,
    VKSLM_TYPE_Q5_1 = 7,
    VKSLM_TYPE_Q8_0 = 8,
    VKSLM_TYPE_Q8_1 = 9,
    VKSLM_TYPE_Q2_K = 10,
    VKSLM_TYPE_Q3_K = 11,
    VKSLM_TYPE_Q4_K = 12,
    VKSLM_TYPE_Q5_K = 13,
    VKSLM_TYPE_Q6_K = 14,
    VKSLM_TYPE_Q8_K = 15,
    VKSLM_TYPE_IQ2_XXS = 16,
    VKSLM_TYPE_IQ2_XS = 17,
    VKSLM_TYPE_IQ3_XXS = 18,
    VKSLM_TYPE_IQ1_S = 19,
    VKSLM_TYPE_IQ4_NL = 20,
    VKSLM_TYPE_IQ3_S = 21,
    VKSLM_TYPE_IQ2_S = 22,
    VKSLM_TYPE_IQ4_XS = 23,
    VKSLM_TYPE_I8 = 24,
    VKSLM_TYPE_I16 = 25,
    VKSLM_TYPE_I32 = 26,
    VKSLM_TYPE_I64 = 27,
    VKSLM_TYPE_F64 = 28,
    VKSLM_TYPE_IQ1_M = 29,
    VKSLM_TYPE_BF16 = 30,
    VKSLM_TYPE_COUNT = 40 /* every type id GGUF defines is below this; see vkslm_type_info */
} vkslm_ggml_type;

typedef struct vkslm_type_traits {
    const char *name;     /* "Q4_K" */
    uint32_t block_elems; /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block */
    int supported;        /* vkslm can dequantize and compute with it */
} vkslm_type_traits;

/* Traits of a type id (static data), or NULL for an id GGUF does not define. A type GGUF defines but vkslm
 * cannot compute (Q8_K, IQ2_XXS, I32, ...) has supported == 0: files with it parse, models with it are
 * refused. */
VKSLM_API const vkslm_type_traits *vkslm_type_info(uint32_t type);
/* Type id by name (case-insensitive: "q4_k"), or -1. */
VKSLM_API int vkslm_type_from_name(const char *name);
/* Bytes of a row of n elements; 0 when n is not a multiple of the type's block or the type is unknown. */
VKSLM_API uint64_t vkslm_type_row_bytes(uint32_t type, uint64_t n);

/* ---- file types -------------------------------------------------------------------------------- */
/* What a whole file is quantized to (llama.cpp's general.file_type numbers, llama_ftype). Each gives every
 * tensor a type by the rules of llama.cpp's quantize tool, so files made here look like the ones users
 * download:
 * - only 2-D weights are converted; 1-D tensors (norms, biases, rope_freqs) stay F32;
 * - for quantized file types the output matrix (or the token embedding when it is tied to the output)
 *   becomes Q6_K, or Q8_0 when its rows are not a multiple of 256; a Q8_0 file keeps Q8_0 there;
 * - Q4_K_M: attn_v and ffn_down get Q6_K on the layers llama.cpp's use_more_bits picks (the first and last
 *   eighth and every third layer between), a fused attn_qkv gets Q5_K, everything else Q4_K;
 * - a K-quant whose rows are not a multiple of 256 falls back (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0),
 *   and any type whose block does not divide the rows falls back to F16. */
typedef enum vkslm_ftype {
    VKSLM_FTYPE_ALL_F32 = 0,
    VKSLM_FTYPE_F16 = 1,
    VKSLM_FTYPE_Q4_0 = 2,
    VKSLM_FTYPE_Q4_1 = 3,
    VKSLM_FTYPE_Q8_0 = 7,
    VKSLM_FTYPE_Q5_0 = 8,
    VKSLM_FTYPE_Q5_1 = 9,
    VKSLM_FTYPE_Q4_K_M = 15,
    VKSLM_FTYPE_Q6_K = 18,
    VKSLM_FTYPE_BF16 = 32
} vkslm_ftype;

/* Parses a file type name (case-insensitive: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q6_K)
 * into *out; false (and *out unchanged) when the name is unknown or NULL. */
VKSLM_API bool vkslm_ftype_from_name(const char *name, vkslm_ftype *out);
VKSLM_API const char *vkslm_ftype_name(vkslm_ftype ftype); /* "Q4_K_M"; "?" when unknown */
/* The names above, comma-separated (for usage messages). */
VKSLM_API const char *vkslm_ftype_list(void);

/* ---- reading a GGUF file ----------------------------------------------------------------------- */
/* A GGUF v2/v3 file, read-only. The file is untrusted: every count, length, offset and dimension is checked
 * against the bytes that remain and against overflow; a bad file gets VKSLM_ERR_FORMAT with a message naming
 * what is wrong and its byte offset. Rejected: bad magic or version, truncation anywhere, string and array
 * lengths past the end, counts that cannot fit in the bytes left, unknown value types, nested arrays, bools
 * other than 0/1, empty names, names with NUL bytes or over 65535 bytes, duplicate keys or tensor names,
 * n_dims outside 1..4, zero, oversized or overflowing dims, unknown tensor types, rows not a multiple of the
 * type's block, general.alignment not a nonzero power of two, misaligned, overlapping or out-of-file tensor
 * data. The file is mapped (or borrowed), never copied whole: strings are views into it, valid until
 * vkslm_gguf_close. Host memory is linear in the file size (at most a few bytes per byte of file).
 * Threads: a handle is read-only, but vkslm_gguf_find_key and vkslm_gguf_find_tensor use a lookup that
 * writes a scratch field: do not look names up in one handle from several threads at once. */
typedef struct vkslm_gguf vkslm_gguf;

/* A string in the file: not NUL-terminated (print with "%.*s", (int)s.len, s.ptr). ptr NULL, len 0 when
 * absent. */
typedef struct vkslm_str {
    const char *ptr;
    uint64_t len;
} vkslm_str;

typedef enum vkslm_gguf_vtype {
    VKSLM_GGUF_UINT8 = 0,
    VKSLM_GGUF_INT8 = 1,
    VKSLM_GGUF_UINT16 = 2,
    VKSLM_GGUF_INT16 = 3,
    VKSLM_GGUF_UINT32 = 4,
    VKSLM_GGUF_INT32 = 5,
    VKSLM_GGUF_FLOAT32 = 6,
    VKSLM_GGUF_BOOL = 7,
    VKSLM_GGUF_STRING = 8,
    VKSLM_GGUF_ARRAY = 9,
    VKSLM_GGUF_UINT64 = 10,
    VKSLM_GGUF_INT64 = 11,
    VKSLM_GGUF_FLOAT64 = 12
} vkslm_gguf_vtype;

/* One entry of the tensor table. */
typedef struct vkslm_gguf_tensor {
    vkslm_str name;
    uint32_t type;       /* vkslm_ggml_type */
    uint32_t n_dims;     /* 1..4 */
    uint64_t ne[4];      /* elements per dimension, ne[0] the contiguous one; unused dimensions are 1 */
    uint64_t n_elems;
    uint64_t offset;     /* bytes from the start of the data section (vkslm_gguf_data_offset) */
    uint64_t size;       /* bytes */
    const uint8_t *data; /* the tensor's bytes in the mapping */
} vkslm_gguf_tensor;

/* open_file maps the file; open_memory borrows `data` (it must outlive the handle); open_fd maps `length`
 * bytes at `offset` of an open file (Android: AAsset_openFileDescriptor; length 0: to the end), and the
 * descriptor may be closed after the call. */
VKSLM_API vkslm_status vkslm_gguf_open_file(const char *path, vkslm_gguf **out);
VKSLM_API vkslm_status vkslm_gguf_open_memory(const void *data, size_t size, vkslm_gguf **out);
VKSLM_API vkslm_status vkslm_gguf_open_fd(int fd, uint64_t offset, uint64_t length, vkslm_gguf **out);
VKSLM_API void vkslm_gguf_close(vkslm_gguf *g);

/* The header: GGUF version (2 or 3), data alignment, byte offset of the data section, bytes of the file (or
 * of the memory or fd window). 0 for a NULL handle. */
VKSLM_API uint32_t vkslm_gguf_version(const vkslm_gguf *g);
VKSLM_API uint64_t vkslm_gguf_alignment(const vkslm_gguf *g);
VKSLM_API uint64_t vkslm_gguf_data_offset(const vkslm_gguf *g);
VKSLM_API uint64_t vkslm_gguf_file_size(const vkslm_gguf *g);

/* Metadata, by index i < vkslm_gguf_kv_count (in file order) or by key. */
VKSLM_API uint64_t vkslm_gguf_kv_count(const vkslm_gguf *g);
VKSLM_API int64_t vkslm_gguf_find_key(const vkslm_gguf *g, const char *key); /* index, or -1 */
VKSLM_API vkslm_str vkslm_gguf_kv_key(const vkslm_gguf *g, uint64_t i);
VKSLM_API vkslm_gguf_vtype vkslm_gguf_kv_type(const vkslm_gguf *g, uint64_t i);
/* For an array: its element type and count (VKSLM_GGUF_UINT8 and 0 for other values). */
VKSLM_API vkslm_gguf_vtype vkslm_gguf_kv_arr_type(const vkslm_gguf *g, uint64_t i);
VKSLM_API uint64_t vkslm_gguf_kv_arr_len(const vkslm_gguf *g, uint64_t i);
/* "uint32", "string", ... ("unknown" for an id GGUF does not define). */
VKSLM_API const char *vkslm_gguf_vtype_name(uint32_t type);

/* Scalar values. Integers of any width convert when the value fits the result (else VKSLM_ERR_FORMAT);
 * f64 reads floats and integers. VKSLM_ERR_FORMAT naming the key when the value has another type,
 * VKSLM_ERR_INVALID_ARG for an index out of range or a NULL out. */
VKSLM_API vkslm_status vkslm_gguf_kv_u64(const vkslm_gguf *g, uint64_t i, uint64_t *out);
VKSLM_API vkslm_status vkslm_gguf_kv_i64(const vkslm_gguf *g, uint64_t i, int64_t *out);
VKSLM_API vkslm_status vkslm_gguf_kv_f64(const vkslm_gguf *g, uint64_t i, double *out);
VKSLM_API vkslm_status vkslm_gguf_kv_bool(const vkslm_gguf *g, uint64_t i, int *out);
VKSLM_API vkslm_status vkslm_gguf_kv_str(const vkslm_gguf *g, uint64_t i, vkslm_str *out);
/* Element j of an array value; numeric elements convert as above. */
VKSLM_API vkslm_status vkslm_gguf_arr_str(const vkslm_gguf *g, uint64_t i, uint64_t j, vkslm_str *out);
VKSLM_API vkslm_status vkslm_gguf_arr_i64(const vkslm_gguf *g, uint64_t i, uint64_t j, int64_t *out);
VKSLM_API vkslm_status vkslm_gguf_arr_f64(const vkslm_gguf *g, uint64_t i, uint64_t j, double *out);
/* The raw little-endian elements of a numeric array (possibly unaligned: read them with memcpy), or NULL
 * for anything else. */
VKSLM_API const void *vkslm_gguf_arr_data(const vkslm_gguf *g, uint64_t i);
/* By key: VKSLM_ERR_FORMAT naming the key when it is missing or has the wrong type. */
VKSLM_API vkslm_status vkslm_gguf_get_u32(const vkslm_gguf *g, const char *key, uint32_t *out);
VKSLM_API vkslm_status vkslm_gguf_get_f32(const vkslm_gguf *g, const char *key, float *out);
VKSLM_API vkslm_status vkslm_gguf_get_bool(const vkslm_gguf *g, const char *key, int *out);
VKSLM_API vkslm_status vkslm_gguf_get_str(const vkslm_gguf *g, const char *key, vkslm_str *out);

/* The tensor table, in file order. tensor_at gives NULL for i >= the count, find_tensor for an absent name. */
VKSLM_API uint64_t vkslm_gguf_tensor_count(const vkslm_gguf *g);
VKSLM_API const vkslm_gguf_tensor *vkslm_gguf_tensor_at(const vkslm_gguf *g, uint64_t i);
VKSLM_API const vkslm_gguf_tensor *vkslm_gguf_find_tensor(const vkslm_gguf *g, const char *name);

/* ---- hyperparameters --------------------------------------------------------------------------- */
typedef enum vkslm_arch {
    VKSLM_ARCH_UNKNOWN = 0, /* absent, or an architecture vkslm does not run */
    VKSLM_ARCH_LLAMA,
    VKSLM_ARCH_QWEN2,
    VKSLM_ARCH_PHI3,
    VKSLM_ARCH_GEMMA,
    VKSLM_ARCH_GEMMA2
} vkslm_arch;

typedef enum vkslm_rope_scaling {
    VKSLM_ROPE_SCALING_NONE = 0,
    VKSLM_ROPE_SCALING_LINEAR,
    VKSLM_ROPE_SCALING_YARN,
    VKSLM_ROPE_SCALING_LONGROPE
} vkslm_rope_scaling;

/* The hyperparameters vkslm reads from GGUF metadata ("<arch>.<name>" keys as llama.cpp writes them;
 * defaults as llama.cpp's). */
typedef struct vkslm_hparams {
    /* Views into the GGUF file: valid while it stays open. len 0 when absent. */
    vkslm_str arch_name;  /* general.architecture, e.g. "llama" */
    vkslm_arch arch;
    int has_arch_params;  /* 1 when <arch>.block_count was present (not a vocab-only file) */

    uint32_t n_layer;       /* block_count: transformer blocks */
    uint32_t n_embd;        /* embedding_length: residual stream width */
    uint32_t n_ff;          /* feed_forward_length: FFN hidden width */
    uint32_t n_head;        /* attention.head_count: query heads */
    uint32_t n_head_kv;     /* attention.head_count_kv: key/value heads (GQA); default n_head */
    uint32_t n_embd_head_k; /* attention.key_length: per-head key width; default n_embd / n_head */
    uint32_t n_embd_head_v; /* attention.value_length: per-head value width; default n_embd / n_head */
    uint32_t n_ctx_train;   /* context_length: trained context, tokens */
    uint32_t n_rot;         /* rope.dimension_count: rotated dims per head; default n_embd_head_k */
    float rope_freq_base;   /* rope.freq_base; default 10000 */
    vkslm_rope_scaling rope_scaling; /* rope.scaling.type; default none (linear when only a factor is given,
                                      * longrope when rope_factors_long/short.weight are present) */
    float rope_scaling_factor;       /* rope.scaling.factor (or legacy rope.scale_linear); 0 = none */
    uint32_t rope_scaling_orig_ctx;  /* rope.scaling.original_context_length; default (and for 0) n_ctx_train */
    float rope_scaling_attn_factor;  /* rope.scaling.attn_factor; default 1 */
    float rope_yarn_ext_factor;      /* rope.scaling.yarn_ext_factor; default -1: 1 for yarn, else 0 */
    float rope_yarn_attn_factor;     /* rope.scaling.yarn_attn_factor; default 1 (replaced when ext_factor != 0) */
    float rope_yarn_beta_fast;       /* rope.scaling.yarn_beta_fast; default 32 */
    float rope_yarn_beta_slow;       /* rope.scaling.yarn_beta_slow; default 1 */
    float norm_rms_eps;     /* attention.layer_norm_rms_epsilon; required for the supported archs */
    float norm_eps;         /* attention.layer_norm_epsilon; 0 when absent */
    uint32_t n_swa;         /* attention.sliding_window, tokens; 0 = none (gemma2 default 4096) */
    float attn_softcap;     /* attn_logit_softcapping; 0 = none (gemma2 default 50) */
    float final_softcap;    /* final_logit_softcapping; 0 = none (gemma2 default 30) */
    uint32_t pooling_type;  /* pooling_type, how the model's embeddings pool tokens (llama.cpp's numbering):
                             * 0 none (absent), 1 mean, 2 cls, 3 last, 4 rank; vkslm runs 0, 1 and 3 */

    /* Tokenizer (tokenizer.ggml.*): present in model and vocab-only files. */
    vkslm_str tok_model;    /* tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE), ... */
    vkslm_str tok_pre;      /* tokenizer.ggml.pre: pre-tokenizer name, e.g. "llama-bpe"; len 0 when absent */
    uint32_t n_vocab;       /* number of tokenizer.ggml.tokens */
    int32_t bos_id;         /* tokenizer.ggml.bos_token_id, or -1 */
    int32_t eos_id;         /* tokenizer.ggml.eos_token_id, or -1 */
    int has_chat_template;  /* tokenizer.chat_template present */
    uint64_t chat_template_len; /* bytes */
} vkslm_hparams;

/* Reads every hyperparameter above. A file with weights of a supported architecture must have the required
 * keys: VKSLM_ERR_FORMAT names the key that is missing, mistyped or out of range. Vocab-only files (no
 * tensors) and unknown architectures get whatever keys are present and the tokenizer fields, with
 * has_arch_params telling which. */
VKSLM_API vkslm_status vkslm_hparams_load(const vkslm_gguf *g, vkslm_hparams *hp);
VKSLM_API const char *vkslm_arch_name(vkslm_arch arch);                 /* "llama", ...; "unknown" */
VKSLM_API const char *vkslm_rope_scaling_name(vkslm_rope_scaling scaling); /* "none", "linear", "yarn", "longrope" */

/* ---- requantizing a file ----------------------------------------------------------------------- */
typedef struct vkslm_quantize_params {
    int n_threads;              /* conversion threads; 0: the online CPUs (at most 16) */
    vkslm_progress_fn progress; /* the fraction of elements converted, after each chunk (its return value is
                                 * ignored: a conversion is not cancelled); NULL: none */
    void *progress_user_data;
} vkslm_quantize_params;

VKSLM_API vkslm_quantize_params vkslm_quantize_default_params(void);
/* Requantizes the F32/F16/BF16 GGUF file at in_path into out_path with file type ftype: every key copied
 * (general.file_type updated, general.quantization_version set for quantized types), the tensors in the
 * same order with the types the file type gives (above). An input with a tensor of any other type (an
 * already quantized file) is refused with VKSLM_ERR_UNSUPPORTED naming the tensor and its type. out_path is
 * removed again on failure. params may be NULL (defaults). */
VKSLM_API vkslm_status vkslm_gguf_quantize(const char *in_path, const char *out_path, vkslm_ftype ftype,
                                          const vkslm_quantize_params *params);

/* ---- synthetic models -------------------------------------------------------------------------- */
/* A GGUF model of any supported architecture and shape with seeded random weights, complete llama.cpp-style
 * metadata and a synthetic byte-level BPE tokenizer (256 byte tokens, the architecture's special tokens, then
 * merges of common letter pairs and triples), for benchmarks and tests that need no download. Weights are
 * generated row by row from (seed, tensor name, row) and rounded to F16 before conversion, so one seed gives
 * the same model in every file type, and vkslm_gguf_quantize of the F16 file reproduces the directly written
 * quantized file byte for byte. */

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

/* The named shapes, copies of published configurations (a table ended by an entry with name NULL). */
VKSLM_API const vkslm_synth_shape *vkslm_synth_shapes(void);
/* A named shape, or NULL when the name is unknown. */
VKSLM_API const vkslm_synth_shape *vkslm_synth_shape_find(const char *name);
/* The defaults a custom shape of arch starts from (context 4096, rope base, norm epsilon, tying, gemma2's
 * soft-caps and window); the sizes are 0, for the caller to fill. */
VKSLM_API vkslm_synth_shape vkslm_synth_shape_defaults(vkslm_arch arch);
/* Parameter count of a shape (every tensor's elements). */
VKSLM_API uint64_t vkslm_synth_n_params(const vkslm_synth_shape *shape);

typedef struct vkslm_synth_params {
    vkslm_synth_shape shape;
    vkslm_ftype ftype;          /* 0: F32 */
    uint64_t seed;              /* the same seed gives the same weights in every file type */
    int n_threads;              /* conversion threads; 0: the online CPUs */
    vkslm_progress_fn progress; /* fraction written (its return value is ignored); NULL: none */
    void *user;                 /* progress's user_data */
} vkslm_synth_params;

/* Checks a shape: VKSLM_ERR_INVALID_ARG naming what is wrong (zero sizes, heads that do not divide the
 * width, a vocabulary the synthetic tokenizer cannot fill). */
VKSLM_API vkslm_status vkslm_synth_check(const vkslm_synth_shape *shape);
/* Writes the model to path (removed again on failure). */
VKSLM_API vkslm_status vkslm_synth_write(const char *path, const vkslm_synth_params *params);

/* ---- LoRA adapter files ------------------------------------------------------------------------ */
/* Adapters in llama.cpp's GGUF layout (see vkslm_lora_load in vkslm.h): general.type "adapter",
 * adapter.type "lora", adapter.lora.alpha, and blk.N.NAME.weight.lora_a [in, r] / lora_b [r, out] pairs. */
typedef struct vkslm_lora_synth_params {
    uint32_t rank;       /* r, 1 .. 4096 */
    float alpha;         /* adapter.lora.alpha (the pairs are scaled by alpha / r; 0: by 1) */
    const char *targets; /* comma-separated weights to adapt (attn_q, attn_k, attn_v, attn_qkv, attn_output,
                          * ffn_gate, ffn_up, ffn_down); NULL: every one of them the base has */
    uint32_t type;       /* VKSLM_TYPE_F32, F16 or Q8_0 (Q8_0: rank a multiple of 32) */
    uint64_t seed;       /* the same seed and base give the same adapter */
} vkslm_lora_synth_params;

/* rank 8, alpha 16, every weight, F32, seed 1. */
VKSLM_API vkslm_lora_synth_params vkslm_lora_synth_default_params(void);
/* Writes a random adapter for the model at base_path to out_path (removed again on failure): A uniform in
 * +-1/sqrt(in), B in +-0.5/sqrt(r), so that it visibly changes the model (a trained adapter starts with
 * B = 0). VKSLM_ERR_INVALID_ARG for a bad rank, type or target, or a target the base lacks. */
VKSLM_API vkslm_status vkslm_lora_synth_write(const char *base_path, const char *out_path,
                                             const vkslm_lora_synth_params *params);
/* Checks the adapter at adapter_path against the model at base_path on the host, with the refusals of
 * vkslm_lora_load (the message names the tensor); *rank (may be NULL) gets its largest rank. */
VKSLM_API vkslm_status vkslm_lora_check_file(const char *base_path, const char *adapter_path, uint32_t *rank);
/* Writes the base at base_path with the adapter at adapter_path merged into its weights, W + s B A (s =
 * scale * alpha / r, or scale when alpha is 0), computed in float from the dequantized weights, to
 * out_path: every key and every other tensor copied as they are; the adapted tensors re-encoded in their
 * base type, or in F32 when float_out. Adapters are checked as vkslm_lora_load checks them (the same
 * refusals); a base type that cannot be re-encoded is refused with VKSLM_ERR_UNSUPPORTED. */
VKSLM_API vkslm_status vkslm_lora_merge(const char *base_path, const char *adapter_path, float scale, int float_out,
                                       const char *out_path);

#ifdef __cplusplus
}
#endif
#endif /* VKSLM_GGUF_H */
