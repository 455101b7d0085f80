/* vkslm serve: the chat and completions request bodies. One table holds every key of OpenAI's two APIs
 * with its treatment on each endpoint: implemented (a parse hook reads it), metadata (accepted, checked,
 * ignored) or refused with 400 unsupported_parameter; a key in no entry gets 400 unknown_parameter. So a
 * client never believes it got a feature (JSON mode, tools, logprobs) that was silently dropped. The hooks
 * run in table order, so a later key of two that set the same field wins (max_completion_tokens). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "serve_request.h"

/* The sampling keys a request may set, each a field of vkslm_generate_params (the request's, and the
 * expert's defaults). */
static const struct {
    const char *key, *alias; /* alias: another key for the same field (it wins: it comes later in the table) */
    double lo, hi;
    size_t gp_off;          /* offset of the field in vkslm_generate_params */
    int is_int;             /* an int32_t field (else float) */
    const char *why;
} knobs[] = {
#define GP(field) offsetof(vkslm_generate_params, field)
    {"max_tokens", "max_completion_tokens", 1, 1e7, GP(max_tokens), 1,
     "\"max_tokens\" must be a positive whole number of tokens"},
    {"temperature", NULL, 0, 10, GP(temperature), 0, "\"temperature\" must be a number in [0, 10]"},
    {"top_p", NULL, 0, 1, GP(top_p), 0, "\"top_p\" must be a number in [0, 1]"},
    {"min_p", NULL, 0, 1, GP(min_p), 0, "\"min_p\" must be a number in [0, 1]"},
    {"top_k", NULL, 0, 1e6, GP(top_k), 1, "\"top_k\" must be a non-negative whole number"},
    {"frequency_penalty", NULL, -2, 2, GP(frequency_penalty), 0, "\"frequency_penalty\" must be a number in [-2, 2]"},
    {"presence_penalty", NULL, -2, 2, GP(presence_penalty), 0, "\"presence_penalty\" must be a number in [-2, 2]"},
    {"repetition_penalty", NULL, 0, 10, GP(repeat_penalty), 0, "\"repetition_penalty\" must be a number in [0, 10]"},
#undef GP
};
#define N_KNOBS (sizeof knobs / sizeof *knobs)

void serve_request_apply_defaults(request *q, const vkslm_generate_params *def) {
    for (size_t k = 0; k < N_KNOBS; k++)
        if (!(q->set & (1u << k)))
            memcpy((char *)&q->gp + knobs[k].gp_off, (const char *)def + knobs[k].gp_off, 4); /* int32 or float */
}

void serve_request_free(request *q) {
    for (size_t i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
    free(q->owned);
    free(q->msgs);
    free(q->route_text);
    serve_sampling_free(&q->ss);
    serve_tools_free(q->tools);
    free(q->tool_grammar);
    free(q->grammar);
}

/* A number in [lo, hi], whole when integral. */
static int num_ok(const cJSON *x, double lo, double hi, int integral) {
    return cJSON_IsNumber(x) && x->valuedouble >= lo && x->valuedouble <= hi &&
           (!integral || x->valuedouble == floor(x->valuedouble));
}

/* ---- parse hooks ------------------------------------------------------------------------------------ */
static const char *parse_model(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (!cJSON_IsString(v))
        return "\"model\" must be a string";
    q->model = v->valuestring;
    return NULL;
}

static const char *parse_stream(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (!cJSON_IsBool(v))
        return "\"stream\" must be true or false";
    q->stream = cJSON_IsTrue(v);
    return NULL;
}

static const char *parse_knob(const char *key, const cJSON *v, request *q) {
    size_t k = 0;
    while (k < N_KNOBS && strcmp(knobs[k].key, key) != 0 && !(knobs[k].alias && strcmp(knobs[k].alias, key) == 0))
        k++;
    if (k == N_KNOBS || !num_ok(v, knobs[k].lo, knobs[k].hi, knobs[k].is_int))
        return k == N_KNOBS ? "not a sampling key" : knobs[k].why;
    char *f = (char *)&q->gp + knobs[k].gp_off;
    if (knobs[k].is_int)
        *(int32_t *)f = (int32_t)v->valuedouble;
    else
        *(float *)f = (float)v->valuedouble;
    q->set |= 1u << k;
    return NULL;
}

static const char *parse_seed(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (!num_ok(v, 0, 9007199254740991.0, 1))
        return "\"seed\" must be a non-negative integer";
    q->gp.seed = (uint64_t)v->valuedouble;
    return NULL;
}

static const char *parse_stop(const char *key, const cJSON *v, request *q) {
    (void)key;
    vkslm_generate_params *gp = &q->gp;
    gp->n_stop = 0;
    if (cJSON_IsString(v)) {
        q->stop[gp->n_stop++] = v->valuestring;
    } else if (cJSON_IsArray(v)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (!cJSON_IsString(x) || gp->n_stop >= SERVE_MAX_STOP)
                return "\"stop\" must be a string or an array of at most 16 strings";
            q->stop[gp->n_stop++] = x->valuestring;
        }
    } else {
        return "\"stop\" must be a string or an array of strings";
    }
    gp->stop = q->stop;
    return NULL;
}

