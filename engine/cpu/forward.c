#include "engine/cpu/forward.h"

#include <math.h>
#include <string.h>

#include "engine/cpu/act.h"
#include "engine/cpu/attention.h"
#include "engine/cpu/elementwise.h"
#include "engine/cpu/matmul.h"
#include "engine/cpu/norm.h"
#include "engine/cpu/rope.h"
#include "engine/model/arch.h"
#include "engine/model/rope_scaling.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "loaders/quant.h"

struct vkslm_cpu_forward {
    const vkslm_hparams *hp;
    const vkslm_model_weights *w;
    vkslm_arch_rules rules;
    uint32_t n_ctx;
    float *k, *v;     /* [n_layer][n_head_kv][n_ctx][head_dim] */
    vkslm_rope_config rope; /* the session's RoPE scaling */
    float *rope_ff;   /* [n_rot/2] frequency divisors (rope_freqs, or LongRoPE's long or short factors) or NULL */
};

void vkslm_cpu_forward_free(vkslm_cpu_forward *f) {
    if (!f)
        return;
    VKSLM_FREE(f->k);
    VKSLM_FREE(f->v);
    VKSLM_FREE(f->rope_ff);
    VKSLM_FREE(f);
}

/* Reads a whole small tensor (a norm weight, a bias) as floats. */
static vkslm_status read_vec(vkslm_wt t, float *out) {
    return vkslm_dequantize_row(t->type, t->data, out, t->n_elems);
}

vkslm_status vkslm_cpu_forward_create(const vkslm_hparams *hp, const vkslm_model_weights *w, uint32_t n_ctx,
                                      vkslm_cpu_forward **out) {
    *out = NULL;
    if (hp->n_embd_head_k != hp->n_embd_head_v)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "cpu forward: key and value head sizes differ");
    vkslm_cpu_forward *f = VKSLM_CALLOC(1, sizeof *f);
    if (!f)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    f->hp = hp;
    f->w = w;
    f->rules = vkslm_arch_rules_of(hp);
    f->n_ctx = n_ctx;
    uint64_t cache = (uint64_t)hp->n_layer * hp->n_head_kv * n_ctx * hp->n_embd_head_k;
    f->k = VKSLM_CALLOC(cache, sizeof(float));
    f->v = VKSLM_CALLOC(cache, sizeof(float));
    if (!f->k || !f->v) {
        vkslm_cpu_forward_free(f);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "cpu forward: out of host memory for the KV cache");
    }
    f->rope = vkslm_rope_config_of(hp, n_ctx, w->rope_freqs != NULL, w->rope_long != NULL, w->rope_short != NULL);
    vkslm_wt ff = f->rope.factors == VKSLM_ROPE_FACTORS_FREQS   ? w->rope_freqs
                  : f->rope.factors == VKSLM_ROPE_FACTORS_LONG  ? w->rope_long
                  : f->rope.factors == VKSLM_ROPE_FACTORS_SHORT ? w->rope_short
                                                                : NULL;
    if (ff) {
        f->rope_ff = VKSLM_MALLOC(ff->n_elems * sizeof(float));
        if (!f->rope_ff || read_vec(ff, f->rope_ff) != VKSLM_OK) {
            vkslm_cpu_forward_free(f);
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "cpu forward: rope factors");
        }
    }
    *out = f;
    return VKSLM_OK;
}

/* y[t][r] = sum_k W[row0 + r][k] * x[t][k] (+ bias[r]) for r < rows (engine/cpu/matmul.c), x rows of
 * K = ne0 elements, y rows of `rows`. */
static vkslm_status matmul(vkslm_wt W, uint64_t row0, uint64_t rows, vkslm_wt bias, const float *x, uint32_t n,
                           float *y) {
    float *b = NULL;
    if (bias) {
        b = VKSLM_MALLOC(bias->n_elems * sizeof(float));
        if (!b || read_vec(bias, b) != VKSLM_OK) {
            VKSLM_FREE(b);
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "cpu forward: bias");
        }
    }
    uint64_t row_bytes = W->size / W->ne[1];
    vkslm_status st = vkslm_cpu_matmul(y, W->type, W->data + row0 * row_bytes, x, b, W->ne[0], rows, n);
    VKSLM_FREE(b);
    return st;
}

