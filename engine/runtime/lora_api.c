/* The public LoRA calls (include/vkslm.h) over engine/model/lora.h and the session's selection. */
#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

struct vkslm_lora {
    vkslm_lora_dev *dev;
    vkslm_model *model;
};

vkslm_status vkslm_lora_load(vkslm_model *model, const char *path, vkslm_lora **out) {
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_load: NULL out");
    *out = NULL;
    if (!model || !path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_load: NULL model or path");
    if (!model->dev)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_lora_load: the model has no weights (vocabulary only)");
    vkslm_lora *l = VKSLM_CALLOC(1, sizeof *l);
    if (!l)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkslm_gguf *g;
    vkslm_status st = vkslm_gguf_open_file(path, &g);
    if (st == VKSLM_OK)
        st = vkslm_lora_dev_load(model->vk, model->dev, g, &l->dev);
    if (st != VKSLM_OK) {
        VKSLM_FREE(l);
        return vkslm_fail_context(st, "adapter '%s'", path);
    }
    l->model = model;
    *out = l;
    return VKSLM_OK;
}

void vkslm_lora_free(vkslm_lora *l) {
    if (!l)
        return;
    vkslm_lora_dev_free(l->dev);
    VKSLM_FREE(l);
}

uint64_t vkslm_lora_device_bytes(const vkslm_lora *l) { return l ? l->dev->bytes : 0; }
uint32_t vkslm_lora_rank(const vkslm_lora *l) { return l ? l->dev->max_rank : 0; }
float vkslm_lora_alpha(const vkslm_lora *l) { return l ? l->dev->alpha : 0.0f; }

vkslm_status vkslm_lora_select(const vkslm_model *m, vkslm_lora *const *lora, const float *scales, size_t n,
                               vkslm_lora_sel *out) {
    memset(out, 0, sizeof *out);
    if (n && (!lora || !scales))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: NULL adapters or scales");
    if (n > VKSLM_LORA_MAX_PER_SEQ)
        return vkslm_fail(VKSLM_ERR_LIMIT, "lora: %zu adapters for one sequence (at most %d)", n,
                          VKSLM_LORA_MAX_PER_SEQ);
    for (size_t i = 0; i < n; i++) {
        if (!lora[i] || lora[i]->model != m)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: adapter %zu is not loaded on this model", i);
        if (!isfinite(scales[i]))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: the scale of adapter %zu is not finite", i);
        for (size_t j = 0; j < i; j++)
            if (lora[j] == lora[i])
                return vkslm_fail(VKSLM_ERR_INVALID_ARG, "lora: adapter %zu is selected twice", i);
        out->lora[i] = lora[i]->dev;
        out->id[i] = lora[i]->dev->id;
        out->scale[i] = scales[i];
    }
    out->n = (uint32_t)n;
    return VKSLM_OK;
}

vkslm_status vkslm_seq_set_lora(vkslm_session *s, int32_t seq, vkslm_lora *const *lora, const float *scales,
                                size_t n) {
    if (!s || seq < 0 || (uint32_t)seq >= s->dev->n_seq)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_seq_set_lora: no session or sequence %d out of range", seq);
    vkslm_lora_sel sel;
    VKSLM_TRY(vkslm_lora_select(s->model, lora, scales, n, &sel));
    /* the same selection: the cache stays valid */
    const vkslm_lora_sel none = {0}, *cur = s->dev->lora ? &s->dev->lora[seq] : &none;
    if (vkslm_lora_sel_equal(cur, &sel))
        return VKSLM_OK;
    VKSLM_TRY(vkslm_session_dev_set_lora(s->dev, (uint32_t)seq, sel.lora, sel.scale, sel.n));
    return vkslm_seq_clear(s, seq);
}
