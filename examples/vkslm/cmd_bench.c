/* vkslm bench [-m MODEL | --shape NAME --type T] [-p 512] [-n 128] [-r 5] [--device D] [-o md|csv|json]
 * [--chart OUT.png] [--parallel 1,4,8]: prompt processing and generation speed (also of N sequences decoded
 * together), time to first token, load time, device memory, a per-op GPU profile and decode's fraction of
 * the memory roofline. Built on the public API only: the speed runs on a model loaded without profiling
 * (timestamps would slow them down), the profile on a second load of the same file with
 * vkslm_model_params.profile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "vkslm.h"
#include "vkslm_gguf.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vkslm bench [-m MODEL.gguf | --shape NAME --type T] [-p N] [-n N] [-r N] [--device D]\n"
               "                   [-o md|csv|json] [--chart OUT.png] [--price P] [--parallel LIST]\n"
               "                   [--lora PATH[:SCALE]]...\n"
               "  -p N     prompt tokens per prefill test (default 512)\n"
               "  -n N     generated tokens per decode test (default 128)\n"
               "  -r N     repetitions after a warm-up (default 5)\n"
               "  -o FMT   md (default), csv or json\n"
               "  --price P  price of one device-hour (default 1) for the cost of 1e6 queries of -p + -n tokens\n"
               "  --parallel LIST  also N sequences at once for each N of LIST (e.g. 1,4,8; each 1..64):\n"
               "           aggregate prompt and generation tokens/s and the speedup over N = 1\n"
               "  --lora PATH[:SCALE]  a LoRA adapter (repeatable); sequence j of a batch uses adapter j mod K,\n"
               "           so --parallel 8 with three adapters runs three distinct adapters in each step; the\n"
               "           single-sequence tests use the first\n"
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

/* The prompt's random ids: splitmix64 seeding xorshift64* (seed 1234, as always). */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}
static uint64_t rng_seed(uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) | 1u;
}

static int is_name(vkslm_str s, const char *name) { return s.len == strlen(name) && memcmp(s.ptr, name, s.len) == 0; }

/* From the file's tensor table: the parameters, the weight type that holds most of the weight bytes, and the
 * bytes a decode step reads: every weight except the token embedding, which is only gathered by rows (unless
 * it is also the output matrix: no output.weight). */
static int describe_weights(const char *path, bench_result *r) {
    vkslm_gguf *g;
    if (vkslm_gguf_open_file(path, &g) != VKSLM_OK)
        return 0;
    int tied = vkslm_gguf_find_tensor(g, "output.weight") == NULL;
    uint64_t by_type[VKSLM_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        r->params += t->n_elems;
        if (t->n_dims >= 2 && t->type < VKSLM_TYPE_COUNT)
            by_type[t->type] += t->size;
        if (!is_name(t->name, "token_embd.weight") || tied)
            r->weight_bytes_per_token += t->size;
    }
    vkslm_gguf_close(g);
    uint32_t best = 0;
    for (uint32_t i = 1; i < VKSLM_TYPE_COUNT; i++)
        if (by_type[i] > by_type[best])
            best = i;
    const vkslm_type_traits *tr = vkslm_type_info(best);
    snprintf(r->type, sizeof r->type, "%s", tr ? tr->name : "?");
    return 1;
}

static int fail(const char *what) {
    fprintf(stderr, "vkslm bench: %s%s%s\n", what ? what : "", what ? ": " : "", vkslm_last_error());
    return 1;
}

/* A session of n_ctx tokens and n_batch tokens per step (F16 KV cache). */
static vkslm_session *open_session(vkslm_model *model, uint32_t n_ctx, uint32_t n_batch) {
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    vkslm_session *s = NULL;
    return vkslm_session_create(model, &sp, &s) == VKSLM_OK ? s : NULL;
}

/* The speed runs (greedy steps that read back only the argmax) and the device memory they use; 0 on success,
 * else 1 after a message. */
