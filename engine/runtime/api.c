/* The public model and session API (vkslm.h) over the device model, session and tokenizer. */
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/runtime/grammar.h"
#include "engine/util/alloc.h"
#include "engine/util/error.h"

#define DEFAULT_BATCH 64u

vkslm_model_params vkslm_model_default_params(void) {
    vkslm_model_params p;
    memset(&p, 0, sizeof p);
    return p;
}

vkslm_session_params vkslm_session_default_params(void) {
    vkslm_session_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void vkslm_model_free(vkslm_model *m) {
    if (!m)
        return;
    vkslm_gvocab_free(atomic_load(&m->gvocab));
    vkslm_tokenizer_free(m->tok);
    vkslm_model_dev_free(m->dev);
    vkslm_gguf_close(m->vocab_gguf);
    vkslm_vk_close(m->vk);
    VKSLM_FREE(m);
}

typedef struct progress_bridge {
    vkslm_progress_fn fn;
    void *user;
} progress_bridge;

static int bridge(float f, void *user) {
    progress_bridge *b = user;
    return b->fn ? b->fn(f, b->user) : 1;
}

/* vocab_only: keeps g (its tokenizer, chat template and metadata) and opens no device. */
static vkslm_status load_vocab_only(vkslm_gguf *g, vkslm_model *m, vkslm_model **out) {
    vkslm_hparams hp;
    vkslm_status st = vkslm_hparams_load(g, &hp);
    if (st != VKSLM_OK) {
        vkslm_gguf_close(g);
        vkslm_model_free(m);
        return st;
    }
    m->vocab_gguf = g;
    m->n_vocab = hp.n_vocab;
    m->n_ctx_train = hp.n_ctx_train;
    snprintf(m->arch, sizeof m->arch, "%.*s", (int)(hp.arch_name.len > 31 ? 31 : hp.arch_name.len),
             hp.arch_name.ptr ? hp.arch_name.ptr : ""); /* the file's name, also for an architecture vkslm cannot run */
    *out = m;
    return VKSLM_OK;
}

/* Takes ownership of g (closed on failure). On `shared` (a context to hold one more reference to) unless
 * it is NULL and params->share_device too: then on a device opened here. A vocabulary-only load opens none. */
static vkslm_status load(vkslm_gguf *g, const vkslm_model_params *params, vkslm_vk *shared, vkslm_model **out) {
    *out = NULL;
    vkslm_model_params defaults = vkslm_model_default_params();
    if (!params)
        params = &defaults;
    vkslm_model *m = VKSLM_CALLOC(1, sizeof *m);
    if (!m) {
        vkslm_gguf_close(g);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    vkslm_vk_options opt = {.device = params->device, .validate = params->validate, .validate_from_env = 1,
                            .profile = params->profile};
    vkslm_status st = vkslm_tokenizer_load(g, &m->tok);
    if (vkslm_gguf_find_key(g, "tokenizer.chat_template") >= 0 &&
        vkslm_gguf_get_str(g, "tokenizer.chat_template", &m->chat_template) != VKSLM_OK)
        m->chat_template.ptr = NULL; /* a template of the wrong type is no template */
    if (st == VKSLM_OK && params->vocab_only)
        return load_vocab_only(g, m, out);
    if (st == VKSLM_OK && !shared && params->share_device && !params->share_device->vk)
        st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "share_device is a vocabulary-only model: it has no device to share");
    if (!shared && params->share_device)
        shared = params->share_device->vk;
    if (st == VKSLM_OK && shared) {
        m->vk = shared;
        vkslm_vk_retain(m->vk);
    } else if (st == VKSLM_OK) {
        st = vkslm_vk_open(&opt, &m->vk);
    }
    if (st != VKSLM_OK) {
        vkslm_gguf_close(g);
        vkslm_model_free(m);
        return st;
    }
    progress_bridge pb = {params->progress, params->progress_user_data};
    st = vkslm_model_dev_load(m->vk, g, bridge, &pb, &m->dev); /* owns g from here */
    if (st == VKSLM_OK) /* the pipelines of decode and of a default prefill chunk, now rather than mid-step */
        st = vkslm_graph_resolve(m->vk, m->dev, VKSLM_DEFAULT_N_CTX, DEFAULT_BATCH);
    if (st != VKSLM_OK) {
        vkslm_model_free(m);
        return st;
    }
    snprintf(m->arch, sizeof m->arch, "%s", vkslm_arch_name(m->dev->hp.arch));
    m->n_vocab = m->dev->hp.n_vocab;
    m->n_ctx_train = m->dev->hp.n_ctx_train;
    *out = m;
    return VKSLM_OK;
}

vkslm_status vkslm_model_load(const char *path, const vkslm_model_params *params, vkslm_model **out) {
    if (!out || !path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_load: NULL path or output");
    *out = NULL;
    vkslm_gguf *g;
    VKSLM_TRY(vkslm_gguf_open_file(path, &g));
    return load(g, params, NULL, out);
}

vkslm_status vkslm_model_load_on(vkslm_vk *vk, const char *path, const vkslm_model_params *params, vkslm_model **out) {
    if (!out || !path)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_load: NULL path or output");
    *out = NULL;
    vkslm_gguf *g;
    VKSLM_TRY(vkslm_gguf_open_file(path, &g));
    return load(g, params, vk, out);
}

vkslm_status vkslm_model_load_memory(const void *data, size_t size, const vkslm_model_params *params,
                                     vkslm_model **out) {
    if (!out || !data)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_load_memory: NULL data or output");
    *out = NULL;
    vkslm_gguf *g;
    VKSLM_TRY(vkslm_gguf_open_memory(data, size, &g));
    return load(g, params, NULL, out);
}

vkslm_status vkslm_model_load_fd(int fd, uint64_t offset, uint64_t length, const vkslm_model_params *params,
                                 vkslm_model **out) {
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_load_fd: NULL output");
    *out = NULL;
    vkslm_gguf *g;
    VKSLM_TRY(vkslm_gguf_open_fd(fd, offset, length, &g));
    return load(g, params, NULL, out);
}

const char *vkslm_model_arch(const vkslm_model *m) { return m ? m->arch : ""; }
/* A vocabulary-only model has no device (vk and dev NULL): its device accessors give "" and 0. */
const char *vkslm_model_device_name(const vkslm_model *m) { return m && m->vk ? vkslm_vk_get_caps(m->vk)->name : ""; }
int32_t vkslm_model_n_vocab(const vkslm_model *m) { return m ? (int32_t)m->n_vocab : 0; }
uint32_t vkslm_model_n_ctx_train(const vkslm_model *m) { return m ? m->n_ctx_train : 0; }

uint32_t vkslm_model_default_n_ctx(const vkslm_model *m) {
    uint32_t train = m ? m->n_ctx_train : 0;
    return train && train < VKSLM_DEFAULT_N_CTX ? train : VKSLM_DEFAULT_N_CTX;
}
uint64_t vkslm_model_weight_bytes(const vkslm_model *m) { return m && m->dev ? m->dev->weight_bytes : 0; }

uint64_t vkslm_model_device_bytes(const vkslm_model *m) {
    uint64_t used = 0, reserved = 0; /* reserved: the whole blocks, which hold every suballocation */
    if (m && m->vk)
        vkslm_vk_memory_usage(m->vk, &used, &reserved);
    return reserved;
}

uint64_t vkslm_model_device_bytes_in_use(const vkslm_model *m) {
    uint64_t used = 0, reserved = 0;
    if (m && m->vk)
        vkslm_vk_memory_usage(m->vk, &used, &reserved);
    return used;
}

uint32_t vkslm_model_validation_messages(const vkslm_model *m) {
    uint32_t errors = 0, warnings = 0;
    if (m && m->vk)
        vkslm_vk_validation_counts(m->vk, &errors, &warnings);
    return errors + warnings;
}

vkslm_status vkslm_model_device_info(const vkslm_model *m, vkslm_device_info *out) {
    if (!m || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_device_info: NULL argument");
    if (!m->vk)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_device_info: a vocabulary-only model has no device");
    vkslm_vk_device_info(m->vk, out);
    return VKSLM_OK;
}

bool vkslm_model_token_is_eog(const vkslm_model *m, int32_t id) { return m && vkslm_token_is_eog(m->tok, id); }

vkslm_status vkslm_model_tokenize_special(const vkslm_model *m, const char *text, size_t len, bool add_special,
                                          bool parse_special, int32_t *ids, size_t cap, size_t *n_ids) {
    if (!m || (!text && len) || !n_ids || (!ids && cap))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_tokenize_special: NULL argument");
    vkslm_status st = vkslm_tokenize(m->tok, text ? text : "", len, add_special, parse_special, ids, cap, n_ids);
    if (st == VKSLM_ERR_LIMIT)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenize: %zu tokens do not fit in %zu", *n_ids, cap);
    return st;
}

const char *vkslm_model_token_piece(const vkslm_model *m, int32_t id, bool special, size_t *len) {
    size_t n = 0;
    const char *piece = m && id >= 0 && (uint32_t)id < m->n_vocab ? vkslm_token_to_piece(m->tok, id, special, &n) : NULL;
    if (len)
        *len = n;
    return piece;
}

vkslm_status vkslm_model_tokenize(const vkslm_model *m, const char *text, size_t len, int add_bos, bool parse_special,
                                  int32_t *ids, size_t cap, size_t *n_ids) {
    if (!m || (!text && len) || !n_ids || (!ids && cap))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_tokenize: NULL argument");
    int bos = add_bos > 0 || (add_bos < 0 && vkslm_tokenizer_adds_bos(m->tok));
    int32_t bos_id = vkslm_token_bos(m->tok);
    if (bos && bos_id < 0)
        bos = 0;
    size_t n = 0;
    vkslm_status st = vkslm_tokenize(m->tok, text ? text : "", len, 0, parse_special, cap > (size_t)bos ? ids + bos : NULL,
                                     cap > (size_t)bos ? cap - (size_t)bos : 0, &n);
    *n_ids = n + (size_t)bos;
    if (bos && cap > 0)
        ids[0] = bos_id;
    if (st == VKSLM_ERR_LIMIT || *n_ids > cap)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenize: %zu tokens do not fit in %zu", *n_ids, cap);
    return st;
}

vkslm_status vkslm_model_detokenize(const vkslm_model *m, const int32_t *ids, size_t n, char *text, size_t cap,
                                    size_t *len) {
    if (!m || (!ids && n) || !len || (!text && cap))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_model_detokenize: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= m->n_vocab)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "detokenize: id %d outside the vocabulary", ids[i]);
    /* the pieces' raw bytes, then repaired into valid UTF-8 (byte tokens on their own are not) */
    size_t raw_len = 0;
    vkslm_status st = vkslm_detokenize(m->tok, ids, n, 0, 0, NULL, 0, &raw_len);
    if (st != VKSLM_OK && st != VKSLM_ERR_LIMIT)
        return st;
    char *raw = VKSLM_MALLOC(raw_len ? raw_len : 1);
    if (!raw)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    st = vkslm_detokenize(m->tok, ids, n, 0, 0, raw, raw_len, &raw_len);
    if (st == VKSLM_OK)
        *len = vkslm_utf8_sanitize(raw, raw_len, text, cap);
    VKSLM_FREE(raw);
    return st;
}

/* ---- sessions ---------------------------------------------------------------------------------- */
static vkslm_status gen_feed(vkslm_gen *g, const int32_t *ids, uint32_t n, vkslm_graph_out out, int32_t *argmax) {
    return vkslm_session_feed((vkslm_session *)g, ids, n, out, argmax);
}
static const float *gen_logits(vkslm_gen *g) {
    vkslm_session *s = (vkslm_session *)g;
    return vkslm_logits_ith(s, -1);
}
static uint32_t gen_n_past(const vkslm_gen *g) { return vkslm_session_n_past((const vkslm_session *)g); }

vkslm_status vkslm_session_create(vkslm_model *m, const vkslm_session_params *params, vkslm_session **out) {
    if (!m || !out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_create: NULL model or output");
    *out = NULL;
    if (!m->dev)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_create: the model was loaded vocabulary-only (no device, "
                                                 "no weights): load it without vocab_only to run it");
    vkslm_session_params p = params ? *params : vkslm_session_default_params();
    uint32_t train = m->dev->hp.n_ctx_train ? m->dev->hp.n_ctx_train : VKSLM_DEFAULT_N_CTX;
    if (p.n_ctx == 0)
        p.n_ctx = vkslm_model_default_n_ctx(m);
    if (p.n_ctx > train)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: context %u exceeds the model's trained context %u", p.n_ctx,
                          train);
    if (p.n_batch == 0)
        p.n_batch = DEFAULT_BATCH;
    if (p.n_seq == 0)
        p.n_seq = 1;
    if (p.n_seq > 1024)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "session: %u sequences (at most 1024)", p.n_seq);
    if ((uint64_t)p.n_batch > (uint64_t)p.n_ctx * p.n_seq) /* a step may hold rows of every sequence */
        p.n_batch = p.n_ctx * p.n_seq;
    vkslm_session *s = VKSLM_CALLOC(1, sizeof *s);
    if (!s)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->model = m;
    s->gen.model = m;
    s->gen.feed = gen_feed;
    s->gen.logits = gen_logits;
    s->gen.n_past = gen_n_past;
    vkslm_status st = vkslm_session_dev_create_seq(m->vk, m->dev, p.n_ctx, p.n_seq, p.n_batch,
                                                   p.kv_f32 ? VKSLM_TYPE_F32 : VKSLM_TYPE_F16, &s->dev);
    if (st != VKSLM_OK) {
        VKSLM_FREE(s);
        return st;
    }
    s->gen.n_ctx = s->dev->b.kv.n_ctx;
    *out = s;
    return VKSLM_OK;
}

