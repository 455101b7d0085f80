/* --lora PATH[:SCALE] (run, score, chat, perplexity, bench): parsing, loading onto the model, selecting the
 * adapters for a session's sequences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_lora_parse(const char *cmd, const char *arg, cli_lora *o) {
    if (o->n == CLI_LORA_MAX) {
        fprintf(stderr, "vkslm %s: at most %d --lora adapters\n", cmd, CLI_LORA_MAX);
        return 0;
    }
    /* PATH:SCALE when the text after the last ':' is a number; otherwise all of it is the path */
    const char *colon = strrchr(arg, ':');
    float scale = 1.0f;
    size_t len = strlen(arg);
    if (colon && colon[1]) {
        char *end;
        float s = strtof(colon + 1, &end);
        if (*end == 0) {
            if (!cli_parse_float(cmd, "--lora SCALE", colon + 1, -1e6f, 1e6f, &scale))
                return 0;
            len = (size_t)(colon - arg);
            (void)s;
        }
    }
    if (len == 0 || len >= sizeof o->path[0]) {
        fprintf(stderr, "vkslm %s: --lora wants PATH[:SCALE], not '%s'\n", cmd, arg);
        return 0;
    }
    memcpy(o->path[o->n], arg, len);
    o->path[o->n][len] = 0;
    o->scale[o->n] = scale;
    o->lora[o->n] = NULL;
    o->n++;
    return 1;
}

int cli_lora_load(const char *cmd, vkslm_model *m, cli_lora *o) {
    for (int i = 0; i < o->n; i++)
        if (!o->lora[i] && vkslm_lora_load(m, o->path[i], &o->lora[i]) != VKSLM_OK) {
            fprintf(stderr, "vkslm %s: --lora: %s\n", cmd, vkslm_last_error());
            return 0;
        }
    return 1;
}

int cli_lora_spread(const char *cmd, vkslm_session *s, uint32_t n_seq, const cli_lora *o) {
    for (uint32_t q = 0; q < n_seq && o->n; q++)
        if (vkslm_seq_set_lora(s, (int32_t)q, &o->lora[q % (uint32_t)o->n], &o->scale[q % (uint32_t)o->n], 1) !=
            VKSLM_OK) {
            fprintf(stderr, "vkslm %s: --lora: %s\n", cmd, vkslm_last_error());
            return 0;
        }
    return 1;
}

int cli_lora_attach(const char *cmd, vkslm_model *m, vkslm_session *s, uint32_t n_seq, cli_lora *o) {
    if (!cli_lora_load(cmd, m, o))
        return 0;
    for (uint32_t q = 0; q < n_seq && o->n; q++)
        if (vkslm_seq_set_lora(s, (int32_t)q, o->lora, o->scale, (size_t)o->n) != VKSLM_OK) {
            fprintf(stderr, "vkslm %s: --lora: %s\n", cmd, vkslm_last_error());
            return 0;
        }
    return 1;
}

uint64_t cli_lora_bytes(const cli_lora *o) {
    uint64_t n = 0;
    for (int i = 0; i < o->n; i++)
        n += vkslm_lora_device_bytes(o->lora[i]);
    return n;
}

void cli_lora_free(cli_lora *o) {
    for (int i = 0; i < o->n; i++) {
        vkslm_lora_free(o->lora[i]);
        o->lora[i] = NULL;
    }
}
