/* The JSON schema subset's validator for tests (util_schema.h): keyword by keyword as JSON Schema defines
 * them; patterns through POSIX extended regexes (search unless anchored), so tests use patterns that mean
 * the same in both (no \d). */
#include "tests/util_schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int no(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (why && cap)
        vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return 0;
}

static int is_type(const char *t, const cJSON *v) {
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    return 0;
}

static size_t n_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

int test_schema_valid(const cJSON *root, const cJSON *s, const cJSON *v, char *why, size_t cap) {
    if (cJSON_IsTrue(s))
        return 1;
    if (cJSON_IsFalse(s) || !cJSON_IsObject(s))
        return no(why, cap, "false or bad schema");
    const cJSON *x;
    if ((x = get(s, "$ref"))) {
        const char *r = x->valuestring;
        const cJSON *t = NULL;
        if (!strcmp(r, "#"))
            t = root;
        else if (!strncmp(r, "#/$defs/", 8))
            t = get(get(root, "$defs"), r + 8);
        else if (!strncmp(r, "#/definitions/", 14))
            t = get(get(root, "definitions"), r + 14);
        return t ? test_schema_valid(root, t, v, why, cap) : no(why, cap, "unresolved $ref %s", r);
    }
    if ((x = get(s, "const")) && !cJSON_Compare(x, v, 1))
        return no(why, cap, "not the const");
    if ((x = get(s, "enum"))) {
        const cJSON *e;
        int found = 0;
        cJSON_ArrayForEach(e, x) found |= cJSON_Compare(e, v, 1);
        if (!found)
            return no(why, cap, "not in the enum");
    }
    if ((x = get(s, "anyOf"))) {
        const cJSON *e;
        int ok = 0;
        cJSON_ArrayForEach(e, x) ok |= test_schema_valid(root, e, v, NULL, 0);
        if (!ok)
            return no(why, cap, "no anyOf branch matches");
    }
    if ((x = get(s, "oneOf"))) {
        const cJSON *e;
        int n = 0;
        cJSON_ArrayForEach(e, x) n += test_schema_valid(root, e, v, NULL, 0);
        if (n != 1)
            return no(why, cap, "%d oneOf branches match", n);
    }
    if ((x = get(s, "type"))) {
        int ok = 0;
        if (cJSON_IsString(x))
            ok = is_type(x->valuestring, v);
        else {
            const cJSON *t;
            cJSON_ArrayForEach(t, x) ok |= is_type(t->valuestring, v);
        }
        if (!ok)
            return no(why, cap, "wrong type");
    }
    if (cJSON_IsString(v)) {
        size_t n = n_chars(v->valuestring);
        if ((x = get(s, "minLength")) && n < (size_t)x->valuedouble)
            return no(why, cap, "shorter than minLength");
        if ((x = get(s, "maxLength")) && n > (size_t)x->valuedouble)
            return no(why, cap, "longer than maxLength");
        if ((x = get(s, "pattern"))) {
            regex_t re;
            if (regcomp(&re, x->valuestring, REG_EXTENDED | REG_NOSUB) != 0)
                return no(why, cap, "bad pattern");
            int m = regexec(&re, v->valuestring, 0, NULL, 0);
            regfree(&re);
            if (m != 0)
                return no(why, cap, "\"%s\" does not match the pattern %s", v->valuestring, x->valuestring);
        }
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if ((x = get(s, "minimum")) && d < x->valuedouble)
            return no(why, cap, "%g below minimum", d);
        if ((x = get(s, "maximum")) && d > x->valuedouble)
            return no(why, cap, "%g above maximum", d);
        if ((x = get(s, "exclusiveMinimum")) && d <= x->valuedouble)
            return no(why, cap, "%g not above exclusiveMinimum", d);
        if ((x = get(s, "exclusiveMaximum")) && d >= x->valuedouble)
            return no(why, cap, "%g not below exclusiveMaximum", d);
    }
    if (cJSON_IsObject(v)) {
        const cJSON *props = get(s, "properties"), *add = get(s, "additionalProperties"), *e;
        cJSON_ArrayForEach(e, get(s, "required")) if (!get(v, e->valuestring)) return no(why, cap, "missing %s",
                                                                                           e->valuestring);
        cJSON_ArrayForEach(e, v) {
            const cJSON *ps = get(props, e->string);
            if (ps) {
                if (!test_schema_valid(root, ps, e, why, cap))
                    return 0;
            } else if (add && cJSON_IsFalse(add))
                return no(why, cap, "additional property %s", e->string);
            else if (add && cJSON_IsObject(add) && !test_schema_valid(root, add, e, why, cap))
                return 0;
        }
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        if ((x = get(s, "minItems")) && n < (int)x->valuedouble)
            return no(why, cap, "fewer than minItems");
        if ((x = get(s, "maxItems")) && n > (int)x->valuedouble)
            return no(why, cap, "more than maxItems");
        const cJSON *items = get(s, "items"), *e;
        if (items)
            cJSON_ArrayForEach(e, v) if (!test_schema_valid(root, items, e, why, cap)) return 0;
    }
    return 1;
}

int test_schema_valid_text(const char *schema, const char *text, char *why, size_t cap) {
    cJSON *s = cJSON_Parse(schema), *v = cJSON_ParseWithOpts(text, NULL, 1); /* nothing after the value */
    int ok;
    if (!s)
        ok = no(why, cap, "the schema does not parse");
    else if (!v)
        ok = no(why, cap, "the output does not parse as JSON");
    else
        ok = test_schema_valid(s, s, v, why, cap);
    cJSON_Delete(s);
    cJSON_Delete(v);
    return ok;
}

/* Schemas whose outputs are short whatever the logits (bounded strings, counts and ranges). */
const char *const test_bounded_schemas[] = {
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"],\"additionalProperties\":false}",
    "{\"type\":\"integer\",\"minimum\":-50,\"maximum\":300}",
    "{\"enum\":[\"alpha\",\"beta\",42,null,{\"x\":[]}]}",
    "{\"type\":\"string\",\"minLength\":2,\"maxLength\":6}",
    "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},\"minItems\":2,\"maxItems\":4}",
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":4},\"n\":{\"type\":\"integer\",\"minimum\""
    ":1,\"maximum\":3},\"tag\":{\"enum\":[\"a\",\"b\"]}},\"required\":[\"n\"],\"additionalProperties\":false}",
    "{\"type\":[\"boolean\",\"null\"]}",
    "{\"anyOf\":[{\"type\":\"integer\",\"minimum\":0,\"maximum\":99},{\"type\":\"string\",\"pattern\":\"^[a-c]{1,3}$\"}]}",
    "{\"type\":\"string\",\"pattern\":\"^(yes|no)-[0-9]{2}$\"}",
    "{\"type\":\"number\",\"minimum\":0,\"maximum\":10}",
    "{\"$defs\":{\"p\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"maxItems\":2}},\"type\":\"object\","
    "\"properties\":{\"a\":{\"$ref\":\"#/$defs/p\"},\"b\":{\"$ref\":\"#/$defs/p\"}},\"required\":[\"a\",\"b\"]}",
    "{\"const\":\"fixed \\u00e9 text\"}",
    NULL,
};