void vkslm_session_free(vkslm_session *s) {
    if (!s)
        return;
    vkslm_session_dev_free(s->dev);
    vkslm_gen_free_buffers(&s->gen);
    vkslm_batch_free(s->feed);
    VKSLM_FREE(s->out.row_of);
    VKSLM_FREE(s->out.entry_of);
    VKSLM_FREE(s->out.embd_of);
    VKSLM_FREE(s->out.embd);
    VKSLM_FREE(s->out.logits);
    VKSLM_FREE(s->out.top_ids);
    VKSLM_FREE(s->out.top_vals);
    VKSLM_FREE(s->order);
    VKSLM_FREE(s->tokens);
    VKSLM_FREE(s->rows);
    VKSLM_FREE(s->runs);
    VKSLM_FREE(s);
}

vkslm_model *vkslm_session_model(const vkslm_session *s) { return s ? s->model : NULL; }
uint64_t vkslm_session_device_bytes(const vkslm_session *s) { return s ? vkslm_session_dev_bytes(s->dev) : 0; }

vkslm_status vkslm_session_eval(vkslm_session *s, const int32_t *ids, size_t n) {
    if (!s || !ids || n == 0 || n > UINT32_MAX - 1)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_eval: no tokens");
    return vkslm_session_feed(s, ids, (uint32_t)n, VKSLM_GRAPH_LOGITS, NULL);
}