static int run_speed(vkslm_model *model, const int32_t *prompt, uint32_t p, uint32_t n, uint32_t reps,
                     const cli_lora *lo, bench_result *r) {
    uint32_t batch = p < 512 ? (p ? p : 1) : 512;
    vkslm_session *s = open_session(model, p + n + 8, batch);
    if (!s)
        return fail(NULL);
    if (!cli_lora_spread("bench", s, 1, lo)) {
        vkslm_session_free(s);
        return 1;
    }
    double *pp = calloc(reps, sizeof *pp), *tg = calloc(reps, sizeof *tg), *ttft = calloc(reps, sizeof *ttft);
    double *rec = calloc((size_t)reps * n + 1, sizeof *rec); /* CPU ms recording each timed decode step */
    uint32_t n_rec = 0;
    int rc = 0;
    if (!pp || !tg || !ttft || !rec) {
        fprintf(stderr, "vkslm bench: out of memory\n");
        rc = 1;
    }
    vkslm_status st = VKSLM_OK;
    int tty = isatty(STDERR_FILENO);
    for (int32_t rep = -1; rep < (int32_t)reps && st == VKSLM_OK && !rc; rep++) { /* rep -1: warm-up */
        /* the warm-up prefills the whole prompt (its step shapes may need pipelines of their own, which the
         * first timed repetition must not pay for) and decodes up to 4 tokens */
        uint32_t pr = p, nr = rep < 0 ? (n < 4 ? n : 4) : n;
        if (tty)
            fprintf(stderr, "\rbench: %s %d/%u   ", rep < 0 ? "warm-up" : "repetition", rep + 1, reps);
        vkslm_session_rewind(s, 0);
        int32_t next = 0;
        double t0 = cli_now_ms();
        if (pr)
            st = vkslm_session_eval_argmax(s, prompt, pr, &next);
        else
            next = prompt[0];
        double t1 = cli_now_ms();
        if (st == VKSLM_OK && pr && nr) { /* time to first token: the prefill and one decode step after it */
            next = next < 0 ? 0 : next;
            st = vkslm_session_eval_argmax(s, &next, 1, &next);
            if (rep >= 0)
                ttft[rep] = cli_now_ms() - t0;
        }
        /* tg, as llama-bench measures it: n tokens generated from an empty context */
        vkslm_session_rewind(s, 0);
        next = prompt[0];
        double t1b = cli_now_ms();
        for (uint32_t done = 0; done < nr && st == VKSLM_OK; done++) {
            next = next < 0 ? 0 : next; /* no logit above -inf: go on from token 0 */
            st = vkslm_session_eval_argmax(s, &next, 1, &next);
            if (rep >= 0)
                rec[n_rec++] = vkslm_session_record_ms(s);
            if (done == 0 && !pr && rep >= 0)
                ttft[rep] = cli_now_ms() - t0;
        }
        double t2 = cli_now_ms();
        if (rep < 0 || st != VKSLM_OK)
            continue;
        pp[rep] = pr ? pr / ((t1 - t0) * 1e-3) : 0;
        tg[rep] = nr ? nr / ((t2 - t1b) * 1e-3) : 0;
    }
    if (st != VKSLM_OK)
        rc = fail(NULL);
    if (!rc) {
        double ttft_sd;
        mean_sd(pp, reps, &r->pp_tps, &r->pp_sd);
        mean_sd(tg, reps, &r->tg_tps, &r->tg_sd);
        mean_sd(ttft, reps, &r->ttft_ms, &ttft_sd);
        r->record_us = median(rec, n_rec) * 1e3;
        r->record_samples = n_rec;
        r->device_memory_bytes = vkslm_model_device_bytes_in_use(model); /* weights, KV cache, buffers */
    }
    free(pp);
    free(tg);
    free(ttft);
    free(rec);
    vkslm_session_free(s);
    return rc;
}

/* n decode steps from an empty context, starting at token `first`, on a model loaded with profiling: the
 * per-op profile (its pipelines are compiled at load). 0 on success, else 1 after a message. */
static int run_profile(vkslm_model *model, int32_t first, uint32_t n, const cli_lora *lo, bench_result *r) {
    vkslm_session *s = open_session(model, n + 8, 1);
    if (!s)
        return fail(NULL);
    if (!cli_lora_spread("bench", s, 1, lo)) {
        vkslm_session_free(s);
        return 1;
    }
    int32_t next = first;
    vkslm_status st = VKSLM_OK;
    for (uint32_t i = 0; i < n && st == VKSLM_OK; i++) {
        next = next < 0 ? 0 : next;
        st = vkslm_session_eval_argmax(s, &next, 1, &next);
    }
    if (st != VKSLM_OK) {
        vkslm_session_free(s);
        return fail(NULL);
    }
    vkslm_profile_entry e[BENCH_OPS_MAX];
    size_t n_ops = vkslm_session_profile(s, e, BENCH_OPS_MAX);
    vkslm_session_free(s);
    if (n_ops > BENCH_OPS_MAX)
        n_ops = BENCH_OPS_MAX;
    double total = 0, tokens = (double)n;
    for (size_t k = 0; k < n_ops; k++)
        total += e[k].ms;
    r->n_ops = (uint32_t)n_ops;
    for (size_t k = 0; k < n_ops; k++) {
        bench_op *o = &r->ops[k];
        o->label = e[k].op; /* a static string of the library */
        o->ms_per_token = tokens ? e[k].ms / tokens : 0;
        o->share = total > 0 ? e[k].ms / total : 0;
        o->gbps = e[k].ms > 0 ? e[k].bytes / (e[k].ms * 1e-3) / 1e9 : 0;
        o->gflops = e[k].ms > 0 ? e[k].flops / (e[k].ms * 1e-3) / 1e9 : 0;
        o->dispatches_per_token = tokens ? e[k].dispatches / tokens : 0;
    }
    for (uint32_t i = 0; i < r->n_ops; i++) /* biggest share first */
        for (uint32_t j = i + 1; j < r->n_ops; j++)
            if (r->ops[j].share > r->ops[i].share) {
                bench_op t = r->ops[i];
                r->ops[i] = r->ops[j];
                r->ops[j] = t;
            }
    return 0;
}

