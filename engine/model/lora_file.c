/* LoRA adapter files on the host: writing a random adapter for a base (tests and benchmarks need no
 * download) and merging an adapter into a base's weights (W + scale * B A, re-encoded). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/model/lora.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/rng.h"
#include "loaders/gguf_write.h"
#include "loaders/quant.h"
#include "vkslm_gguf.h"

/* An open base: its file, hyperparameters and weights. */
typedef struct base_file {
    vkslm_gguf *g;
    vkslm_hparams hp;
    vkslm_model_weights w;
} base_file;

static void base_close(base_file *b) {
    vkslm_model_weights_free(&b->w);
    vkslm_gguf_close(b->g);
    memset(b, 0, sizeof *b);
}

static vkslm_status base_open(const char *path, base_file *b) {
    memset(b, 0, sizeof *b);
    VKSLM_TRY(vkslm_gguf_open_file(path, &b->g));
    vkslm_status st = vkslm_hparams_load(b->g, &b->hp);
    if (st == VKSLM_OK)
        st = vkslm_model_weights_bind(b->g, &b->hp, &b->w);
    if (st != VKSLM_OK)
        base_close(b);
    return st;
}

/* Which kinds to adapt: the comma-separated names, or every kind the base has. */
static vkslm_status parse_targets(const base_file *b, const char *targets, int want[VKSLM_LORA_KINDS]) {
    for (int k = 0; k < VKSLM_LORA_KINDS; k++)
        want[k] = !targets && vkslm_lora_base_weight(&b->w, 0, k) != NULL;
    for (const char *p = targets; p && *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < VKSLM_LORA_KINDS; k++)
            if (strlen(vkslm_lora_kind_names[k]) == n && !strncmp(p, vkslm_lora_kind_names[k], n))
                found = k;
        if (found < 0)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: unknown target '%.*s' (attn_q, attn_k, attn_v, attn_qkv, "
                                                     "attn_output, ffn_gate, ffn_up, ffn_down)",
                              (int)(n > 40 ? 40 : n), p);
        if (!vkslm_lora_base_weight(&b->w, 0, found))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: the base (%.*s) has no %s weights", (int)b->hp.arch_name.len,
                              b->hp.arch_name.ptr, vkslm_lora_kind_names[found]);
        want[found] = 1;
        p += n + (p[n] == ',');
    }
    for (int k = 0; k < VKSLM_LORA_KINDS; k++)
        if (want[k])
            return VKSLM_OK;
    return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: no targets");
}

/* Writes `rows` rows of n uniform values in [-range, range) from rng, encoded as type. */
static vkslm_status write_random(vkslm_gguf_writer *w, vkslm_rng *rng, uint32_t type, uint64_t rows, uint64_t n,
                                 float range, float *row, uint8_t *enc) {
    for (uint64_t r = 0; r < rows; r++) {
        for (uint64_t i = 0; i < n; i++)
            row[i] = vkslm_rng_range(rng, -range, range);
        VKSLM_TRY(vkslm_quantize_row(type, row, enc, n));
        VKSLM_TRY(vkslm_gguf_writer_write(w, enc, vkslm_type_row_bytes(type, n)));
    }
    return VKSLM_OK;
}

vkslm_lora_synth_params vkslm_lora_synth_default_params(void) {
    vkslm_lora_synth_params p = {.rank = 8, .alpha = 16.0f, .targets = NULL, .type = VKSLM_TYPE_F32, .seed = 1};
    return p;
}

