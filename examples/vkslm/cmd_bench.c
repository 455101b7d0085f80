/* vkslm bench [-m MODEL | --shape NAME --type T] [-p 512] [-n 128] [-r 5] [--device D] [-o md|csv|json]
 * [--chart OUT.png] [--parallel 1,4,8]: prompt processing and generation speed, time to first token, load time, device
 * memory, a per-op GPU profile and decode's fraction of the memory roofline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/runtime/api_internal.h"
#include "engine/runtime/roofline.h"
#include "engine/util/error.h"
#include "engine/util/rng.h"
#include "examples/vkslm/bench.h"
#include "examples/vkslm/cli.h"
#include "engine/util/clock.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm bench [-m MODEL.gguf | --shape NAME --type T] [-p N] [-n N] [-r N] [--device D]\n"
               "                   [-o md|csv|json] [--chart OUT.png] [--price P] [--parallel LIST]\n"
               "  -p N     prompt tokens per prefill test (default 512)\n"
               "  -n N     generated tokens per decode test (default 128)\n"
               "  -r N     repetitions after a warm-up (default 5)\n"
               "  -o FMT   md (default), csv or json\n"
               "  --price P  price of one device-hour (default 1) for the cost of 1e6 queries of -p + -n tokens\n"
               "  --parallel LIST  also N sequences at once for each N of LIST (e.g. 1,4,8; each 1..64):\n"
               "           aggregate prompt and generation tokens/s and the speedup over N = 1\n"
               "Without a model it benchmarks a synthetic smollm2-135m in Q4_0 made on the fly.\n");
}

static void mean_sd(const double *x, uint32_t n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (uint32_t i = 0; i < n; i++)
        s += x[i];
    *mean = n ? s / n : 0;
    for (uint32_t i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of x[0..n) (sorts x); 0 when n is 0. */
