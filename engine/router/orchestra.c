/* The orchestra (vkslm.h): experts, their routing, and their residency on the device under a memory
 * budget. Every model loads onto one Vulkan context (one device, memory, queue and set of compiled
 * pipelines), opened by the first load and held until the orchestra is freed. The budget counts what the
 * models occupy: their weights and their sessions' buffers. One mutex guards the tables; models load and
 * sessions are created outside it, with the model's slot marked "loading" so that nobody loads a file
 * twice. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/router/lexical.h"
#include "engine/runtime/api_internal.h"
#include "engine/router/rules.h"
#include "engine/router/semantic.h"
#include "engine/util/alloc.h"
#include "engine/util/clock.h"
#include "engine/util/error.h"

#define DEFAULT_SESSIONS 4u
#define DEFAULT_QUEUE 64u
#define DEFAULT_TIMEOUT_MS 120000u
#define SESSION_ROOM (8ull << 20) /* a load's estimate leaves this for the first session's buffers */

enum { SLOT_UNLOADED, SLOT_LOADING, SLOT_LOADED };

typedef struct slot {      /* one model file, loaded or not, shared by the experts that name it */
    char *path;
    vkslm_model *model;
    int state;
    uint32_t active;       /* sessions borrowed from it, all experts */
    uint64_t bytes;        /* device bytes of its weights and sessions while loaded (an estimate while loading) */
    uint64_t lru;          /* clock of its last use */
    uint32_t loads, evictions;
} slot;

typedef struct expert {
    vkslm_expert_desc d;   /* strings owned by the orchestra */
    size_t slot;
    vkslm_scheduler *sch;  /* its requests' sequences (max_sessions of them), made on first use */
    uint32_t active, waiting;
    uint32_t n_ctx;
    vkslm_lora *lora[VKSLM_LORA_MAX_PER_SEQ]; /* d.lora loaded on the slot's model, with the scheduler */
    float scale[VKSLM_LORA_MAX_PER_SEQ];
    uint64_t lora_bytes;
} expert;

struct vkslm_orchestra {
    expert e[VKSLM_MAX_EXPERTS];
    size_t n;
    slot s[VKSLM_MAX_EXPERTS];
    size_t n_slots;
    vkslm_orchestra_params p;
    int fallback;
    vkslm_rules *rules;
    vkslm_bm25 *bm25;
    vkslm_semantic *sem;
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* a session was released, a model loaded or evicted, or shutdown began */
    int shutting_down;     /* acquire fails at once */
    pthread_mutex_t ctx_lock; /* held while the first load opens the context */
    vkslm_vk *vk;          /* the shared context (one reference held here), NULL until the first load */
    uint64_t clock, budget;
    void **owned;          /* copied strings and string lists */
    size_t n_owned, cap_owned;
};

vkslm_orchestra_params vkslm_orchestra_default_params(void) {
    vkslm_orchestra_params p;
    memset(&p, 0, sizeof p);
    p.model = vkslm_model_default_params();
    return p;
}

const char *vkslm_route_method_str(vkslm_route_method m) {
    switch (m) {
    case VKSLM_ROUTE_EXPLICIT: return "explicit";
    case VKSLM_ROUTE_RULE: return "rule";
    case VKSLM_ROUTE_SEMANTIC: return "semantic";
    case VKSLM_ROUTE_LEXICAL: return "lexical";
    case VKSLM_ROUTE_FALLBACK: return "fallback";
    }
    return "unknown";
}

/* Takes p (freed with the orchestra); NULL (and *st set) when p is NULL or cannot be recorded. */
static void *own(vkslm_orchestra *o, void *p, vkslm_status *st) {
    if (!p || (*st = vkslm_grow((void **)&o->owned, &o->cap_owned, o->n_owned + 1, sizeof *o->owned)) != VKSLM_OK) {
        VKSLM_FREE(p);
        if (*st == VKSLM_OK)
            *st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "orchestra: out of host memory");
        return NULL;
    }
    o->owned[o->n_owned++] = p;
    return p;
}

/* A copy of s kept until the orchestra is freed (NULL stays NULL). */
static const char *keep(vkslm_orchestra *o, const char *s, vkslm_status *st) {
    if (!s || *st != VKSLM_OK)
        return NULL;
    size_t n = strlen(s);
    char *c = own(o, VKSLM_MALLOC(n + 1), st);
    if (c)
        memcpy(c, s, n + 1);
    return c;
}