/* n, logprobs, top_logprobs, logit_bias, stream_options, echo, best_of, suffix: read together (they
 * depend on each other and on stream) by serve_sampling_parse once every key has passed the table. */
static const char *parse_sampling(const char *key, const cJSON *v, request *q) {
    (void)key, (void)v, (void)q;
    return NULL;
}

static const char *parse_response_format(const char *key, const cJSON *v, request *q) {
    (void)key;
    free(q->grammar);
    q->grammar = NULL;
    if (serve_response_format(v, &q->grammar, q->why, sizeof q->why) < 0)
        return q->why;
    q->gp.grammar = q->grammar;
    return NULL;
}

static const char *parse_prompt(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
        v = cJSON_GetArrayItem(v, 0);
    if (!cJSON_IsString(v))
        return "\"prompt\" must be a string";
    q->prompt = v->valuestring;
    return NULL;
}

static const char *parse_user(const char *key, const cJSON *v, request *q) {
    (void)q;
    (void)key;
    return cJSON_IsString(v) ? NULL : "\"user\" must be a string";
}

static const char *parse_name(const char *key, const cJSON *v, request *q) {
    (void)q;
    (void)key;
    return cJSON_IsString(v) ? NULL : "a message's \"name\" must be a string";
}

/* OpenAI's metadata: at most 16 string values under keys of at most 64 characters, values of at most 512. */
static const char *parse_metadata(const char *key, const cJSON *v, request *q) {
    (void)key, (void)q;
    const char *why = "\"metadata\" must be an object of at most 16 string values (keys of at most 64 characters, "
                      "values of at most 512)";
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > 16)
        return why;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsString(x) || strlen(x->string) > 64 || strlen(x->valuestring) > 512)
            return why;
    }
    return NULL;
}

static const char *parse_store(const char *key, const cJSON *v, request *q) {
    (void)key, (void)q;
    return cJSON_IsBool(v) ? NULL : "\"store\" must be true or false";
}

/* A billing tier at OpenAI; here every request is served alike, which is what "auto" and "default" ask. */
static const char *parse_service_tier(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (!cJSON_IsString(v))
        return "\"service_tier\" must be a string";
    if (strcmp(v->valuestring, "auto") != 0 && strcmp(v->valuestring, "default") != 0) {
        q->code = "unsupported_value";
        return "\"service_tier\": only \"auto\" and \"default\" are supported";
    }
    return NULL;
}

static const char *parse_modalities(const char *key, const cJSON *v, request *q) {
    (void)key;
    if (!cJSON_IsArray(v))
        return "\"modalities\" must be an array of strings";
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsString(x))
            return "\"modalities\" must be an array of strings";
        if (strcmp(x->valuestring, "text") != 0) {
            q->code = "unsupported_value";
            return "\"modalities\": only [\"text\"] is supported";
        }
    }
    return NULL;
}

static const char *parse_messages(const char *key, const cJSON *v, request *q);

