/* Label log-likelihood routing (engine/router/semantic.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/cpu/select.h"
#include "engine/router/semantic.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define ROUTER_CTX 512u
#define MAX_LABEL 16u

struct vkslm_semantic {
    vkslm_model *model;
    vkslm_session *session;
    pthread_mutex_t lock;
    size_t n;
    int32_t *head;          /* "...experts and roles...\nRequest:" with BOS */
    size_t n_head;
    int32_t suffix[16];     /* "\nExpert:" */
    size_t n_suffix;
    int32_t label[VKSLM_MAX_EXPERTS][MAX_LABEL]; /* " name" */
    size_t n_label[VKSLM_MAX_EXPERTS];
    int32_t ids[ROUTER_CTX];
    int32_t prev[ROUTER_CTX]; /* the prompt the session's cache holds from the last request (its head at least) */
    size_t n_prev;
    uint64_t reused;          /* prompt tokens found in the cache instead of computed, over all requests */
};

/* The first (at most) cap tokens of text. */
static vkslm_status tokenize(const vkslm_model *m, const char *text, int bos, int32_t *ids, size_t cap, size_t *n) {
    size_t len = strlen(text), total = 0;
    int32_t *all = VKSLM_MALLOC((len + 2) * sizeof *all); /* at most a token per byte, and BOS */
    if (!all)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    vkslm_status st = vkslm_model_tokenize(m, text, len, bos, false, all, len + 2, &total);
    *n = total < cap ? total : cap;
    if (st == VKSLM_OK)
        memcpy(ids, all, *n * sizeof *ids);
    VKSLM_FREE(all);
    return st;
}

vkslm_status vkslm_semantic_create(const char *path, const vkslm_model_params *mp, const vkslm_expert_desc *experts,
                                   size_t n, vkslm_semantic **out) {
    *out = NULL;
    vkslm_semantic *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    pthread_mutex_init(&s->lock, NULL);
    s->n = n;
    vkslm_status st = vkslm_model_load(path, mp, &s->model);
    if (st != VKSLM_OK) {
        vkslm_fail_context(st, "router model %s", path);
        vkslm_semantic_free(s);
        return st;
    }
    vkslm_session_params sp = vkslm_session_default_params();
    uint32_t train = vkslm_model_n_ctx_train(s->model);
    sp.n_ctx = train && train < ROUTER_CTX ? train : ROUTER_CTX;
    st = vkslm_session_create(s->model, &sp, &s->session);
    /* the head: every expert and its role */
    size_t len = 128;
    for (size_t e = 0; e < n; e++)
        len += strlen(experts[e].name) + (experts[e].role ? strlen(experts[e].role) : 0) + 8;
    char *head = st == VKSLM_OK ? VKSLM_MALLOC(len) : NULL;
    if (st == VKSLM_OK && !head)
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    if (head) {
        size_t m = (size_t)snprintf(head, len, "Send the request to the right expert.\n");
        for (size_t e = 0; e < n; e++)
            m += (size_t)snprintf(head + m, len - m, "%s: %s\n", experts[e].name, experts[e].role ? experts[e].role : "");
        snprintf(head + m, len - m, "Request:");
        s->head = VKSLM_MALLOC(sp.n_ctx * sizeof *s->head);
        st = s->head ? tokenize(s->model, head, -1, s->head, sp.n_ctx, &s->n_head)
                     : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
        VKSLM_FREE(head);
    }
    if (st == VKSLM_OK)
        st = tokenize(s->model, "\nExpert:", 0, s->suffix, 16, &s->n_suffix);
    for (size_t e = 0; e < n && st == VKSLM_OK; e++) {
        char lab[128];
        snprintf(lab, sizeof lab, " %s", experts[e].name);
        st = tokenize(s->model, lab, 0, s->label[e], MAX_LABEL, &s->n_label[e]);
        if (st == VKSLM_OK && s->n_label[e] == 0)
            st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "router: expert name '%s' has no tokens", experts[e].name);
    }
    if (st == VKSLM_OK && s->n_head + s->n_suffix + 2 * MAX_LABEL + 8 > sp.n_ctx)
        st = vkslm_fail(VKSLM_ERR_LIMIT, "router: the expert list takes %zu tokens, more than the router's context %u",
                        s->n_head, sp.n_ctx);
    if (st != VKSLM_OK) {
        vkslm_semantic_free(s);
        return st;
    }
    *out = s;
    return VKSLM_OK;
}