static const char *const *keep_list(vkslm_orchestra *o, const char *const *l, size_t n, vkslm_status *st) {
    if (!n || *st != VKSLM_OK)
        return NULL;
    const char **c = own(o, VKSLM_CALLOC(n, sizeof *c), st);
    for (size_t i = 0; c && i < n; i++)
        c[i] = keep(o, l[i] ? l[i] : "", st);
    return c;
}

/* Checks and copies the expert descriptions. */
static vkslm_status add_experts(vkslm_orchestra *o, const vkslm_expert_desc *ex, size_t n) {
    vkslm_status st = VKSLM_OK;
    for (size_t i = 0; i < n && st == VKSLM_OK; i++) {
        const vkslm_expert_desc *d = &ex[i];
        if (!d->name || !d->name[0] || strcmp(d->name, "auto") == 0)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %zu: a name other than \"auto\" is needed", i);
        if (!d->model_path || !d->model_path[0])
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %s: no model file", d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ex[j].name, d->name) == 0)
                return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %s: the name is used twice", d->name);
        expert *e = &o->e[i];
        e->d.name = keep(o, d->name, &st);
        e->d.model_path = keep(o, d->model_path, &st);
        e->d.role = keep(o, d->role ? d->role : "", &st);
        e->d.examples = keep_list(o, d->examples, d->n_examples, &st);
        e->d.n_examples = d->n_examples;
        e->d.keywords = keep_list(o, d->keywords, d->n_keywords, &st);
        e->d.n_keywords = d->n_keywords;
        e->d.pattern = keep(o, d->pattern, &st);
        e->d.n_ctx = d->n_ctx;
        e->d.max_sessions = d->max_sessions ? d->max_sessions : DEFAULT_SESSIONS;
        e->d.max_prefill = d->max_prefill;
        if (d->n_lora > VKSLM_LORA_MAX_PER_SEQ || (d->n_lora && !d->lora))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %s: %zu adapters (at most %d)", d->name, d->n_lora,
                              VKSLM_LORA_MAX_PER_SEQ);
        vkslm_expert_lora *lora = d->n_lora ? own(o, VKSLM_CALLOC(d->n_lora, sizeof *lora), &st) : NULL;
        for (size_t k = 0; lora && k < d->n_lora; k++) {
            if (!d->lora[k].path || !d->lora[k].path[0] || !isfinite(d->lora[k].scale))
                return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %s: adapter %zu needs a path and a finite scale",
                                  d->name, k);
            lora[k].path = keep(o, d->lora[k].path, &st);
            lora[k].scale = d->lora[k].scale;
            e->scale[k] = d->lora[k].scale;
        }
        e->d.lora = lora;
        e->d.n_lora = lora ? d->n_lora : 0;
        /* experts that name one file share its slot */
        size_t s = 0;
        while (s < o->n_slots && strcmp(o->s[s].path, d->model_path) != 0)
            s++;
        if (s == o->n_slots)
            o->s[o->n_slots++].path = (char *)e->d.model_path;
        e->slot = s;
        o->n = i + 1;
    }
    return st;
}

/* Each expert's routing document: its name, role and examples. */
static vkslm_status build_lexical(vkslm_orchestra *o) {
    char *docs[VKSLM_MAX_EXPERTS] = {0};
    vkslm_status st = VKSLM_OK;
    for (size_t i = 0; i < o->n && st == VKSLM_OK; i++) {
        const vkslm_expert_desc *d = &o->e[i].d;
        size_t len = strlen(d->name) + strlen(d->role) + 4;
        for (size_t k = 0; k < d->n_examples; k++)
            len += strlen(d->examples[k]) + 1;
        if (!(docs[i] = VKSLM_MALLOC(len))) {
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "orchestra: out of host memory");
            break;
        }
        size_t m = (size_t)sprintf(docs[i], "%s\n%s\n", d->name, d->role);
        for (size_t k = 0; k < d->n_examples; k++)
            m += (size_t)sprintf(docs[i] + m, "%s\n", d->examples[k]);
    }
    if (st == VKSLM_OK)
        st = vkslm_bm25_create((const char *const *)docs, o->n, &o->bm25);
    for (size_t i = 0; i < o->n; i++)
        VKSLM_FREE(docs[i]);
    return st;
}