static vkslm_status norm(vkslm_wt wt, const float *x, float *y, uint32_t n, uint64_t width, float eps) {
    float wbuf[8192];
    if (width > 8192)
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "cpu forward: embedding too wide");
    VKSLM_TRY(read_vec(wt, wbuf));
    vkslm_cpu_rms_norm(y, x, wbuf, width, n, eps);
    return VKSLM_OK;
}

vkslm_status vkslm_cpu_forward_run_ex(vkslm_cpu_forward *f, const int32_t *tokens, uint32_t n, uint32_t p0,
                                      float *logits, float *hidden) {
    const vkslm_hparams *hp = f->hp;
    const vkslm_model_weights *w = f->w;
    const vkslm_arch_rules *R = &f->rules;
    if (n == 0 || p0 + n > f->n_ctx)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "cpu forward: %u tokens at %u exceed the context of %u", n, p0,
                          f->n_ctx);
    const uint64_t E = hp->n_embd, F = hp->n_ff, HD = hp->n_embd_head_k;
    const uint64_t QK = hp->n_head * HD, KV = hp->n_head_kv * HD;
    float *x = VKSLM_MALLOC(n * E * sizeof(float)), *h = VKSLM_MALLOC(n * E * sizeof(float));
    float *q = VKSLM_MALLOC(n * QK * sizeof(float)), *k = VKSLM_MALLOC(n * KV * sizeof(float));
    float *v = VKSLM_MALLOC(n * KV * sizeof(float)), *att = VKSLM_MALLOC(n * QK * sizeof(float));
    float *g = VKSLM_MALLOC(n * F * sizeof(float)), *u = VKSLM_MALLOC(n * F * sizeof(float));
    int32_t *pos = VKSLM_MALLOC(n * sizeof(int32_t));
    vkslm_status st = VKSLM_OK;
    if (!x || !h || !q || !k || !v || !att || !g || !u || !pos) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "cpu forward: out of host memory");
        goto done;
    }
    uint64_t emb_row = w->tok_embd->size / w->tok_embd->ne[1];
    for (uint32_t t = 0; t < n; t++) {
        if (tokens[t] < 0 || (uint64_t)tokens[t] >= hp->n_vocab) {
            st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "cpu forward: token %d outside the vocabulary", tokens[t]);
            goto done;
        }
        st = vkslm_dequantize_row(w->tok_embd->type, w->tok_embd->data + (uint64_t)tokens[t] * emb_row, x + t * E, E);
        if (st != VKSLM_OK)
            goto done;
        if (R->embd_scale != 1.0f)
            vkslm_cpu_scale(x + t * E, x + t * E, R->embd_scale, E);
        pos[t] = (int32_t)(p0 + t);
    }
    for (uint32_t il = 0; il < hp->n_layer && st == VKSLM_OK; il++) {
        const vkslm_layer_weights *L = &w->layers[il];
        if ((st = norm(L->attn_norm, x, h, n, E, hp->norm_rms_eps)) != VKSLM_OK)
            break;
        if (L->wqkv) {
            st = matmul(L->wqkv, 0, QK, NULL, h, n, q);
            if (st == VKSLM_OK)
                st = matmul(L->wqkv, QK, KV, NULL, h, n, k);
            if (st == VKSLM_OK)
                st = matmul(L->wqkv, QK + KV, KV, NULL, h, n, v);
        } else {
            st = matmul(L->wq, 0, QK, L->bq, h, n, q);
            if (st == VKSLM_OK)
                st = matmul(L->wk, 0, KV, L->bk, h, n, k);
            if (st == VKSLM_OK)
                st = matmul(L->wv, 0, KV, L->bv, h, n, v);
        }
        if (st != VKSLM_OK)
            break;
        vkslm_cpu_rope(q, q, pos, f->rope_ff, (uint32_t)HD, hp->n_head, n, hp->n_rot, R->rope_neox,
                       hp->rope_freq_base, &f->rope.ext, QK, QK);
        vkslm_cpu_rope(k, k, pos, f->rope_ff, (uint32_t)HD, hp->n_head_kv, n, hp->n_rot, R->rope_neox,
                       hp->rope_freq_base, &f->rope.ext, KV, KV);
        /* cache rows: [il][head][pos][d] */
        for (uint32_t t = 0; t < n; t++)
            for (uint32_t hh = 0; hh < hp->n_head_kv; hh++) {
                uint64_t row = (((uint64_t)il * hp->n_head_kv + hh) * f->n_ctx + p0 + t) * HD;
                memcpy(f->k + row, k + t * KV + hh * HD, HD * sizeof(float));
                memcpy(f->v + row, v + t * KV + hh * HD, HD * sizeof(float));
            }
        vkslm_cpu_attn_shape s = {
            .head_dim = (uint32_t)HD, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .n_tokens = n,
            .n_ctx = f->n_ctx, .p0 = p0, .window = vkslm_arch_layer_window(hp, il), .scale = R->attn_scale,
            .softcap = R->attn_softcap,
        };
        uint64_t layer_off = (uint64_t)il * hp->n_head_kv * f->n_ctx * HD;
        if (vkslm_cpu_attention(att, q, f->k + layer_off, f->v + layer_off, &s) != 0) {
            st = vkslm_fail(VKSLM_ERR_UNSUPPORTED, "cpu forward: attention shape not supported");
            break;
        }
        if ((st = matmul(L->wo, 0, E, NULL, att, n, h)) != VKSLM_OK)
            break;
        if (R->post_norms && (st = norm(L->attn_post_norm, h, h, n, E, hp->norm_rms_eps)) != VKSLM_OK)
            break;
        vkslm_cpu_add(x, x, h, n * E, n * E);
        if ((st = norm(L->ffn_norm, x, h, n, E, hp->norm_rms_eps)) != VKSLM_OK)
            break;
        if (L->ffn_gate) {
            st = matmul(L->ffn_gate, 0, F, NULL, h, n, g);
            if (st == VKSLM_OK)
                st = matmul(L->ffn_up, 0, F, NULL, h, n, u);
        } else { /* fused gate|up */
            st = matmul(L->ffn_up, 0, F, NULL, h, n, g);
            if (st == VKSLM_OK)
                st = matmul(L->ffn_up, F, F, NULL, h, n, u);
        }
        if (st != VKSLM_OK)
            break;
        if (R->gelu)
            vkslm_cpu_geglu(g, g, u, F, n);
        else
            vkslm_cpu_swiglu(g, g, u, F, n);
        if ((st = matmul(L->ffn_down, 0, E, NULL, g, n, h)) != VKSLM_OK)
            break;
        if (R->post_norms && (st = norm(L->ffn_post_norm, h, h, n, E, hp->norm_rms_eps)) != VKSLM_OK)
            break;
        vkslm_cpu_add(x, x, h, n * E, n * E);
    }
    if (st == VKSLM_OK && hidden)
        st = norm(w->output_norm, x, hidden, n, E, hp->norm_rms_eps);
    if (!logits)
        goto done;
    if (st == VKSLM_OK)
        st = norm(w->output_norm, x + (uint64_t)(n - 1) * E, h, 1, E, hp->norm_rms_eps);
    if (st == VKSLM_OK)
        st = matmul(w->output, 0, hp->n_vocab, NULL, h, 1, logits);
    if (st == VKSLM_OK && R->final_softcap > 0)
        for (uint32_t i = 0; i < hp->n_vocab; i++)
            logits[i] = R->final_softcap * tanhf(logits[i] / R->final_softcap);
done:
    VKSLM_FREE(x);
    VKSLM_FREE(h);
    VKSLM_FREE(q);
    VKSLM_FREE(k);
    VKSLM_FREE(v);
    VKSLM_FREE(att);
    VKSLM_FREE(g);
    VKSLM_FREE(u);
    VKSLM_FREE(pos);
    return st;
}

vkslm_status vkslm_cpu_forward_run(vkslm_cpu_forward *f, const int32_t *tokens, uint32_t n, uint32_t p0,
                                   float *logits) {
    return vkslm_cpu_forward_run_ex(f, tokens, n, p0, logits, NULL);
}