/* Loads the model, runs the speed tests and the roofline on it, then the profile on a second, profiling load
 * (when n > 0). 0 on success, else 1 after a message. */
static int run_bench(const char *path, const char *device, const uint32_t *par_ns, uint32_t n_par, cli_lora *lo,
                     bench_result *r) {
    vkslm_model_params mp = vkslm_model_default_params();
    mp.device = device;
    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    double t0 = cli_now_ms();
    vkslm_status st = vkslm_model_load(path, &mp, &model);
    r->load_ms = cli_now_ms() - t0;
    if (st != VKSLM_OK)
        return fail(NULL);
    vkslm_device_info dev;
    if (!cli_lora_load("bench", model, lo)) {
        vkslm_model_free(model);
        return 1;
    }
    if (vkslm_model_device_info(model, &dev) != VKSLM_OK) {
        cli_lora_free(lo);
        vkslm_model_free(model);
        return fail(NULL);
    }
    snprintf(r->arch, sizeof r->arch, "%s", vkslm_model_arch(model));
    snprintf(r->device, sizeof r->device, "%s", dev.name);
    snprintf(r->device_type, sizeof r->device_type, "%s", vkslm_device_type_str(dev.type));
    r->weight_bytes = vkslm_model_weight_bytes(model);
    int32_t *prompt = malloc((r->p + 1) * sizeof *prompt);
    if (!prompt) {
        cli_lora_free(lo);
        vkslm_model_free(model);
        fprintf(stderr, "vkslm bench: out of memory\n");
        return 1;
    }
    uint64_t rng = rng_seed(1234);
    for (uint32_t i = 0; i < r->p + 1; i++)
        prompt[i] = (int32_t)(rng_next(&rng) % (uint64_t)vkslm_model_n_vocab(model));
    int rc = run_speed(model, prompt, r->p, r->n, r->reps, lo, r);
    int tty = isatty(STDERR_FILENO);
    if (!rc && n_par) {
        if (tty)
            fprintf(stderr, "\rbench: parallel         ");
        if (bench_parallel_run(model, r->p, r->n, r->reps, par_ns, n_par, lo, r->par) != VKSLM_OK)
            rc = 1; /* it said why */
        else
            r->n_par = n_par;
    }
    if (!rc && tty)
        fprintf(stderr, "\rbench: roofline         ");
    if (!rc && vkslm_model_roofline(model, 256ull << 20, 5, &r->roofline_gbps, &r->roofline_kind) != VKSLM_OK)
        rc = fail("roofline");
    cli_lora_free(lo);
    vkslm_model_free(model);
    if (!rc && r->n) {
        if (tty)
            fprintf(stderr, "\rbench: profile          ");
        mp.profile = true;
        mp.progress = NULL;
        if (vkslm_model_load(path, &mp, &model) != VKSLM_OK)
            rc = fail("loading the model again to profile it");
        else
            rc = cli_lora_load("bench", model, lo) ? run_profile(model, prompt[0], r->n, lo, r) : 1;
        cli_lora_free(lo);
        vkslm_model_free(model);
    }
    if (tty)
        fprintf(stderr, "\r                          \r");
    free(prompt);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL, *shape = NULL, *type = "Q4_0", *device = NULL, *fmt = "md", *chart = NULL, *v;
    long p = 512, n = 128, reps = 5;
    float price = 1.0f;
    uint32_t par_ns[BENCH_PAR_MAX], n_par = 0;
    cli_lora lo = {0};
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
        } else if ((v = cli_value(argc, argv, &i, "--lora"))) {
            if (!cli_lora_parse("bench", v, &lo))
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

    if (!describe_weights(model_path, &r)) {
        if (tmp_model[0])
            unlink(tmp_model);
        return fail(NULL);
    }
    int rc = run_bench(model_path, device, par_ns, n_par, &lo, &r);
    if (tmp_model[0])
        unlink(tmp_model);
    if (rc)
        return rc;
    r.decode_gbps = r.tg_tps * (double)r.weight_bytes_per_token / 1e9;
    r.roofline_fraction = r.roofline_gbps > 0 ? r.decode_gbps / r.roofline_gbps : 0;
    /* the cost argument, measured: device time of one query (prefill + decode) at the given price */
    r.price_per_hour = price;
    r.query_ms = (r.p && r.pp_tps > 0 ? r.p / r.pp_tps * 1e3 : 0) + (r.n && r.tg_tps > 0 ? r.n / r.tg_tps * 1e3 : 0);
    r.queries_per_hour = r.query_ms > 0 ? 3600e3 / r.query_ms : 0;
    r.cost_per_million_queries = r.query_ms / 3600e3 * 1e6 * price;
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