static double median(double *x, uint32_t n) {
    if (!n)
        return 0;
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The weight type that holds most of the weight bytes, and the bytes a decode step reads: every
 * weight except the token embedding, which is only gathered by rows (unless it is also the output). */
static void describe_weights(const vkslm_model_dev *m, bench_result *r) {
    uint64_t by_type[VKSLM_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < m->n_tensors; i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(m->gguf, i);
        r->params += t->n_elems;
        if (t->n_dims >= 2 && t->type < VKSLM_TYPE_COUNT)
            by_type[t->type] += t->size;
        if (t != m->w.tok_embd || m->w.tied_output)
            r->weight_bytes_per_token += t->size;
    }
    uint32_t best = 0;
    for (uint32_t i = 1; i < VKSLM_TYPE_COUNT; i++)
        if (by_type[i] > by_type[best])
            best = i;
    const vkslm_type_traits *tr = vkslm_type_info(best);
    snprintf(r->type, sizeof r->type, "%s", tr ? tr->name : "?");
    r->weight_bytes = m->weight_bytes;
}

/* n decode steps from an empty context, starting at token `first`, on a session whose recordings write
 * timestamps: the per-op profile (taken apart from the speed runs, which timestamps would slow down; their
 * pipelines are compiled already). */
static vkslm_status profile_decode(vkslm_model *model, int32_t first, uint32_t n, vkslm_profile *out) {
    vkslm_session_dev *s = NULL;
    vkslm_vk_set_profile(model->vk, 1);
    vkslm_status st = vkslm_session_dev_create(model->vk, model->dev, n + 8, 1, VKSLM_TYPE_F16, &s);
    vkslm_vk_set_profile(model->vk, 0);
    int32_t next = first;
    for (uint32_t i = 0; i < n && st == VKSLM_OK; i++)
        st = vkslm_session_dev_eval(s, &next, 1, VKSLM_GRAPH_ARGMAX, &next);
    if (st == VKSLM_OK)
        *out = s->profile;
    vkslm_session_dev_free(s);
    return st;
}

static vkslm_status run_bench(vkslm_model *model, uint32_t p, uint32_t n, uint32_t reps, bench_result *r) {
    const vkslm_model_dev *m = model->dev;
    vkslm_session_dev *s = NULL;
    uint32_t batch = p < 512 ? (p ? p : 1) : 512;
    vkslm_vk_set_profile(model->vk, 0); /* the speed runs write no timestamps */
    VKSLM_TRY(vkslm_session_dev_create(model->vk, m, p + n + 8, batch, VKSLM_TYPE_F16, &s));
    int32_t *prompt = malloc((p + 1) * sizeof *prompt);
    double *pp = calloc(reps, sizeof *pp), *tg = calloc(reps, sizeof *tg), *ttft = calloc(reps, sizeof *ttft);
    double *rec = calloc((size_t)reps * n + 1, sizeof *rec); /* CPU ms recording each timed decode step */
    uint32_t n_rec = 0;
    vkslm_status st = prompt && pp && tg && ttft && rec ? VKSLM_OK
                                                        : vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of memory");
    vkslm_rng rng;
    vkslm_rng_seed(&rng, 1234);
    for (uint32_t i = 0; i < p + 1 && st == VKSLM_OK; i++)
        prompt[i] = (int32_t)(vkslm_rng_u64(&rng) % m->hp.n_vocab);
    vkslm_profile decode;
    memset(&decode, 0, sizeof decode);
    int tty = isatty(STDERR_FILENO);
    for (int32_t rep = -1; rep < (int32_t)reps && st == VKSLM_OK; rep++) { /* rep -1: warm-up */
        uint32_t pr = rep < 0 ? (p < 16 ? p : 16) : p, nr = rep < 0 ? (n < 4 ? n : 4) : n;
        if (tty)
            fprintf(stderr, "\rbench: %s %d/%u   ", rep < 0 ? "warm-up" : "repetition", rep + 1, reps);
        vkslm_session_dev_rewind(s, 0);
        int32_t next = 0;
        double t0 = vkslm_now_ms();
        if (pr)
            st = vkslm_session_dev_eval(s, prompt, pr, VKSLM_GRAPH_ARGMAX, &next);
        else
            next = prompt[0];
        double t1 = vkslm_now_ms();
        if (st == VKSLM_OK && pr && nr) { /* time to first token: the prefill and one decode step after it */
            st = vkslm_session_dev_eval(s, &next, 1, VKSLM_GRAPH_ARGMAX, &next);
            if (rep >= 0)
                ttft[rep] = vkslm_now_ms() - t0;
        }
        /* tg, as llama-bench measures it: n tokens generated from an empty context */
        vkslm_session_dev_rewind(s, 0);
        next = prompt[0];
        double t1b = vkslm_now_ms();
        for (uint32_t done = 0; done < nr && st == VKSLM_OK; done++) {
            st = vkslm_session_dev_eval(s, &next, 1, VKSLM_GRAPH_ARGMAX, &next);
            if (rep >= 0)
                rec[n_rec++] = s->record_ms;
            if (done == 0 && !pr && rep >= 0)
                ttft[rep] = vkslm_now_ms() - t0;
        }
        double t2 = vkslm_now_ms();
        if (rep < 0 || st != VKSLM_OK)
            continue;
        pp[rep] = pr ? pr / ((t1 - t0) * 1e-3) : 0;
        tg[rep] = nr ? nr / ((t2 - t1b) * 1e-3) : 0;
    }
    uint64_t used = 0, reserved = 0; /* weights, KV cache and buffers of the session */
    vkslm_vk_memory_usage(model->vk, &used, &reserved);
    vkslm_session_dev_free(s);
    s = NULL;
    if (st == VKSLM_OK && n) {
        if (tty)
            fprintf(stderr, "\rbench: profile          ");
        st = profile_decode(model, prompt[0], n, &decode);
    }
    if (tty)
        fprintf(stderr, "\r                          \r");
    if (st == VKSLM_OK) {
        double ttft_sd;
        mean_sd(pp, reps, &r->pp_tps, &r->pp_sd);
        mean_sd(tg, reps, &r->tg_tps, &r->tg_sd);
        mean_sd(ttft, reps, &r->ttft_ms, &ttft_sd);
        r->record_us = median(rec, n_rec) * 1e3;
        r->record_samples = n_rec;
        double total = 0, tokens = (double)n;
        for (uint32_t k = 0; k < decode.n; k++)
            total += decode.op[k].ms;
        r->n_ops = decode.n;
        for (uint32_t k = 0; k < decode.n; k++) {
            bench_op *o = &r->ops[k];
            o->label = decode.op[k].label;
            o->ms_per_token = tokens ? decode.op[k].ms / tokens : 0;
            o->share = total > 0 ? decode.op[k].ms / total : 0;
            o->gbps = decode.op[k].ms > 0 ? decode.op[k].bytes / (decode.op[k].ms * 1e-3) / 1e9 : 0;
            o->gflops = decode.op[k].ms > 0 ? decode.op[k].flops / (decode.op[k].ms * 1e-3) / 1e9 : 0;
            o->dispatches_per_token = tokens ? decode.op[k].dispatches / tokens : 0;
        }
        for (uint32_t i = 0; i < r->n_ops; i++) /* biggest share first */
            for (uint32_t j = i + 1; j < r->n_ops; j++)
                if (r->ops[j].share > r->ops[i].share) {
                    bench_op t = r->ops[i];
                    r->ops[i] = r->ops[j];
                    r->ops[j] = t;
                }
        r->device_memory_bytes = used;
    }
    free(prompt);
    free(pp);
    free(tg);
    free(ttft);
    free(rec);
    vkslm_session_dev_free(s);
    return st;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL, *shape = NULL, *type = "Q4_0", *device = NULL, *fmt = "md", *chart = NULL, *v;
    long p = 512, n = 128, reps = 5;
    float price = 1.0f;
    uint32_t par_ns[BENCH_PAR_MAX], n_par = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "-h") || cli_flag(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = cli_value(argc, argv, &i, "--shape")))
            shape = v;
        else if ((v = cli_value(argc, argv, &i, "--type")))
            type = v;
        else if ((v = cli_value(argc, argv, &i, "-p"))) {
            if (!cli_parse_long("bench", "-p", v, 0, 1 << 16, &p))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "-n"))) {
            if (!cli_parse_long("bench", "-n", v, 0, 1 << 16, &n))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "-r"))) {
            if (!cli_parse_long("bench", "-r", v, 1, 1000, &reps))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--device")))
            device = v;
        else if ((v = cli_value(argc, argv, &i, "-o")))
            fmt = v;
        else if ((v = cli_value(argc, argv, &i, "--chart")))
            chart = v;
        else if ((v = cli_value(argc, argv, &i, "--price"))) {
            if (!cli_parse_float("bench", "--price", v, 0, 1e6f, &price))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--parallel"))) {
            if (!bench_parallel_parse(v, par_ns, &n_par))
                return 2;
        }
        else {
            fprintf(stderr, "vkslm bench: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(fmt, "md") && strcmp(fmt, "csv") && strcmp(fmt, "json")) {
        fprintf(stderr, "vkslm bench: -o wants md, csv or json\n");
        return 2;
    }
    if (p == 0 && n == 0) {
        fprintf(stderr, "vkslm bench: -p and -n are both 0: nothing to measure\n");
        return 2;
    }
    char tmp_model[64] = "";
    if (!model_path) {
        if (bench_make_model(shape ? shape : "smollm2-135m", type, tmp_model, sizeof tmp_model) != 0)
            return 1;
        model_path = tmp_model;
    } else if (shape) {
        fprintf(stderr, "vkslm bench: give -m or --shape, not both\n");
        return 2;
    }
    bench_result r;
    memset(&r, 0, sizeof r);
    r.p = (uint32_t)p;
    r.n = (uint32_t)n;
    r.reps = (uint32_t)reps;
    const char *base = strrchr(model_path, '/');
    snprintf(r.model, sizeof r.model, "%s", tmp_model[0] ? (shape ? shape : "smollm2-135m") : base ? base + 1 : model_path);

    vkslm_model_params mp = vkslm_model_default_params();
    mp.device = device;
    mp.profile = true;
    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    double t0 = vkslm_now_ms();
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    r.load_ms = vkslm_now_ms() - t0;
    if (tmp_model[0])
        unlink(tmp_model);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm bench: %s\n", vkslm_last_error());
        return 1;
    }
    const vkslm_vk_caps *caps = vkslm_vk_get_caps(model->vk);
    snprintf(r.arch, sizeof r.arch, "%s", vkslm_model_arch(model));
    snprintf(r.device, sizeof r.device, "%s", caps->name);
    snprintf(r.device_type, sizeof r.device_type, "%s", vkslm_vk_type_name(caps->type));
    describe_weights(model->dev, &r);
    st = run_bench(model, r.p, r.n, r.reps, &r);
    if (st == VKSLM_OK && n_par) { /* after run_bench, which turned the GPU timestamps off */
        if (bench_parallel_run(model, r.p, r.n, r.reps, par_ns, n_par, r.par) != VKSLM_OK) {
            vkslm_model_free(model);
            return 1;
        }
        r.n_par = n_par;
    }
    if (st == VKSLM_OK) {
        if (caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU) {
            r.roofline_kind = "host_read";
            r.roofline_gbps = vkslm_host_read_gbps(256ull << 20, 0, 5);
        } else {
            r.roofline_kind = "device_copy";
            st = vkslm_device_copy_gbps(model->vk, 256ull << 20, 5, &r.roofline_gbps);
        }
    }
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm bench: %s\n", vkslm_last_error());
        vkslm_model_free(model);
        return 1;
    }
    r.decode_gbps = r.tg_tps * (double)r.weight_bytes_per_token / 1e9;
    r.roofline_fraction = r.roofline_gbps > 0 ? r.decode_gbps / r.roofline_gbps : 0;
    /* the cost argument, measured: device time of one query (prefill + decode) at the given price */
    r.price_per_hour = price;
    r.query_ms = (r.p && r.pp_tps > 0 ? r.p / r.pp_tps * 1e3 : 0) + (r.n && r.tg_tps > 0 ? r.n / r.tg_tps * 1e3 : 0);
    r.queries_per_hour = r.query_ms > 0 ? 3600e3 / r.query_ms : 0;
    r.cost_per_million_queries = r.query_ms / 3600e3 * 1e6 * price;
    vkslm_model_free(model);
    if (!strcmp(fmt, "json"))
        bench_print_json(&r);
    else if (!strcmp(fmt, "csv"))
        bench_print_csv(&r);
    else
        bench_print_md(&r);
    if (chart && !bench_chart_png(&r, chart)) {
        fprintf(stderr, "vkslm bench: cannot write the chart %s\n", chart);
        return 1;
    }
    return 0;
}
