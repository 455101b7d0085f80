/* vkslm_generate: prompt -> tokens -> prefill -> sample/decode loop with stop conditions, streaming text
 * through the caller's callback. vkslm_generate_tokens starts from ids instead of text; both put the
 * prompt's ids in the prompt buffer of what they run on (vkslm_gen: a session's sequence 0, or a scheduler's
 * sequence) and share the rest (vkslm_gen_run). */
#include <stdio.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/runtime/grammar.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/clock.h"

vkslm_generate_params vkslm_generate_default_params(void) {
    vkslm_generate_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = 128;
    p.top_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.penalty_last_n = 64;
    p.add_bos = -1;
    return p;
}

const char *vkslm_stop_reason_str(vkslm_stop_reason r) {
    switch (r) {
    case VKSLM_STOP_EOG: return "eog";
    case VKSLM_STOP_STRING: return "stop";
    case VKSLM_STOP_LENGTH: return "length";
    case VKSLM_STOP_CONTEXT: return "context";
    case VKSLM_STOP_CALLBACK: return "callback";
    default: return "none";
    }
}

/* The generated text, what of it went to the callback, and the stop strings. */
typedef struct streamer {
    vkslm_gen *s;
    const vkslm_generate_params *p;
    size_t emitted;
    size_t max_stop;
    const size_t *n_gen;  /* tokens generated so far */
    size_t tokens_sent;   /* of them, those on_tokens has had */
} streamer;

/* Hands piece (NUL-terminated) to the caller's callback with the tokens not yet handed over. */
static int deliver(streamer *st, const char *piece) {
    const vkslm_generate_params *p = st->p;
    if (!p->on_tokens)
        return p->on_token ? p->on_token(piece, p->user_data) : 1;
    size_t from = st->tokens_sent, n = *st->n_gen - from;
    st->tokens_sent = *st->n_gen;
    return p->on_tokens(piece, st->s->gen_ids + from, p->logprobs && n ? st->s->lp + from : NULL, n, p->user_data);
}

static int emit(streamer *st, size_t upto) {
    if (upto <= st->emitted)
        return 1;
    int go = 1;
    if (st->p->on_token || st->p->on_tokens) {
        char *t = st->s->text;
        char saved = t[upto];
        t[upto] = 0; /* the callback gets a NUL-terminated piece */
        go = deliver(st, t + st->emitted);
        t[upto] = saved;
    }
    st->emitted = upto;
    return go;
}

/* True when byte `at` of t starts a character (t is valid UTF-8: the detokenizer repairs it). */
static int char_start(const char *t, size_t at) { return ((unsigned char)t[at] & 0xC0) != 0x80; }

/* The first occurrence of stop[0..sl) in t[from..len) that starts at a character, or -1. Stop strings are
 * matched as bytes; the boundary rule keeps a match (or a held prefix of one) from cutting a character in
 * two when a stop string is not itself valid UTF-8. */
static long find_stop(const char *t, size_t from, size_t len, const char *stop, size_t sl) {
    for (size_t at = from; at + sl <= len; at++)
        if (t[at] == stop[0] && char_start(t, at) && memcmp(t + at, stop, sl) == 0)
            return (long)at;
    return -1;
}

/* Appends bytes (whole characters) to the text; emits what can no longer be the start of a stop string.
 * Returns the stop reason (NONE to go on). */
static vkslm_status append(streamer *st, const char *bytes, size_t n, vkslm_stop_reason *stop) {
    vkslm_gen *s = st->s;
    VKSLM_TRY(vkslm_grow((void **)&s->text, &s->text_cap, s->text_len + n + 1, 1));
    memcpy(s->text + s->text_len, bytes, n);
    s->text_len += n;
    s->text[s->text_len] = 0;
    size_t hold = 0;
    for (size_t i = 0; i < st->p->n_stop; i++) {
        const char *stop_str = st->p->stop[i];
        size_t sl = stop_str ? strlen(stop_str) : 0;
        if (sl == 0)
            continue;
        long found = find_stop(s->text, st->emitted, s->text_len, stop_str, sl);
        if (found >= 0) {
            size_t at = (size_t)found;
            s->text_len = at;
            emit(st, at);
            s->text[at] = 0;
            *stop = VKSLM_STOP_STRING;
            return VKSLM_OK;
        }
        /* the longest suffix (from a character start) that is a proper prefix of the stop string */
        for (size_t k = sl - 1; k > 0; k--)
            if (k <= s->text_len - st->emitted && char_start(s->text, s->text_len - k) &&
                memcmp(s->text + s->text_len - k, stop_str, k) == 0) {
                if (k > hold)
                    hold = k;
                break;
            }
    }
    if (!emit(st, s->text_len - hold))
        *stop = VKSLM_STOP_CALLBACK;
    return VKSLM_OK;
}

