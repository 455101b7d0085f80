/* Embeddings (vkslm.h, "embeddings"): the final hidden states of a sequence's tokens, pooled and
 * L2-normalised. The rows come from decode's hidden-state outputs (vkslm_batch_add_embd), which skip the
 * output projection; the scheduler's vkslm_sequence_embed shares the pooling below. */
#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

const char *vkslm_pooling_str(vkslm_pooling p) {
    switch (p) {
    case VKSLM_POOLING_DEFAULT: return "default";
    case VKSLM_POOLING_MEAN: return "mean";
    case VKSLM_POOLING_LAST: return "last";
    }
    return "unknown";
}

int32_t vkslm_model_n_embd(const vkslm_model *m) { return m && m->dev ? (int32_t)m->dev->hp.n_embd : 0; }

vkslm_pooling vkslm_model_pooling(const vkslm_model *m) {
    return m && m->dev && m->dev->hp.pooling_type == 3 ? VKSLM_POOLING_LAST : VKSLM_POOLING_MEAN;
}

vkslm_status vkslm_embd_check(const vkslm_model *m, const int32_t *ids, size_t n, uint32_t n_ctx,
                              vkslm_pooling *pooling, const char *call) {
    if (!m->dev)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: a vocabulary-only model has no hidden states", call);
    if (*pooling == VKSLM_POOLING_DEFAULT)
        *pooling = vkslm_model_pooling(m);
    if (*pooling != VKSLM_POOLING_MEAN && *pooling != VKSLM_POOLING_LAST)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: pooling %d (mean or last)", call, (int)*pooling);
    if (n == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: no tokens", call);
    if (n > n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "%s: the input has %zu tokens; the context holds %u", call, n, n_ctx);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= m->dev->hp.n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: token %zu (id %d) is outside the vocabulary (%u)", call, i,
                              ids[i], m->dev->hp.n_vocab);
    return VKSLM_OK;
}

void vkslm_embd_finish(const double *sum, uint32_t rows, uint32_t n_embd, float *out) {
    double norm = 0;
    for (uint32_t i = 0; i < n_embd; i++) {
        double v = sum[i] / (rows ? rows : 1);
        norm += v * v;
    }
    /* the mean's scale cancels in the normalisation, but dividing first keeps the numbers in range */
    norm = sqrt(norm);
    for (uint32_t i = 0; i < n_embd; i++)
        out[i] = norm > 0 ? (float)(sum[i] / (rows ? rows : 1) / norm) : 0.0f;
}

vkslm_status vkslm_embed_tokens(vkslm_session *s, int32_t seq, const int32_t *ids, size_t n, vkslm_pooling pooling,
                                float *out) {
    if (!s || !ids || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_embed_tokens: NULL argument");
    if (seq < 0 || (uint32_t)seq >= s->dev->n_seq)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_embed_tokens: sequence %d (the session has %u)", seq,
                          s->dev->n_seq);
    VKSLM_TRY(vkslm_embd_check(s->model, ids, n, s->dev->b.kv.n_ctx, &pooling, "vkslm_embed_tokens"));
    const uint32_t E = s->model->dev->hp.n_embd, T = s->dev->b.max_tokens;
    const int mean = pooling == VKSLM_POOLING_MEAN;
    double *sum = VKSLM_CALLOC(E, sizeof *sum);
    vkslm_batch *b = sum ? vkslm_batch_init(T) : NULL;
    vkslm_status st = b ? vkslm_seq_clear(s, seq) : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    uint32_t rows = 0;
    for (size_t done = 0; st == VKSLM_OK && done < n;) {
        uint32_t k = n - done < T ? (uint32_t)(n - done) : T;
        vkslm_batch_clear(b);
        for (uint32_t i = 0; i < k; i++)
            vkslm_batch_add_embd(b, ids[done + i], (uint32_t)(done + i), seq, false, mean || done + i + 1 == n);
        st = vkslm_decode_ex(s, b, 0, 0);
        for (uint32_t i = 0; st == VKSLM_OK && i < k; i++) {
            const float *h = vkslm_embd_ith(s, (int32_t)i);
            if (!h)
                continue;
            for (uint32_t j = 0; j < E; j++)
                sum[j] += h[j];
            rows++;
        }
        done += k;
    }
    if (b) { /* the sequence was the embedding's scratch: empty it again whatever happened */
        vkslm_status st2 = vkslm_seq_clear(s, seq);
        if (st == VKSLM_OK)
            st = st2;
    }
    if (st == VKSLM_OK)
        vkslm_embd_finish(sum, rows, E, out);
    vkslm_batch_free(b);
    VKSLM_FREE(sum);
    return st;
}

vkslm_status vkslm_embed(vkslm_session *s, int32_t seq, const char *text, vkslm_pooling pooling, float *out,
                         size_t *n_tokens) {
    if (n_tokens)
        *n_tokens = 0;
    if (!s || !text || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_embed: NULL argument");
    /* room for a whole context and the start and end tokens: more is refused as too long anyway */
    size_t cap = (size_t)s->dev->b.kv.n_ctx + 2, n = 0;
    int32_t *ids = VKSLM_MALLOC(cap * sizeof *ids);
    if (!ids)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    vkslm_status st = vkslm_model_tokenize_special(s->model, text, strlen(text), true, false, ids, cap, &n);
    if (n_tokens)
        *n_tokens = n;
    if (st == VKSLM_ERR_LIMIT)
        st = vkslm_fail(VKSLM_ERR_LIMIT, "vkslm_embed: the text has %zu tokens; the context holds %u", n,
                        s->dev->b.kv.n_ctx);
    else if (st == VKSLM_OK && n == 0)
        st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_embed: the text gives no token");
    else if (st == VKSLM_OK)
        st = vkslm_embed_tokens(s, seq, ids, n, pooling, out);
    VKSLM_FREE(ids);
    return st;
}
