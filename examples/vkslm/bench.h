/* vkslm bench: the measurements (cmd_bench.c), the synthetic model (bench_model.c), their output
 * (bench_print.c) and the chart (bench_chart.c). */
#ifndef VKSLM_CLI_BENCH_H
#define VKSLM_CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench_parallel.h"

#define BENCH_OPS_MAX 64 /* op kinds of the decode profile kept (vkslm_session_profile) */

typedef struct bench_op {
    const char *label;
    double ms_per_token, share, gbps, gflops, dispatches_per_token;
} bench_op;

typedef struct bench_result {
    char model[256], arch[32], type[16], device[256], device_type[16];
    uint64_t params, weight_bytes, weight_bytes_per_token, device_memory_bytes;
    uint32_t p, n, reps;
    double load_ms, pp_tps, pp_sd, tg_tps, tg_sd, ttft_ms;
    double record_us;        /* median CPU time of recording one decode step (graph and ops, no submit) */
    uint32_t record_samples; /* decode steps that median is over */
    double roofline_gbps, decode_gbps, roofline_fraction;
    const char *roofline_kind; /* "host_read" or "device_copy" */
    /* one query = a prefill of p tokens then n generated; its cost at a price per device-hour */
    double price_per_hour, query_ms, queries_per_hour, cost_per_million_queries;
    uint32_t n_ops;
    bench_op ops[BENCH_OPS_MAX];
    uint32_t n_par;                /* --parallel: one entry per N (bench_parallel.c) */
    bench_par par[BENCH_PAR_MAX];
} bench_result;

void bench_print_md(const bench_result *r);
void bench_print_csv(const bench_result *r);
void bench_print_json(const bench_result *r);
/* Writes a synthetic model of a named shape and type into a temporary file (path set); 0 on success. */
int bench_make_model(const char *shape, const char *type, char *path, size_t cap);
/* Writes a PNG bar chart of the decode profile and the roofline fraction; 0 on failure. */
int bench_chart_png(const bench_result *r, const char *path);
#endif
