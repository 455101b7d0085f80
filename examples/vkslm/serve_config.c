/* vkslm serve: reading orchestra.json (docs/cli.md and examples/orchestra/README.md describe every key). */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

typedef struct reader {
    serve_config *c;
    char *err;
    size_t cap;
    int failed;
} reader;

static void fail(reader *r, const char *fmt, ...) {
    if (r->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->cap, fmt, ap);
    va_end(ap);
    r->failed = 1;
}

static void *own(reader *r, void *p) {
    if (!p) {
        fail(r, "out of memory");
        return NULL;
    }
    char **o = realloc(r->c->owned, (r->c->n_owned + 1) * sizeof *o);
    if (!o) {
        free(p);
        fail(r, "out of memory");
        return NULL;
    }
    r->c->owned = o;
    o[r->c->n_owned++] = p;
    return p;
}

/* The string at obj.key: NULL when absent; a type error when present and not a string. */
static const char *str_at(reader *r, const cJSON *obj, const char *key, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        fail(r, "%s: \"%s\" must be a string", where, key);
        return NULL;
    }
    return v->valuestring;
}

static double num_at(reader *r, const cJSON *obj, const char *key, double def, double lo, double hi, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
        fail(r, "%s: \"%s\" must be a number in [%g, %g]", where, key, lo, hi);
        return def;
    }
    return v->valuedouble;
}

static int bool_at(reader *r, const cJSON *obj, const char *key, int def, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsBool(v)) {
        fail(r, "%s: \"%s\" must be true or false", where, key);
        return def;
    }
    return cJSON_IsTrue(v);
}

/* An array of strings at obj.key (NULL and 0 when absent). */
static const char *const *strings_at(reader *r, const cJSON *obj, const char *key, size_t *n, const char *where) {
    *n = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsArray(v)) {
        fail(r, "%s: \"%s\" must be an array of strings", where, key);
        return NULL;
    }
    int count = cJSON_GetArraySize(v);
    const char **l = own(r, calloc((size_t)count + 1, sizeof *l));
    if (!l)
        return NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it)) {
            fail(r, "%s: \"%s\" must be an array of strings", where, key);
            return NULL;
        }
        l[(*n)++] = it->valuestring;
    }
    return l;
}

/* path, or dir/path when path is relative. */
static const char *resolve(reader *r, const char *dir, const char *path) {
    if (!path || path[0] == '/' || !dir[0])
        return path;
    size_t n = strlen(dir) + strlen(path) + 2;
    char *p = own(r, malloc(n));
    if (p)
        snprintf(p, n, "%s/%s", dir, path);
    return p;
}

/* A key of obj that is not in known (NULL-terminated) is refused: a misspelt setting never passes silently. */
static void known_keys(reader *r, const cJSON *obj, const char *const *known, const char *where) {
    const cJSON *x;
    cJSON_ArrayForEach(x, obj) {
        size_t k = 0;
        while (known[k] && strcmp(known[k], x->string ? x->string : "") != 0)
            k++;
        if (!known[k]) {
            fail(r, "%s: unknown key \"%s\"", where, x->string ? x->string : "");
            return;
        }
    }
}

static const char *const sampling_keys[] = {"temperature", "top_p", "min_p", "top_k", "repeat_penalty",
                                            "frequency_penalty", "presence_penalty", "max_tokens", NULL};
static const char *const expert_keys[] = {"name", "model", "role", "examples", "keywords", "pattern", "context",
                                          "parallel", "max_prefill", "system_prompt", "template", "sampling", NULL};
static const char *const router_keys[] = {"model", "min_confidence", "fallback", "rules", "max_queue",
                                          "queue_timeout_ms", NULL};
static const char *const root_keys[] = {"host", "port", "max_body_bytes", "price_per_device_hour", "currency",
                                        "memory_budget_mb", "router", "experts", "threads", "max_connections",
                                        "max_connections_per_client", "idle_timeout_s", "grace_ms", "cors_origins",
                                        "allowed_hosts", "parse_special_in_content", NULL};

static void read_sampling(reader *r, const cJSON *obj, vkslm_generate_params *s, const char *where) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, "sampling");
    *s = vkslm_generate_default_params(); /* greedy, no penalties */
    s->max_tokens = 256;
    if (!o)
        return;
    if (!cJSON_IsObject(o)) {
        fail(r, "%s: \"sampling\" must be an object", where);
        return;
    }
    known_keys(r, o, sampling_keys, where);
    s->temperature = (float)num_at(r, o, "temperature", 0, 0, 10, where);
    s->top_p = (float)num_at(r, o, "top_p", 1, 0, 1, where);
    s->min_p = (float)num_at(r, o, "min_p", 0, 0, 1, where);
    s->top_k = (int32_t)num_at(r, o, "top_k", 0, 0, 1e6, where);
    s->repeat_penalty = (float)num_at(r, o, "repeat_penalty", 1, 0, 10, where);
    s->frequency_penalty = (float)num_at(r, o, "frequency_penalty", 0, -2, 2, where);
    s->presence_penalty = (float)num_at(r, o, "presence_penalty", 0, -2, 2, where);
    s->max_tokens = (int32_t)num_at(r, o, "max_tokens", 256, 0, 1e7, where);
}

