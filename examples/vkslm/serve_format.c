/* vkslm serve: the "response_format" key of the completion endpoints (its parse hook in serve_request.c),
 * compiled to the grammar that constrains the output (vkslm_json_schema_to_grammar; docs/grammar.md):
 *   {"type": "text"}                                   no constraint
 *   {"type": "json_object"}                            any JSON object (the schema {"type": "object"})
 *   {"type": "json_schema", "json_schema": {"name": ..., "description": ..., "schema": {...}, "strict": ...}}
 * The output is always constrained (strict or not, as if strict were true); a schema feature outside the
 * supported subset is a 400, never an unconstrained answer. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

static int bad(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A key of obj that is not in keys (NULL-terminated), or NULL. */
static const char *unknown_key(const cJSON *obj, const char *const *keys) {
    const cJSON *k;
    cJSON_ArrayForEach(k, obj) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k->string) != 0)
            i++;
        if (!keys[i])
            return k->string;
    }
    return NULL;
}

int serve_response_format(const struct cJSON *rf, char **grammar, char *err, size_t cap) {
    *grammar = NULL;
    if (!rf || cJSON_IsNull(rf))
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (!cJSON_IsObject(rf) || !cJSON_IsString(type))
        return bad(err, cap, "\"response_format\" must be an object with a \"type\": \"text\", \"json_object\" or "
                   "\"json_schema\"");
    const char *t = type->valuestring, *k;
    static const char *const only_type[] = {"type", NULL}, *const with_schema[] = {"type", "json_schema", NULL};
    int is_schema = strcmp(t, "json_schema") == 0;
    if (strcmp(t, "text") != 0 && strcmp(t, "json_object") != 0 && !is_schema)
        return bad(err, cap, "\"response_format\": unknown type \"%.40s\" (text, json_object or json_schema)", t);
    if ((k = unknown_key(rf, is_schema ? with_schema : only_type)))
        return bad(err, cap, "\"response_format\": unknown key \"%.40s\" for type %s", k, t);
    if (strcmp(t, "text") == 0)
        return 0;
    char *schema_text = NULL;
    if (is_schema) {
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
        static const char *const keys[] = {"name", "description", "schema", "strict", NULL};
        if (!cJSON_IsObject(js))
            return bad(err, cap, "\"response_format\": \"json_schema\" must be an object holding \"schema\"");
        if ((k = unknown_key(js, keys)))
            return bad(err, cap, "\"response_format\": unknown key \"json_schema.%.40s\"", k);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(js, "description");
        const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
        if ((name && !cJSON_IsString(name)) || (desc && !cJSON_IsString(desc)))
            return bad(err, cap, "\"response_format\": \"json_schema.%s\" must be a string", name && !cJSON_IsString(name)
                       ? "name" : "description");
        if (strict && !cJSON_IsBool(strict) && !cJSON_IsNull(strict))
            return bad(err, cap, "\"response_format\": \"json_schema.strict\" must be true or false");
        if (!cJSON_IsObject(schema) && !cJSON_IsBool(schema))
            return bad(err, cap, "\"response_format\": \"json_schema.schema\" must be a JSON schema (an object)");
        schema_text = cJSON_PrintUnformatted(schema);
    } else
        schema_text = strdup("{\"type\":\"object\"}");
    if (!schema_text)
        return bad(err, cap, "out of memory");
    char *g = NULL;
    vkslm_status st = vkslm_json_schema_to_grammar(schema_text, strlen(schema_text), &g);
    if (is_schema)
        cJSON_free(schema_text);
    else
        free(schema_text);
    if (st != VKSLM_OK)
        return bad(err, cap, "\"response_format\": %s", vkslm_last_error());
    *grammar = g;
    return 0;
}
