/* Keyword and pattern rules (engine/router/rules.h), compiled to one PCRE2 program per rule. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "engine/router/rules.h"
#include "engine/util/alloc.h"

typedef struct rule {
    int expert;
    pcre2_code *code;
} rule;

struct vkslm_rules {
    rule *r; /* keywords and patterns of every expert, in expert order */
    size_t n;
};

/* Appends `s` with every ASCII punctuation byte escaped, so that it matches literally. */
static size_t put_literal(char *dst, const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p >= 0x80;
        if (!alnum)
            dst[n++] = '\\';
        dst[n++] = (char)*p;
    }
    return n;
}

static vkslm_status add(vkslm_rules *rs, int expert, const char *name, const char *pattern) {
    int err;
    PCRE2_SIZE at;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP,
                                     &err, &at, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "expert %s: pattern at offset %zu: %s", name, (size_t)at,
                          (const char *)msg);
    }
    rs->r[rs->n].expert = expert;
    rs->r[rs->n].code = code;
    rs->n++;
    return VKSLM_OK;
}

vkslm_status vkslm_rules_create(const vkslm_expert_desc *experts, size_t n, vkslm_rules **out) {
    *out = NULL;
    vkslm_rules *rs = VKSLM_CALLOC(1, sizeof *rs);
    if (!rs || !(rs->r = VKSLM_CALLOC(2 * n + 1, sizeof *rs->r))) {
        VKSLM_FREE(rs);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
    }
    vkslm_status st = VKSLM_OK;
    for (size_t e = 0; e < n && st == VKSLM_OK; e++) {
        const vkslm_expert_desc *d = &experts[e];
        size_t len = 24;
        for (size_t k = 0; k < d->n_keywords; k++)
            len += 2 * strlen(d->keywords[k]) + 1;
        if (d->n_keywords) {
            char *re = VKSLM_MALLOC(len + 16);
            if (!re) {
                st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "router: out of host memory");
                break;
            }
            /* whole words: no word character just before or after (also for keywords like "c++") */
            size_t m = (size_t)sprintf(re, "(?<!\\w)(?:");
            for (size_t k = 0; k < d->n_keywords; k++) {
                if (k)
                    re[m++] = '|';
                m += put_literal(re + m, d->keywords[k]);
            }
            strcpy(re + m, ")(?!\\w)");
            st = add(rs, (int)e, d->name, re);
            VKSLM_FREE(re);
        }
        if (st == VKSLM_OK && d->pattern && d->pattern[0])
            st = add(rs, (int)e, d->name, d->pattern);
    }
    if (st != VKSLM_OK) {
        vkslm_rules_free(rs);
        return st;
    }
    *out = rs;
    return VKSLM_OK;
}

void vkslm_rules_free(vkslm_rules *rs) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        pcre2_code_free(rs->r[i].code);
    VKSLM_FREE(rs->r);
    VKSLM_FREE(rs);
}

int vkslm_rules_match(const vkslm_rules *rs, const char *text) {
    int found = -1;
    for (size_t i = 0; i < rs->n && found < 0; i++) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(rs->r[i].code, NULL);
        if (!md)
            return -1;
        /* invalid UTF-8 in a request is no match rather than an error */
        int rc = pcre2_match(rs->r[i].code, (PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (rc >= 0)
            found = rs->r[i].expert;
    }
    return found;
}
