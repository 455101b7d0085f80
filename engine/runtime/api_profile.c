/* Measuring through the public API (vkslm.h; what `vkslm bench` is built on): a session's accumulated per-op
 * GPU profile, the CPU time of recording its last steps, the greedy step that reads back only the argmax,
 * and the memory roofline of a model's device. */
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/runtime/roofline.h"
#include "engine/util/error.h"

size_t vkslm_session_profile(const vkslm_session *s, vkslm_profile_entry *out, size_t cap) {
    if (!s || (!out && cap))
        return 0;
    const vkslm_profile *p = &s->dev->profile;
    for (uint32_t k = 0; k < p->n && k < cap; k++)
        out[k] = (vkslm_profile_entry){.op = p->op[k].label,
                                       .ms = p->op[k].ms,
                                       .bytes = p->op[k].bytes,
                                       .flops = p->op[k].flops,
                                       .dispatches = p->op[k].dispatches};
    return p->n;
}

void vkslm_session_profile_reset(vkslm_session *s) {
    if (s)
        memset(&s->dev->profile, 0, sizeof s->dev->profile);
}

vkslm_status vkslm_session_eval_argmax(vkslm_session *s, const int32_t *ids, size_t n, int32_t *argmax) {
    if (!s || !ids || !argmax || n == 0 || n > UINT32_MAX - 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_eval_argmax: NULL argument or no tokens");
    return vkslm_session_feed(s, ids, (uint32_t)n, VKSLM_GRAPH_ARGMAX, argmax);
}

double vkslm_session_record_ms(const vkslm_session *s) { return s ? s->dev->record_ms : 0.0; }

vkslm_status vkslm_model_roofline(const vkslm_model *m, uint64_t bytes, int reps, double *gbps, const char **kind) {
    if (!m || !gbps || bytes < 4096 || reps < 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_roofline: NULL argument, under 4096 bytes or no runs");
    if (!m->vk)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_roofline: a vocabulary-only model has no device");
    *gbps = 0;
    if (vkslm_vk_is_cpu(m->vk)) {
        if (kind)
            *kind = "host_read";
        *gbps = vkslm_host_read_gbps(bytes, 0, reps);
        return *gbps > 0 ? VKSLM_OK
                         : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "roofline: no %llu bytes of host memory to read",
                                      (unsigned long long)bytes);
    }
    if (kind)
        *kind = "device_copy";
    return vkslm_device_copy_gbps(m->vk, bytes, reps, gbps);
}
