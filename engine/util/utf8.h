/* UTF-8 validation and repair: every text vkslm hands out (generated pieces and text, detokenized text,
 * error and log messages) passes through here, so that it is valid UTF-8 whatever bytes the tokens or the
 * inputs held. Repair follows the "maximal subpart" practice of Unicode §3.9 (U+FFFD substitution, also
 * WHATWG's decoder): each maximal subpart of an ill-formed sequence becomes one U+FFFD. */
#ifndef VKSLM_UTIL_UTF8_H
#define VKSLM_UTIL_UTF8_H

#include <stddef.h>

#define VKSLM_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

typedef enum vkslm_utf8_kind {
    VKSLM_UTF8_VALID = 0,     /* a whole well-formed character */
    VKSLM_UTF8_INVALID = 1,   /* a maximal ill-formed subpart: replace it by one U+FFFD */
    VKSLM_UTF8_TRUNCATED = 2  /* a well-formed prefix that runs to the end: later bytes may complete it */
} vkslm_utf8_kind;

/* Looks at the sequence that starts at s (n >= 1 bytes there) and returns how many bytes it spans:
 * the character's length (VALID), the maximal subpart's (INVALID: overlong forms, surrogates, code points
 * above U+10FFFF, bytes C0, C1, F5..FF and stray continuation bytes are never a prefix of a character),
 * or all n bytes (TRUNCATED). */
size_t vkslm_utf8_scan(const char *s, size_t n, vkslm_utf8_kind *kind);

/* Writes s[0..n) to out as valid UTF-8 (out has room for 3 * n bytes; nothing is NUL-terminated).
 * hold_tail: a truncated sequence at the end is not written (the caller keeps it for the bytes that may
 * complete it); otherwise it becomes U+FFFD. *consumed (may be NULL) gets the bytes of s read. Returns the
 * bytes written. */
size_t vkslm_utf8_repair(const char *s, size_t n, char *out, int hold_tail, size_t *consumed);

/* True when s[0..n) is valid UTF-8. */
int vkslm_utf8_valid(const char *s, size_t n);

#endif
