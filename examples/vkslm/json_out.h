/* Minimal JSON writing for the CLI's --json outputs: strings escaped, no trailing commas. */
#ifndef VKSLM_CLI_JSON_OUT_H
#define VKSLM_CLI_JSON_OUT_H
#include <stdio.h>

/* Writes s as a JSON string (quotes included), escaping control characters, quotes and backslashes. */
void json_str(FILE *f, const char *s);
void json_strn(FILE *f, const char *s, size_t n);
#endif
