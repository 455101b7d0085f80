/* vkslm serve: reading orchestra.json (docs/cli.md and examples/orchestra/README.md describe every key),
 * or making the same config from `-m` files. Everything is checked before the server starts: an unknown key
 * (with the nearest known one suggested), a wrong type, and every model file (missing, not a GGUF, an
 * architecture vkslm does not run) stop the start with a message naming the key or the expert. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"
#include "vkslm_gguf.h"

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

/* A whole number in [lo, hi] (a count, a size, a port): 1.5 is a wrong type, not 1. */
static double int_at(reader *r, const cJSON *obj, const char *key, double def, double lo, double hi, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != (double)(long long)v->valuedouble) {
        fail(r, "%s: \"%s\" must be a whole number in [%.0f, %.0f]", where, key, lo, hi);
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

/* Levenshtein distance of a and b (at most 64 bytes of each are compared). */
static size_t edit_distance(const char *a, const char *b) {
    size_t na = strnlen(a, 64), nb = strnlen(b, 64), row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

/* A key of obj that is not in known (NULL-terminated) is refused: a misspelt setting never passes silently.
 * The message suggests the nearest known key. */
static void known_keys(reader *r, const cJSON *obj, const char *const *known, const char *where) {
    const cJSON *x;
    cJSON_ArrayForEach(x, obj) {
        const char *key = x->string ? x->string : "";
        size_t k = 0, best = 0, best_d = (size_t)-1;
        for (; known[k] && strcmp(known[k], key) != 0; k++) {
            size_t d = edit_distance(key, known[k]);
            if (d < best_d)
                best_d = d, best = k;
        }
        if (!known[k]) {
            fail(r, "%s: unknown key \"%s\" (did you mean \"%s\"?)", where, key, known[best]);
            return;
        }
    }
}

static const char *const sampling_keys[] = {"temperature", "top_p", "min_p", "top_k", "repeat_penalty",
                                            "frequency_penalty", "presence_penalty", "max_tokens", NULL};
static const char *const expert_keys[] = {"name", "model", "base", "lora", "role", "examples", "keywords", "pattern",
                                          "context", "parallel", "max_prefill", "system_prompt", "template",
                                          "sampling", NULL};
static const char *const lora_keys[] = {"path", "scale", NULL};
static const char *const router_keys[] = {"model", "min_confidence", "fallback", "rules", "max_queue",
                                          "queue_timeout_ms", NULL};
static const char *const root_keys[] = {"host", "port", "max_body_bytes", "price_per_device_hour", "currency",
                                        "memory_budget_mb", "router", "experts", "threads", "max_connections",
                                        "max_connections_per_client", "idle_timeout_s", "grace_ms", "cors_origins",
                                        "allowed_hosts", "parse_special_in_content", "api_keys", "api_key_file",
                                        "public_paths", NULL};

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
    s->top_k = (int32_t)int_at(r, o, "top_k", 0, 0, 1e6, where);
    s->repeat_penalty = (float)num_at(r, o, "repeat_penalty", 1, 0, 10, where);
    s->frequency_penalty = (float)num_at(r, o, "frequency_penalty", 0, -2, 2, where);
    s->presence_penalty = (float)num_at(r, o, "presence_penalty", 0, -2, 2, where);
    s->max_tokens = (int32_t)int_at(r, o, "max_tokens", 256, 0, 1e7, where);
}

/* "lora": [{"path": P, "scale": S}, ...], the adapters of an expert on "base" (has_base). */
static void read_lora(reader *r, const cJSON *x, int has_base, vkslm_expert_desc *d, serve_expert *e,
                      const char *dir, const char *where) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(x, "lora");
    if (r->failed || (!l && !has_base))
        return;
    if (!has_base) {
        fail(r, "%s: \"lora\" needs \"base\" (the model the adapters apply to) instead of \"model\"", where);
        return;
    }
    int n = l && cJSON_IsArray(l) ? cJSON_GetArraySize(l) : -1;
    if (n < 1 || n > VKSLM_LORA_MAX_PER_SEQ) {
        fail(r, "%s: \"lora\" must be an array of 1 to %d objects {\"path\": ..., \"scale\": ...}", where,
             VKSLM_LORA_MAX_PER_SEQ);
        return;
    }
    const cJSON *it;
    size_t k = 0;
    cJSON_ArrayForEach(it, l) {
        char w[160];
        snprintf(w, sizeof w, "%s: lora[%zu]", where, k);
        if (!cJSON_IsObject(it)) {
            fail(r, "%s must be an object", w);
            return;
        }
        known_keys(r, it, lora_keys, w);
        const char *path = str_at(r, it, "path", w);
        if (!path && !r->failed)
            fail(r, "%s: \"path\" (an adapter GGUF) is required", w);
        e->lora[k].path = resolve(r, dir, path);
        e->lora[k].scale = (float)num_at(r, it, "scale", 1.0, -1e6, 1e6, w);
        k++;
    }
    d->lora = e->lora;
    d->n_lora = k;
    const char *base = d->model_path ? strrchr(d->model_path, '/') : NULL;
    base = base ? base + 1 : d->model_path ? d->model_path : "";
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
        len -= 5;
    snprintf(e->base_stem, sizeof e->base_stem, "%.*s", (int)(len < 127 ? len : 127), base);
}

