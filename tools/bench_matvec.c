/* Decode mat-vec speed: GB/s of weights read by shaders/matmul_vec.comp on a K x N matrix (default
 * 4096 x 4096) for Q4_0, Q8_0, Q4_K and F16 (or the types named on the command line), both strategies,
 * timed with GPU timestamps (the fastest of the reps); next to this machine's memory read bandwidth measured by a plain C loop
 * (1 thread and all threads). Not a test: it measures.
 * With -p M it times the prefill matmul of M tokens instead (tiled shared-memory kernel vs register kernel)
 * and reports GFLOP/s.
 * -s 1 or 2 runs only the first (row per lane / tiled) or second kernel.
 * -T T lays the weights out in tiles of T rows (engine/model/weight_tiles.h), as models load on CPU devices
 * (default 1: GGUF's rows); the weights are random bytes, so only the layout changes, not what is timed.
 * With -S it sweeps the batched mat-vec: 1..8 vectors at the shapes of smollm2-135m (K x N = 576x576,
 * 576x1536, 576x3072 (gate|up fused), 1536x576, 576x49152; or the one given by -k/-n), for every kernel
 * of -K (vkslm_matmul_kernel numbers, default 1: row per lane) on the default context, on one context per
 * -E VAR=VALUE (opened with that variable set) and with -B on one with VKSLM_DISABLE_TEXEL=1 (the
 * storage-buffer kernels CPU devices ran before texel buffers). All of them interleave: each of -r rounds
 * submits -b dispatches of every (configuration, vector count) in turn. It prints, per configuration, the
 * medians over the rounds of the GPU-timestamp ms and of the process CPU ms per dispatch (lavapipe's
 * threads included: on a shared machine the steadier of the two), and t(8)/t(1). With -p M (and -S) it
 * times M tokens instead (the prefill matmul; -p 8 is the 8-vector mat-vec alone, for profiling).
 *   vkslm_bench_matvec [-k K] [-n N] [-r reps] [-v vectors] [-p tokens] [-s 1|2] [TYPE...]
 *   vkslm_bench_matvec -S [-B] [-E VAR=VALUE]... [-K k1,k2] [-k K -n N] [-r rounds] [-b batch] [-p M] [TYPE...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cpu/matmul.h"
#include "engine/model/weight_tiles.h"
#include "engine/ops/matmul.h"
#include "engine/runtime/roofline.h"
#include "engine/util/rng.h"
#include "loaders/ggml_types.h"
#include "engine/util/clock.h"
#include "tools/bench_timing.h"


static uint32_t tile_rows = 1; /* -T */

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
    if (tile_rows > 1) {
        if (!vkslm_tile_ok(type, k, n, tile_rows)) {
            fprintf(stderr, "%s %llu x %llu: no whole tiles of %u rows\n", vkslm_type_info(type)->name,
                    (unsigned long long)k, (unsigned long long)n, tile_rows);
            return 1;
        }
        tw.tile = tile_rows;
    }
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
                qsort(ms, (size_t)got, sizeof *ms, bench_cmp_double);
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


/* One configuration the sweep times: a kernel on a context (the default one, or one opened with
 * VKSLM_DISABLE_TEXEL=1: the storage-buffer kernels, what CPU devices ran before texel buffers). */
typedef struct sweep_cfg {
    vkslm_vk *vk;
    int kernel;
    const char *label;
    vkslm_buf bw, bx, bd;
    int x8; /* the context takes x in 8 bits for this weight type: bx holds x so (engine/ops/matmul.h) */
} sweep_cfg;

/* 1..8 vectors of every configuration, interleaved: each round submits `batch` dispatches of every
 * (configuration, vectors) in turn. Two medians over the rounds: GPU timestamps per dispatch, and the
 * process's CPU time per dispatch (on a CPU device the work itself, undisturbed by other processes sharing
 * the cores). With prefill > 0 it times that many tokens (groups of 8) instead, one cell per configuration. */
