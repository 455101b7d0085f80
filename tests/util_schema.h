/* A validator of JSON values against the JSON schema subset that vkslm_json_schema_to_grammar compiles
 * (docs/grammar.md), written independently of the compiler so that tests can check its output. */
#ifndef VKSLM_TEST_UTIL_SCHEMA_H
#define VKSLM_TEST_UTIL_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* 1 when v satisfies schema (root: the document that $ref resolves in), else 0 with the reason in why. */
int test_schema_valid(const cJSON *root, const cJSON *schema, const cJSON *v, char *why, size_t cap);
/* Parses text and validates it against the schema text: 1 valid, 0 not (why says which, or that it did not
 * parse). */
int test_schema_valid_text(const char *schema, const char *text, char *why, size_t cap);
/* Schemas (NULL-terminated) whose every valid output is short, whatever the model: bounded strings, counts
 * and ranges, so that noise logits under the grammar finish within a few dozen tokens. */
extern const char *const test_bounded_schemas[];
#endif
