/* vkslm serve: tool calling (serve_tools.h). What is decided here, and why:
 * - The call syntax follows the template in use, by its text: "<tool_call>" is Hermes' (Qwen 2.5),
 *   "[TOOL_CALLS]" Mistral's, "<|start_header_id|>" Llama 3's JSON; another template that takes tools is
 *   read as Hermes', the commonest. Control tokens (Mistral's [TOOL_CALLS], Llama's <|python_tag|>) do not
 *   reach the output text, so the parser takes the forms with or without them.
 * - tool_choice none: the tools are not rendered, so the model, which cannot see them, answers in text, and
 *   its output is not parsed (OpenAI: the model will not call a tool). Tool calls and results already in
 *   the conversation are still rendered.
 * - Output that does not parse as calls of the request's functions is text (finish_reason stop or length);
 *   a call naming a function the request did not give makes the whole output text.
 * - Call ids: "call_" and 24 letters and digits; for Mistral nine letters and digits, the only ids its
 *   template takes back.
 * - Arguments of past calls (OpenAI sends a JSON string) are passed to templates that write them with
 *   tojson as the object they hold, as transformers passes them; other templates get the string.
 * - The content of an assistant turn that holds only calls is "" unless the template tests content for none
 *   (DeepSeek's branches on it); Qwen 3's template adds the content to strings, which none would break. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_tools.h"

struct serve_tools {
    const cJSON *tools;      /* the request's array (in its body), NULL: none */
    size_t n_tools;
    int choice;              /* SERVE_TOOL_CHOICE_* */
    const char *choice_name; /* SERVE_TOOL_CHOICE_NAMED */
    bool parallel;
    serve_tool_format format;
    unsigned long long id_seed;
    /* streaming */
    char *buf;               /* all output so far */
    size_t len, cap, sent;   /* bytes of buf sent as content */
    bool holding;            /* the output may be a call: nothing more is sent until the end */
    bool decided;            /* Llama 3 / Mistral: the answer's start showed whether it is a call */
};

/* ---- request ---------------------------------------------------------------------------------------- */
static bool name_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 64 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
                         s[n] == '_' || s[n] == '-'))
            return false;
    return n > 0;
}

static const char *only_keys(const cJSON *o, const char *const *keys) {
    const cJSON *x;
    cJSON_ArrayForEach(x, o) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(x->string, keys[i]) == 0;
        if (!known)
            return x->string;
    }
    return NULL;
}

static const char *check_tools(const cJSON *tools, size_t *n_out, char *why, size_t cap) {
    if (!cJSON_IsArray(tools))
        return "\"tools\" must be an array of {\"type\": \"function\", \"function\": {...}}";
    size_t n = 0, schema_bytes = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        static const char *const tool_keys[] = {"type", "function", NULL};
        static const char *const fn_keys[] = {"name", "description", "parameters", "strict", NULL};
        if (++n > SERVE_MAX_TOOLS) {
            snprintf(why, cap, "\"tools\" holds more than %d tools", SERVE_MAX_TOOLS);
            return why;
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        if (!cJSON_IsObject(t) || !cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
            !cJSON_IsObject(fn))
            return "every tool must be {\"type\": \"function\", \"function\": {\"name\": ..., ...}}";
        const char *extra = only_keys(t, tool_keys);
        if (!extra)
            extra = only_keys(fn, fn_keys);
        if (extra) {
            snprintf(why, cap, "a tool holds \"%.64s\", which is not supported (a tool has type and function; a "
                     "function name, description, parameters and strict false)", extra);
            return why;
        }
        const cJSON *strict = cJSON_GetObjectItemCaseSensitive(fn, "strict");
        if (strict && !cJSON_IsFalse(strict) && !cJSON_IsNull(strict))
            return "a function's \"strict\": true is not supported: only tool_choice \"required\" or a named function "
                   "constrains the arguments to the schema";
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(name) || !name_ok(name->valuestring))
            return "every function needs a \"name\" of at most 64 letters, digits, _ and -";
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
        if (desc && !cJSON_IsString(desc))
            return "a function's \"description\" must be a string";
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        if (params && !cJSON_IsObject(params))
            return "a function's \"parameters\" must be a JSON schema object";
        if (params) {
            char *s = cJSON_PrintUnformatted(params);
            if (!s)
                return "out of memory";
            schema_bytes += strlen(s);
            free(s);
            if (schema_bytes > SERVE_MAX_SCHEMA_BYTES) {
                snprintf(why, cap, "the tools' parameter schemas exceed %u KiB", SERVE_MAX_SCHEMA_BYTES >> 10);
                return why;
            }
        }
        const cJSON *u;
        cJSON_ArrayForEach(u, tools) {
            if (u == t)
                break;
            const cJSON *un = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "function"), "name");
            if (strcmp(un->valuestring, name->valuestring) == 0) {
                snprintf(why, cap, "\"tools\" names the function \"%s\" twice", name->valuestring);
                return why;
            }
        }
    }
    *n_out = n;
    return NULL;
}

