#include "loaders/ggml_types.h"

#include <strings.h>

static const vkslm_type_traits traits[VKSLM_TYPE_COUNT] = {
    [VKSLM_TYPE_F32] = {"F32", 1, 4, 1},
    [VKSLM_TYPE_F16] = {"F16", 1, 2, 1},
    [VKSLM_TYPE_Q4_0] = {"Q4_0", 32, 18, 1},
    [VKSLM_TYPE_Q4_1] = {"Q4_1", 32, 20, 1},
    [VKSLM_TYPE_Q5_0] = {"Q5_0", 32, 22, 1},
    [VKSLM_TYPE_Q5_1] = {"Q5_1", 32, 24, 1},
    [VKSLM_TYPE_Q8_0] = {"Q8_0", 32, 34, 1},
    [VKSLM_TYPE_Q8_1] = {"Q8_1", 32, 36, 0},
    [VKSLM_TYPE_Q2_K] = {"Q2_K", 256, 84, 1},
    [VKSLM_TYPE_Q3_K] = {"Q3_K", 256, 110, 1},
    [VKSLM_TYPE_Q4_K] = {"Q4_K", 256, 144, 1},
    [VKSLM_TYPE_Q5_K] = {"Q5_K", 256, 176, 1},
    [VKSLM_TYPE_Q6_K] = {"Q6_K", 256, 210, 1},
    [VKSLM_TYPE_Q8_K] = {"Q8_K", 256, 292, 0},
    [VKSLM_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66, 0},
    [VKSLM_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74, 0},
    [VKSLM_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98, 0},
    [VKSLM_TYPE_IQ1_S] = {"IQ1_S", 256, 50, 0},
    [VKSLM_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, 1},
    [VKSLM_TYPE_IQ3_S] = {"IQ3_S", 256, 110, 0},
    [VKSLM_TYPE_IQ2_S] = {"IQ2_S", 256, 82, 0},
    [VKSLM_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136, 1},
    [VKSLM_TYPE_I8] = {"I8", 1, 1, 0},
    [VKSLM_TYPE_I16] = {"I16", 1, 2, 0},
    [VKSLM_TYPE_I32] = {"I32", 1, 4, 0},
    [VKSLM_TYPE_I64] = {"I64", 1, 8, 0},
    [VKSLM_TYPE_F64] = {"F64", 1, 8, 0},
    [VKSLM_TYPE_IQ1_M] = {"IQ1_M", 256, 56, 0},
    [VKSLM_TYPE_BF16] = {"BF16", 1, 2, 1},
};

const vkslm_type_traits *vkslm_type_info(uint32_t type) {
    if (type >= VKSLM_TYPE_COUNT || !traits[type].name)
        return NULL;
    return &traits[type];
}

int vkslm_type_from_name(const char *name) {
    for (int i = 0; name && i < VKSLM_TYPE_COUNT; i++)
        if (traits[i].name && strcasecmp(traits[i].name, name) == 0)
            return i;
    return -1;
}

uint64_t vkslm_type_row_bytes(uint32_t type, uint64_t n) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    if (!t || n % t->block_elems != 0)
        return 0;
    return n / t->block_elems * t->block_bytes;
}
