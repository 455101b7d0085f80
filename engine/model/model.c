/* Loading a model onto the device: hyperparameters, tensor table, then every tensor uploaded into its
 * own suballocation (the allocator packs them into large blocks). */
#include "engine/model/model.h"

#include <string.h>

#include "engine/model/weight_tiles.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

void vkslm_model_dev_free(vkslm_model_dev *m) {
    if (!m)
        return;
    if (m->bufs)
        for (uint64_t i = 0; i < m->n_tensors; i++)
            vkslm_vk_free(m->vk, &m->bufs[i]);
    VKSLM_FREE(m->bufs);
    VKSLM_FREE(m->tiles);
    for (uint32_t i = 0; i < m->n_fused; i++)
        vkslm_vk_free(m->vk, &m->fused[i]);
    VKSLM_FREE(m->fused);
    VKSLM_FREE(m->layers);
    vkslm_model_weights_free(&m->w);
    vkslm_gguf_close(m->gguf);
    VKSLM_FREE(m);
}

/* Index of a tensor in GGUF order (the tensor table points into the reader's array). */
static uint64_t tensor_index(const vkslm_model_dev *m, vkslm_wt w) {
    for (uint64_t i = 0; i < m->n_tensors; i++)
        if (vkslm_gguf_tensor_at(m->gguf, i) == w)
            return i;
    return UINT64_MAX;
}

vkslm_tensor vkslm_model_dev_tensor(const vkslm_model_dev *m, vkslm_wt w) {
    vkslm_tensor t;
    memset(&t, 0, sizeof t);
    if (!w)
        return t;
    uint64_t i = tensor_index(m, w);
    if (i == UINT64_MAX)
        return t;
    t.buf = &m->bufs[i];
    t.offset = 0;
    t.type = w->type;
    t.tile = m->tiles ? m->tiles[i] : 0;
    for (int d = 0; d < 4; d++)
        t.ne[d] = w->ne[d];
    return t;
}

/* Concatenates the bytes of parts (all present, of one type and row length) into one new buffer whose
 * tensor has the parts' rows one after another (1-D parts: their elements), frees the parts' buffers and
 * clears them. Does nothing (VKSLM_OK, *out untouched) when the parts do not qualify. */
static vkslm_status fuse(vkslm_model_dev *m, vkslm_tensor *parts[], int n, vkslm_tensor *out) {
    uint64_t rows = 0, bytes = 0;
    int one_d = parts[0]->ne[1] <= 1;
    for (int i = 0; i < n; i++) {
        if (!parts[i]->buf || parts[i]->type != parts[0]->type || parts[i]->offset != 0 ||
            parts[i]->tile != parts[0]->tile || /* (tiles never straddle parts: each holds whole tiles) */
            (!one_d && parts[i]->ne[0] != parts[0]->ne[0]) || (one_d && parts[i]->ne[1] > 1))
            return VKSLM_OK;
        rows += one_d ? parts[i]->ne[0] : parts[i]->ne[1];
        bytes += parts[i]->buf->size;
    }
    if (m->n_fused == m->cap_fused) /* sized once by fuse_layers: tensors point into it */
        return vkslm_fail(VKSLM_ERR_LIMIT, "fuse: more fused tensors than planned");
    vkslm_buf *dst = &m->fused[m->n_fused];
    VKSLM_TRY(vkslm_vk_alloc(m->vk, VKSLM_MEM_DEVICE, bytes, dst));
    m->n_fused++;
    vkslm_cmd *c;
    VKSLM_TRY(vkslm_cmd_create(m->vk, &c));
    vkslm_status st = vkslm_cmd_begin(c);
    for (uint64_t i = 0, at = 0; i < (uint64_t)n && st == VKSLM_OK; at += parts[i]->buf->size, i++)
        st = vkslm_cmd_copy(c, parts[i]->buf, 0, dst, at, parts[i]->buf->size);
    if (st == VKSLM_OK)
        st = vkslm_cmd_submit_wait(c);
    vkslm_cmd_destroy(c);
    if (st != VKSLM_OK)
        return st;
    vkslm_tensor t = {dst, 0, parts[0]->type, {one_d ? rows : parts[0]->ne[0], one_d ? 1 : rows, 1, 1},
                      parts[0]->tile};
    for (int i = 0; i < n; i++) {
        vkslm_vk_free(m->vk, (vkslm_buf *)parts[i]->buf);
        memset(parts[i], 0, sizeof *parts[i]);
    }
    *out = t;
    return VKSLM_OK;
}

