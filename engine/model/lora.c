/* Loading a LoRA adapter: metadata and every tensor checked against the base, then uploaded into one
 * device buffer. */
#include "engine/model/lora.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"

const char *const vkslm_lora_kind_names[VKSLM_LORA_KINDS] = {
    "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
};
enum { K_Q, K_K, K_V, K_QKV, K_O, K_GATE, K_UP, K_DOWN };

#define ALIGN 256u

static _Atomic uint64_t next_id = 1;

int vkslm_lora_sel_equal(const vkslm_lora_sel *a, const vkslm_lora_sel *b) {
    if (a->n != b->n)
        return 0;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i] || a->scale[i] != b->scale[i])
            return 0;
    return 1;
}

void vkslm_lora_dev_free(vkslm_lora_dev *l) {
    if (!l)
        return;
    vkslm_vk_free(l->vk, &l->buf);
    vkslm_gguf_close(l->gguf);
    VKSLM_FREE(l->mats);
    VKSLM_FREE(l);
}

vkslm_wt vkslm_lora_base_weight(const vkslm_model_weights *w, uint32_t il, int kind) {
    const vkslm_layer_weights *W = &w->layers[il];
    vkslm_wt t[VKSLM_LORA_KINDS] = {W->wq, W->wk, W->wv, W->wqkv, W->wo, W->ffn_gate, W->ffn_up, W->ffn_down};
    return t[kind];
}

/* Where a kind's pair adds: the product the graph runs and the first row of its output. */
static void place(const vkslm_model_dev *m, uint32_t il, int kind, vkslm_lora_mat *mat) {
    const vkslm_dev_layer *D = &m->layers[il];
    const vkslm_layer_weights *W = &m->w.layers[il];
    int qkv_fused = D->wqkv.buf != NULL, gu_fused = D->ffn_gate.buf == NULL;
    mat->col = 0;
    switch (kind) {
    case K_Q: mat->product = qkv_fused ? VKSLM_LORA_P_QKV : VKSLM_LORA_P_Q; break;
    case K_K:
        mat->product = qkv_fused ? VKSLM_LORA_P_QKV : VKSLM_LORA_P_K;
        mat->col = qkv_fused ? W->wq->ne[1] : 0;
        break;
    case K_V:
        mat->product = qkv_fused ? VKSLM_LORA_P_QKV : VKSLM_LORA_P_V;
        mat->col = qkv_fused ? W->wq->ne[1] + W->wk->ne[1] : 0;
        break;
    case K_QKV: mat->product = VKSLM_LORA_P_QKV; break;
    case K_O: mat->product = VKSLM_LORA_P_O; break;
    case K_GATE: mat->product = gu_fused ? VKSLM_LORA_P_UP : VKSLM_LORA_P_GATE; break;
    case K_UP: /* after the gate rows when the loader fused a separate gate (phi3's file is fused already) */
        mat->product = VKSLM_LORA_P_UP;
        mat->col = gu_fused && W->ffn_gate ? W->ffn_gate->ne[1] : 0;
        break;
    default: mat->product = VKSLM_LORA_P_DOWN; break;
    }
}

/* "blk.N.KIND.weight.lora_X": the layer, kind and half (0 a, 1 b); VKSLM_ERR_UNSUPPORTED otherwise. */
static vkslm_status parse_name(const vkslm_hparams *hp, vkslm_str name, uint32_t *il, int *kind, int *half) {
    char s[160];
    if (name.len >= sizeof s)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "lora: adapter tensor '%.80s...' is not one vkslm adapts",
                          name.ptr);
    memcpy(s, name.ptr, name.len);
    s[name.len] = 0;
    size_t n = strlen(s);
    const char *sa = ".weight.lora_a", *sb = ".weight.lora_b";
    size_t ls = strlen(sa);
    unsigned layer = 0;
    int used = 0;
    if (n > ls && (!strcmp(s + n - ls, sa) || !strcmp(s + n - ls, sb)) && sscanf(s, "blk.%u.%n", &layer, &used) == 1 &&
        used > 0) {
        *half = s[n - 1] == 'b';
        s[n - ls] = 0;
        for (int k = 0; k < VKSLM_LORA_KINDS; k++)
            if (!strcmp(s + used, vkslm_lora_kind_names[k])) {
                s[n - ls] = '.';
                if (layer >= hp->n_layer)
                    return vkslm_fail(VKSLM_ERR_FORMAT, "lora: adapter tensor '%s' names layer %u; the base has %u",
                                      s, layer, hp->n_layer);
                *il = layer;
                *kind = k;
                return VKSLM_OK;
            }
        s[n - ls] = '.';
    }
    return vkslm_fail(VKSLM_ERR_UNSUPPORTED,
                      "lora: adapter tensor '%s' is not one vkslm adapts (blk.N.{attn_q,attn_k,attn_v,attn_qkv,"
                      "attn_output,ffn_gate,ffn_up,ffn_down}.weight.lora_a/lora_b)",
                      s);
}