static bool has_tool(const cJSON *tools, const char *name) {
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "function"), "name");
        if (strcmp(n->valuestring, name) == 0)
            return true;
    }
    return false;
}

static bool messages_use_tools(const cJSON *root) {
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "messages")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_GetObjectItemCaseSensitive(m, "tool_calls") || cJSON_GetObjectItemCaseSensitive(m, "tool_call_id") ||
            (cJSON_IsString(role) && strcmp(role->valuestring, "tool") == 0))
            return true;
    }
    return false;
}

const char *serve_tools_parse(const cJSON *root, serve_tools **out, const char **param) {
    static __thread char why[256];
    *out = NULL;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    const cJSON *par = cJSON_GetObjectItemCaseSensitive(root, "parallel_tool_calls");
    if (cJSON_IsNull(tools))
        tools = NULL;
    if (cJSON_IsNull(choice))
        choice = NULL;
    if (cJSON_IsNull(par))
        par = NULL;
    if (!tools && !choice && !par && !messages_use_tools(root))
        return NULL;
    serve_tools *t = calloc(1, sizeof *t);
    if (!t)
        return "out of memory";
    t->parallel = true;
    t->choice = SERVE_TOOL_CHOICE_AUTO;
    t->id_seed = (unsigned long long)time(NULL) * 0x100000001B3ull ^ (unsigned long long)(uintptr_t)t;
    *out = t;
    *param = "tools";
    size_t n = 0;
    const char *bad = tools ? check_tools(tools, &n, why, sizeof why) : NULL;
    if (bad)
        return bad;
    t->tools = n ? tools : NULL; /* an empty list is no tools */
    t->n_tools = n;
    *param = "parallel_tool_calls";
    if (par && !cJSON_IsBool(par))
        return "\"parallel_tool_calls\" must be true or false";
    t->parallel = !par || cJSON_IsTrue(par);
    *param = "tool_choice";
    if (!choice) {
        t->choice = t->tools ? SERVE_TOOL_CHOICE_AUTO : SERVE_TOOL_CHOICE_NONE;
    } else if (cJSON_IsString(choice)) {
        const char *s = choice->valuestring;
        t->choice = strcmp(s, "auto") == 0 ? SERVE_TOOL_CHOICE_AUTO : strcmp(s, "none") == 0 ? SERVE_TOOL_CHOICE_NONE
                  : strcmp(s, "required") == 0 ? SERVE_TOOL_CHOICE_REQUIRED : -1;
        if (t->choice < 0)
            return "\"tool_choice\" must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": "
                   "{\"name\": ...}}";
    } else {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(choice, "type");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(choice, "function"), "name");
        if (!cJSON_IsObject(choice) || !cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
            !cJSON_IsString(name))
            return "\"tool_choice\" must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": "
                   "{\"name\": ...}}";
        t->choice = SERVE_TOOL_CHOICE_NAMED;
        t->choice_name = name->valuestring;
        if (!t->tools || !has_tool(t->tools, t->choice_name)) {
            snprintf(why, sizeof why, "\"tool_choice\" names \"%.64s\", which is not in \"tools\"", t->choice_name);
            return why;
        }
    }
    if (!t->tools && (t->choice == SERVE_TOOL_CHOICE_REQUIRED || t->choice == SERVE_TOOL_CHOICE_AUTO))
        return "\"tool_choice\" needs \"tools\"";
    *param = NULL;
    return NULL;
}