#define SWEEP_VEC 8
static int sweep_shape(sweep_cfg *cfg, int ncfg, uint32_t type, uint64_t k, uint64_t n, int reps, int batch,
                       uint32_t prefill) {
    uint64_t rb = vkslm_type_row_bytes(type, k), wbytes = rb * n, m = prefill ? prefill : SWEEP_VEC;
    uint8_t *w = malloc(wbytes);
    float *x = malloc(k * m * 4);
    vkslm_rng r;
    vkslm_rng_seed(&r, 7);
    for (uint64_t i = 0; i < wbytes; i++)
        w[i] = (uint8_t)(vkslm_rng_u64(&r) >> 56);
    if (vkslm_type_info(type)->block_elems > 1) /* finite f16 scales: clear exponent-high bits of odd bytes */
        for (uint64_t i = 1; i < wbytes; i += 2)
            w[i] &= 0x3b;
    for (uint64_t i = 0; i < k * m; i++)
        x[i] = vkslm_rng_range(&r, -1, 1);
    /* x in 8 bits, for the contexts whose products of this type take it (what the model's graph feeds them) */
    uint64_t x8_bytes = vkslm_x8_pair_ints(k) * vkslm_x8_pairs(m) * 4;
    int32_t *x8 = malloc(x8_bytes);
    if (!w || !x || !x8)
        return 1;
    vkslm_cpu_quantize_x8(x8, x, k, m);
    vkslm_cmd *cmd[8];
    for (int c = 0; c < ncfg; c++) {
        sweep_cfg *g = &cfg[c];
        vkslm_tensor probe = {&g->bw, 0, type, {k, n, 1, 1}, .tile = tile_rows};
        g->x8 = g->kernel == VKSLM_MATMUL_ROW_PER_LANE && vkslm_op_matmul_x8_type(g->vk, &probe);
        if (vkslm_vk_alloc(g->vk, VKSLM_MEM_DEVICE, (wbytes + 3) & ~3ull, &g->bw) ||
            vkslm_vk_upload(g->vk, &g->bw, 0, w, wbytes) ||
            vkslm_vk_alloc(g->vk, VKSLM_MEM_DEVICE, g->x8 ? x8_bytes : k * m * 4, &g->bx) ||
            vkslm_vk_upload(g->vk, &g->bx, 0, g->x8 ? (const void *)x8 : x, g->x8 ? x8_bytes : k * m * 4) ||
            vkslm_vk_alloc(g->vk, VKSLM_MEM_DEVICE, n * m * 4, &g->bd) || vkslm_cmd_create(g->vk, &cmd[c])) {
            fprintf(stderr, "setup: %s\n", vkslm_last_error());
            return 1;
        }
    }
    int nv = prefill ? 1 : SWEEP_VEC, cells = ncfg * nv;
    double *gpu = calloc((size_t)reps * cells, sizeof *gpu), *cpu = calloc((size_t)reps * cells, sizeof *cpu);
    double *col = calloc((size_t)(reps > 4096 ? reps : 4096), sizeof *col);
    for (int round = -1; round < reps; round++) /* round -1 warms up (pipeline creation, caches) */
        for (int cell = 0; cell < cells; cell++) {
            sweep_cfg *g = &cfg[cell / nv];
            vkslm_cmd *c = cmd[cell / nv];
            uint64_t v = prefill ? prefill : (uint64_t)(cell % nv) + 1;
            vkslm_tensor tw = {&g->bw, 0, type, {k, n, 1, 1}}, tx = {&g->bx, 0, VKSLM_TYPE_F32, {k, v, 1, 1}},
                         td = {&g->bd, 0, VKSLM_TYPE_F32, {n, v, 1, 1}};
            if (tile_rows > 1 && vkslm_tile_ok(type, k, n, tile_rows)) /* (-T: the weights as models lay them out) */
                tw.tile = tile_rows;
            if (g->x8)
                tx = (vkslm_tensor){&g->bx, 0, VKSLM_TYPE_I32, {vkslm_x8_pair_ints(k), vkslm_x8_pairs(v), 1, 1}};
            if (vkslm_cmd_begin(c))
                return 1;
            for (int i = 0; i < batch; i++)
                if (vkslm_op_matmul_ex(c, &td, &tw, &tx, NULL, (vkslm_matmul_kernel)g->kernel, 0)) {
                    fprintf(stderr, "matvec: %s\n", vkslm_last_error());
                    return 1;
                }
            double sum, cpu_ms;
            if (bench_submit_timed(c, &sum, &cpu_ms))
                return 1;
            if (round < 0)
                continue;
            gpu[round * cells + cell] = sum / batch; /* split dispatches add up */
            cpu[round * cells + cell] = cpu_ms / batch;
        }
    for (int c = 0; c < ncfg; c++)
        for (int which = 0; which < 2; which++) {
            double med[SWEEP_VEC], *src = which ? cpu : gpu;
            for (int v = 0; v < nv; v++) {
                for (int i = 0; i < reps; i++)
                    col[i] = src[i * cells + c * nv + v];
                med[v] = bench_median(col, reps);
            }
            printf("%-6s %5llux%-6llu %-14s %s", vkslm_type_info(type)->name, (unsigned long long)k,
                   (unsigned long long)n, cfg[c].label, which ? "cpu" : "gpu");
            if (prefill)
                printf(" m=%u %8.3f ms  %6.2f GFLOP/s\n", prefill, med[0], 2.0 * (double)n * (double)k * prefill /
                                                                         (med[0] * 1e-3) / 1e9);
            else {
                for (int v = 0; v < nv; v++)
                    printf(" %7.3f", med[v]);
                printf("  t8/t1 %.2f\n", med[SWEEP_VEC - 1] / med[0]);
            }
        }
    fflush(stdout);
    free(gpu), free(cpu), free(col);
    for (int c = 0; c < ncfg; c++) {
        vkslm_cmd_destroy(cmd[c]);
        vkslm_vk_free(cfg[c].vk, &cfg[c].bw), vkslm_vk_free(cfg[c].vk, &cfg[c].bx);
        vkslm_vk_free(cfg[c].vk, &cfg[c].bd);
    }
    free(w), free(x), free(x8);
    return 0;
}