static vkslm_status check_meta(const vkslm_hparams *hp, const vkslm_gguf *g, float *alpha) {
    vkslm_str s;
    if (vkslm_gguf_get_str(g, "general.type", &s) != VKSLM_OK || s.len != 7 || memcmp(s.ptr, "adapter", 7))
        return vkslm_fail(VKSLM_ERR_FORMAT, "lora: not an adapter file (general.type is not 'adapter')");
    if (vkslm_gguf_get_str(g, "adapter.type", &s) != VKSLM_OK || s.len != 4 || memcmp(s.ptr, "lora", 4))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "lora: adapter.type is not 'lora'");
    if (vkslm_gguf_get_str(g, "general.architecture", &s) != VKSLM_OK)
        return vkslm_fail(VKSLM_ERR_FORMAT, "lora: the adapter has no general.architecture");
    vkslm_str base = hp->arch_name;
    if (s.len != base.len || memcmp(s.ptr, base.ptr, s.len))
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "lora: the adapter is for architecture '%.*s', the base is '%.*s'",
                          (int)(s.len > 40 ? 40 : s.len), s.ptr, (int)base.len, base.ptr);
    *alpha = 0;
    if (vkslm_gguf_find_key(g, "adapter.lora.alpha") >= 0)
        VKSLM_TRY(vkslm_gguf_get_f32(g, "adapter.lora.alpha", alpha));
    return VKSLM_OK;
}

vkslm_status vkslm_lora_check(const vkslm_hparams *hp, const vkslm_model_weights *bw, const vkslm_gguf *g,
                              float *alpha, const vkslm_gguf_tensor **ta, const vkslm_gguf_tensor **tb,
                              uint32_t *n_pairs, uint32_t *max_rank) {
    *n_pairs = *max_rank = 0;
    VKSLM_TRY(check_meta(hp, g, alpha));
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        uint32_t il = 0;
        int kind = 0, half = 0;
        VKSLM_TRY(parse_name(hp, t->name, &il, &kind, &half));
        if (!vkslm_lora_base_weight(bw, il, kind))
            return vkslm_fail(VKSLM_ERR_FORMAT, "lora: adapter tensor '%.*s' adapts blk.%u.%s.weight, which the base "
                                                "does not have",
                              (int)t->name.len, t->name.ptr, il, vkslm_lora_kind_names[kind]);
        if (t->type != VKSLM_TYPE_F32 && t->type != VKSLM_TYPE_F16 && t->type != VKSLM_TYPE_Q8_0)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "lora: adapter tensor '%.*s' is %s (F32, F16 or Q8_0 expected)",
                              (int)t->name.len, t->name.ptr, vkslm_type_info(t->type)->name);
        (half ? tb : ta)[il * VKSLM_LORA_KINDS + kind] = t;
    }
    for (uint32_t il = 0; il < hp->n_layer; il++)
        for (int k = 0; k < VKSLM_LORA_KINDS; k++) {
            const vkslm_gguf_tensor *a = ta[il * VKSLM_LORA_KINDS + k], *b = tb[il * VKSLM_LORA_KINDS + k];
            if (!a && !b)
                continue;
            const char *kn = vkslm_lora_kind_names[k];
            if (!a || !b)
                return vkslm_fail(VKSLM_ERR_FORMAT, "lora: adapter tensor 'blk.%u.%s.weight.lora_%c' is missing "
                                                    "(its other half is present)",
                                  il, kn, a ? 'b' : 'a');
            vkslm_wt w = vkslm_lora_base_weight(bw, il, k);
            if (a->n_dims != 2 || b->n_dims != 2 || a->ne[0] != w->ne[0] || b->ne[1] != w->ne[1] ||
                a->ne[1] != b->ne[0] || a->ne[1] == 0)
                return vkslm_fail(VKSLM_ERR_FORMAT, "lora: adapter tensors 'blk.%u.%s.weight.lora_a' [%llu, %llu] and "
                                                    "lora_b [%llu, %llu] do not fit the base weight [%llu, %llu] "
                                                    "(expected [%llu, r] and [r, %llu])",
                                  il, kn, (unsigned long long)a->ne[0], (unsigned long long)a->ne[1],
                                  (unsigned long long)b->ne[0], (unsigned long long)b->ne[1],
                                  (unsigned long long)w->ne[0], (unsigned long long)w->ne[1],
                                  (unsigned long long)w->ne[0], (unsigned long long)w->ne[1]);
            (*n_pairs)++;
            if (a->ne[1] > *max_rank)
                *max_rank = (uint32_t)a->ne[1];
        }
    if (*n_pairs == 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "lora: the adapter has no tensors");
    return VKSLM_OK;
}

