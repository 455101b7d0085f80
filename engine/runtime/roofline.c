#include "engine/runtime/roofline.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/clock.h"

typedef struct reader {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} reader;

static void *read_part(void *arg) {
    reader *r = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 4 <= r->n; i += 4) { /* four independent sums keep several loads in flight */
        a += r->p[i];
        b += r->p[i + 1];
        c += r->p[i + 2];
        d += r->p[i + 3];
    }
    for (; i < r->n; i++)
        a += r->p[i];
    r->sum = a + b + c + d;
    return NULL;
}

double vkslm_host_read_gbps(uint64_t bytes, int threads, int reps) {
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > 64)
        threads = 64;
    size_t words = (size_t)(bytes / 8);
    uint64_t *buf = VKSLM_MALLOC(words * 8);
    if (!buf || words < (size_t)threads)
        return (VKSLM_FREE(buf), 0.0);
    for (size_t i = 0; i < words; i++) /* touch every page: the first read must not fault them in */
        buf[i] = i;
    double best = 0;
    pthread_t tid[64];
    int created[64];
    reader rd[64];
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = vkslm_now_ms();
        for (int t = 0; t < threads; t++) {
            size_t lo = words * (size_t)t / (size_t)threads, hi = words * (size_t)(t + 1) / (size_t)threads;
            rd[t] = (reader){buf + lo, hi - lo, 0};
            created[t] = t > 0 && pthread_create(&tid[t], NULL, read_part, &rd[t]) == 0;
        }
        read_part(&rd[0]);
        for (int t = 1; t < threads; t++) {
            if (created[t])
                pthread_join(tid[t], NULL);
            else
                read_part(&rd[t]); /* no thread: read it here */
            sink += rd[t].sum;
        }
        double dt = (vkslm_now_ms() - t0) * 1e-3; /* s */
        sink += rd[0].sum;
        if (dt > 0 && words * 8.0 / dt / 1e9 > best)
            best = words * 8.0 / dt / 1e9;
    }
    (void)sink;
    VKSLM_FREE(buf);
    return best;
}

vkslm_status vkslm_device_copy_gbps(vkslm_vk *vk, uint64_t bytes, int reps, double *gbps) {
    *gbps = 0;
    vkslm_buf a, b;
    VKSLM_TRY(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, bytes, &a));
    vkslm_status st = vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, bytes, &b);
    if (st != VKSLM_OK) {
        vkslm_vk_free(vk, &a);
        return st;
    }
    vkslm_cmd *c = NULL;
    st = vkslm_cmd_create(vk, &c);
    for (int rep = -1; rep < reps && st == VKSLM_OK; rep++) { /* rep -1 warms up */
        double t0 = vkslm_now_ms();
        st = vkslm_cmd_begin(c);
        for (int i = 0; i < 4 && st == VKSLM_OK; i++) /* alternate directions: each copy depends on the last */
            st = i % 2 ? vkslm_cmd_copy(c, &b, 0, &a, 0, bytes) : vkslm_cmd_copy(c, &a, 0, &b, 0, bytes);
        if (st == VKSLM_OK)
            st = vkslm_cmd_submit_wait(c);
        double dt = (vkslm_now_ms() - t0) * 1e-3; /* s */
        if (st == VKSLM_OK && rep >= 0 && dt > 0 && 8.0 * bytes / dt / 1e9 > *gbps)
            *gbps = 8.0 * bytes / dt / 1e9;
    }
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &a);
    vkslm_vk_free(vk, &b);
    return st;
}
