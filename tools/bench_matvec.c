/* Decode mat-vec speed: GB/s of weights read by shaders/matmul_vec.comp on a K x N matrix (default
 * 4096 x 4096) for Q4_0, Q8_0, Q4_K and F16 (or the types named on the command line), both strategies,
 * timed with GPU timestamps (the fastest of the reps); next to this machine's memory read bandwidth measured by a plain C loop
 * (1 thread and all threads). Not a test: it measures.
 * With -p M it times the prefill matmul of M tokens instead (tiled shared-memory kernel vs register kernel)
 * and reports GFLOP/s.
 * -s 1 or 2 runs only the first (row per lane / tiled) or second kernel.
 *   vkslm_bench_matvec [-k K] [-n N] [-r reps] [-v vectors] [-p tokens] [-s 1|2] [TYPE...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ops/matmul.h"
#include "engine/runtime/roofline.h"
#include "engine/util/rng.h"
#include "loaders/ggml_types.h"
#include "engine/util/clock.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* strat 1, 2: matvec strategies; with prefill, 1 = tiled matmul, 2 = register matmul */
static int bench_type(vkslm_vk *vk, uint32_t type, uint64_t k, uint64_t n, uint32_t m, int reps, int strat,
                      int prefill) {
    uint64_t rb = vkslm_type_row_bytes(type, k), wbytes = rb * n;
    uint8_t *w = malloc(wbytes);
    float *x = malloc(k * m * 4);
    vkslm_rng r;
    vkslm_rng_seed(&r, 1);
    for (uint64_t i = 0; i < wbytes; i++)
        w[i] = (uint8_t)(vkslm_rng_u64(&r) >> 56);
    /* tame scales are not needed for timing, but keep floats finite: clear exponent-high bits */
    for (uint64_t i = 0; i < k * m; i++)
        x[i] = vkslm_rng_range(&r, -1, 1);
    vkslm_buf bw, bx, bd;
    if (vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, (wbytes + 3) & ~3ull, &bw) || vkslm_vk_upload(vk, &bw, 0, w, wbytes) ||
        vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, k * m * 4, &bx) || vkslm_vk_upload(vk, &bx, 0, x, k * m * 4) ||
        vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, n * m * 4, &bd)) {
        fprintf(stderr, "setup: %s\n", vkslm_last_error());
        return 1;
    }
    vkslm_tensor tw = {&bw, 0, type, {k, n, 1, 1}}, tx = {&bx, 0, VKSLM_TYPE_F32, {k, m, 1, 1}},
                 td = {&bd, 0, VKSLM_TYPE_F32, {n, m, 1, 1}};
    vkslm_matmul_kernel kernel = prefill ? (strat == 1 ? VKSLM_MATMUL_TILED : VKSLM_MATMUL_ROW_PER_LANE)
                                         : (strat == 1 ? VKSLM_MATMUL_ROW_PER_LANE : VKSLM_MATMUL_ROW_PER_SUBGROUP);
    vkslm_cmd *c;
    if (vkslm_cmd_create(vk, &c))
        return 1;
    double *ms = calloc((size_t)reps, sizeof *ms);
    int got = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up (pipeline creation, caches) */
        if (vkslm_cmd_begin(c))
            return 1;
        for (int i = 0; i < reps; i++)
            if (vkslm_op_matmul_ex(c, &td, &tw, &tx, NULL, kernel, 0)) {
                fprintf(stderr, "matvec: %s\n", vkslm_last_error());
                return 1;
            }
        double t0 = vkslm_now_ms();
        if (vkslm_cmd_submit_wait(c))
            return 1;
        double wall = (vkslm_now_ms() - t0) / reps;
        const vkslm_timing *tm;
        uint32_t nt = vkslm_cmd_timings(c, &tm);
        got = 0;
        for (uint32_t i = 0; i < nt && got < reps; i++)
            ms[got++] = tm[i].gpu_ms;
        if (pass == 1) {
            double med = wall;
            if (got) {
                qsort(ms, (size_t)got, sizeof *ms, cmp_double);
                med = ms[0]; /* the fastest rep: the machine is shared, interference only adds */
            }
            const char *what = prefill ? (strat == 1 ? "tiled" : "register")
                                       : (strat == 1 ? "row/lane" : "row/subgroup");
            if (prefill)
                printf("%-6s matmul %-9s %4llux%-5llu m=%u  %8.3f ms  %6.2f GFLOP/s\n", vkslm_type_info(type)->name,
                       what, (unsigned long long)n, (unsigned long long)k, m, med,
                       2.0 * (double)n * (double)k * m / (med * 1e-3) / 1e9);
            else
            printf("%-6s %-13s %4llux%-5llu m=%u  %8.3f ms  %6.2f GB/s of weights  (wall/rep %.3f ms)\n",
                   vkslm_type_info(type)->name, what,
                   (unsigned long long)n, (unsigned long long)k, m, med, (double)wbytes / (med * 1e-3) / 1e9, wall);
        }
    }
    free(ms);
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &bw);
    vkslm_vk_free(vk, &bx);
    vkslm_vk_free(vk, &bd);
    free(w);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    uint64_t k = 4096, n = 4096;
    int reps = 20;
    uint32_t m = 1;
    int prefill = 0, only = 0;
    uint32_t types[32];
    int nt = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-k") && i + 1 < argc)
            k = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-v") && i + 1 < argc)
            m = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            m = (uint32_t)atoi(argv[++i]), prefill = 1;
        else if (nt < 32 && vkslm_type_from_name(argv[i]) >= 0)
            types[nt++] = (uint32_t)vkslm_type_from_name(argv[i]);
        else {
            fprintf(stderr, "usage: %s [-k K] [-n N] [-r reps] [-v vectors] [-p tokens] [-s 1|2] [TYPE...]\n", argv[0]);
            return 2;
        }
    }
    if (!nt) {
        types[nt++] = VKSLM_TYPE_Q4_0;
        types[nt++] = VKSLM_TYPE_Q8_0;
        types[nt++] = VKSLM_TYPE_Q4_K;
        types[nt++] = VKSLM_TYPE_F16;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("host memory read: %.1f GB/s (1 thread), %.1f GB/s (%ld threads)\n",
           vkslm_host_read_gbps(512ull << 20, 1, 3), vkslm_host_read_gbps(512ull << 20, 0, 3), cpus);
    vkslm_vk_options opt = {.profile = 1, .validate = 0};
    vkslm_vk *vk;
    if (vkslm_vk_open(&opt, &vk)) {
        fprintf(stderr, "no device: %s\n", vkslm_last_error());
        return 1;
    }
    printf("device: %s\n", vkslm_vk_get_caps(vk)->name);
    for (int i = 0; i < nt; i++)
        for (int s = 1; s <= 2; s++)
            if ((!only || only == s) && bench_type(vk, types[i], k, n, m, reps, s, prefill))
                return 1;
    vkslm_vk_close(vk);
    return 0;
}
