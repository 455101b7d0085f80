/* Binding GGUF tensors to the per-architecture weight table, with shape and type checks. */
#include "engine/model/tensors.h"

#include <stdio.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "loaders/ggml_types.h"

typedef struct finder {
    const vkslm_gguf *g;
    vkslm_status st;
} finder;

/* Looks a tensor up and checks its shape ([ne0] when ne1 == 0, else [ne0, ne1]). On failure records the
 * first error in f->st and returns NULL. */
static vkslm_wt find(finder *f, int required, uint64_t ne0, uint64_t ne1, const char *fmt, int layer) {
    if (f->st != VKSLM_OK)
        return NULL;
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    vkslm_wt t = vkslm_gguf_find_tensor(f->g, name);
    if (!t) {
        if (required)
            f->st = vkslm_fail(VKSLM_ERR_FORMAT, "model: required tensor '%s' is missing", name);
        return NULL;
    }
    const vkslm_type_traits *tr = vkslm_type_info(t->type);
    if (!tr || !tr->supported) {
        f->st = vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: tensor '%s' has weight type %s, which vkslm does not support",
                           name, tr ? tr->name : "(unknown)");
        return NULL;
    }
    int ok = t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1) && t->ne[2] == 1 && t->ne[3] == 1;
    if (!ok) {
        char want[64];
        if (ne1)
            snprintf(want, sizeof want, "[%llu, %llu]", (unsigned long long)ne0, (unsigned long long)ne1);
        else
            snprintf(want, sizeof want, "[%llu]", (unsigned long long)ne0);
        f->st = vkslm_fail(VKSLM_ERR_FORMAT, "model: tensor '%s' has shape [%llu, %llu, %llu, %llu]; the hyperparameters want %s",
                           name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                           (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], want);
        return NULL;
    }
    return t;
}

vkslm_status vkslm_model_weights_bind(const vkslm_gguf *g, const vkslm_hparams *hp, vkslm_model_weights *w) {
    memset(w, 0, sizeof *w);
    if (hp->arch == VKSLM_ARCH_UNKNOWN)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: architecture '%.*s' is not supported (vkslm runs llama, "
                          "qwen2, phi3, gemma and gemma2)", (int)(hp->arch_name.len > 64 ? 64 : hp->arch_name.len),
                          hp->arch_name.len ? hp->arch_name.ptr : "(none)");
    if (!hp->has_arch_params || hp->n_layer == 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "model: no hyperparameters (a vocab-only file?)");
    const uint64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
    const uint64_t QK = (uint64_t)hp->n_head * hp->n_embd_head_k, KK = (uint64_t)hp->n_head_kv * hp->n_embd_head_k,
                   VV = (uint64_t)hp->n_head_kv * hp->n_embd_head_v, QV = (uint64_t)hp->n_head * hp->n_embd_head_v;
    finder f = {g, VKSLM_OK};
    w->tok_embd = find(&f, 1, E, V, "token_embd.weight", 0);
    w->output_norm = find(&f, 1, E, 0, "output_norm.weight", 0);
    w->output = find(&f, 0, E, V, "output.weight", 0);
    if (f.st == VKSLM_OK && !w->output) {
        w->output = w->tok_embd;
        w->tied_output = 1;
    }
    w->rope_freqs = find(&f, 0, hp->n_rot / 2, 0, "rope_freqs.weight", 0);
    w->rope_long = find(&f, 0, hp->n_rot / 2, 0, "rope_factors_long.weight", 0);
    w->rope_short = find(&f, 0, hp->n_rot / 2, 0, "rope_factors_short.weight", 0);
    if (f.st != VKSLM_OK)
        return f.st;
    vkslm_wt factors[3] = {w->rope_freqs, w->rope_long, w->rope_short};
    for (int i = 0; i < 3; i++)
        if (factors[i] && factors[i]->type != VKSLM_TYPE_F32)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "model: rope factor tensor '%.*s' must be F32",
                              (int)factors[i]->name.len, factors[i]->name.ptr);
    if (hp->rope_scaling == VKSLM_ROPE_SCALING_LONGROPE && !w->rope_long && !w->rope_short)
        return vkslm_fail(VKSLM_ERR_FORMAT, "model: rope scaling type longrope without its factors "
                          "(rope_factors_long.weight, rope_factors_short.weight)");
    w->layers = VKSLM_CALLOC(hp->n_layer, sizeof *w->layers);
    if (!w->layers)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    w->n_layer = hp->n_layer;
    int phi3 = hp->arch == VKSLM_ARCH_PHI3, gemma2 = hp->arch == VKSLM_ARCH_GEMMA2, qwen2 = hp->arch == VKSLM_ARCH_QWEN2;
    for (uint32_t il = 0; il < hp->n_layer && f.st == VKSLM_OK; il++) {
        vkslm_layer_weights *L = &w->layers[il];
        L->attn_norm = find(&f, 1, E, 0, "blk.%d.attn_norm.weight", (int)il);
        if (phi3) {
            L->wqkv = find(&f, 1, E, QK + KK + VV, "blk.%d.attn_qkv.weight", (int)il);
        } else {
            L->wq = find(&f, 1, E, QK, "blk.%d.attn_q.weight", (int)il);
            L->wk = find(&f, 1, E, KK, "blk.%d.attn_k.weight", (int)il);
            L->wv = find(&f, 1, E, VV, "blk.%d.attn_v.weight", (int)il);
            L->bq = find(&f, qwen2, QK, 0, "blk.%d.attn_q.bias", (int)il);
            L->bk = find(&f, qwen2, KK, 0, "blk.%d.attn_k.bias", (int)il);
            L->bv = find(&f, qwen2, VV, 0, "blk.%d.attn_v.bias", (int)il);
        }
        L->wo = find(&f, 1, QV, E, "blk.%d.attn_output.weight", (int)il);
        L->ffn_norm = find(&f, 1, E, 0, "blk.%d.ffn_norm.weight", (int)il);
        if (phi3) {
            L->ffn_up = find(&f, 1, E, 2 * F, "blk.%d.ffn_up.weight", (int)il);
        } else {
            L->ffn_gate = find(&f, 1, E, F, "blk.%d.ffn_gate.weight", (int)il);
            L->ffn_up = find(&f, 1, E, F, "blk.%d.ffn_up.weight", (int)il);
        }
        L->ffn_down = find(&f, 1, F, E, "blk.%d.ffn_down.weight", (int)il);
        if (gemma2) {
            L->attn_post_norm = find(&f, 1, E, 0, "blk.%d.post_attention_norm.weight", (int)il);
            L->ffn_post_norm = find(&f, 1, E, 0, "blk.%d.post_ffw_norm.weight", (int)il);
        }
    }
    if (f.st != VKSLM_OK)
        vkslm_model_weights_free(w);
    return f.st;
}

void vkslm_model_weights_free(vkslm_model_weights *w) {
    if (!w)
        return;
    VKSLM_FREE(w->layers);
    memset(w, 0, sizeof *w);
}
