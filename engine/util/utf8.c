/* UTF-8 validation and repair (see utf8.h), and the public vkslm_utf8_sanitize. */
#include "engine/util/utf8.h"

#include <string.h>

#include "vkslm.h"

/* Well-formed sequences (Unicode Table 3-7): the bytes after the lead are 80..BF, except the second
 * byte after E0 (A0..BF: no overlongs), ED (80..9F: no surrogates), F0 (90..BF: no overlongs) and
 * F4 (80..8F: nothing above U+10FFFF). C0, C1 and F5..FF never appear. */
size_t vkslm_utf8_scan(const char *str, size_t n, vkslm_utf8_kind *kind) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) {
        *kind = VKSLM_UTF8_VALID;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *kind = VKSLM_UTF8_INVALID;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if (i == n) {
            *kind = VKSLM_UTF8_TRUNCATED;
            return i;
        }
        if (s[i] < lo || s[i] > hi) {
            *kind = VKSLM_UTF8_INVALID;
            return i;
        }
        lo = 0x80, hi = 0xBF;
    }
    *kind = VKSLM_UTF8_VALID;
    return need;
}

size_t vkslm_utf8_repair(const char *s, size_t n, char *out, int hold_tail, size_t *consumed) {
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = i; /* ASCII runs are copied at once */
        while (run < n && (unsigned char)s[run] < 0x80)
            run++;
        memcpy(out + o, s + i, run - i);
        o += run - i;
        if ((i = run) == n)
            break;
        vkslm_utf8_kind kind;
        size_t len = vkslm_utf8_scan(s + i, n - i, &kind);
        if (kind == VKSLM_UTF8_TRUNCATED && hold_tail)
            break;
        if (kind == VKSLM_UTF8_VALID)
            memcpy(out + o, s + i, len), o += len;
        else
            memcpy(out + o, VKSLM_UTF8_REPLACEMENT, 3), o += 3;
        i += len;
    }
    if (consumed)
        *consumed = i;
    return o;
}

int vkslm_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        vkslm_utf8_kind kind;
        i += vkslm_utf8_scan(s + i, n - i, &kind);
        if (kind != VKSLM_UTF8_VALID)
            return 0;
    }
    return 1;
}

size_t vkslm_utf8_sanitize(const char *in, size_t len, char *out, size_t cap) {
    if (!in)
        len = 0;
    size_t need = 0, written = 0;
    int full = !out || cap == 0;
    for (size_t i = 0; i < len;) {
        vkslm_utf8_kind kind;
        size_t n = vkslm_utf8_scan(in + i, len - i, &kind);
        const char *src = kind == VKSLM_UTF8_VALID ? in + i : VKSLM_UTF8_REPLACEMENT;
        size_t m = kind == VKSLM_UTF8_VALID ? n : 3;
        if (!full && m < cap - written) { /* whole characters only, and room for the NUL */
            memcpy(out + written, src, m);
            written += m;
        } else {
            full = 1;
        }
        need += m;
        i += n;
    }
    if (out && cap)
        out[written] = 0;
    return need;
}