static uint64_t default_budget(void) {
    vkslm_device_info info[16];
    int count = 0, chosen = -1;
    if (vkslm_devices_list(info, 16, &count, &chosen) != VKSLM_OK || chosen < 0 || chosen >= 16)
        return UINT64_MAX; /* loading will say what is wrong */
    return info[chosen].device_local_bytes;
}

vkslm_status vkslm_orchestra_create(const vkslm_expert_desc *experts, size_t n, const vkslm_orchestra_params *params,
                                    vkslm_orchestra **out) {
    if (!out || !experts || n == 0 || n > VKSLM_MAX_EXPERTS)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "orchestra: between 1 and %d experts are needed", VKSLM_MAX_EXPERTS);
    *out = NULL;
    if (params && params->model.vocab_only)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "orchestra: experts generate text: their models cannot be vocab_only");
    vkslm_orchestra *o = VKSLM_CALLOC(1, sizeof *o);
    if (!o)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "orchestra: out of host memory");
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    pthread_mutex_init(&o->ctx_lock, NULL);
    o->p = params ? *params : vkslm_orchestra_default_params();
    vkslm_status st = add_experts(o, experts, n);
    o->p.router_model = keep(o, o->p.router_model, &st);
    o->p.fallback = keep(o, o->p.fallback, &st);
    o->p.model.device = keep(o, o->p.model.device, &st);
    o->p.model.progress = NULL; /* loads happen inside requests */
    if (!o->p.max_queue)
        o->p.max_queue = DEFAULT_QUEUE;
    if (!o->p.queue_timeout_ms)
        o->p.queue_timeout_ms = DEFAULT_TIMEOUT_MS;
    o->budget = o->p.memory_budget ? o->p.memory_budget : default_budget();
    o->fallback = 0;
    if (st == VKSLM_OK && o->p.fallback && (o->fallback = vkslm_orchestra_find(o, o->p.fallback)) < 0)
        st = vkslm_fail(VKSLM_ERR_NOT_FOUND, "orchestra: the fallback expert '%s' is not an expert", o->p.fallback);
    vkslm_expert_desc descs[VKSLM_MAX_EXPERTS];
    for (size_t i = 0; i < o->n; i++)
        descs[i] = o->e[i].d;
    if (st == VKSLM_OK && !o->p.disable_rules)
        st = vkslm_rules_create(descs, o->n, &o->rules);
    if (st == VKSLM_OK)
        st = build_lexical(o);
    if (st == VKSLM_OK && o->p.router_model)
        st = vkslm_semantic_create(o->p.router_model, &o->p.model, descs, o->n, &o->sem);
    if (st == VKSLM_OK && o->sem) { /* the router model opened the context: the experts join it */
        o->vk = vkslm_semantic_model(o->sem)->vk;
        vkslm_vk_retain(o->vk);
    }
    if (st != VKSLM_OK) {
        vkslm_orchestra_free(o);
        return st;
    }
    *out = o;
    return VKSLM_OK;
}

static void evict(vkslm_orchestra *o, size_t si) {
    slot *s = &o->s[si];
    for (size_t i = 0; i < o->n; i++) {
        expert *e = &o->e[i];
        if (e->slot != si)
            continue;
        vkslm_scheduler_free(e->sch);
        e->sch = NULL;
        for (size_t k = 0; k < e->d.n_lora; k++) {
            vkslm_lora_free(e->lora[k]);
            e->lora[k] = NULL;
        }
        e->lora_bytes = 0;
    }
    vkslm_model_free(s->model);
    s->model = NULL;
    s->state = SLOT_UNLOADED;
    s->bytes = 0;
    s->evictions++;
    vkslm_log(VKSLM_LOG_INFO, "orchestra: evicted %s", s->path);
}

void vkslm_orchestra_free(vkslm_orchestra *o) {
    if (!o)
        return;
    for (size_t i = 0; i < o->n_slots; i++)
        if (o->s[i].state == SLOT_LOADED)
            evict(o, i);
    vkslm_semantic_free(o->sem);
    vkslm_vk_close(o->vk);
    vkslm_rules_free(o->rules);
    vkslm_bm25_free(o->bm25);
    for (size_t i = 0; i < o->n_owned; i++)
        VKSLM_FREE(o->owned[i]);
    VKSLM_FREE(o->owned);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->ctx_lock);
    VKSLM_FREE(o);
}

