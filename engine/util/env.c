/* Strict reading of environment variables (see env.h). */
#include "engine/util/env.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/error.h"

/* The multiplier of a unit suffix ("", K, KiB, ...), or 0 when s is not one. */
static uint64_t unit_of(const char *s) {
    if (!*s)
        return 1;
    static const char units[] = "KMGT";
    const char *u = strchr(units, s[0] >= 'a' && s[0] <= 'z' ? s[0] - 'a' + 'A' : s[0]);
    if (!u || !*u)
        return 0;
    if (s[1] && strcmp(s + 1, "iB") != 0)
        return 0;
    return 1ull << (10 * (u - units + 1));
}

int vkslm_parse_size(const char *s, int suffixes, uint64_t *out) {
    if (!s || *s < '0' || *s > '9')
        return 0; /* empty, a sign, a space */
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    uint64_t unit = suffixes ? unit_of(s) : (*s ? 0 : 1);
    if (unit == 0 || v > UINT64_MAX / unit)
        return 0;
    *out = v * unit;
    return 1;
}

static vkslm_status env_number(const char *name, int suffixes, uint64_t fallback, uint64_t min, uint64_t max,
                               uint64_t *out) {
    const char *v = getenv(name);
    *out = fallback;
    if (!v)
        return VKSLM_OK;
    uint64_t x;
    if (!vkslm_parse_size(v, suffixes, &x))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "environment variable %s=\"%.64s\" is not %s", name, v,
                          suffixes ? "a byte count (a whole number, optionally followed by K, M, G or T: powers of "
                                     "1024, also written KiB, MiB, GiB, TiB)"
                                   : "a whole number");
    if (x < min || x > max)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "environment variable %s=\"%.64s\" must be at %s %llu", name, v,
                          x < min ? "least" : "most", (unsigned long long)(x < min ? min : max));
    *out = x;
    return VKSLM_OK;
}

vkslm_status vkslm_env_size(const char *name, uint64_t fallback, uint64_t min, uint64_t max, uint64_t *out) {
    return env_number(name, 1, fallback, min, max, out);
}

vkslm_status vkslm_env_uint(const char *name, uint64_t fallback, uint64_t min, uint64_t max, uint64_t *out) {
    return env_number(name, 0, fallback, min, max, out);
}

int vkslm_env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}
