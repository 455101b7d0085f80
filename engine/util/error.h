/* Internal error reporting: vkslm_fail() records a message for vkslm_last_error() and returns the status,
 * so a failing function can `return vkslm_fail(VKSLM_ERR_IO, "open %s: %s", path, strerror(errno));`. */
#ifndef VKSLM_UTIL_ERROR_H
#define VKSLM_UTIL_ERROR_H

#include "vkslm.h"

#if defined(__GNUC__)
#define VKSLM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VKSLM_PRINTF(a, b)
#endif

vkslm_status vkslm_fail(vkslm_status status, const char *fmt, ...) VKSLM_PRINTF(2, 3);
/* Prefixes the current message with context: "loading x.gguf: <old message>". Returns status. */
vkslm_status vkslm_fail_context(vkslm_status status, const char *fmt, ...) VKSLM_PRINTF(2, 3);
void vkslm_clear_error(void);

/* Logging through the user's callback (engine/util/log.c). */
void vkslm_log(int level, const char *fmt, ...) VKSLM_PRINTF(2, 3);
#define VKSLM_LOG_ERROR 0
#define VKSLM_LOG_WARN 1
#define VKSLM_LOG_INFO 2
#define VKSLM_LOG_DEBUG 3

#define VKSLM_TRY(expr)                    \
    do {                                   \
        vkslm_status try_st_ = (expr);     \
        if (try_st_ != VKSLM_OK)           \
            return try_st_;                \
    } while (0)

#endif