size_t vkslm_orchestra_n_experts(const vkslm_orchestra *o) { return o ? o->n : 0; }
const char *vkslm_orchestra_expert_name(const vkslm_orchestra *o, size_t i) {
    return o && i < o->n ? o->e[i].d.name : NULL;
}
int vkslm_orchestra_find(const vkslm_orchestra *o, const char *name) {
    for (size_t i = 0; o && name && i < o->n; i++)
        if (strcmp(o->e[i].d.name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- routing ------------------------------------------------------------------------------------ */
static int best_of(const float *v, size_t n) {
    int b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = (int)i;
    return b;
}

vkslm_status vkslm_orchestra_route(vkslm_orchestra *o, const char *requested, const char *text,
                                   vkslm_route_decision *d) {
    if (!o || !d)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_orchestra_route: NULL argument");
    memset(d, 0, sizeof *d);
    double t0 = vkslm_now_ms();
    text = text ? text : "";
    if (requested && requested[0] && strcmp(requested, "auto") != 0) {
        d->expert = vkslm_orchestra_find(o, requested);
        if (d->expert < 0)
            return vkslm_fail(VKSLM_ERR_NOT_FOUND, "no expert is named '%s'", requested);
        d->method = VKSLM_ROUTE_EXPLICIT;
        d->confidence = 1;
    } else if (o->rules && (d->expert = vkslm_rules_match(o->rules, text)) >= 0) {
        d->method = VKSLM_ROUTE_RULE;
        d->confidence = 1;
    } else {
        d->n_scores = o->n;
        d->method = VKSLM_ROUTE_LEXICAL;
        if (o->sem && vkslm_semantic_score(o->sem, text, d->scores) == VKSLM_OK) {
            d->method = VKSLM_ROUTE_SEMANTIC;
        } else {
            if (o->sem)
                vkslm_log(VKSLM_LOG_WARN, "orchestra: router model failed (%s); routing by words", vkslm_last_error());
            double sum = vkslm_bm25_score(o->bm25, text, d->scores);
            for (size_t i = 0; i < o->n; i++)
                d->scores[i] = sum > 0 ? (float)(d->scores[i] / sum) : 0.0f;
            if (sum <= 0)
                d->method = VKSLM_ROUTE_FALLBACK;
        }
        d->expert = best_of(d->scores, o->n);
        d->confidence = d->scores[d->expert];
        if (d->method == VKSLM_ROUTE_FALLBACK || d->confidence < o->p.min_confidence) {
            d->method = VKSLM_ROUTE_FALLBACK;
            d->expert = o->fallback;
        }
    }
    d->route_ms = vkslm_now_ms() - t0;
    return VKSLM_OK;
}

/* ---- residency ---------------------------------------------------------------------------------- */
static uint64_t used_bytes(const vkslm_orchestra *o) {
    uint64_t u = o->sem ? vkslm_semantic_bytes(o->sem) : 0;
    for (size_t i = 0; i < o->n_slots; i++)
        u += o->s[i].bytes;
    return u;
}

/* Device bytes a model file will hold: about its size, plus room for a first session. */
static uint64_t estimate(const char *path) {
    struct stat st;
    uint64_t b = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    return b + b / 16 + SESSION_ROOM;
}

/* Evicts least recently used idle models (never `keep`) until `need` more bytes fit. 1 when they fit. */
static int make_room(vkslm_orchestra *o, uint64_t need, size_t keep_slot) {
    for (;;) {
        if (used_bytes(o) + need <= o->budget)
            return 1;
        int victim = -1;
        for (size_t i = 0; i < o->n_slots; i++) {
            const slot *s = &o->s[i];
            if (i != keep_slot && s->state == SLOT_LOADED && s->active == 0 &&
                (victim < 0 || s->lru < o->s[victim].lru))
                victim = (int)i;
        }
        if (victim < 0)
            return 0;
        evict(o, (size_t)victim);
        pthread_cond_broadcast(&o->cond);
    }
}

static int any_active(const vkslm_orchestra *o) {
    for (size_t i = 0; i < o->n_slots; i++)
        if (o->s[i].active || o->s[i].state == SLOT_LOADING)
            return 1;
    return 0;
}

/* Waits on the condition until the deadline; 0 when it passed. */
static int wait_until(vkslm_orchestra *o, const struct timespec *deadline) {
    return pthread_cond_timedwait(&o->cond, &o->lock, deadline) == 0;
}

/* Loads the slot's model (called and returning with the lock held; drops it while loading). */
static vkslm_status load_slot(vkslm_orchestra *o, size_t si) {
    slot *s = &o->s[si];
    s->state = SLOT_LOADING;
    s->bytes = estimate(s->path);
    pthread_mutex_unlock(&o->lock);
    vkslm_model *m = NULL;
    pthread_mutex_lock(&o->ctx_lock); /* the first load opens the context the others join */
    int first = o->vk == NULL;
    if (!first)
        pthread_mutex_unlock(&o->ctx_lock);
    vkslm_status st = vkslm_model_load_on(o->vk, s->path, &o->p.model, &m);
    if (st != VKSLM_OK)
        vkslm_fail_context(st, "loading %s", s->path);
    pthread_mutex_lock(&o->lock);
    if (first) { /* o->vk is written under both locks: either one makes reading it safe */
        if (st == VKSLM_OK) {
            o->vk = m->vk;
            vkslm_vk_retain(o->vk);
        }
        pthread_mutex_unlock(&o->ctx_lock);
    }
    s->model = m;
    s->state = st == VKSLM_OK ? SLOT_LOADED : SLOT_UNLOADED;
    s->bytes = st == VKSLM_OK ? vkslm_model_weight_bytes(m) : 0;
    s->loads += st == VKSLM_OK;
    s->lru = ++o->clock;
    if (st == VKSLM_OK)
        vkslm_log(VKSLM_LOG_INFO, "orchestra: loaded %s (%llu MiB)", s->path, (unsigned long long)(s->bytes >> 20));
    pthread_cond_broadcast(&o->cond);
    return st;
}

/* The scheduler of expert e: its sequences share the model's steps (lock held; dropped while creating). */
static vkslm_status new_scheduler(vkslm_orchestra *o, expert *e) {
    slot *s = &o->s[e->slot];
    vkslm_model *m = s->model;
    vkslm_scheduler_params sp = vkslm_scheduler_default_params();
    sp.n_seq = e->d.max_sessions;
    sp.n_ctx = e->d.n_ctx ? e->d.n_ctx : vkslm_model_default_n_ctx(m);
    sp.max_prefill = e->d.max_prefill;
    s->active++; /* the model cannot be evicted meanwhile */
    e->active++;
    pthread_mutex_unlock(&o->lock);
    vkslm_scheduler *sch = NULL;
    vkslm_lora *lora[VKSLM_LORA_MAX_PER_SEQ] = {NULL};
    uint64_t lora_bytes = 0;
    vkslm_status st = vkslm_scheduler_create(m, &sp, &sch);
    for (size_t k = 0; k < e->d.n_lora && st == VKSLM_OK; k++) /* the adapters join the base */
        if ((st = vkslm_lora_load(m, e->d.lora[k].path, &lora[k])) == VKSLM_OK)
            lora_bytes += vkslm_lora_device_bytes(lora[k]);
    if (st != VKSLM_OK) {
        vkslm_scheduler_free(sch);
        for (size_t k = 0; k < e->d.n_lora; k++)
            vkslm_lora_free(lora[k]);
        vkslm_fail_context(st, "expert %s", e->d.name);
    }
    pthread_mutex_lock(&o->lock);
    s->active--;
    e->active--;
    if (st != VKSLM_OK) {
        pthread_cond_broadcast(&o->cond);
        return st;
    }
    e->sch = sch;
    e->n_ctx = sp.n_ctx;
    memcpy(e->lora, lora, sizeof lora);
    e->lora_bytes = lora_bytes;
    s->bytes += vkslm_scheduler_device_bytes(sch) + lora_bytes;
    make_room(o, 0, e->slot); /* over the budget with these sequences: idle models make way if they can */
    return VKSLM_OK;
}

vkslm_status vkslm_orchestra_acquire(vkslm_orchestra *o, size_t ei, vkslm_sequence **out) {
    if (!o || !out || ei >= o->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_orchestra_acquire: bad argument");
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += o->p.queue_timeout_ms / 1000;
    deadline.tv_nsec += (long)(o->p.queue_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    expert *e = &o->e[ei];
    slot *s = &o->s[e->slot];
    pthread_mutex_lock(&o->lock);
    if (e->waiting >= o->p.max_queue) {
        pthread_mutex_unlock(&o->lock);
        return vkslm_fail(VKSLM_ERR_BUSY, "expert %s: %u requests wait already", e->d.name, e->waiting);
    }
    e->waiting++;
    vkslm_status st = VKSLM_OK;
    for (;;) {
        if (o->shutting_down) {
            st = vkslm_fail(VKSLM_ERR_BUSY, "expert %s: the orchestra is shutting down", e->d.name);
            break;
        }
        if (s->state == SLOT_LOADED && e->active < e->d.max_sessions) {
            if (!e->sch && (st = new_scheduler(o, e)) != VKSLM_OK)
                break;
            if (s->state != SLOT_LOADED || !e->sch) /* evicted while the lock was dropped */
                continue;
            if ((st = vkslm_scheduler_acquire(e->sch, out)) != VKSLM_OK)
                break;
            if (e->d.n_lora && (st = vkslm_sequence_set_lora(*out, e->lora, e->scale, e->d.n_lora)) != VKSLM_OK) {
                vkslm_scheduler_release(e->sch, *out);
                *out = NULL;
                break;
            }
            s->active++;
            e->active++;
            s->lru = ++o->clock;
            break;
        }
        if (s->state == SLOT_UNLOADED) {
            uint64_t need = estimate(s->path);
            if (make_room(o, need, e->slot)) {
                st = load_slot(o, e->slot);
                if (st != VKSLM_OK)
                    break;
                continue;
            }
            if (!any_active(o)) {
                st = vkslm_fail(VKSLM_ERR_OUT_OF_DEVICE_MEMORY,
                                "expert %s: its model needs about %llu MiB, more than the budget of %llu MiB leaves",
                                e->d.name, (unsigned long long)(need >> 20), (unsigned long long)(o->budget >> 20));
                break;
            }
        }
        if (!wait_until(o, &deadline)) {
            st = vkslm_fail(VKSLM_ERR_BUSY, "expert %s: no session became free within %u ms", e->d.name,
                            o->p.queue_timeout_ms);
            break;
        }
    }
    e->waiting--;
    pthread_mutex_unlock(&o->lock);
    return st;
}

void vkslm_orchestra_shutdown(vkslm_orchestra *o) {
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->shutting_down = 1;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

void vkslm_orchestra_release(vkslm_orchestra *o, size_t ei, vkslm_sequence *seq) {
    if (!o || !seq || ei >= o->n)
        return;
    expert *e = &o->e[ei];
    pthread_mutex_lock(&o->lock);
    slot *s = &o->s[e->slot];
    vkslm_scheduler_release(e->sch, seq);
    e->active--;
    s->active--;
    s->lru = ++o->clock;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

vkslm_status vkslm_orchestra_expert_stats(vkslm_orchestra *o, size_t ei, vkslm_expert_stats *out) {
    if (!o || !out || ei >= o->n)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_orchestra_expert_stats: bad argument");
    pthread_mutex_lock(&o->lock);
    const expert *e = &o->e[ei];
    const slot *s = &o->s[e->slot];
    out->loaded = s->state == SLOT_LOADED;
    out->loads = s->loads;
    out->evictions = s->evictions;
    out->active = e->active;
    out->waiting = e->waiting;
    out->sessions = e->sch ? vkslm_scheduler_n_seq(e->sch) : 0;
    out->n_ctx = e->n_ctx;
    out->device_bytes = s->state == SLOT_LOADED ? s->bytes : 0;
    out->lora_bytes = e->lora_bytes;
    pthread_mutex_unlock(&o->lock);
    return VKSLM_OK;
}

void vkslm_orchestra_memory(vkslm_orchestra *o, uint64_t *used, uint64_t *budget) {
    pthread_mutex_lock(&o->lock);
    if (used)
        *used = used_bytes(o);
    if (budget)
        *budget = o->budget;
    pthread_mutex_unlock(&o->lock);
}

uint32_t vkslm_orchestra_validation_messages(vkslm_orchestra *o) {
    uint32_t errors = 0, warnings = 0;
    pthread_mutex_lock(&o->lock);
    if (o->vk)
        vkslm_vk_validation_counts(o->vk, &errors, &warnings);
    pthread_mutex_unlock(&o->lock);
    return errors + warnings;
}