vkslm_status vkslm_session_feed(vkslm_session *s, const int32_t *ids, uint32_t n, vkslm_graph_out out,
                                int32_t *argmax) {
    /* one batch of sequence 0: the pending token, then ids; the last one's output as asked */
    uint32_t total = (uint32_t)s->gen.has_pending + n, at = s->dev->seq_len[0];
    if (total == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "eval: no tokens");
    if ((uint64_t)at + total > s->dev->b.kv.n_ctx)
        return vkslm_fail(VKSLM_ERR_LIMIT, "eval: %u more tokens do not fit the context (%u of %u used)", total, at,
                          s->dev->b.kv.n_ctx);
    if (!s->feed || vkslm_batch_capacity(s->feed) < total) {
        vkslm_batch_free(s->feed);
        if (!(s->feed = vkslm_batch_init(total < 64 ? 64 : total)))
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "eval: out of host memory for %u tokens", total);
    }
    vkslm_batch_clear(s->feed);
    for (uint32_t i = 0; i < total; i++) {
        int32_t t = s->gen.has_pending ? (i ? ids[i - 1] : s->gen.pending) : ids[i];
        VKSLM_TRY(vkslm_batch_add(s->feed, t, at + i, 0, i + 1 == total && out != VKSLM_GRAPH_NONE));
    }
    int had_pending = s->gen.has_pending;
    s->gen.has_pending = 0; /* it is in the batch */
    vkslm_status st = vkslm_decode_ex(s, s->feed, out == VKSLM_GRAPH_ARGMAX, out == VKSLM_GRAPH_LOGITS);
    if (st != VKSLM_OK) {
        s->gen.has_pending = had_pending && s->dev->seq_len[0] == at; /* nothing ran: still pending */
        return st;
    }
    if (out == VKSLM_GRAPH_ARGMAX && argmax) { /* no logit above -inf (all NaN or -inf): -1, as the sampler */
        const int32_t *id;
        const float *v;
        *argmax = vkslm_top_ith(s, -1, &id, &v) && v[0] > -INFINITY ? id[0] : -1;
    }
    return VKSLM_OK;
}