void vkslm_semantic_free(vkslm_semantic *s) {
    if (!s)
        return;
    vkslm_session_free(s->session);
    vkslm_model_free(s->model);
    VKSLM_FREE(s->head);
    pthread_mutex_destroy(&s->lock);
    VKSLM_FREE(s);
}

const vkslm_model *vkslm_semantic_model(const vkslm_semantic *s) { return s ? s->model : NULL; }
uint64_t vkslm_semantic_reused(vkslm_semantic *s) {
    pthread_mutex_lock(&s->lock);
    uint64_t r = s->reused;
    pthread_mutex_unlock(&s->lock);
    return r;
}

uint64_t vkslm_semantic_bytes(const vkslm_semantic *s) {
    return s ? vkslm_model_weight_bytes(s->model) + vkslm_session_device_bytes(s->session) : 0;
}

typedef struct label_ctx {
    const int32_t *label;
    int32_t n_vocab;
    double sum;
} label_ctx;

static bool on_label_logits(const float *logits, size_t first, size_t n, void *user) {
    label_ctx *c = user;
    for (size_t i = 0; i < n; i++) /* the logits after label token first+i predict label token first+i+1 */
        c->sum += vkslm_cpu_log_softmax_at(logits + i * (size_t)c->n_vocab, (uint64_t)c->n_vocab, (uint64_t)c->label[first + i + 1]);
    return true;
}

vkslm_status vkslm_semantic_score(vkslm_semantic *s, const char *text, float *probs) {
    pthread_mutex_lock(&s->lock);
    uint32_t n_ctx = vkslm_session_n_ctx(s->session);
    size_t room = n_ctx - s->n_head - s->n_suffix - MAX_LABEL - 1, n_text = 0;
    memcpy(s->ids, s->head, s->n_head * sizeof *s->ids);
    char *spaced = VKSLM_MALLOC(strlen(text) + 2);
    vkslm_status st = spaced ? VKSLM_OK : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    if (spaced) {
        spaced[0] = ' ';
        strcpy(spaced + 1, text);
        st = tokenize(s->model, spaced, 0, s->ids + s->n_head, room, &n_text); /* long requests: their start */
        VKSLM_FREE(spaced);
    }
    size_t n_prefix = s->n_head + n_text;
    memcpy(s->ids + n_prefix, s->suffix, s->n_suffix * sizeof *s->ids);
    n_prefix += s->n_suffix;
    /* the prompt's start that the cache holds already (the experts' listing, at least) is not computed
     * again: only the request and the suffix are (one token at least, for the logits) */
    size_t keep = 0;
    while (keep < s->n_prev && keep + 1 < n_prefix && s->prev[keep] == s->ids[keep])
        keep++;
    s->n_prev = 0;
    if (st == VKSLM_OK)
        st = vkslm_session_rewind(s->session, (uint32_t)keep);
    if (st == VKSLM_OK)
        st = vkslm_session_eval(s->session, s->ids + keep, n_prefix - keep);
    if (st == VKSLM_OK) {
        memcpy(s->prev, s->ids, n_prefix * sizeof *s->ids);
        s->n_prev = n_prefix;
        s->reused += keep;
    }
    int32_t n_vocab = vkslm_model_n_vocab(s->model);
    float *first = NULL;
    if (st == VKSLM_OK) {
        first = VKSLM_MALLOC((size_t)n_vocab * sizeof *first);
        if (first)
            memcpy(first, vkslm_session_logits(s->session), (size_t)n_vocab * sizeof *first);
        else
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    }
    double ll[VKSLM_MAX_EXPERTS], mx = -INFINITY;
    for (size_t e = 0; e < s->n && st == VKSLM_OK; e++) {
        label_ctx c = {s->label[e], n_vocab, vkslm_cpu_log_softmax_at(first, (uint64_t)n_vocab, (uint64_t)s->label[e][0])};
        if (s->n_label[e] > 1) {
            st = vkslm_session_rewind(s->session, (uint32_t)n_prefix);
            if (st == VKSLM_OK)
                st = vkslm_session_eval_all(s->session, s->label[e], s->n_label[e] - 1, on_label_logits, &c);
        }
        ll[e] = c.sum / (double)s->n_label[e];
        mx = ll[e] > mx ? ll[e] : mx;
    }
    VKSLM_FREE(first);
    if (st == VKSLM_OK) {
        double z = 0;
        for (size_t e = 0; e < s->n; e++)
            z += exp(ll[e] - mx);
        for (size_t e = 0; e < s->n; e++)
            probs[e] = (float)(exp(ll[e] - mx) / z);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}
