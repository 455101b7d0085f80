/* What the measuring tools (tools/bench_*.c) share: medians, the process's CPU time (lavapipe's worker threads
 * included: on a shared machine the steadier clock) and a submission timed both ways. */
#ifndef VKSLM_TOOLS_BENCH_TIMING_H
#define VKSLM_TOOLS_BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

#include "engine/vk/vk.h"

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0 .. n) (sorts v). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n ? (n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0.0;
}

/* CPU time of the whole process, in ms. */
static inline double bench_process_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Submits c and waits; *gpu_ms: the sum of its dispatches' GPU timestamps (the context profiles), *cpu_ms:
 * the process CPU time it took. Returns nonzero when the submission failed. */
static inline int bench_submit_timed(vkslm_cmd *c, double *gpu_ms, double *cpu_ms) {
    double t0 = bench_process_cpu_ms();
    if (vkslm_cmd_submit_wait(c))
        return 1;
    *cpu_ms = bench_process_cpu_ms() - t0;
    const vkslm_timing *tm;
    uint32_t nt = vkslm_cmd_timings(c, &tm);
    double sum = 0;
    for (uint32_t i = 0; i < nt; i++)
        sum += tm[i].gpu_ms;
    *gpu_ms = sum;
    return 0;
}
#endif