void serve_tools_free(serve_tools *t) {
    if (!t)
        return;
    free(t->buf);
    free(t);
}

const char *serve_tools_check_message(const cJSON *msg, bool *content_optional) {
    *content_optional = false;
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(msg, "name");
    bool is_tool = cJSON_IsString(role) && strcmp(role->valuestring, "tool") == 0;
    bool is_assistant = cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0;
    if (name && !cJSON_IsString(name))
        return "a message's \"name\" must be a string";
    if (is_tool && !cJSON_IsString(id))
        return "a \"tool\" message needs the \"tool_call_id\" (a string) of the call it answers";
    if (id && !is_tool)
        return "\"tool_call_id\" belongs to \"tool\" messages";
    if (calls && cJSON_IsNull(calls))
        calls = NULL;
    if (!calls)
        return NULL;
    if (!is_assistant)
        return "\"tool_calls\" belongs to \"assistant\" messages";
    if (!cJSON_IsArray(calls) || cJSON_GetArraySize(calls) == 0)
        return "\"tool_calls\" must be a non-empty array";
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(c, "id");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        const cJSON *fname = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsObject(c) || !cJSON_IsString(cid) || !cJSON_IsString(type) ||
            strcmp(type->valuestring, "function") != 0 || !cJSON_IsString(fname) || !cJSON_IsString(args))
            return "every tool call must be {\"id\": ..., \"type\": \"function\", \"function\": {\"name\": ..., "
                   "\"arguments\": \"<JSON text>\"}}";
    }
    *content_optional = true;
    return NULL;
}

/* ---- the template's JSON ------------------------------------------------------------------------------ */
static bool contains(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

serve_tool_format serve_tools_format(const char *tmpl, size_t len) {
    if (tmpl && contains(tmpl, len, "<tool_call>"))
        return SERVE_TOOLS_HERMES;
    if (tmpl && contains(tmpl, len, "[TOOL_CALLS]"))
        return SERVE_TOOLS_MISTRAL;
    if (tmpl && contains(tmpl, len, "<|start_header_id|>"))
        return SERVE_TOOLS_LLAMA3;
    return SERVE_TOOLS_HERMES;
}

int serve_tools_template_json(serve_tools *t, const cJSON *request_msgs, const vkslm_chat_message *msgs,
                              size_t n_msgs, size_t n_extra, const char *tmpl, size_t tmpl_len, char **messages_json,
                              char **tools_json) {
    *messages_json = *tools_json = NULL;
    t->format = serve_tools_format(tmpl, tmpl_len);
    bool args_as_objects = tmpl && contains(tmpl, tmpl_len, "tojson");
    /* An assistant turn with calls and no content: templates that test for none (DeepSeek's) get null, the
     * others "" (Qwen 3's concatenates the content, which none would make an error, as in transformers). */
    bool keep_null = tmpl && (contains(tmpl, tmpl_len, "content is none") || contains(tmpl, tmpl_len, "content'] is none") ||
                              contains(tmpl, tmpl_len, "content\"] is none"));
    cJSON *arr = cJSON_CreateArray();
    const cJSON *rm = request_msgs ? request_msgs->child : NULL;
    for (size_t i = 0; arr && i < n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, m);
        cJSON_AddStringToObject(m, "role", msgs[i].role);
        if (msgs[i].content || !keep_null)
            cJSON_AddStringToObject(m, "content", msgs[i].content ? msgs[i].content : "");
        else
            cJSON_AddNullToObject(m, "content");
        if (i < n_extra || !rm)
            continue;
        static const char *const keys[] = {"tool_calls", "tool_call_id", "name"};
        for (size_t k = 0; k < 3; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rm, keys[k]);
            if (!v || cJSON_IsNull(v))
                continue; /* left out, not null: Llama 3's template asks 'tool_calls' in message */
            cJSON *copy = cJSON_Duplicate(v, 1);
            cJSON *c, *call_list = k == 0 && args_as_objects ? copy : NULL;
            cJSON_ArrayForEach(c, call_list) {
                cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
                cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
                cJSON *obj = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
                if (obj)
                    cJSON_ReplaceItemInObjectCaseSensitive(fn, "arguments", obj);
            }
            cJSON_AddItemToObject(m, keys[k], copy);
        }
        rm = rm->next;
    }
    *messages_json = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!*messages_json)
        return -1;
    if (t->tools && t->choice != SERVE_TOOL_CHOICE_NONE && !(*tools_json = cJSON_PrintUnformatted(t->tools))) {
        free(*messages_json);
        *messages_json = NULL;
        return -1;
    }
    return 0;
}

