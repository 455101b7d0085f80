/* Thread-local last-error message, status names, version, and the log callback. */
#include "engine/util/error.h"
#include "engine/util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

/* Messages may quote untrusted bytes (file contents, paths, requests): they are stored as valid UTF-8. */
static void set_error(const char *msg) { vkslm_utf8_sanitize(msg, strlen(msg), last_error, sizeof last_error); }

vkslm_status vkslm_fail(vkslm_status status, const char *fmt, ...) {
    char msg[sizeof last_error]; /* arguments may point into last_error */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(msg);
    return status;
}

vkslm_status vkslm_fail_context(vkslm_status status, const char *fmt, ...) {
    char prefix[256], msg[sizeof prefix + 2 + sizeof last_error]; /* cut to last_error's size when stored */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s: %s", prefix, last_error);
    set_error(msg);
    return status;
}

void vkslm_clear_error(void) { last_error[0] = '\0'; }

const char *vkslm_last_error(void) { return last_error; }

const char *vkslm_version(void) { return VKSLM_VERSION_STRING; }

const char *vkslm_status_str(vkslm_status s) {
    switch (s) {
    case VKSLM_OK: return "ok";
    case VKSLM_ERR_INVALID_ARG: return "invalid argument";
    case VKSLM_ERR_NOT_FOUND: return "not found";
    case VKSLM_ERR_IO: return "i/o error";
    case VKSLM_ERR_FORMAT: return "malformed input";
    case VKSLM_ERR_UNSUPPORTED: return "unsupported";
    case VKSLM_ERR_TOO_COMPLEX: return "input too complex";
    case VKSLM_ERR_NO_VULKAN: return "no Vulkan driver";
    case VKSLM_ERR_NO_DEVICE: return "no Vulkan device";
    case VKSLM_ERR_VULKAN: return "Vulkan error";
    case VKSLM_ERR_FEATURE_MISSING: return "device feature missing";
    case VKSLM_ERR_DEVICE_LOST: return "device lost";
    case VKSLM_ERR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VKSLM_ERR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VKSLM_ERR_LIMIT: return "limit exceeded";
    case VKSLM_ERR_BUSY: return "busy";
    }
    return "unknown status";
}

/* ---- logging ---------------------------------------------------------------------------------- */
static vkslm_log_fn log_fn;
static int log_max_level;
static void *log_user;

void vkslm_set_log(vkslm_log_fn fn, int max_level, void *user_data) {
    log_fn = fn;
    log_max_level = max_level;
    log_user = user_data;
}

void vkslm_log(int level, const char *fmt, ...) {
    if (!log_fn || level > log_max_level)
        return;
    char msg[1024], text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vkslm_utf8_sanitize(msg, strlen(msg), text, sizeof text);
    log_fn(level, text, log_user);
}