/* q/k/v into wqkv (and their biases, when all three have one) and gate/up into ffn_up. */
static vkslm_status fuse_layers(vkslm_model_dev *m) {
    m->cap_fused = 3 * m->hp.n_layer; /* wqkv, bqkv, gate|up per layer; never reallocated */
    if (!(m->fused = VKSLM_CALLOC(m->cap_fused ? m->cap_fused : 1, sizeof *m->fused)))
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        vkslm_dev_layer *D = &m->layers[il];
        int biases = D->bq.buf && D->bk.buf && D->bv.buf, no_biases = !D->bq.buf && !D->bk.buf && !D->bv.buf;
        if (!D->wqkv.buf && D->wq.buf && (biases || no_biases) && D->wq.type == D->wk.type &&
            D->wq.type == D->wv.type) {
            vkslm_tensor *w[3] = {&D->wq, &D->wk, &D->wv}, *b[3] = {&D->bq, &D->bk, &D->bv};
            VKSLM_TRY(fuse(m, w, 3, &D->wqkv));
            if (biases && D->wqkv.buf)
                VKSLM_TRY(fuse(m, b, 3, &D->bqkv));
        }
        if (D->ffn_gate.buf && D->ffn_gate.type == D->ffn_up.type) {
            vkslm_tensor *gu[2] = {&D->ffn_gate, &D->ffn_up}, fused = {0};
            VKSLM_TRY(fuse(m, gu, 2, &fused));
            if (fused.buf)
                D->ffn_up = fused;
        }
    }
    return VKSLM_OK;
}

/* Rows per tile of each tensor on this device: the weight matrices the products and the embedding lookup
 * read, in tiles of the device's weight_tile rows where their shape allows (weight_tiles.h); 0 for the rest. */
static void tile_one(vkslm_model_dev *m, vkslm_wt w, uint32_t t) {
    uint64_t i = w ? tensor_index(m, w) : UINT64_MAX;
    if (i != UINT64_MAX && w->ne[2] <= 1 && w->ne[3] <= 1 && vkslm_tile_ok(w->type, w->ne[0], w->ne[1], t))
        m->tiles[i] = t;
}

static void plan_tiles(vkslm_model_dev *m) {
    const uint32_t t = vkslm_vk_get_enabled(m->vk)->weight_tile;
    if (t < 2)
        return;
    tile_one(m, m->w.tok_embd, t);
    tile_one(m, m->w.output, t);
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const vkslm_layer_weights *L = &m->w.layers[il];
        const vkslm_wt lw[8] = {L->wq, L->wk, L->wv, L->wqkv, L->wo, L->ffn_gate, L->ffn_up, L->ffn_down};
        for (int j = 0; j < 8; j++)
            tile_one(m, lw[j], t);
    }
}

/* Uploads GGUF tensor i: as it is, or in tiles (through a host copy). */
static vkslm_status upload_tensor(vkslm_model_dev *m, uint64_t i) {
    const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(m->gguf, i);
    if (!m->tiles[i])
        return vkslm_vk_upload(m->vk, &m->bufs[i], 0, t->data, t->size);
    void *tiled = VKSLM_MALLOC(t->size);
    if (!tiled)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "no %llu bytes of host memory to lay out tensor '%.*s' in tiles",
                          (unsigned long long)t->size, (int)(t->name.len > 80 ? 80 : t->name.len), t->name.ptr);
    vkslm_tile_pack(tiled, t->data, t->type, t->ne[0], t->ne[1], m->tiles[i]);
    vkslm_status st = vkslm_vk_upload(m->vk, &m->bufs[i], 0, tiled, t->size);
    VKSLM_FREE(tiled);
    return st;
}

