#include "json.h"

#include <math.h>
#include <stdlib.h>

#include "vkslm.h"

/* Writes valid UTF-8 s[0, len) as the inside of a JSON string; U+FFFD as the escape \ufffd, so that
 * replaced bytes stay visible as such. */
static void escape(FILE *f, const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned c = s[i];
        if (c == 0xEF && i + 2 < len && s[i + 1] == 0xBF && s[i + 2] == 0xBD) {
            fputs("\\ufffd", f);
            i += 2;
        } else if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc((int)c, f);
        }
    }
}

void json_str(FILE *f, const char *s, size_t len) {
    char small[1024];
    size_t need = vkslm_utf8_sanitize(s, len, NULL, 0) + 1;
    char *text = need <= sizeof small ? small : malloc(need);
    fputc('"', f);
    if (text) {
        vkslm_utf8_sanitize(s, len, text, need);
        escape(f, (const unsigned char *)text, need - 1);
    } else { /* no memory for the repaired copy: keep ASCII, replace the rest */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x80)
                escape(f, (const unsigned char *)s + i, 1);
            else if (((unsigned char)s[i] & 0xC0) != 0x80)
                fputs("\\ufffd", f);
    }
    fputc('"', f);
    if (text != small)
        free(text);
}

void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}
