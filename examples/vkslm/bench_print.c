/* vkslm bench output: a Markdown report, CSV rows, or one JSON object (keys in docs/cli.md). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "json.h"

static void params_str(char *buf, size_t cap, uint64_t n) {
    if (n >= 1000000000ull)
        snprintf(buf, cap, "%.2fB", n / 1e9);
    else if (n >= 1000000ull)
        snprintf(buf, cap, "%.1fM", n / 1e6);
    else
        snprintf(buf, cap, "%.1fK", n / 1e3);
}

void bench_print_md(const bench_result *r) {
    char params[32];
    params_str(params, sizeof params, r->params);
    printf("| model | arch | type | params | weights | device | test | t/s |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    if (r->p)
        printf("| %s | %s | %s | %s | %.1f MiB | %s | pp%u | %.2f ± %.2f |\n", r->model, r->arch, r->type, params,
               r->weight_bytes / 1048576.0, r->device, r->p, r->pp_tps, r->pp_sd);
    if (r->n)
        printf("| %s | %s | %s | %s | %.1f MiB | %s | tg%u | %.2f ± %.2f |\n", r->model, r->arch, r->type, params,
               r->weight_bytes / 1048576.0, r->device, r->n, r->tg_tps, r->tg_sd);
    printf("\nload %.0f ms, time to first token %.1f ms, device memory %.1f MiB, %u repetitions after a warm-up\n",
           r->load_ms, r->ttft_ms, r->device_memory_bytes / 1048576.0, r->reps);
    if (r->record_samples)
        printf("recording one decode step: %.1f us of CPU (median of %u steps)\n", r->record_us, r->record_samples);
    printf("roofline (%s): %.2f GB/s; decode reads %.1f MiB of weights per token = %.3f GB/s = %.2f%% of it\n",
           r->roofline_kind, r->roofline_gbps, r->weight_bytes_per_token / 1048576.0, r->decode_gbps,
           100.0 * r->roofline_fraction);
    printf("cost: a query of %u prompt + %u generated tokens takes %.1f ms = %.0f queries per device-hour; "
           "1e6 queries cost %.4f at %g per device-hour\n",
           r->p, r->n, r->query_ms, r->queries_per_hour, r->cost_per_million_queries, r->price_per_hour);
    bench_parallel_print_md(r->par, r->n_par, r->p, r->n, r->reps);
    if (!r->n_ops)
        return;
    printf("\n| op (decode) | ms/token | share | GB/s | GFLOP/s | dispatches/token |\n");
    printf("|---|---|---|---|---|---|\n");
    for (uint32_t i = 0; i < r->n_ops; i++)
        printf("| %s | %.3f | %.1f%% | %.2f | %.2f | %.1f |\n", r->ops[i].label, r->ops[i].ms_per_token,
               100.0 * r->ops[i].share, r->ops[i].gbps, r->ops[i].gflops, r->ops[i].dispatches_per_token);
}

void bench_print_csv(const bench_result *r) {
    printf("model,arch,type,params,weight_bytes,device,test,n_tokens,tps_mean,tps_sd,ttft_ms,load_ms,"
           "device_memory_bytes,roofline_kind,roofline_gbps,decode_gbps,roofline_fraction,cost_per_million_queries,"
           "n_parallel,speedup\n");
    for (int t = 0; t < 2; t++) {
        uint32_t count = t ? r->n : r->p;
        if (!count)
            continue;
        printf("%s,%s,%s,%llu,%llu,\"%s\",%s,%u,%.4f,%.4f,%.3f,%.1f,%llu,%s,%.4f,%.4f,%.6f,%.6f,1,\n", r->model, r->arch,
               r->type,
               (unsigned long long)r->params, (unsigned long long)r->weight_bytes, r->device, t ? "tg" : "pp", count,
               t ? r->tg_tps : r->pp_tps, t ? r->tg_sd : r->pp_sd, r->ttft_ms, r->load_ms,
               (unsigned long long)r->device_memory_bytes, r->roofline_kind, r->roofline_gbps, r->decode_gbps,
               r->roofline_fraction, r->cost_per_million_queries);
    }
    /* --parallel: aggregate t/s of N sequences; ttft, decode_gbps, roofline_fraction and cost are single-sequence
     * figures, left empty; device memory = weights + the session of N sequences */
    for (uint32_t i = 0; i < r->n_par; i++)
        for (int t = 0; t < 2; t++) {
            const bench_par *b = &r->par[i];
            uint32_t count = t ? r->n : r->p;
            if (!count)
                continue;
            printf("%s,%s,%s,%llu,%llu,\"%s\",%s,%u,%.4f,%.4f,,%.1f,%llu,%s,%.4f,,,,%u,%.4f\n", r->model, r->arch,
                   r->type, (unsigned long long)r->params, (unsigned long long)r->weight_bytes, r->device,
                   t ? "tg_parallel" : "pp_parallel", count, t ? b->tg_tps : b->pp_tps, t ? b->tg_sd : b->pp_sd,
                   r->load_ms, (unsigned long long)(r->weight_bytes + b->session_bytes), r->roofline_kind,
                   r->roofline_gbps, b->n_parallel, t ? b->tg_speedup : b->pp_speedup);
        }
}