static vkslm_status synth_write(const base_file *b, const char *out_path, const vkslm_lora_synth_params *p,
                                const int want[VKSLM_LORA_KINDS]) {
    const uint64_t r = p->rank;
    uint64_t widest = 0;
    vkslm_gguf_writer *w;
    VKSLM_TRY(vkslm_gguf_writer_open(out_path, 32, &w));
    char arch[64];
    snprintf(arch, sizeof arch, "%.*s", (int)b->hp.arch_name.len, b->hp.arch_name.ptr);
    vkslm_status st = vkslm_gguf_write_str(w, "general.architecture", arch);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_str(w, "general.type", "adapter");
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_str(w, "general.name", "synthetic lora");
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_u32(w, "general.alignment", 32);
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_str(w, "adapter.type", "lora");
    if (st == VKSLM_OK)
        st = vkslm_gguf_write_f32(w, "adapter.lora.alpha", p->alpha);
    char name[128];
    for (uint32_t il = 0; il < b->hp.n_layer && st == VKSLM_OK; il++)
        for (int k = 0; k < VKSLM_LORA_KINDS && st == VKSLM_OK; k++) {
            vkslm_wt bw = want[k] ? vkslm_lora_base_weight(&b->w, il, k) : NULL;
            if (!bw)
                continue;
            uint64_t ne_a[2] = {bw->ne[0], r}, ne_b[2] = {r, bw->ne[1]};
            widest = bw->ne[0] > widest ? bw->ne[0] : widest;
            snprintf(name, sizeof name, "blk.%u.%s.weight.lora_a", il, vkslm_lora_kind_names[k]);
            st = vkslm_gguf_writer_add_tensor(w, name, p->type, 2, ne_a);
            snprintf(name, sizeof name, "blk.%u.%s.weight.lora_b", il, vkslm_lora_kind_names[k]);
            if (st == VKSLM_OK)
                st = vkslm_gguf_writer_add_tensor(w, name, p->type, 2, ne_b);
        }
    if (widest < r)
        widest = r;
    float *row = st == VKSLM_OK ? VKSLM_MALLOC(widest * sizeof(float)) : NULL;
    uint8_t *enc = row ? VKSLM_MALLOC(widest * sizeof(float)) : NULL;
    if (st == VKSLM_OK && !enc)
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    /* A's rows of `in` values ~ 1/sqrt(in), B's of r values ~ 1/sqrt(r): B A x is then of the size of x's
     * own contribution scaled by 1/3, a change that shows in every logit */
    for (uint32_t il = 0; il < b->hp.n_layer && st == VKSLM_OK; il++)
        for (int k = 0; k < VKSLM_LORA_KINDS && st == VKSLM_OK; k++) {
            vkslm_wt bw = want[k] ? vkslm_lora_base_weight(&b->w, il, k) : NULL;
            if (!bw)
                continue;
            vkslm_rng rng;
            vkslm_rng_seed(&rng, p->seed * 1000003u + il * 16u + (uint64_t)k);
            st = write_random(w, &rng, p->type, r, bw->ne[0], 1.0f / sqrtf((float)bw->ne[0]), row, enc);
            if (st == VKSLM_OK)
                st = write_random(w, &rng, p->type, bw->ne[1], r, 0.5f / sqrtf((float)r), row, enc);
        }
    VKSLM_FREE(row);
    VKSLM_FREE(enc);
    if (st == VKSLM_OK)
        return vkslm_gguf_writer_close(w);
    vkslm_gguf_writer_abort(w);
    return st;
}

vkslm_status vkslm_lora_synth_write(const char *base_path, const char *out_path, const vkslm_lora_synth_params *p) {
    if (!base_path || !out_path || !p)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_synth_write: NULL argument");
    if (p->rank == 0 || p->rank > 4096)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: rank %u (1 .. 4096)", p->rank);
    if (!isfinite(p->alpha))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: alpha is not finite");
    if (p->type != VKSLM_TYPE_F32 && p->type != VKSLM_TYPE_F16 && p->type != VKSLM_TYPE_Q8_0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: adapter type must be F32, F16 or Q8_0");
    if (p->type == VKSLM_TYPE_Q8_0 && p->rank % 32)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: Q8_0 adapters need a rank that is a multiple of 32 (B's rows "
                                                 "hold r values)");
    base_file b;
    VKSLM_TRY(base_open(base_path, &b));
    int want[VKSLM_LORA_KINDS];
    vkslm_status st = parse_targets(&b, p->targets, want);
    if (st == VKSLM_OK)
        st = synth_write(&b, out_path, p, want);
    base_close(&b);
    return st;
}

/* ---- merging ------------------------------------------------------------------------------------ */

/* The pair that adapts base tensor t, or -1. */
static int64_t pair_of(const base_file *b, const vkslm_gguf_tensor *t, const vkslm_gguf_tensor **ta) {
    for (uint32_t il = 0; il < b->hp.n_layer; il++)
        for (int k = 0; k < VKSLM_LORA_KINDS; k++)
            if (vkslm_lora_base_weight(&b->w, il, k) == t && ta[il * VKSLM_LORA_KINDS + k])
                return (int64_t)il * VKSLM_LORA_KINDS + k;
    return -1;
}

/* Writes base tensor t merged with pair (a, b): W + s B A, row by row, encoded as `type`. */
static vkslm_status write_merged(vkslm_gguf_writer *w, const vkslm_gguf_tensor *t, uint32_t type,
                                 const vkslm_gguf_tensor *a, const vkslm_gguf_tensor *bt, float s) {
    const uint64_t in = t->ne[0], out = t->ne[1], r = a->ne[1];
    const uint64_t t_row = vkslm_type_row_bytes(t->type, in), a_row = vkslm_type_row_bytes(a->type, in);
    const uint64_t b_row = vkslm_type_row_bytes(bt->type, r);
    float *A = VKSLM_MALLOC(r * in * sizeof(float)), *B = VKSLM_MALLOC(r * sizeof(float));
    float *row = VKSLM_MALLOC(in * sizeof(float));
    uint8_t *enc = VKSLM_MALLOC(in * sizeof(float));
    vkslm_status st = A && B && row && enc ? VKSLM_OK : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint64_t j = 0; j < r && st == VKSLM_OK; j++)
        st = vkslm_dequantize_row(a->type, a->data + j * a_row, A + j * in, in);
    for (uint64_t o = 0; o < out && st == VKSLM_OK; o++) {
        st = vkslm_dequantize_row(t->type, t->data + o * t_row, row, in);
        if (st == VKSLM_OK)
            st = vkslm_dequantize_row(bt->type, bt->data + o * b_row, B, r);
        for (uint64_t i = 0; i < in && st == VKSLM_OK; i++) {
            double d = 0;
            for (uint64_t j = 0; j < r; j++)
                d += (double)B[j] * A[j * in + i];
            row[i] += (float)(s * d);
        }
        if (st == VKSLM_OK)
            st = vkslm_quantize_row(type, row, enc, in);
        if (st == VKSLM_OK)
            st = vkslm_gguf_writer_write(w, enc, vkslm_type_row_bytes(type, in));
    }
    VKSLM_FREE(A);
    VKSLM_FREE(B);
    VKSLM_FREE(row);
    VKSLM_FREE(enc);
    return st;
}