static void read_expert(reader *r, const cJSON *x, size_t i, const char *dir) {
    serve_config *c = r->c;
    char where[96];
    snprintf(where, sizeof where, "experts[%zu]", i);
    if (!cJSON_IsObject(x)) {
        fail(r, "%s must be an object", where);
        return;
    }
    vkslm_expert_desc *d = &c->experts[i];
    serve_expert *e = &c->extra[i];
    d->name = str_at(r, x, "name", where);
    if (d->name) /* messages name the expert from here on */
        snprintf(where, sizeof where, "expert %.80s", d->name);
    known_keys(r, x, expert_keys, where);
    if (!d->name && !r->failed)
        fail(r, "%s: \"name\" is required", where);
    const char *model = str_at(r, x, "model", where), *base = str_at(r, x, "base", where);
    if (model && base && !r->failed)
        fail(r, "%s: \"model\" and \"base\" together: an expert is a model, or adapters on a base", where);
    if (!model && !base && !r->failed)
        fail(r, "%s: \"model\" (a GGUF path) is required, or \"base\" with \"lora\"", where);
    d->model_path = resolve(r, dir, model ? model : base);
    read_lora(r, x, base != NULL, d, e, dir, where);
    d->role = str_at(r, x, "role", where);
    d->examples = strings_at(r, x, "examples", &d->n_examples, where);
    d->keywords = strings_at(r, x, "keywords", &d->n_keywords, where);
    d->pattern = str_at(r, x, "pattern", where);
    d->n_ctx = (uint32_t)int_at(r, x, "context", 0, 0, 1 << 24, where);
    d->max_sessions = (uint32_t)int_at(r, x, "parallel", 0, 0, 256, where);
    d->max_prefill = (uint32_t)int_at(r, x, "max_prefill", 0, 0, 1 << 16, where);
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

/* A key goes into an Authorization header: printable ASCII without spaces, 8 to 512 bytes. */
static int key_ok(const char *k) {
    size_t n = 0;
    for (; k[n]; n++)
        if (k[n] <= ' ' || k[n] > '~')
            return 0;
    return n >= 8 && n <= 512;
}

int serve_config_add_key(serve_config *c, const char *key, const char *source, char *err, size_t cap) {
    if (!key_ok(key)) {
        snprintf(err, cap, "%s: an API key must be 8 to 512 printable ASCII characters without spaces", source);
        return -1;
    }
    const char **k = realloc(c->api_keys, (c->n_api_keys + 1) * sizeof *k);
    if (!k) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    c->api_keys = k;
    k[c->n_api_keys++] = key;
    return 0;
}

/* The keys of api_key_file: one a line; blank lines and lines starting with # are skipped. */
static void read_key_file(reader *r, const char *path) {
    size_t len = 0;
    char *text = cli_read_file("serve", path, &len);
    if (!text) {
        fail(r, "config: \"api_key_file\": cannot read %s", path);
        return;
    }
    if (!own(r, text))
        return;
    size_t line = 0;
    for (char *p = text, *next; p && *p && !r->failed; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = 0;
        line++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char where[600], e[256];
        snprintf(where, sizeof where, "%s line %zu", path, line);
        if (serve_config_add_key(r->c, p, where, e, sizeof e) != 0)
            fail(r, "config: \"api_key_file\": %s", e);
    }
}

/* Every model file is opened and its metadata read before the start: a missing file, one that is not a
 * GGUF, or an architecture vkslm does not run stops the start, not the first request. */
static void check_model(reader *r, const char *who, const char *path) {
    vkslm_gguf *g = NULL;
    vkslm_status st = vkslm_gguf_open_file(path, &g);
    if (st != VKSLM_OK) {
        fail(r, "%s: cannot read the model %s: %s", who, path, vkslm_last_error());
        return;
    }
    vkslm_hparams hp;
    st = vkslm_hparams_load(g, &hp);
    if (st != VKSLM_OK)
        fail(r, "%s: the model %s is not usable: %s", who, path, vkslm_last_error());
    else if (hp.arch == VKSLM_ARCH_UNKNOWN)
        fail(r, "%s: the model %s has the architecture \"%.*s\", which vkslm does not run (llama, qwen2, phi3, gemma, "
                "gemma2)", who, path, (int)hp.arch_name.len, hp.arch_name.len ? hp.arch_name.ptr : "");
    else if (!hp.has_arch_params || vkslm_gguf_tensor_count(g) == 0)
        fail(r, "%s: the model %s holds no weights (a vocabulary-only file)", who, path);
    vkslm_gguf_close(g);
}

static void read_root(reader *r, const char *dir) {
    serve_config *c = r->c;
    const cJSON *root = c->root;
    known_keys(r, root, root_keys, "config");
    c->host = str_at(r, root, "host", "config");
    c->port = (int)int_at(r, root, "port", 8080, 0, 65535, "config");
    c->max_body = (size_t)int_at(r, root, "max_body_bytes", 1 << 20, 64, 1 << 30, "config");
    c->price_per_hour = num_at(r, root, "price_per_device_hour", 1.0, 0, 1e6, "config");
    c->threads = (unsigned)int_at(r, root, "threads", 4, 1, 64, "config");
    c->max_connections = (unsigned)int_at(r, root, "max_connections", 1000, 1, 1e6, "config");
    c->max_per_client = (unsigned)int_at(r, root, "max_connections_per_client", 64, 0, 1e6, "config");
    c->idle_timeout_s = (unsigned)int_at(r, root, "idle_timeout_s", 15, 1, 86400, "config");
    c->grace_ms = (unsigned)int_at(r, root, "grace_ms", 30000, 0, 3.6e6, "config");
    c->cors_origins = strings_at(r, root, "cors_origins", &c->n_cors_origins, "config");
    c->allowed_hosts = strings_at(r, root, "allowed_hosts", &c->n_allowed_hosts, "config");
    c->parse_special_in_content = bool_at(r, root, "parse_special_in_content", 0, "config");
    c->currency = str_at(r, root, "currency", "config");
    if (!c->currency)
        c->currency = "USD";
    size_t n_keys = 0;
    const char *const *keys = strings_at(r, root, "api_keys", &n_keys, "config");
    for (size_t i = 0; i < n_keys && !r->failed; i++) {
        char e[256];
        if (serve_config_add_key(c, keys[i], "config: \"api_keys\"", e, sizeof e) != 0)
            fail(r, "%s", e);
    }
    const char *key_file = resolve(r, dir, str_at(r, root, "api_key_file", "config"));
    if (key_file && !r->failed)
        read_key_file(r, key_file);
    static const char *const health_only[] = {"/health"};
    if (cJSON_GetObjectItemCaseSensitive(root, "public_paths")) {
        c->public_paths = strings_at(r, root, "public_paths", &c->n_public_paths, "config");
        for (size_t i = 0; i < c->n_public_paths && !r->failed; i++)
            if (c->public_paths[i][0] != '/')
                fail(r, "config: \"public_paths\": \"%s\" is not a path (one starting with /)", c->public_paths[i]);
    } else {
        c->public_paths = health_only;
        c->n_public_paths = 1;
    }
    c->orch = vkslm_orchestra_default_params();
    c->orch.memory_budget = (uint64_t)(num_at(r, root, "memory_budget_mb", 0, 0, 1 << 24, "config") * (1 << 20));
    const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "router");
    if (ro && !cJSON_IsObject(ro))
        fail(r, "config: \"router\" must be an object");
    else if (ro) {
        known_keys(r, ro, router_keys, "router");
        c->orch.router_model = resolve(r, dir, str_at(r, ro, "model", "router"));
        c->orch.min_confidence = (float)num_at(r, ro, "min_confidence", 0, 0, 1, "router");
        c->orch.fallback = str_at(r, ro, "fallback", "router");
        c->orch.disable_rules = !bool_at(r, ro, "rules", 1, "router");
        c->orch.max_queue = (uint32_t)int_at(r, ro, "max_queue", 0, 0, 1e6, "router");
        c->orch.queue_timeout_ms = (uint32_t)int_at(r, ro, "queue_timeout_ms", 0, 0, 1e9, "router");
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "experts");
    if (!r->failed && (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) == 0 || cJSON_GetArraySize(ex) > VKSLM_MAX_EXPERTS))
        fail(r, "config: \"experts\" must be an array of 1 to %d experts", VKSLM_MAX_EXPERTS);
    const cJSON *x;
    if (!r->failed)
        cJSON_ArrayForEach(x, ex) {
            if (r->failed)
                break;
            read_expert(r, x, c->n_experts, dir);
            c->n_experts++;
        }
    for (size_t i = 0; i < c->n_experts && !r->failed; i++) {
        char who[96];
        snprintf(who, sizeof who, "expert %s", c->experts[i].name);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (strcmp(c->experts[i].name, c->experts[j].name) == 0)
                fail(r, "%s: two experts have this name", who);
        if (strcmp(c->experts[i].name, "auto") == 0)
            fail(r, "%s: \"auto\" is reserved for routing", who);
        if (!r->failed)
            check_model(r, who, c->experts[i].model_path);
        for (size_t k = 0; k < c->experts[i].n_lora && !r->failed; k++) /* each adapter fits its base */
            if (vkslm_lora_check_file(c->experts[i].model_path, c->experts[i].lora[k].path, NULL) != VKSLM_OK)
                fail(r, "%s: lora[%zu] %s: %s", who, k, c->experts[i].lora[k].path, vkslm_last_error());
    }
    if (c->orch.router_model && !r->failed)
        check_model(r, "router", c->orch.router_model);
    if (!c->host)
        c->host = "127.0.0.1";
}