/* ---- grammar ------------------------------------------------------------------------------------------- */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static bool rule_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A grammar's rule names, each prefixed (definitions and references), so that several schemas' grammars
 * share one text: names are runs of letters, digits, _ and - outside string literals, character classes and
 * comments (docs/grammar.md). */
static void sb_prefixed(sbuf *b, const char *g, const char *prefix) {
    for (const char *p = g; *p;) {
        if (*p == '"' || *p == '[') {
            char close = *p == '"' ? '"' : ']';
            const char *q = p + 1;
            while (*q && *q != close)
                q += q[0] == '\\' && q[1] ? 2 : 1;
            if (*q)
                q++;
            sb_add(b, p, (size_t)(q - p));
            p = q;
        } else if (*p == '#') {
            const char *q = p;
            while (*q && *q != '\n')
                q++;
            p = q;
        } else if (rule_char(*p) && !(*p >= '0' && *p <= '9' && p > g && p[-1] == '{')) {
            const char *q = p;
            while (rule_char(*q))
                q++;
            bool number = true;
            for (const char *r = p; r < q; r++)
                number &= *r >= '0' && *r <= '9';
            if (!number) /* repetition counts {m,n} stay */
                sb_str(b, prefix);
            sb_add(b, p, (size_t)(q - p));
            p = q;
        } else {
            sb_add(b, p, 1);
            p++;
        }
    }
    sb_str(b, "\n");
}