static vkslm_status merge_write(const base_file *b, const vkslm_gguf *ad, float alpha, const vkslm_gguf_tensor **ta,
                                const vkslm_gguf_tensor **tb, float scale, int float_out, const char *out_path) {
    vkslm_gguf_writer *w;
    VKSLM_TRY(vkslm_gguf_writer_open(out_path, (uint32_t)vkslm_gguf_alignment(b->g), &w));
    vkslm_status st = VKSLM_OK;
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(b->g) && st == VKSLM_OK; i++)
        st = vkslm_gguf_writer_copy_kv(w, b->g, i);
    const uint64_t nt = vkslm_gguf_tensor_count(b->g);
    for (uint64_t i = 0; i < nt && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(b->g, i);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        uint32_t type = pair_of(b, t, ta) >= 0 && float_out ? VKSLM_TYPE_F32 : t->type;
        if (pair_of(b, t, ta) >= 0 && !vkslm_can_quantize(type))
            st = vkslm_fail(VKSLM_ERR_UNSUPPORTED, "lora-merge: cannot re-encode '%s' as %s", name,
                            vkslm_type_info(type)->name);
        if (st == VKSLM_OK)
            st = vkslm_gguf_writer_add_tensor(w, name, type, t->n_dims, t->ne);
    }
    if (st == VKSLM_OK)
        st = vkslm_gguf_writer_begin_data(w);
    for (uint64_t i = 0; i < nt && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(b->g, i);
        int64_t p = pair_of(b, t, ta);
        if (p < 0) {
            st = vkslm_gguf_writer_write(w, t->data, t->size);
            continue;
        }
        float s = alpha != 0 ? scale * alpha / (float)ta[p]->ne[1] : scale;
        st = write_merged(w, t, float_out ? VKSLM_TYPE_F32 : t->type, ta[p], tb[p], s);
    }
    (void)ad;
    if (st == VKSLM_OK)
        return vkslm_gguf_writer_close(w);
    vkslm_gguf_writer_abort(w);
    return st;
}

/* A base file and an adapter checked against it (vkslm_lora_check): what merging and checking both start from. */
typedef struct lora_pair {
    base_file b;
    vkslm_gguf *ad;
    const vkslm_gguf_tensor **ta, **tb; /* [layer * VKSLM_LORA_KINDS]: the adapter's halves per weight */
    float alpha;
    uint32_t pairs, rank;
} lora_pair;

static void pair_close(lora_pair *p) {
    VKSLM_FREE(p->ta);
    VKSLM_FREE(p->tb);
    vkslm_gguf_close(p->ad);
    base_close(&p->b);
}

/* Opens both files and checks the adapter; on failure everything is closed again. */
static vkslm_status pair_open(const char *base_path, const char *adapter_path, lora_pair *p) {
    memset(p, 0, sizeof *p);
    VKSLM_TRY(base_open(base_path, &p->b));
    const uint32_t n = p->b.hp.n_layer * VKSLM_LORA_KINDS;
    p->ta = VKSLM_CALLOC(n ? n : 1, sizeof *p->ta);
    p->tb = VKSLM_CALLOC(n ? n : 1, sizeof *p->tb);
    vkslm_status st = p->ta && p->tb ? vkslm_gguf_open_file(adapter_path, &p->ad)
                                     : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == VKSLM_OK)
        st = vkslm_lora_check(&p->b.hp, &p->b.w, p->ad, &p->alpha, p->ta, p->tb, &p->pairs, &p->rank);
    if (st != VKSLM_OK)
        pair_close(p);
    return st;
}

vkslm_status vkslm_lora_merge(const char *base_path, const char *adapter_path, float scale, int float_out,
                              const char *out_path) {
    if (!base_path || !adapter_path || !out_path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_merge: NULL path");
    if (!isfinite(scale))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora-merge: the scale is not finite");
    lora_pair p;
    VKSLM_TRY(pair_open(base_path, adapter_path, &p));
    vkslm_status st = merge_write(&p.b, p.ad, p.alpha, p.ta, p.tb, scale, float_out, out_path);
    pair_close(&p);
    return st;
}

vkslm_status vkslm_lora_check_file(const char *base_path, const char *adapter_path, uint32_t *rank) {
    if (!base_path || !adapter_path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_check_file: NULL path");
    lora_pair p;
    VKSLM_TRY(pair_open(base_path, adapter_path, &p));
    if (rank)
        *rank = p.rank;
    pair_close(&p);
    return VKSLM_OK;
}