static void kv_str(const char *key, const char *val, int comma) {
    printf("  \"%s\": ", key);
    json_str(stdout, val, strlen(val));
    printf("%s\n", comma ? "," : "");
}

static void kv_num(const char *key, double v, int comma) {
    printf("  \"%s\": ", key);
    json_num(stdout, v);
    printf("%s\n", comma ? "," : "");
}

void bench_print_json(const bench_result *r) {
    printf("{\n");
    kv_str("model", r->model, 1);
    kv_str("arch", r->arch, 1);
    kv_str("type", r->type, 1);
    kv_num("params", (double)r->params, 1);
    kv_num("weight_bytes", (double)r->weight_bytes, 1);
    kv_num("weight_bytes_per_token", (double)r->weight_bytes_per_token, 1);
    kv_str("device", r->device, 1);
    kv_str("device_type", r->device_type, 1);
    kv_num("n_prompt", r->p, 1);
    kv_num("n_gen", r->n, 1);
    kv_num("repetitions", r->reps, 1);
    kv_num("load_ms", r->load_ms, 1);
    kv_num("pp_tps", r->pp_tps, 1);
    kv_num("pp_tps_sd", r->pp_sd, 1);
    kv_num("tg_tps", r->tg_tps, 1);
    kv_num("tg_tps_sd", r->tg_sd, 1);
    kv_num("ttft_ms", r->ttft_ms, 1);
    kv_num("decode_record_us", r->record_us, 1);
    kv_num("device_memory_bytes", (double)r->device_memory_bytes, 1);
    kv_str("roofline_kind", r->roofline_kind, 1);
    kv_num("roofline_gbps", r->roofline_gbps, 1);
    kv_num("decode_gbps", r->decode_gbps, 1);
    kv_num("roofline_fraction", r->roofline_fraction, 1);
    kv_num("price_per_device_hour", r->price_per_hour, 1);
    kv_num("query_ms", r->query_ms, 1);
    kv_num("queries_per_device_hour", r->queries_per_hour, 1);
    kv_num("cost_per_million_queries", r->cost_per_million_queries, 1);
    printf("  \"profile\": [");
    for (uint32_t i = 0; i < r->n_ops; i++) {
        const bench_op *o = &r->ops[i];
        printf("%s\n    {\"op\": ", i ? "," : "");
        json_str(stdout, o->label, strlen(o->label));
        printf(", \"ms_per_token\": ");
        json_num(stdout, o->ms_per_token);
        printf(", \"share\": ");
        json_num(stdout, o->share);
        printf(", \"gbps\": ");
        json_num(stdout, o->gbps);
        printf(", \"gflops\": ");
        json_num(stdout, o->gflops);
        printf(", \"dispatches_per_token\": ");
        json_num(stdout, o->dispatches_per_token);
        printf("}");
    }
    printf("%s],\n", r->n_ops ? "\n  " : "");
    bench_parallel_print_json(r->par, r->n_par);
    printf("}\n");
}
