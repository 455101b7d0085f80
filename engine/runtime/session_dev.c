#include "engine/runtime/session_dev.h"

#include <math.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/clock.h"
#include "engine/util/error.h"

void vkslm_session_dev_free(vkslm_session_dev *s) {
    if (!s)
        return;
    vkslm_cmd_destroy(s->cmd);
    vkslm_step_bufs_free(s->vk, &s->b);
    VKSLM_FREE(s->logits);
    VKSLM_FREE(s->logits_all);
    VKSLM_FREE(s);
}

vkslm_status vkslm_session_dev_create(vkslm_vk *vk, const vkslm_model_dev *m, uint32_t n_ctx, uint32_t max_batch,
                                      uint32_t kv_type, vkslm_session_dev **out) {
    *out = NULL;
    if (n_ctx == 0 || max_batch == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: context and batch must be positive");
    if (m->hp.n_ctx_train && n_ctx > m->hp.n_ctx_train)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: context %u exceeds the model's %u", n_ctx, m->hp.n_ctx_train);
    vkslm_session_dev *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->m = m;
    s->vk = vk;
    vkslm_status st = vkslm_step_bufs_alloc(vk, m, n_ctx, max_batch, kv_type, &s->b);
    if (st == VKSLM_OK)
        st = vkslm_cmd_create(vk, &s->cmd);
    if (st == VKSLM_OK && !(s->logits = VKSLM_MALLOC((size_t)m->hp.n_vocab * sizeof(float))))
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st != VKSLM_OK) {
        vkslm_session_dev_free(s);
        return st;
    }
    *out = s;
    return VKSLM_OK;
}

void vkslm_profile_add(vkslm_profile *p, const char *label, double ms, double bytes, double flops,
                       uint64_t dispatches) {
    uint32_t k = 0;
    while (k < p->n && strcmp(p->op[k].label, label) != 0)
        k++;
    if (k == p->n) {
        if (p->n == VKSLM_PROFILE_MAX)
            return;
        p->op[p->n++].label = label;
    }
    p->op[k].ms += ms;
    p->op[k].bytes += bytes;
    p->op[k].flops += flops;
    p->op[k].dispatches += dispatches;
}

static void accumulate(vkslm_session_dev *s) {
    const vkslm_timing *t;
    uint32_t nt = vkslm_cmd_timings(s->cmd, &t);
    for (uint32_t i = 0; i < nt; i++) {
        s->gpu_ms += t[i].gpu_ms;
        vkslm_profile_add(&s->profile, t[i].label, t[i].gpu_ms, t[i].bytes, t[i].flops, 1);
    }
}

vkslm_status vkslm_session_dev_eval(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_graph_out out,
                                    int32_t *argmax) {
    if (n == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "eval: no tokens");
    if (n > s->b.kv.n_ctx - s->n_past)
        return vkslm_fail(VKSLM_ERR_LIMIT, "eval: %u more tokens do not fit the context (%u of %u used)", n, s->n_past,
                          s->b.kv.n_ctx);
    s->logits_valid = 0;
    s->gpu_ms = 0;
    s->record_ms = 0;
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < s->b.max_tokens ? n - done : s->b.max_tokens;
        int last = done + k == n;
        double t0 = vkslm_thread_cpu_ms();
        VKSLM_TRY(vkslm_cmd_begin(s->cmd));
        VKSLM_TRY(vkslm_graph_record(s->cmd, s->m, &s->b, tokens + done, k, s->n_past, last ? out : VKSLM_GRAPH_NONE));
        s->record_ms += vkslm_thread_cpu_ms() - t0;
        VKSLM_TRY(vkslm_cmd_submit_wait(s->cmd));
        accumulate(s);
        s->n_past += k;
        done += k;
    }
    if (out == VKSLM_GRAPH_ARGMAX && argmax) {
        /* id and value in one readback; no logit above -inf (all NaN or -inf): -1, as the sampler gives */
        unsigned char best[8];
        float value;
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.argmax, 0, best, sizeof best));
        memcpy(argmax, best, 4);
        memcpy(&value, best + 4, 4);
        if (!(value > -INFINITY))
            *argmax = -1;
        return VKSLM_OK;
    }
    if (out == VKSLM_GRAPH_LOGITS) {
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.logits, 0, s->logits, (uint64_t)s->m->hp.n_vocab * 4));
        s->logits_valid = 1;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_eval_all(vkslm_session_dev *s, const int32_t *tokens, uint32_t n, vkslm_dev_logits_fn fn,
                                        void *user) {
    uint64_t nv = s->m->hp.n_vocab, bytes = nv * s->b.max_tokens * 4;
    if (n == 0 || n > s->b.kv.n_ctx - s->n_past)
        return vkslm_fail(VKSLM_ERR_LIMIT, "eval: %u tokens do not fit the context (%u of %u used)", n, s->n_past,
                          s->b.kv.n_ctx);
    if (!s->b.logits_all.buffer) {
        VKSLM_TRY(vkslm_vk_alloc(s->vk, VKSLM_MEM_DEVICE, bytes, &s->b.logits_all));
        if (!(s->logits_all = VKSLM_MALLOC(bytes)))
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    s->logits_valid = 0;
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < s->b.max_tokens ? n - done : s->b.max_tokens;
        VKSLM_TRY(vkslm_cmd_begin(s->cmd));
        VKSLM_TRY(vkslm_graph_record(s->cmd, s->m, &s->b, tokens + done, k, s->n_past, VKSLM_GRAPH_ALL));
        VKSLM_TRY(vkslm_cmd_submit_wait(s->cmd));
        s->n_past += k;
        VKSLM_TRY(vkslm_vk_download(s->vk, &s->b.logits_all, 0, s->logits_all, nv * k * 4));
        VKSLM_TRY(fn(s->logits_all, done, k, user));
        done += k;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_session_dev_rewind(vkslm_session_dev *s, uint32_t pos) {
    if (pos > s->n_past)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rewind: position %u is past the %u tokens in the cache", pos,
                          s->n_past);
    s->n_past = pos;
    s->logits_valid = 0;
    return VKSLM_OK;
}
