/* File types and llama.cpp's per-tensor type rules (see quant_mix.h). */
#include "engine/model/quant_mix.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "loaders/ggml_types.h"

typedef struct ftype_def {
    const char *name;
    vkslm_ftype ftype;
    uint32_t base;
} ftype_def;

static const ftype_def ftypes[] = {
    {"F32", VKSLM_FTYPE_ALL_F32, VKSLM_TYPE_F32},  {"F16", VKSLM_FTYPE_F16, VKSLM_TYPE_F16},
    {"BF16", VKSLM_FTYPE_BF16, VKSLM_TYPE_BF16},   {"Q8_0", VKSLM_FTYPE_Q8_0, VKSLM_TYPE_Q8_0},
    {"Q4_0", VKSLM_FTYPE_Q4_0, VKSLM_TYPE_Q4_0},   {"Q4_1", VKSLM_FTYPE_Q4_1, VKSLM_TYPE_Q4_1},
    {"Q5_0", VKSLM_FTYPE_Q5_0, VKSLM_TYPE_Q5_0},   {"Q5_1", VKSLM_FTYPE_Q5_1, VKSLM_TYPE_Q5_1},
    {"Q4_K_M", VKSLM_FTYPE_Q4_K_M, VKSLM_TYPE_Q4_K}, {"Q6_K", VKSLM_FTYPE_Q6_K, VKSLM_TYPE_Q6_K},
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

bool vkslm_ftype_from_name(const char *name, vkslm_ftype *out) {
    for (size_t i = 0; name && out && i < N_FTYPES; i++)
        if (strcasecmp(name, ftypes[i].name) == 0) {
            *out = ftypes[i].ftype;
            return true;
        }
    return false;
}

static const ftype_def *find_def(vkslm_ftype f) {
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == f)
            return &ftypes[i];
    return NULL;
}

const char *vkslm_ftype_name(vkslm_ftype f) {
    const ftype_def *d = find_def(f);
    return d ? d->name : "?";
}

const char *vkslm_ftype_list(void) { return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q6_K"; }

uint32_t vkslm_ftype_base_type(vkslm_ftype f) {
    const ftype_def *d = find_def(f);
    return d ? d->base : VKSLM_TYPE_F32;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between. */
static int use_more_bits(int i_layer, int n_layer) {
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

static int layer_of(const char *name) {
    int il = -1;
    return sscanf(name, "blk.%d.", &il) == 1 ? il : -1;
}

/* A type whose block does not divide the rows falls back as llama.cpp does. */
static uint32_t fit_rows(uint32_t type, uint64_t ne0) {
    if (ne0 % vkslm_type_info(type)->block_elems == 0)
        return type;
    switch (type) {
    case VKSLM_TYPE_Q4_K: type = VKSLM_TYPE_Q5_0; break;
    case VKSLM_TYPE_Q5_K: type = VKSLM_TYPE_Q5_1; break;
    case VKSLM_TYPE_Q6_K: type = VKSLM_TYPE_Q8_0; break;
    default: break;
    }
    return ne0 % vkslm_type_info(type)->block_elems == 0 ? type : VKSLM_TYPE_F16;
}

int vkslm_mix_converts(const char *name, uint32_t n_dims) {
    return n_dims >= 2 && ends_with(name, ".weight") && !ends_with(name, "_norm.weight");
}

uint32_t vkslm_mix_tensor_type(const vkslm_mix_model *m, const char *name, uint32_t n_dims, const uint64_t *ne) {
    if (!vkslm_mix_converts(name, n_dims))
        return VKSLM_TYPE_F32;
    uint32_t base = vkslm_ftype_base_type(m->ftype);
    if (m->ftype == VKSLM_FTYPE_ALL_F32 || m->ftype == VKSLM_FTYPE_F16 || m->ftype == VKSLM_FTYPE_BF16)
        return base;
    uint32_t t = base;
    int is_output = strcmp(name, "output.weight") == 0 || (!m->has_output && strcmp(name, "token_embd.weight") == 0);
    if (is_output) {
        if (ne[0] % 256 != 0)
            t = VKSLM_TYPE_Q8_0;
        else if (t != VKSLM_TYPE_Q8_0)
            t = VKSLM_TYPE_Q6_K;
    } else if (m->ftype == VKSLM_FTYPE_Q4_K_M) {
        int il = layer_of(name), n = (int)m->n_layer;
        if ((strstr(name, ".attn_v.weight") || strstr(name, ".ffn_down.weight")) && il >= 0 && use_more_bits(il, n))
            t = VKSLM_TYPE_Q6_K;
        else if (strstr(name, ".attn_qkv.weight"))
            t = VKSLM_TYPE_Q5_K;
    }
    return fit_rows(t, ne[0]);
}
