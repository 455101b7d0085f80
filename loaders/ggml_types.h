/* Tensor element types as GGUF numbers them (ggml's type ids), with their block geometry. The block
 * layouts themselves live in loaders/quant_blocks.h. */
#ifndef VKSLM_LOADERS_GGML_TYPES_H
#define VKSLM_LOADERS_GGML_TYPES_H
#include <stddef.h>
#include <stdint.h>

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
    VKSLM_TYPE_COUNT = 40 /* ids below this may be known by name; see vkslm_type_info */
} vkslm_ggml_type;

typedef struct vkslm_type_traits {
    const char *name;     /* "Q4_K" */
    uint32_t block_elems; /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block */
    int supported;        /* vkslm can dequantize it */
} vkslm_type_traits;

/* Traits of a type id, or NULL for an id GGUF does not define. A known-but-unsupported type has
 * supported == 0. */
const vkslm_type_traits *vkslm_type_info(uint32_t type);
/* Type id by name (case-insensitive), or -1. */
int vkslm_type_from_name(const char *name);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block size or the type is unknown. */
uint64_t vkslm_type_row_bytes(uint32_t type, uint64_t n);
#endif