static uint64_t align_up(uint64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

/* One buffer for every pair, and the mats' views into it. */
static vkslm_status upload(vkslm_lora_dev *l, const vkslm_gguf_tensor **ta, const vkslm_gguf_tensor **tb) {
    const uint32_t n = l->base->hp.n_layer * VKSLM_LORA_KINDS;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ta[i])
            total += align_up(ta[i]->size) + align_up(tb[i]->size);
    uint64_t used, reserved, budget = vkslm_vk_memory_budget(l->vk);
    vkslm_vk_memory_usage(l->vk, &used, &reserved);
    if (total > budget || used > budget - total)
        return vkslm_fail(VKSLM_ERR_OUT_OF_DEVICE_MEMORY, "lora: the adapter needs %.1f MiB of device memory; %.1f MiB "
                                                          "are free",
                          total / 1048576.0, (budget > used ? budget - used : 0) / 1048576.0);
    VKSLM_TRY(vkslm_vk_alloc(l->vk, VKSLM_MEM_DEVICE, total, &l->buf));
    l->bytes = total;
    uint64_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!ta[i])
            continue;
        vkslm_lora_mat *mat = &l->mats[i];
        const vkslm_gguf_tensor *half[2] = {ta[i], tb[i]};
        vkslm_tensor *dst[2] = {&mat->a, &mat->b};
        for (int h = 0; h < 2; h++) {
            const vkslm_gguf_tensor *t = half[h];
            VKSLM_TRY(vkslm_vk_upload(l->vk, &l->buf, at, t->data, t->size));
            *dst[h] = (vkslm_tensor){&l->buf, at, t->type, {t->ne[0], t->ne[1], 1, 1}};
            at += align_up(t->size);
        }
        uint64_t rank = ta[i]->ne[1];
        mat->mul = l->alpha != 0 ? l->alpha / (float)rank : 1.0f;
        place(l->base, i / VKSLM_LORA_KINDS, (int)(i % VKSLM_LORA_KINDS), mat);
    }
    return VKSLM_OK;
}

vkslm_status vkslm_lora_dev_load(vkslm_vk *vk, const vkslm_model_dev *base, vkslm_gguf *g, vkslm_lora_dev **out) {
    *out = NULL;
    vkslm_lora_dev *l = VKSLM_CALLOC(1, sizeof *l);
    const uint32_t n = base->hp.n_layer * VKSLM_LORA_KINDS;
    const vkslm_gguf_tensor **ta = VKSLM_CALLOC(n ? n : 1, sizeof *ta), **tb = VKSLM_CALLOC(n ? n : 1, sizeof *tb);
    vkslm_status st = VKSLM_OK;
    if (!l || !ta || !tb || !(l->mats = VKSLM_CALLOC(n ? n : 1, sizeof *l->mats))) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    } else {
        l->base = base;
        l->vk = vk;
        l->id = next_id++;
        l->gguf = g;
        g = NULL;
        st = vkslm_lora_check(&base->hp, &base->w, l->gguf, &l->alpha, ta, tb, &l->n_pairs, &l->max_rank);
        if (st == VKSLM_OK)
            st = upload(l, ta, tb);
    }
    VKSLM_FREE(ta);
    VKSLM_FREE(tb);
    vkslm_gguf_close(g);
    if (l) { /* the tensors are on the device: the file is not needed any more */
        vkslm_gguf_close(l->gguf);
        l->gguf = NULL;
    }
    if (st != VKSLM_OK) {
        vkslm_lora_dev_free(l);
        return st;
    }
    *out = l;
    return VKSLM_OK;
}