vkslm_status vkslm_model_dev_load(vkslm_vk *vk, vkslm_gguf *gguf, vkslm_load_progress_fn progress, void *user,
                                  vkslm_model_dev **out) {
    *out = NULL;
    vkslm_model_dev *m = VKSLM_CALLOC(1, sizeof *m);
    if (!m) {
        vkslm_gguf_close(gguf);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    m->gguf = gguf;
    m->vk = vk;
    vkslm_status st = vkslm_hparams_load(gguf, &m->hp);
    if (st == VKSLM_OK)
        st = vkslm_model_weights_bind(gguf, &m->hp, &m->w);
    if (st != VKSLM_OK) {
        vkslm_model_dev_free(m);
        return st;
    }
    m->n_tensors = vkslm_gguf_tensor_count(gguf);
    m->bufs = VKSLM_CALLOC(m->n_tensors ? m->n_tensors : 1, sizeof *m->bufs);
    m->tiles = VKSLM_CALLOC(m->n_tensors ? m->n_tensors : 1, sizeof *m->tiles);
    if (!m->bufs || !m->tiles) {
        vkslm_model_dev_free(m);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    uint64_t total = 0, done = 0, used, reserved;
    for (uint64_t i = 0; i < m->n_tensors; i++)
        total += vkslm_gguf_tensor_at(gguf, i)->size;
    vkslm_vk_memory_usage(vk, &used, &reserved);
    uint64_t budget = vkslm_vk_memory_budget(vk);
    if (total > budget || used > budget - total) {
        vkslm_model_dev_free(m);
        return vkslm_fail(VKSLM_ERR_OUT_OF_DEVICE_MEMORY,
                          "the model's weights need %.1f MiB of device memory; %.1f MiB of %.1f MiB are free on '%s'%s%s",
                          total / 1048576.0, (budget > used ? budget - used : 0) / 1048576.0, budget / 1048576.0,
                          vkslm_vk_get_caps(vk)->name, vkslm_vk_get_caps(vk)->profile[0] ? " under profile " : "",
                          vkslm_vk_get_caps(vk)->profile);
    }
    plan_tiles(m);
    for (uint64_t i = 0; i < m->n_tensors && st == VKSLM_OK; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(gguf, i);
        st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, t->size, &m->bufs[i]);
        if (st == VKSLM_OK)
            st = upload_tensor(m, i);
        if (st != VKSLM_OK) {
            vkslm_fail_context(st, "uploading tensor '%.*s' (%llu bytes)", (int)(t->name.len > 80 ? 80 : t->name.len),
                               t->name.ptr, (unsigned long long)t->size);
            break;
        }
        done += t->size;
        m->weight_bytes += t->size;
        if (progress && !progress(total ? (float)((double)done / (double)total) : 1.0f, user))
            st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "loading cancelled by the progress callback");
    }
    if (st == VKSLM_OK && !(m->layers = VKSLM_CALLOC(m->hp.n_layer, sizeof *m->layers)))
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st != VKSLM_OK) {
        vkslm_model_dev_free(m);
        return st;
    }
    m->tok_embd = vkslm_model_dev_tensor(m, m->w.tok_embd);
    m->output_norm = vkslm_model_dev_tensor(m, m->w.output_norm);
    m->output = vkslm_model_dev_tensor(m, m->w.output);
    m->rope_freqs = vkslm_model_dev_tensor(m, m->w.rope_freqs);
    m->rope_long = vkslm_model_dev_tensor(m, m->w.rope_long);
    m->rope_short = vkslm_model_dev_tensor(m, m->w.rope_short);
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const vkslm_layer_weights *L = &m->w.layers[il];
        vkslm_dev_layer *D = &m->layers[il];
#define DEV(f) D->f = vkslm_model_dev_tensor(m, L->f);
        VKSLM_LAYER_WEIGHTS(DEV)
#undef DEV
    }
    st = fuse_layers(m);
    if (st != VKSLM_OK) {
        vkslm_model_dev_free(m);
        return vkslm_fail_context(st, "fusing q/k/v and gate/up");
    }
    *out = m;
    return VKSLM_OK;
}
