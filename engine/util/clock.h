/* A monotonic wall clock in milliseconds, for timings, and the calling thread's CPU time. */
#ifndef VKSLM_UTIL_CLOCK_H
#define VKSLM_UTIL_CLOCK_H
#include <time.h>

static inline double vkslm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* CPU time this thread has used, in milliseconds (what recording a step costs, undisturbed by waits). */
static inline double vkslm_thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
#endif