int main(int argc, char **argv) {
    uint64_t k = 4096, n = 4096;
    int reps = 20;
    uint32_t m = 1;
    int batch = 4, prefill = 0, only = 0, sweep = 0, kernels[8] = {VKSLM_MATMUL_ROW_PER_LANE}, nk = 1, base = 0;
    const char *envs[4];
    int nenv = 0;
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
        else if (!strcmp(argv[i], "-T") && i + 1 < argc)
            tile_rows = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-b") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-S"))
            sweep = 1;
        else if (!strcmp(argv[i], "-B"))
            base = 1;
        else if (!strcmp(argv[i], "-E") && i + 1 < argc && nenv < 4 && strchr(argv[i + 1], '='))
            envs[nenv++] = argv[++i];
        else if (!strcmp(argv[i], "-K") && i + 1 < argc) {
            nk = 0;
            for (char *p = argv[++i]; *p && nk < 8;) {
                kernels[nk++] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
                else
                    break;
            }
        } else if (nt < 32 && vkslm_type_from_name(argv[i]) >= 0)
            types[nt++] = (uint32_t)vkslm_type_from_name(argv[i]);
        else {
            fprintf(stderr, "usage: %s [-k K] [-n N] [-r reps] [-v vectors] [-p tokens] [-s 1|2] [-T tile] [TYPE...]\n",
                    argv[0]);
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
    if (!sweep)
        printf("host memory read: %.1f GB/s (1 thread), %.1f GB/s (%ld threads)\n",
           vkslm_host_read_gbps(512ull << 20, 1, 3), vkslm_host_read_gbps(512ull << 20, 0, 3), cpus);
    vkslm_vk_options opt = {.profile = 1, .validate = 0};
    vkslm_vk *vk;
    if (vkslm_vk_open(&opt, &vk)) {
        fprintf(stderr, "no device: %s\n", vkslm_last_error());
        return 1;
    }
    printf("device: %s, subgroup %u\n", vkslm_vk_get_caps(vk)->name, vkslm_vk_get_caps(vk)->subgroup_size);
    if (sweep) {
        static const uint64_t shapes[][2] = {{576, 576}, {576, 1536}, {576, 3072}, {1536, 576}, {576, 49152}};
        static const char *names[] = {"auto", "lane", "subgroup", "tiled"};
        static char labels[8][32];
        /* contexts: the default one, one per -E VAR=VALUE (opened with it set), and with -B one without
         * texel buffers (the storage-buffer kernels CPU devices ran before) */
        vkslm_vk *ctx[6] = {vk};
        const char *ctx_name[6] = {""};
        int nctx = 1;
        if (base)
            envs[nenv++] = "VKSLM_DISABLE_TEXEL=1";
        for (int e = 0; e < nenv; e++) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(envs[e], '=') - envs[e]), envs[e]);
            setenv(name, strchr(envs[e], '=') + 1, 1);
            int bad = vkslm_vk_open(&opt, &ctx[nctx]);
            unsetenv(name);
            if (bad) {
                fprintf(stderr, "no device: %s\n", vkslm_last_error());
                return 1;
            }
            ctx_name[nctx++] = !strcmp(envs[e], "VKSLM_DISABLE_TEXEL=1") ? "ssbo" : envs[e];
        }
        sweep_cfg cfg[8];
        int ncfg = 0;
        for (int i = 0; i < nk && ncfg < 8; i++)
            for (int b = 0; b < nctx && ncfg < 8; b++) {
                snprintf(labels[ncfg], sizeof labels[ncfg], "%s%s%s", kernels[i] >= 0 && kernels[i] < 4 ?
                         names[kernels[i]] : "?", b ? "/" : "", ctx_name[b]);
                cfg[ncfg] = (sweep_cfg){.vk = ctx[b], .kernel = kernels[i], .label = labels[ncfg]};
                ncfg++;
            }
        int given = k != 4096 || n != 4096;
        printf("median ms per dispatch, %s (%d rounds of %d dispatches each)\n",
               prefill ? "prefill" : "1..8 vectors", reps, batch);
        for (int i = 0; i < nt; i++)
            for (size_t s = 0; s < (given ? 1 : sizeof shapes / sizeof *shapes); s++)
                if (sweep_shape(cfg, ncfg, types[i], given ? k : shapes[s][0], given ? n : shapes[s][1], reps, batch,
                                prefill ? m : 0))
                    return 1;
        for (int b = 1; b < nctx; b++)
            vkslm_vk_close(ctx[b]);
        vkslm_vk_close(vk);
        return 0;
    }
    for (int i = 0; i < nt; i++)
        for (int s = 1; s <= 2; s++)
            if ((!only || only == s) && bench_type(vk, types[i], k, n, m, reps, s, prefill))
                return 1;
    vkslm_vk_close(vk);
    return 0;
}