/* ---- the table ---------------------------------------------------------------------------------------- */
#define IMPL SERVE_KEY_IMPLEMENTED
#define META SERVE_KEY_METADATA
#define NO SERVE_KEY_REJECTED
const serve_request_key serve_request_keys[] = {
    /* key                   chat  completions  parse hook       value that asks for nothing */
    {"model", IMPL, IMPL, parse_model, NULL},
    {"messages", IMPL, NO, parse_messages, NULL},
    {"prompt", NO, IMPL, parse_prompt, NULL},
    {"stream", IMPL, IMPL, parse_stream, NULL},
    {"max_tokens", IMPL, IMPL, parse_knob, NULL},
    {"max_completion_tokens", IMPL, IMPL, parse_knob, NULL},
    {"temperature", IMPL, IMPL, parse_knob, NULL},
    {"top_p", IMPL, IMPL, parse_knob, NULL},
    {"top_k", IMPL, IMPL, parse_knob, NULL},
    {"min_p", IMPL, IMPL, parse_knob, NULL},
    {"frequency_penalty", IMPL, IMPL, parse_knob, NULL},
    {"presence_penalty", IMPL, IMPL, parse_knob, NULL},
    {"repetition_penalty", IMPL, IMPL, parse_knob, NULL},
    {"seed", IMPL, IMPL, parse_seed, NULL},
    {"stop", IMPL, IMPL, parse_stop, NULL},
    {"n", IMPL, IMPL, parse_sampling, NULL},
    {"user", META, META, parse_user, NULL},
    {"metadata", META, META, parse_metadata, NULL},
    {"store", META, META, parse_store, NULL},
    {"service_tier", META, META, parse_service_tier, NULL},
    {"modalities", META, NO, parse_modalities, NULL},
    /* read by serve_sampling_parse (serve_sampling.c) */
    {"stream_options", IMPL, IMPL, parse_sampling, NULL},
    {"logprobs", IMPL, IMPL, parse_sampling, NULL},
    {"top_logprobs", IMPL, NO, parse_sampling, "0"}, /* completions: "logprobs": N */
    {"logit_bias", IMPL, IMPL, parse_sampling, NULL},
    {"echo", NO, IMPL, parse_sampling, "false"},
    {"best_of", NO, IMPL, parse_sampling, "1"},
    {"suffix", NO, IMPL, parse_sampling, "\"\""},
    {"response_format", IMPL, IMPL, parse_response_format, NULL},
    /* tool calling: read together by serve_tools_parse once the table is done (tool_choice needs tools);
     * functions and function_call are OpenAI's deprecated form of them */
    {"tools", IMPL, NO, NULL, "[]"},
    {"tool_choice", IMPL, NO, NULL, "\"none\""},
    {"parallel_tool_calls", IMPL, NO, NULL, NULL},
    {"functions", NO, NO, NULL, "[]"},
    {"function_call", NO, NO, NULL, "\"none\""},
    /* not planned */
    {"audio", NO, NO, NULL, NULL},
    {"prediction", NO, NO, NULL, NULL},
    {"reasoning_effort", NO, NO, NULL, NULL},
    {NULL, NO, NO, NULL, NULL},
};

/* The keys of a message; role and content are read by parse_messages itself. */
const serve_request_key serve_message_keys[] = {
    {"role", IMPL, NO, NULL, NULL},
    {"content", IMPL, NO, NULL, NULL},
    /* a participant's name: the shipped templates have no place for it; on the tool path (serve_tools.c) it
     * goes to the template with the rest of the message */
    {"name", META, NO, parse_name, NULL},
    {"tool_calls", IMPL, NO, NULL, "[]"}, /* these two: serve_tools_check_message */
    {"tool_call_id", IMPL, NO, NULL, NULL},
    {"function_call", NO, NO, NULL, NULL},
    {NULL, NO, NO, NULL, NULL},
};
#undef IMPL
#undef META
#undef NO

static const serve_request_key *find_key(const serve_request_key *table, const char *key) {
    for (; table->key; table++)
        if (strcmp(table->key, key) == 0)
            return table;
    return NULL;
}

