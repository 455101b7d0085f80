/* vkslm serve: API keys. When any key is configured (--api-key, VKSLM_API_KEY, api_keys, api_key_file), a
 * request to a path not in public_paths must bear `Authorization: Bearer KEY`. The comparison takes the
 * same time whatever the key and however much of it matches: every configured key is compared in full
 * over the presented token's length, so neither the time nor an early exit tells a guess how close it came
 * (nor how long the keys are). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

/* 0 when the token equals the key; the work depends only on the token's length. */
static unsigned differs(const char *token, size_t n, const char *key) {
    size_t k = strlen(key); /* configured keys are 8 bytes or more, never empty */
    unsigned d = (unsigned)(n != k);
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)token[i] ^ (unsigned char)key[i % k];
    return d;
}

int serve_auth_ok(const server *sv, const char *authorization) {
    if (!sv->cfg.n_api_keys)
        return 1;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    size_t n = strlen(token);
    while (n && (token[n - 1] == ' ' || token[n - 1] == '\t'))
        n--;
    if (!n)
        return 0;
    unsigned match = 0;
    for (size_t i = 0; i < sv->cfg.n_api_keys; i++) /* no early exit: which key matched does not show */
        match |= differs(token, n, sv->cfg.api_keys[i]) == 0;
    return (int)match;
}

int serve_auth_public(const server *sv, const char *path) {
    for (size_t i = 0; i < sv->cfg.n_public_paths; i++)
        if (strcmp(sv->cfg.public_paths[i], path) == 0)
            return 1;
    return 0;
}
