/* UTF-8 coding and lookups in the generated Unicode tables (unicode_data.c). */
#include "engine/tokenizer/unicode_data.h"

uint32_t vkslm_utf8_decode(const char *s, size_t n, size_t *adv) {
    const unsigned char *u = (const unsigned char *)s;
    *adv = 1;
    if (n == 0)
        return VKSLM_UC_INVALID;
    unsigned char c = u[0];
    if (c < 0x80)
        return c;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return VKSLM_UC_INVALID;
    }
    if (len > n)
        return VKSLM_UC_INVALID;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return VKSLM_UC_INVALID;
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return VKSLM_UC_INVALID;
    *adv = len;
    return cp;
}

size_t vkslm_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int find_row(const uint32_t *table, size_t stride, size_t len, uint32_t cp) {
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t key = table[mid * stride];
        if (key == cp)
            return (int)mid;
        if (key < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

unsigned vkslm_uc_flags(uint32_t cp) {
    if (cp > 0x10FFFF)
        return 0;
    size_t lo = 0, hi = vkslm_uc_runs_len; /* last run starting at or before cp */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((vkslm_uc_runs[mid] >> 8) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return vkslm_uc_runs[lo] & 0xFF;
}

int vkslm_uc_lower(uint32_t cp, uint32_t out[2]) {
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    int r = find_row(&vkslm_uc_lower_map[0][0], 3, vkslm_uc_lower_len, cp);
    if (r < 0) {
        out[0] = cp;
        return 1;
    }
    out[0] = vkslm_uc_lower_map[r][1];
    out[1] = vkslm_uc_lower_map[r][2];
    return out[1] ? 2 : 1;
}

int vkslm_uc_strip_accents(uint32_t cp, uint32_t out[3]) {
    if (cp < 0xC0) {
        out[0] = cp;
        return 1;
    }
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: leading, vowel and trailing jamo */
        uint32_t s = cp - 0xAC00, t = s % 28;
        out[0] = 0x1100 + s / (21 * 28);
        out[1] = 0x1161 + (s % (21 * 28)) / 28;
        if (t == 0)
            return 2;
        out[2] = 0x11A7 + t;
        return 3;
    }
    int r = find_row(&vkslm_uc_nfd_map[0][0], 4, vkslm_uc_nfd_len, cp);
    if (r < 0) {
        if (vkslm_uc_flags(cp) & VKSLM_UC_MARK_NS)
            return 0;
        out[0] = cp;
        return 1;
    }
    int n = 0;
    while (n < 3 && vkslm_uc_nfd_map[r][1 + n])
        out[n] = vkslm_uc_nfd_map[r][1 + n], n++;
    return n;
}

int vkslm_uc_is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