/* A value that asks a refused key for nothing ("logprobs": false) is accepted. */
static int is_off(const serve_request_key *k, const cJSON *v) {
    if (!k->off)
        return 0;
    cJSON *off = cJSON_Parse(k->off);
    int same = off && cJSON_Compare(v, off, 1);
    cJSON_Delete(off);
    return same;
}

/* One key of obj (a request or a message) by its table entry: NULL when fine, else the 400's message in
 * msg (q->param and q->code set). param is the name a 400 gives (the key, or messages[i].key). */
static const char *check_key(const serve_request_key *table, const cJSON *v, request *q, const char *param,
                             const char *what, char *msg, size_t cap, int run_hook) {
    q->param = param;
    const serve_request_key *k = v->string ? find_key(table, v->string) : NULL;
    if (!k) {
        q->code = "unknown_parameter";
        snprintf(msg, cap, "unknown key \"%s\"%s (docs/cli.md lists the keys vkslm serve knows)",
                 v->string ? v->string : "", what);
        return msg;
    }
    if (cJSON_IsNull(v)) /* null asks for the default, as leaving the key out */
        return NULL;
    serve_key_use use = q->chat ? k->chat : k->completions;
    if (use == SERVE_KEY_REJECTED && !is_off(k, v)) {
        q->code = "unsupported_parameter";
        snprintf(msg, cap, "\"%s\"%s is not supported by %s", k->key, what,
                 q->chat ? "/v1/chat/completions" : "/v1/completions");
        return msg;
    }
    if (use != SERVE_KEY_REJECTED && k->parse && run_hook)
        return k->parse(k->key, v, q);
    return NULL;
}

/* ---- messages --------------------------------------------------------------------------------------- */
/* The text of a message's content: a string, or an array of {"type": "text", "text": ...} parts. */
static const char *content_text(request *q, const cJSON *content, const char **why) {
    *why = "a message's \"content\" must be a string or an array of text parts";
    if (cJSON_IsString(content))
        return content->valuestring;
    if (!cJSON_IsArray(content))
        return NULL;
    size_t len = 1;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0)) {
            q->code = "unsupported_value";
            *why = "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported";
            return NULL;
        }
        if (!cJSON_IsString(t))
            return NULL;
        len += strlen(t->valuestring);
    }
    char *s = malloc(len), **o = realloc(q->owned, (q->n_owned + 1) * sizeof *o);
    if (o)
        q->owned = o;
    if (!s || !o) {
        free(s);
        *why = "out of memory";
        return NULL;
    }
    q->owned[q->n_owned++] = s;
    s[0] = 0;
    cJSON_ArrayForEach(part, content) strcat(s, cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring);
    return s;
}

static char *join_user_text(const request *q) {
    size_t len = 1;
    for (size_t i = 0; i < q->n_msgs; i++)
        if (strcmp(q->msgs[i].role, "user") == 0)
            len += strlen(q->msgs[i].content) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = 0;
    for (size_t i = 0; i < q->n_msgs; i++)
        if (strcmp(q->msgs[i].role, "user") == 0) {
            strcat(s, q->msgs[i].content);
            strcat(s, "\n");
        }
    return s;
}

/* Roles are rendered as template text, so they must not carry markup: a name of letters, digits, _ and -. */
static int role_ok(const char *r) {
    size_t n = 0;
    for (; r[n]; n++)
        if (n >= 32 || !((r[n] >= 'a' && r[n] <= 'z') || (r[n] >= 'A' && r[n] <= 'Z') || r[n] == '_' ||
                         (n && ((r[n] >= '0' && r[n] <= '9') || r[n] == '-'))))
            return 0;
    return n > 0;
}