typedef struct all_bridge {
    vkslm_logits_fn fn;
    void *user;
} all_bridge;

static vkslm_status on_all(const float *logits, uint32_t first, uint32_t n, void *user) {
    all_bridge *b = user;
    return b->fn(logits, first, n, b->user) ? VKSLM_OK : vkslm_fail(VKSLM_ERR_INVALID_ARG, "stopped by the callback");
}

vkslm_status vkslm_session_eval_all(vkslm_session *s, const int32_t *ids, size_t n, vkslm_logits_fn fn, void *user) {
    if (!s || !ids || !fn || n == 0 || n > UINT32_MAX)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_eval_all: NULL argument or no tokens");
    if (s->gen.has_pending)
        VKSLM_TRY(vkslm_session_feed(s, NULL, 0, VKSLM_GRAPH_NONE, NULL));
    all_bridge b = {fn, user};
    vkslm_decode_forget(s);
    return vkslm_session_dev_eval_all(s->dev, ids, (uint32_t)n, on_all, &b);
}

const float *vkslm_session_logits(vkslm_session *s) {
    return s && !s->gen.has_pending ? vkslm_logits_ith(s, -1) : NULL;
}
uint32_t vkslm_session_n_past(const vkslm_session *s) { return s ? s->dev->seq_len[0] + (uint32_t)s->gen.has_pending : 0; }
uint32_t vkslm_session_n_ctx(const vkslm_session *s) { return s ? s->dev->b.kv.n_ctx : 0; }

vkslm_status vkslm_session_rewind(vkslm_session *s, uint32_t pos) {
    if (!s)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_session_rewind: NULL session");
    if (s->gen.has_pending && pos == s->dev->seq_len[0] + 1)
        return VKSLM_OK;
    if (pos > s->dev->seq_len[0])
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "rewind: position %u is past the %u tokens in the session", pos,
                          vkslm_session_n_past(s));
    s->gen.has_pending = 0;
    vkslm_decode_forget(s);
    return vkslm_session_dev_rewind(s->dev, pos);
}