static void read_expert(reader *r, const cJSON *x, size_t i, const char *dir) {
    serve_config *c = r->c;
    char where[96];
    snprintf(where, sizeof where, "experts[%zu]", i);
    if (!cJSON_IsObject(x)) {
        fail(r, "%s must be an object", where);
        return;
    }
    known_keys(r, x, expert_keys, where);
    vkslm_expert_desc *d = &c->experts[i];
    serve_expert *e = &c->extra[i];
    d->name = str_at(r, x, "name", where);
    if (!d->name && !r->failed)
        fail(r, "%s: \"name\" is required", where);
    if (d->name)
        snprintf(where, sizeof where, "expert %s", d->name);
    const char *model = str_at(r, x, "model", where);
    if (!model && !r->failed)
        fail(r, "%s: \"model\" (a GGUF path) is required", where);
    d->model_path = resolve(r, dir, model);
    d->role = str_at(r, x, "role", where);
    d->examples = strings_at(r, x, "examples", &d->n_examples, where);
    d->keywords = strings_at(r, x, "keywords", &d->n_keywords, where);
    d->pattern = str_at(r, x, "pattern", where);
    d->n_ctx = (uint32_t)num_at(r, x, "context", 0, 0, 1 << 24, where);
    d->max_sessions = (uint32_t)num_at(r, x, "parallel", 0, 0, 256, where);
    d->max_prefill = (uint32_t)num_at(r, x, "max_prefill", 0, 0, 1 << 16, where);
    e->system_prompt = str_at(r, x, "system_prompt", where);
    e->template_name = str_at(r, x, "template", where);
    if (e->template_name && !r->failed) { /* template text that cannot be read fails here, not on a request */
        const vkslm_chat_message probe[] = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"user", "u"}};
        size_t len = 0;
        vkslm_status st = vkslm_chat_apply_template(NULL, e->template_name, probe, 4, true, NULL, 0, &len);
        if (st == VKSLM_ERR_FORMAT || st == VKSLM_ERR_UNSUPPORTED || st == VKSLM_ERR_TOO_COMPLEX)
            fail(r, "%s: \"template\": %s", where, vkslm_last_error());
    }
    read_sampling(r, x, &e->sampling, where);
}

int serve_config_load(const char *path, serve_config *c, char *err, size_t cap) {
    memset(c, 0, sizeof *c);
    reader r = {c, err, cap, 0};
    size_t len = 0;
    char *text = cli_read_file("serve", path, &len);
    if (!text) {
        snprintf(err, cap, "cannot read the config %s", path);
        return -1;
    }
    const char *end = NULL;
    c->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!c->root || !cJSON_IsObject(c->root)) {
        snprintf(err, cap, "%s: not a JSON object (error near byte %ld)", path,
                 c->root ? 0L : (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
        free(text);
        serve_config_free(c);
        return -1;
    }
    free(text);
    char *dir = own(&r, strdup(path));
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            dir[0] = 0;
    }
    const cJSON *root = c->root;
    known_keys(&r, root, root_keys, "config");
    c->host = str_at(&r, root, "host", "config");
    c->port = (int)num_at(&r, root, "port", 8080, 0, 65535, "config");
    c->max_body = (size_t)num_at(&r, root, "max_body_bytes", 1 << 20, 64, 1 << 30, "config");
    c->price_per_hour = num_at(&r, root, "price_per_device_hour", 1.0, 0, 1e6, "config");
    c->threads = (unsigned)num_at(&r, root, "threads", 4, 1, 64, "config");
    c->max_connections = (unsigned)num_at(&r, root, "max_connections", 1000, 1, 1e6, "config");
    c->max_per_client = (unsigned)num_at(&r, root, "max_connections_per_client", 64, 0, 1e6, "config");
    c->idle_timeout_s = (unsigned)num_at(&r, root, "idle_timeout_s", 15, 1, 86400, "config");
    c->grace_ms = (unsigned)num_at(&r, root, "grace_ms", 30000, 0, 3.6e6, "config");
    c->cors_origins = strings_at(&r, root, "cors_origins", &c->n_cors_origins, "config");
    c->allowed_hosts = strings_at(&r, root, "allowed_hosts", &c->n_allowed_hosts, "config");
    c->parse_special_in_content = bool_at(&r, root, "parse_special_in_content", 0, "config");
    c->currency = str_at(&r, root, "currency", "config");
    if (!c->currency)
        c->currency = "USD";
    c->orch = vkslm_orchestra_default_params();
    c->orch.memory_budget = (uint64_t)(num_at(&r, root, "memory_budget_mb", 0, 0, 1 << 24, "config") * (1 << 20));
    const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "router");
    if (ro && !cJSON_IsObject(ro))
        fail(&r, "config: \"router\" must be an object");
    else if (ro) {
        known_keys(&r, ro, router_keys, "router");
        c->orch.router_model = resolve(&r, dir ? dir : "", str_at(&r, ro, "model", "router"));
        c->orch.min_confidence = (float)num_at(&r, ro, "min_confidence", 0, 0, 1, "router");
        c->orch.fallback = str_at(&r, ro, "fallback", "router");
        c->orch.disable_rules = !bool_at(&r, ro, "rules", 1, "router");
        c->orch.max_queue = (uint32_t)num_at(&r, ro, "max_queue", 0, 0, 1e6, "router");
        c->orch.queue_timeout_ms = (uint32_t)num_at(&r, ro, "queue_timeout_ms", 0, 0, 1e9, "router");
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "experts");
    if (!r.failed && (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) == 0 || cJSON_GetArraySize(ex) > VKSLM_MAX_EXPERTS))
        fail(&r, "config: \"experts\" must be an array of 1 to %d experts", VKSLM_MAX_EXPERTS);
    const cJSON *x;
    if (!r.failed)
        cJSON_ArrayForEach(x, ex) {
            if (r.failed)
                break;
            read_expert(&r, x, c->n_experts, dir ? dir : "");
            c->n_experts++;
        }
    if (r.failed) {
        serve_config_free(c);
        return -1;
    }
    if (!c->host)
        c->host = "127.0.0.1";
    return 0;
}

void serve_config_free(serve_config *c) {
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    cJSON_Delete(c->root);
    memset(c, 0, sizeof *c);
}
