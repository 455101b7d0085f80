/* Environment variables, read strictly: a numeric value that is not exactly a number (trailing text, a
 * sign, an overflow, nothing at all) fails the call that reads it with VKSLM_ERR_INVALID_ARG and a message
 * naming the variable and its value; it is never ignored or half read. */
#ifndef VKSLM_UTIL_ENV_H
#define VKSLM_UTIL_ENV_H

#include <stdint.h>

#include "vkslm.h"

/* Parses s as a non-negative decimal integer, optionally followed (when `suffixes`) by a binary unit:
 * K, M, G or T (either case), alone or as KiB, MiB, GiB, TiB: times 1024, 1024^2, 1024^3, 1024^4. Nothing
 * else may follow or precede it (no spaces, signs, hexadecimal, "GB"). Returns 1 and sets *out, or 0. */
int vkslm_parse_size(const char *s, int suffixes, uint64_t *out);

/* A byte count from env `name` (with suffixes) in [min, max]; unset: *out = fallback. */
vkslm_status vkslm_env_size(const char *name, uint64_t fallback, uint64_t min, uint64_t max, uint64_t *out);
/* A plain integer (no suffix) from env `name` in [min, max]; unset: *out = fallback. */
vkslm_status vkslm_env_uint(const char *name, uint64_t fallback, uint64_t min, uint64_t max, uint64_t *out);
/* A switch: set to anything but "", "0" or "false". */
int vkslm_env_flag(const char *name);

#endif