/* c->root is read (dir: the folder relative paths are taken from); 0, or -1 with the message in err. */
static int read_config(serve_config *c, const char *dir, char *err, size_t cap) {
    reader r = {c, err, cap, 0};
    read_root(&r, dir);
    if (r.failed) {
        serve_config_free(c);
        return -1;
    }
    return 0;
}

int serve_config_load(const char *path, serve_config *c, char *err, size_t cap) {
    memset(c, 0, sizeof *c);
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
    char *dir = strdup(path);
    if (!dir) {
        snprintf(err, cap, "out of memory");
        serve_config_free(c);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        dir[0] = 0;
    int rc = read_config(c, dir, err, cap);
    free(dir);
    return rc;
}

/* The name of an expert served with -m: the file's name without its folder and its last extension. */
static void stem(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), base);
}

int serve_config_models(const char *const *paths, size_t n, long n_ctx, long parallel, serve_config *c, char *err,
                        size_t cap) {
    memset(c, 0, sizeof *c);
    if (n == 0 || n > VKSLM_MAX_EXPERTS) {
        snprintf(err, cap, "between 1 and %d models (-m) are served", VKSLM_MAX_EXPERTS);
        return -1;
    }
    /* the same config as a file would give, so it is read and checked the same way */
    c->root = cJSON_CreateObject();
    cJSON *ex = cJSON_AddArrayToObject(c->root, "experts");
    for (size_t i = 0; i < n; i++) {
        char name[256];
        stem(paths[i], name, sizeof name);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToArray(ex, x);
        cJSON_AddStringToObject(x, "name", name);
        cJSON_AddStringToObject(x, "model", paths[i]);
        if (n_ctx >= 0)
            cJSON_AddNumberToObject(x, "context", (double)n_ctx);
        if (parallel >= 0)
            cJSON_AddNumberToObject(x, "parallel", (double)parallel);
        for (size_t j = 0; j < i; j++) {
            char other[256];
            stem(paths[j], other, sizeof other);
            if (strcmp(name, other) == 0) {
                snprintf(err, cap, "-m %s and -m %s would both be the expert \"%s\": rename one file, or write a config",
                         paths[j], paths[i], name);
                serve_config_free(c);
                return -1;
            }
        }
    }
    if (read_config(c, "", err, cap) != 0)
        return -1;
    /* routing is explicit: "auto" goes to the first model (every share is below a confidence above 1) */
    c->orch.disable_rules = true;
    c->orch.min_confidence = 2;
    c->single_models = true;
    return 0;
}

void serve_config_free(serve_config *c) {
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->api_keys);
    cJSON_Delete(c->root);
    memset(c, 0, sizeof *c);
}