/* Why a grammar left no token to pick at generated token n. */
static vkslm_status grammar_failed(const vkslm_gmatch *gm, size_t n) {
    switch (vkslm_gmatch_error(gm)) {
    case VKSLM_OK:
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "generate: no token of the vocabulary continues the grammar at "
                          "generated token %zu", n);
    case VKSLM_ERR_TOO_COMPLEX:
        return vkslm_fail(VKSLM_ERR_TOO_COMPLEX, "generate: the grammar is too ambiguous at generated token %zu "
                          "(more than %d ways to go on)", n, VKSLM_GRAMMAR_MAX_STACKS);
    case VKSLM_ERR_OUT_OF_HOST_MEMORY:
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "generate: out of host memory in the grammar");
    default:
        return vkslm_fail(vkslm_gmatch_error(gm), "generate: the grammar failed at generated token %zu", n);
    }
}

/* Feeds s->prompt_ids[0..n_prompt) after what the session holds and generates (result already zeroed). */
vkslm_status vkslm_gen_run(vkslm_gen *s, size_t n_prompt, const vkslm_generate_params *params,
                           vkslm_generate_result *result) {
    vkslm_generate_params p = params ? *params : vkslm_generate_default_params();
    vkslm_generate_result r;
    memset(&r, 0, sizeof r);
    const vkslm_model *m = s->model;
    uint32_t n_ctx = s->n_ctx, n_vocab = m->dev->hp.n_vocab;
    if (n_prompt == 0 && !s->has_pending && !s->logits(s))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "generate: an empty prompt at the start of a session");
    if (s->n_past(s) + n_prompt > n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "generate: the prompt (%zu tokens) does not fit the context (%u of %u used)",
                          n_prompt, s->n_past(s), n_ctx);

    if (p.logprobs && (p.top_logprobs < 0 || p.top_logprobs > VKSLM_MAX_TOP_LOGPROBS))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "generate: top_logprobs %d (0 .. %d)", p.top_logprobs,
                          VKSLM_MAX_TOP_LOGPROBS);
    for (size_t i = 0; i < p.n_logit_bias; i++)
        if (p.logit_bias && p.logit_bias[i].token >= 0 && (uint32_t)p.logit_bias[i].token >= n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "generate: logit bias %zu names token %d, outside the vocabulary "
                              "of %u", i, p.logit_bias[i].token, n_vocab);
    vkslm_sampler *sampler, *gstage = NULL;
    vkslm_gmatch *gm = NULL; /* the grammar's matcher (owned by its stage) */
    if (p.grammar)
        VKSLM_TRY(vkslm_grammar_stage(m, p.grammar, p.grammar_root, &gstage, &gm));
    vkslm_status sst = vkslm_sampler_from_params(&p, &sampler);
    if (sst != VKSLM_OK) {
        vkslm_sampler_free(gstage);
        return sst;
    }
    for (size_t i = 0; i < n_prompt; i++)
        vkslm_sampler_accept(sampler, s->prompt_ids[i]);
    if (gstage && (sst = vkslm_sampler_chain_push_front(sampler, gstage)) != VKSLM_OK) { /* after the prompt */
        vkslm_sampler_free(gstage);
        vkslm_sampler_free(sampler);
        return sst;
    }
    /* logprobs need the row of logits even where the device's argmax would pick the same token */
    vkslm_graph_out out = vkslm_sampler_is_plain_greedy(sampler) && !p.logprobs ? VKSLM_GRAPH_ARGMAX
                                                                                 : VKSLM_GRAPH_LOGITS;
    vkslm_detok *detok = NULL;
    vkslm_status st = vkslm_detok_create(m->tok, 0, &detok);
    s->text_len = 0;
    if (st == VKSLM_OK)
        st = vkslm_grow((void **)&s->text, &s->text_cap, 64, 1);
    if (st == VKSLM_OK)
        s->text[0] = 0;
    size_t n_gen = 0, n_forward = 0;
    vkslm_stop_reason stop = VKSLM_STOP_NONE;
    streamer str = {s, &p, 0, 0, &n_gen, 0};
    int32_t next = -1;

    double t0 = vkslm_now_ms();
    if (st == VKSLM_OK && (n_prompt || s->has_pending))
        st = s->feed(s, s->prompt_ids, (uint32_t)n_prompt, out, &next);
    else if (st == VKSLM_OK && out == VKSLM_GRAPH_ARGMAX)
        out = VKSLM_GRAPH_LOGITS; /* nothing to feed: sample from the logits we have */
    double t1 = vkslm_now_ms();
    r.prefill_ms = t1 - t0;

    while (st == VKSLM_OK && stop == VKSLM_STOP_NONE) {
        if (p.max_tokens > 0 && n_gen >= (size_t)p.max_tokens) {
            stop = VKSLM_STOP_LENGTH;
            break;
        }
        if (gm && vkslm_gmatch_done(gm)) {
            stop = VKSLM_STOP_EOG; /* nothing can follow: as if the model ended it */
            break;
        }
        if (out == VKSLM_GRAPH_LOGITS)
            next = vkslm_sampler_pick(sampler, s->logits(s), (int32_t)n_vocab);
        if (gm && (next < 0 || vkslm_gmatch_error(gm) != VKSLM_OK)) {
            st = grammar_failed(gm, n_gen + 1);
            break;
        }
        if (next < 0 || (uint32_t)next >= n_vocab) { /* the sampler and the device argmax alike give -1 */
            st = vkslm_fail(VKSLM_ERR_FORMAT,
                            "generate: the logits of generated token %zu are all NaN or -inf (broken weights or "
                            "arithmetic)",
                            n_gen + 1);
            break;
        }
        if (vkslm_token_is_eog(m->tok, next)) {
            stop = VKSLM_STOP_EOG;
            break;
        }
        if ((st = vkslm_grow((void **)&s->gen_ids, &s->gen_cap, n_gen + 1, sizeof(int32_t))) != VKSLM_OK)
            break;
        if (p.logprobs) {
            if ((st = vkslm_grow((void **)&s->lp, &s->lp_cap, n_gen + 1, sizeof *s->lp)) != VKSLM_OK)
                break;
            vkslm_logprobs_fill(s->logits(s), n_vocab, next, p.top_logprobs, &s->lp[n_gen]);
        }
        s->gen_ids[n_gen++] = next;
        vkslm_sampler_accept(sampler, next);
        if (gm && vkslm_gmatch_error(gm) != VKSLM_OK) {
            st = grammar_failed(gm, n_gen);
            break;
        }
        const char *piece;
        size_t plen;
        if ((st = vkslm_detok_push(detok, next, &piece, &plen)) != VKSLM_OK)
            break;
        if ((st = append(&str, piece, plen, &stop)) != VKSLM_OK || stop != VKSLM_STOP_NONE) {
            if (stop != VKSLM_STOP_STRING) {
                s->pending = next;
                s->has_pending = 1;
            }
            break;
        }
        s->pending = next;
        s->has_pending = 1;
        if (p.max_tokens > 0 && n_gen >= (size_t)p.max_tokens) {
            stop = VKSLM_STOP_LENGTH;
            break;
        }
        if (s->n_past(s) >= n_ctx) {
            stop = VKSLM_STOP_CONTEXT;
            break;
        }
        st = s->feed(s, NULL, 0, out, &next);
        n_forward++;
    }
    if (st == VKSLM_OK && stop != VKSLM_STOP_STRING && stop != VKSLM_STOP_CALLBACK) {
        const char *rest;
        size_t rlen;
        if (vkslm_detok_flush(detok, &rest, &rlen) == VKSLM_OK && rlen)
            st = append(&str, rest, rlen, &stop);
        if (st == VKSLM_OK && stop != VKSLM_STOP_STRING)
            emit(&str, s->text_len); /* held-back text that never became a stop string */
    }
    if (st == VKSLM_OK && p.on_tokens && str.tokens_sent < n_gen)
        deliver(&str, ""); /* tokens whose text never became a piece (a stop string's, say) */
    double t2 = vkslm_now_ms();
    vkslm_detok_free(detok);
    vkslm_sampler_free(sampler);

    r.stop_reason = stop;
    r.prompt_tokens = s->prompt_ids;
    r.n_prompt_tokens = n_prompt;
    r.n_cached_tokens = s->n_cached;
    r.tokens = s->gen_ids;
    r.n_tokens = n_gen;
    r.text = s->text ? s->text : "";
    r.text_len = s->text_len;
    r.logprobs = p.logprobs ? s->lp : NULL;
    r.decode_ms = t2 - t1;
    r.pp_tps = r.prefill_ms > 0 ? n_prompt / (r.prefill_ms * 1e-3) : 0;
    r.tg_tps = r.decode_ms > 0 && n_forward ? n_forward / (r.decode_ms * 1e-3) : 0;
    if (result)
        *result = r;
    return st;
}