/* Hooks of message keys run while q->msgs[q->n_msgs] is the message being read. */
static const char *parse_messages(const char *key, const cJSON *msgs, request *q) {
    static _Thread_local char msg[256], param[48];
    (void)key;
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return "\"messages\" must be a non-empty array";
    if (cJSON_GetArraySize(msgs) > SERVE_MAX_MESSAGES) {
        snprintf(msg, sizeof msg, "\"messages\" holds %d messages; at most %d are accepted", cJSON_GetArraySize(msgs),
                 SERVE_MAX_MESSAGES);
        return msg;
    }
    q->msgs = calloc((size_t)cJSON_GetArraySize(msgs), sizeof *q->msgs);
    if (!q->msgs)
        return "out of memory";
    const cJSON *x;
    cJSON_ArrayForEach(x, msgs) {
        if (!cJSON_IsObject(x))
            return "every message must be an object";
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
        if (!cJSON_IsString(role))
            return "every message needs a \"role\" string";
        if (!role_ok(role->valuestring))
            return "a message's \"role\" must be a name such as system, user or assistant";
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(x, "content");
        bool calls_only; /* an assistant's tool calls need no content */
        const char *tool_bad = serve_tools_check_message(x, &calls_only);
        if (tool_bad)
            return tool_bad;
        if ((!content || cJSON_IsNull(content)) && !calls_only)
            return "every message needs a \"content\" (a string or an array of text parts)";
        const char *why = NULL;
        q->msgs[q->n_msgs].role = role->valuestring;
        q->msgs[q->n_msgs].content = content && !cJSON_IsNull(content) ? content_text(q, content, &why) : NULL;
        if (!q->msgs[q->n_msgs].content && why)
            return why;
        const cJSON *k;
        cJSON_ArrayForEach(k, x) {
            snprintf(param, sizeof param, "messages[%zu].%.24s", q->n_msgs, k->string ? k->string : "");
            const char *bad = check_key(serve_message_keys, k, q, param, " in a message", msg, sizeof msg, 1);
            if (bad)
                return bad;
        }
        q->param = "messages";
        q->n_msgs++;
    }
    q->route_text = join_user_text(q);
    return q->route_text ? NULL : "out of memory";
}

/* A request without "seed" samples with a fresh one, as OpenAI's API: the same request may get another
 * answer (greedy ones excepted). 53 bits, so that it reads back exactly as a JSON number. */
static uint64_t fresh_seed(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) { /* no entropy yet: the clock */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        x = (uint64_t)t.tv_sec * 1000000007u ^ (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15u;
    }
    return x & ((1ull << 53) - 1);
}

const char *serve_request_parse(const cJSON *root, request *q) {
    static _Thread_local char msg[256];
    q->param = NULL;
    q->code = "invalid_request";
    q->model = "auto";
    if (!cJSON_IsObject(root))
        return "the body is not a JSON object";
    q->gp = vkslm_generate_default_params();
    q->gp.seed = fresh_seed(); /* "seed" replaces it */
    const cJSON *v;
    cJSON_ArrayForEach(v, root) { /* unknown and refused keys first, in the body's order */
        const char *bad = check_key(serve_request_keys, v, q, v->string, "", msg, sizeof msg, 0);
        if (bad)
            return bad;
    }
    for (const serve_request_key *k = serve_request_keys; k->key; k++) { /* then the hooks, in the table's */
        v = cJSON_GetObjectItemCaseSensitive(root, k->key);
        const char *bad = v ? check_key(serve_request_keys, v, q, k->key, "", msg, sizeof msg, 1) : NULL;
        if (bad)
            return bad;
    }
    const char *bad = serve_sampling_parse(root, q->chat, q->stream, &q->ss, &q->param);
    if (bad)
        return bad;
    serve_sampling_apply(&q->ss, &q->gp);
    if (q->chat && (bad = serve_tools_parse(root, &q->tools, &q->param)))
        return bad;
    q->param = "tool_choice";
    if (q->grammar && serve_tools_forced(q->tools))
        return "a forced tool call (tool_choice required or a function) and response_format cannot both constrain "
               "the output";
    q->param = "n";
    if (q->stream && q->ss.n > 1 && serve_tools_active(q->tools))
        return "\"n\" above 1 with tools is answered whole only (\"stream\": false)";
    q->param = q->chat ? "messages" : "prompt";
    if (q->chat && !q->msgs)
        return "\"messages\" must be a non-empty array";
    if (!q->chat && !q->prompt)
        return "\"prompt\" must be a string";
    if (!q->chat && !(q->route_text = strdup(q->prompt)))
        return "out of memory";
    q->param = NULL;
    return NULL;
}