char *serve_tools_compose_grammar(serve_tool_format format, const char *const *names,
                                  const char *const *schema_grammars, size_t n, bool parallel) {
    sbuf b = {0};
    char prefix[32];
    /* the call: the syntax around a function's name and its arguments (rule fI-root) */
    const char *open = format == SERVE_TOOLS_HERMES ? "\"<tool_call>\\n{\\\"name\\\": \\\"" : "\"{\\\"name\\\": \\\"";
    const char *args_key = format == SERVE_TOOLS_LLAMA3 ? "parameters" : "arguments";
    sb_str(&b, "tool-call ::=");
    size_t alternatives = 0;
    for (size_t i = 0; i < n; i++) {
        if (!schema_grammars[i])
            continue;
        snprintf(prefix, sizeof prefix, "f%zu-", i);
        sb_str(&b, alternatives++ ? " | " : " ");
        sb_str(&b, open);
        sb_str(&b, names[i]);
        sb_str(&b, "\\\", \\\"");
        sb_str(&b, args_key);
        sb_str(&b, "\\\": \" ");
        sb_str(&b, prefix);
        sb_str(&b, "root");
        sb_str(&b, format == SERVE_TOOLS_HERMES ? " \"}\\n</tool_call>\"" : " \"}\"");
    }
    sb_str(&b, "\n");
    /* the answer: one call, or with parallel calls one or more (Llama 3's form holds one) */
    if (format == SERVE_TOOLS_MISTRAL) /* [TOOL_CALLS] is a control token without text: the grammar starts at [ */
        sb_str(&b, parallel ? "root ::= \"[\" tool-call (\", \" tool-call)* \"]\"\n"
                            : "root ::= \"[\" tool-call \"]\"\n");
    else if (format == SERVE_TOOLS_HERMES && parallel)
        sb_str(&b, "root ::= tool-call (\"\\n\" tool-call)*\n");
    else
        sb_str(&b, "root ::= tool-call\n");
    for (size_t i = 0; i < n; i++) {
        if (!schema_grammars[i])
            continue;
        snprintf(prefix, sizeof prefix, "f%zu-", i);
        sb_prefixed(&b, schema_grammars[i], prefix);
    }
    if (b.oom || !alternatives) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *serve_tools_grammar(const serve_tools *t, char *err, size_t cap) {
    err[0] = 0;
    if (!serve_tools_forced(t))
        return NULL;
    const char *names[SERVE_MAX_TOOLS] = {0};
    char *grammars[SERVE_MAX_TOOLS] = {0};
    size_t n = 0;
    char *out = NULL;
    const cJSON *tool;
    cJSON_ArrayForEach(tool, t->tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
        names[n] = cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring;
        if (t->choice == SERVE_TOOL_CHOICE_REQUIRED || strcmp(names[n], t->choice_name) == 0) {
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
            char *schema = params ? cJSON_PrintUnformatted(params) : strdup("{\"type\": \"object\"}");
            vkslm_status st = schema ? vkslm_json_schema_to_grammar(schema, strlen(schema), &grammars[n])
                                     : VKSLM_ERR_OUT_OF_HOST_MEMORY;
            free(schema);
            if (st != VKSLM_OK) {
                snprintf(err, cap, "function \"%s\": its parameters: %s", names[n], vkslm_last_error());
                goto done;
            }
        }
        n++;
    }
    out = serve_tools_compose_grammar(t->format, names, (const char *const *)grammars, n, t->parallel);
    if (!out)
        snprintf(err, cap, "out of memory");
done:
    for (size_t i = 0; i < n + 1 && i < SERVE_MAX_TOOLS; i++)
        vkslm_string_free(grammars[i]);
    return out;
}

/* ---- output ---------------------------------------------------------------------------------------------- */
bool serve_tools_forced(const serve_tools *t) {
    return t && t->tools && (t->choice == SERVE_TOOL_CHOICE_REQUIRED || t->choice == SERVE_TOOL_CHOICE_NAMED);
}

bool serve_tools_active(const serve_tools *t) {
    return t && t->tools && t->choice != SERVE_TOOL_CHOICE_NONE;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static bool starts(const char *p, const char *lit) { return strncmp(p, lit, strlen(lit)) == 0; }

static void make_id(char *out, serve_tool_format format, unsigned long long *state) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t at = 0, n = format == SERVE_TOOLS_MISTRAL ? 9 : 24;
    if (format != SERVE_TOOLS_MISTRAL) {
        memcpy(out, "call_", 5);
        at = 5;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned long long z = (*state += 0x9E3779B97F4A7C15ull); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[at++] = alnum[z % 62];
    }
    out[at] = 0;
}

/* One call object at p ({"name": ..., "arguments"|"parameters": {...}}) appended to calls; the end, or NULL
 * when it is not one. */
static const char *parse_call(const char *p, cJSON *calls, serve_tool_format format, const char *const *names,
                              size_t n_names, unsigned long long *ids) {
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(p, &end, 0);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "arguments");
    if (!args)
        args = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    bool known = cJSON_IsString(name) && n_names == 0;
    for (size_t i = 0; cJSON_IsString(name) && i < n_names && !known; i++)
        known = strcmp(names[i], name->valuestring) == 0;
    if (!cJSON_IsObject(o) || !known || !(cJSON_IsObject(args) || cJSON_IsString(args))) {
        cJSON_Delete(o);
        return NULL;
    }
    char id[40];
    make_id(id, format, ids);
    cJSON *call = cJSON_CreateObject();
    cJSON_AddStringToObject(call, "id", id);
    cJSON_AddStringToObject(call, "type", "function");
    cJSON *fn = cJSON_AddObjectToObject(call, "function");
    cJSON_AddStringToObject(fn, "name", name->valuestring);
    char *a = cJSON_IsString(args) ? NULL : cJSON_PrintUnformatted(args); /* OpenAI's arguments: JSON text */
    cJSON_AddStringToObject(fn, "arguments", a ? a : args->valuestring);
    free(a);
    cJSON_AddItemToArray(calls, call);
    cJSON_Delete(o);
    return end;
}