void vkslm_gen_free_buffers(vkslm_gen *g) {
    VKSLM_FREE(g->prompt_ids);
    VKSLM_FREE(g->gen_ids);
    VKSLM_FREE(g->text);
    VKSLM_FREE(g->lp);
    g->lp = NULL;
    g->lp_cap = 0;
    g->prompt_ids = g->gen_ids = NULL;
    g->text = NULL;
    g->prompt_cap = g->gen_cap = g->text_cap = g->text_len = 0;
}

/* Tokenizes prompt into g->prompt_ids (BOS only when g holds nothing yet); *n gets the count. */
vkslm_status vkslm_gen_tokenize(vkslm_gen *g, const char *prompt, const vkslm_generate_params *p, size_t *n) {
    size_t len = strlen(prompt);
    int add_bos = g->n_past(g) == 0 ? p->add_bos : 0;
    VKSLM_TRY(vkslm_grow((void **)&g->prompt_ids, &g->prompt_cap, len + 8, sizeof(int32_t)));
    return vkslm_model_tokenize(g->model, prompt, len, add_bos, p->parse_special, g->prompt_ids, g->prompt_cap, n);
}

/* Copies ids[0..n) into g->prompt_ids (ids may be that very buffer: the previous result's prompt_tokens). */
vkslm_status vkslm_gen_set_prompt(vkslm_gen *g, const int32_t *ids, size_t n) {
    uint32_t n_vocab = g->model->dev->hp.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "generate: id %d (prompt token %zu) is outside the vocabulary of %u",
                              ids[i], i, n_vocab);
    size_t at = 0;
    bool inside = n && g->prompt_ids && ids >= g->prompt_ids && ids < g->prompt_ids + g->prompt_cap;
    if (inside)
        at = (size_t)(ids - g->prompt_ids);
    VKSLM_TRY(vkslm_grow((void **)&g->prompt_ids, &g->prompt_cap, n + 8, sizeof(int32_t)));
    if (n)
        memmove(g->prompt_ids, inside ? g->prompt_ids + at : ids, n * sizeof *ids);
    return VKSLM_OK;
}

vkslm_status vkslm_generate(vkslm_session *s, const char *prompt, const vkslm_generate_params *params,
                            vkslm_generate_result *result) {
    if (!s || !prompt)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_generate: NULL session or prompt");
    if (result)
        memset(result, 0, sizeof *result);
    vkslm_generate_params p = params ? *params : vkslm_generate_default_params();
    size_t n_prompt = 0;
    VKSLM_TRY(vkslm_gen_tokenize(&s->gen, prompt, &p, &n_prompt));
    s->gen.n_cached = 0;
    return vkslm_gen_run(&s->gen, n_prompt, &p, result);
}

vkslm_status vkslm_generate_tokens(vkslm_session *s, const int32_t *ids, size_t n, const vkslm_generate_params *params,
                                   vkslm_generate_result *result) {
    if (!s || (!ids && n))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_generate_tokens: NULL session or ids");
    if (result)
        memset(result, 0, sizeof *result);
    VKSLM_TRY(vkslm_gen_set_prompt(&s->gen, ids, n));
    s->gen.n_cached = 0;
    return vkslm_gen_run(&s->gen, n, params, result);
}
