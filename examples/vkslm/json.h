/* Minimal JSON output helpers for the CLI's --json modes. */
#ifndef VKSLM_CLI_JSON_H
#define VKSLM_CLI_JSON_H
#include <stddef.h>
#include <stdio.h>

/* Writes s[0, len) as a quoted JSON string: repaired into valid UTF-8 by vkslm_utf8_sanitize (each
 * maximal ill-formed subpart becomes U+FFFD, written as \ufffd), then ", \ and control characters escaped. */
void json_str(FILE *f, const char *s, size_t len);
/* A finite number with up to 9 significant digits, or null for NaN and infinities. */
void json_num(FILE *f, double v);
#endif