static char *text_or_null(const char *s, size_t n) {
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    const char *p = skip_ws(s);
    if ((size_t)(p - s) >= n)
        return NULL;
    n -= (size_t)(p - s);
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, p, n);
        c[n] = 0;
    }
    return c;
}

cJSON *serve_tools_parse_text(serve_tool_format format, const char *text, const char *const *names, size_t n_names,
                              bool parallel, unsigned long long id_seed, char **content) {
    *content = NULL;
    cJSON *calls = cJSON_CreateArray();
    unsigned long long ids = id_seed;
    const char *p = text, *before_end = text, *after = NULL;
    if (format == SERVE_TOOLS_HERMES) {
        const char *at = strstr(text, "<tool_call>");
        if (!at)
            goto text;
        before_end = at;
        p = at;
        while (starts(p, "<tool_call>")) {
            p = parse_call(skip_ws(p + strlen("<tool_call>")), calls, format, names, n_names, &ids);
            if (!p)
                goto text;
            p = skip_ws(p);
            if (starts(p, "</tool_call>"))
                p += strlen("</tool_call>");
            else if (*p) /* the closing tag may be left out only at the end */
                goto text;
            p = skip_ws(p);
        }
        after = p;
    } else if (format == SERVE_TOOLS_LLAMA3) {
        p = skip_ws(p);
        if (starts(p, "<|python_tag|>"))
            p += strlen("<|python_tag|>");
        before_end = text;
        for (;;) { /* one or more objects, separated by ';' or whitespace */
            p = parse_call(skip_ws(p), calls, format, names, n_names, &ids);
            if (!p)
                goto text;
            p = skip_ws(p);
            if (*p == ';')
                p = skip_ws(p + 1);
            if (*p != '{')
                break;
        }
        if (*p)
            goto text;
        after = p;
    } else {
        const char *at = strstr(text, "[TOOL_CALLS]");
        before_end = at ? at : text;
        p = skip_ws(at ? at + strlen("[TOOL_CALLS]") : text);
        if (*p != '[')
            goto text;
        const char *end = NULL;
        cJSON *arr = cJSON_ParseWithOpts(p, &end, 0);
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
            cJSON_Delete(arr);
            goto text;
        }
        const cJSON *o;
        bool ok = true;
        cJSON_ArrayForEach(o, arr) {
            char *s = cJSON_PrintUnformatted(o);
            ok = ok && s && parse_call(s, calls, format, names, n_names, &ids);
            free(s);
        }
        cJSON_Delete(arr);
        if (!ok)
            goto text;
        after = skip_ws(end);
    }
    if (cJSON_GetArraySize(calls) == 0)
        goto text;
    while (!parallel && cJSON_GetArraySize(calls) > 1)
        cJSON_DeleteItemFromArray(calls, cJSON_GetArraySize(calls) - 1);
    /* the text outside the calls: before them, and any after them */
    size_t nb = (size_t)(before_end - text), na = after ? strlen(after) : 0;
    char *joined = malloc(nb + na + 2);
    if (joined) {
        memcpy(joined, text, nb);
        if (na && nb)
            joined[nb++] = '\n';
        memcpy(joined + nb, after ? after : "", na);
        joined[nb + na] = 0;
        *content = text_or_null(joined, nb + na);
        free(joined);
    }
    return calls;
text:
    cJSON_Delete(calls);
    return NULL;
}

cJSON *serve_tools_parse_output(const serve_tools *t, const char *text, char **content) {
    *content = NULL;
    if (!serve_tools_active(t))
        return NULL;
    const char *names[SERVE_MAX_TOOLS];
    size_t n = 0;
    const cJSON *tool;
    cJSON_ArrayForEach(tool, t->tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
        names[n++] = cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring;
    }
    if (t->choice == SERVE_TOOL_CHOICE_NAMED) {
        names[0] = t->choice_name;
        n = 1;
    }
    return serve_tools_parse_text(t->format, text, names, n, t->parallel, t->id_seed, content);
}

/* ---- streaming ------------------------------------------------------------------------------------------ */
/* How many bytes at the end of s[0..n) may begin the marker (a prefix of it), to hold back. */
static size_t marker_overlap(const char *s, size_t n, const char *marker) {
    size_t m = strlen(marker);
    for (size_t k = m - 1 < n ? m - 1 : n; k > 0; k--)
        if (memcmp(s + n - k, marker, k) == 0)
            return k;
    return 0;
}

char *serve_tools_stream_feed(serve_tools *t, const char *piece) {
    size_t add = strlen(piece);
    if (t->len + add + 1 > t->cap) {
        size_t cap = (t->len + add + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b)
            return NULL;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, piece, add);
    t->len += add;
    t->buf[t->len] = 0;
    size_t ready = t->len; /* bytes that may be sent */
    if (t->format == SERVE_TOOLS_HERMES) { /* calls may follow text: hold from the marker, or a prefix of it */
        const char *at = strstr(t->buf + t->sent, "<tool_call>");
        t->holding |= at != NULL;
        ready = at ? (size_t)(at - t->buf) : t->holding ? t->sent : t->len - marker_overlap(t->buf, t->len, "<tool_call>");
    } else if (!t->decided) { /* a call is the whole answer: decide on its first characters */
        const char *p = skip_ws(t->buf), *marker = t->format == SERVE_TOOLS_LLAMA3 ? "<|python_tag|>" : "[TOOL_CALLS]";
        size_t rest = strlen(p);
        bool may_be_marker = rest < strlen(marker) && memcmp(p, marker, rest) == 0;
        if (*p == (t->format == SERVE_TOOLS_LLAMA3 ? '{' : '[') || starts(p, marker)) {
            t->holding = t->decided = true;
            ready = 0;
        } else if (may_be_marker) { /* nothing but whitespace, or the marker's start, so far */
            ready = 0;
        } else {
            t->decided = true; /* text */
        }
    } else if (t->holding) {
        ready = t->sent;
    }
    if (ready < t->sent)
        ready = t->sent;
    char *out = malloc(ready - t->sent + 1);
    if (!out)
        return NULL;
    memcpy(out, t->buf + t->sent, ready - t->sent);
    out[ready - t->sent] = 0;
    t->sent = ready;
    return out;
}

cJSON *serve_tools_stream_finish(serve_tools *t, char **rest) {
    *rest = NULL;
    const char *all = t->buf ? t->buf : "";
    char *content = NULL;
    cJSON *calls = serve_tools_parse_output(t, all, &content);
    free(content);
    const char *held = all + t->sent;
    if (calls) {
        /* the content already sent is what came before the calls; what was held back and is not a call
         * (text between or after them) is sent now */
        char *tail = NULL;
        cJSON *again = serve_tools_parse_output(t, held, &tail);
        cJSON_Delete(again);
        *rest = tail;
        return calls;
    }
    *rest = strdup(held);
    return NULL;
}
