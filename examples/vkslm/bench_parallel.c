/* vkslm bench --parallel LIST: aggregate speed with N sequences decoded together, measured as llama.cpp's
 * llama-batched-bench does (prompts not shared): per N, the N prompts of p tokens are prefilled as one batch
 * (the session cuts it into steps of n_batch rows, a step may hold several sequences' prompts) and timed
 * (pp = N * p / time); then n steps, each carrying one token of every sequence, are timed
 * (tg = N * n / time). A one-sequence session runs beside every N > 1, a repetition of it beside each of N's,
 * and N's speedups are over those: a machine's speed drifts by tens of per cent over seconds (other tenants,
 * clocks), and all of N = 1's repetitions, then all of N's, compared different conditions. Only the
 * public API (vkslm.h): sessions of n_seq sequences, vkslm_batch, vkslm_decode_top with k = 1 (argmax on the
 * device: greedy, no logits read back), vkslm_seq_clear. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_parallel.h"
#include "json.h"

#define CTX_MARGIN 8u   /* positions per sequence beyond p + n, as the single-sequence bench keeps */
#define MAX_BATCH 512u  /* rows per step at most, as the single-sequence bench's prefill */

int bench_parallel_parse(const char *list, uint32_t ns[BENCH_PAR_MAX], uint32_t *count) {
    int seen[BENCH_PAR_MAX + 1] = {0};
    const char *s = list;
    seen[1] = 1; /* the speedups are over N = 1 */
    for (;;) {
        const char *start = s;
        unsigned long v = 0;
        while (*s >= '0' && *s <= '9' && v <= BENCH_PAR_MAX)
            v = v * 10 + (unsigned long)(*s++ - '0');
        while (*s >= '0' && *s <= '9') /* a long run of digits: out of range anyway */
            s++;
        if (s == start || (*s && *s != ',') || v < 1 || v > BENCH_PAR_MAX) {
            fprintf(stderr,
                    "vkslm bench: --parallel wants a comma-separated list of sequence counts, each in [1, %u] "
                    "(e.g. 1,4,8), not '%s'\n",
                    BENCH_PAR_MAX, list);
            return 0;
        }
        seen[v] = 1;
        if (!*s)
            break;
        s++; /* the comma; an item must follow */
    }
    *count = 0;
    for (uint32_t v = 1; v <= BENCH_PAR_MAX; v++)
        if (seen[v])
            ns[(*count)++] = v;
    return 1;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
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

/* splitmix64: the prompts' token ids, the same on every run */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct par_run {
    vkslm_session *s;
    vkslm_batch *b;
    const int32_t *prompt; /* n_seq rows of p_row (at least 1) token ids */
    int32_t *next;         /* the next token of each sequence */
    uint32_t n_seq, p_row;
    vkslm_session_params sp;
} par_run;

/* N's session (sequence j with lora's adapter j mod K), sized for p + n positions per sequence. */
static vkslm_status run_open(vkslm_model *model, uint32_t n_seq, uint32_t p, uint32_t n, const int32_t *prompt,
                             uint32_t p_row, const cli_lora *lora, par_run *r) {
    uint32_t need = p + n, train = vkslm_model_n_ctx_train(model);
    if (!train)
        train = VKSLM_DEFAULT_N_CTX;
    vkslm_session_params sp = vkslm_session_default_params();
    sp.n_seq = n_seq;
    sp.n_ctx = need + CTX_MARGIN;
    if (sp.n_ctx > train) /* the margin is a courtesy; p + n must fit (checked by the caller) */
        sp.n_ctx = train;
    if (sp.n_ctx < n_seq && n_seq <= train) /* a generation step of N tokens is one step: n_batch >= N, and
                                             * a step holds at most n_ctx rows */
        sp.n_ctx = n_seq;
    uint64_t rows = (uint64_t)n_seq * p;
    sp.n_batch = rows > MAX_BATCH ? MAX_BATCH : rows < n_seq ? n_seq : (uint32_t)rows;
    if (sp.n_batch > sp.n_ctx) /* a session's step holds at most n_ctx rows */
        sp.n_batch = sp.n_ctx;
    *r = (par_run){NULL, NULL, prompt, calloc(n_seq, sizeof(int32_t)), n_seq, p_row, sp};
    r->b = vkslm_batch_init((uint32_t)(rows > n_seq ? rows : n_seq));
    vkslm_status st = r->next && r->b ? VKSLM_OK : VKSLM_ERR_OUT_OF_HOST_MEMORY;
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &r->s);
    if (st == VKSLM_OK && !cli_lora_spread("bench", r->s, n_seq, lora))
        st = VKSLM_ERR_INVALID_ARG;
    return st;
}

static void run_close(par_run *r) {
    vkslm_session_free(r->s);
    vkslm_batch_free(r->b);
    free(r->next);
}

/* The sequences cleared, pr prompt tokens each prefilled as one batch (timed into *ms). */
static vkslm_status run_prefill(par_run *r, uint32_t pr, double *ms) {
    vkslm_status st = vkslm_seq_clear(r->s, -1);
    vkslm_batch_clear(r->b);
    for (uint32_t j = 0; j < r->n_seq && st == VKSLM_OK; j++) {
        for (uint32_t i = 0; i < pr && st == VKSLM_OK; i++)
            st = vkslm_batch_add(r->b, r->prompt[(size_t)j * r->p_row + i], i, (int32_t)j, i == pr - 1);
        r->next[j] = r->prompt[(size_t)j * r->p_row]; /* without a prompt, generation starts from its first id */
    }
    double t0 = now_ms();
    if (st == VKSLM_OK && pr)
        st = vkslm_decode_top(r->s, r->b, 1);
    *ms = now_ms() - t0;
    for (uint32_t j = 0; j < r->n_seq && st == VKSLM_OK && pr; j++) {
        const int32_t *id;
        if (vkslm_top_ith(r->s, (int32_t)((j + 1) * pr - 1), &id, NULL) != 1)
            return VKSLM_ERR_INVALID_ARG; /* cannot happen: every prompt's last entry asked for its top 1 */
        r->next[j] = id[0];
    }
    return st;
}

/* One step of one token per sequence at position pos, its time added to *ms. */
static vkslm_status run_step(par_run *r, uint32_t pos, double *ms) {
    double t0 = now_ms();
    vkslm_status st = VKSLM_OK;
    vkslm_batch_clear(r->b);
    for (uint32_t j = 0; j < r->n_seq && st == VKSLM_OK; j++)
        st = vkslm_batch_add(r->b, r->next[j], pos, (int32_t)j, true);
    if (st == VKSLM_OK)
        st = vkslm_decode_top(r->s, r->b, 1);
    for (uint32_t j = 0; j < r->n_seq && st == VKSLM_OK; j++) {
        const int32_t *id;
        if (vkslm_top_ith(r->s, (int32_t)j, &id, NULL) != 1)
            return VKSLM_ERR_INVALID_ARG;
        r->next[j] = id[0];
    }
    *ms += now_ms() - t0;
    return st;
}

/* One repetition of r: pr prompt tokens per sequence prefilled (timed into ms[0]), then nr steps (ms[1]). */
static vkslm_status run_once(par_run *r, uint32_t pr, uint32_t nr, double ms[2]) {
    ms[0] = ms[1] = 0;
    vkslm_status st = run_prefill(r, pr, &ms[0]);
    for (uint32_t step = 0; step < nr && st == VKSLM_OK; step++)
        st = run_step(r, pr + step, &ms[1]);
    return st;
}

/* One N: a warm-up, then reps timed repetitions into the rates pp[], tg[]; with ref (the one-sequence session)
 * each repetition is paired with one of ref's, before it or after it in turn, its rates into ref_pp[], ref_tg[]
 * (repetitions alternate, not steps: a step of one after a step of the other ran 5-10% slower, the other's
 * kernels in the caches). */
static vkslm_status run_n(par_run *r, par_run *ref, uint32_t p, uint32_t n, uint32_t reps, double *pp, double *tg,
                          double *ref_pp, double *ref_tg, int tty) {
    vkslm_status st = VKSLM_OK;
    for (int32_t rep = -1; rep < (int32_t)reps && st == VKSLM_OK; rep++) { /* rep -1: the warm-up */
        if (tty)
            fprintf(stderr, "\rbench: parallel %u: %s %d/%u   ", r->n_seq, rep < 0 ? "warm-up" : "repetition",
                    rep + 1, reps);
        /* the warm-up steps the same shapes (N output rows, several sequences per step), shorter */
        uint32_t pr = rep < 0 ? (p < 16 ? p : 16) : p, nr = rep < 0 ? (n < 4 ? n : 4) : n;
        double ms[2], ref_ms[2];
        if (ref && rep % 2) /* the order alternates: neither always runs first after the other */
            st = run_once(ref, pr, nr, ref_ms);
        if (st == VKSLM_OK)
            st = run_once(r, pr, nr, ms);
        if (st == VKSLM_OK && ref && !(rep % 2))
            st = run_once(ref, pr, nr, ref_ms);
        if (rep < 0 || st != VKSLM_OK)
            continue;
        pp[rep] = p && ms[0] > 0 ? (double)r->n_seq * p / (ms[0] * 1e-3) : 0;
        tg[rep] = n && ms[1] > 0 ? (double)r->n_seq * n / (ms[1] * 1e-3) : 0;
        if (ref) {
            ref_pp[rep] = p && ref_ms[0] > 0 ? p / (ref_ms[0] * 1e-3) : 0;
            ref_tg[rep] = n && ref_ms[1] > 0 ? n / (ref_ms[1] * 1e-3) : 0;
        }
    }
    return st;
}

static void fill(bench_par *out, const par_run *r, const double *pp, const double *tg, uint32_t reps) {
    memset(out, 0, sizeof *out);
    out->n_parallel = r->n_seq;
    out->n_ctx = r->sp.n_ctx;
    out->n_batch = r->sp.n_batch;
    out->session_bytes = vkslm_session_device_bytes(r->s);
    mean_sd(pp, reps, &out->pp_tps, &out->pp_sd);
    mean_sd(tg, reps, &out->tg_tps, &out->tg_sd);
}

vkslm_status bench_parallel_run(vkslm_model *model, uint32_t p, uint32_t n, uint32_t reps, const uint32_t *ns,
                                uint32_t count, const cli_lora *lora, bench_par *out) {
    uint32_t train = vkslm_model_n_ctx_train(model), max_n = 0;
    if (!train)
        train = VKSLM_DEFAULT_N_CTX;
    if (p + n > train) {
        fprintf(stderr, "vkslm bench: --parallel: -p %u + -n %u = %u positions per sequence exceed the model's "
                        "context of %u\n", p, n, p + n, train);
        return VKSLM_ERR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < count; i++)
        max_n = ns[i] > max_n ? ns[i] : max_n;
    /* prompts: max_n rows of p random ids (row j is sequence j's prompt at every N) */
    uint32_t p_row = p ? p : 1;
    int32_t *prompt = malloc((size_t)max_n * p_row * sizeof *prompt);
    /* per N: its rates, and the one-sequence rates interleaved with it (count x reps each) */
    double *rates = calloc((size_t)4 * count * (reps ? reps : 1), sizeof *rates);
    if (!prompt || !rates) {
        fprintf(stderr, "vkslm bench: out of memory for %u prompts of %u tokens\n", max_n, p_row);
        free(prompt), free(rates);
        return VKSLM_ERR_OUT_OF_HOST_MEMORY;
    }
    uint64_t rng = 4321;
    uint32_t n_vocab = (uint32_t)vkslm_model_n_vocab(model);
    for (size_t i = 0; i < (size_t)max_n * p_row; i++)
        prompt[i] = (int32_t)(next_u64(&rng) % n_vocab);
    int tty = isatty(STDERR_FILENO);
    /* The one-sequence session: alone when the list is just 1, else stepping alongside every other N (the
     * machine's speed drifts over seconds: a speedup compares steps taken in the same seconds) */
    par_run one;
    vkslm_status st = run_open(model, 1, p, n, prompt, p_row, lora, &one);
    double *one_pp = rates, *one_tg = rates + (size_t)count * reps; /* all of its repetitions, pooled */
    uint32_t n_one = 0, i_one = 0;
    for (uint32_t i = 0; i < count && st == VKSLM_OK; i++) {
        double *pp = rates + (size_t)(2 * count + i) * reps, *tg = pp + (size_t)count * reps;
        if (ns[i] == 1) {
            i_one = i;
            if (count == 1) {
                st = run_n(&one, NULL, p, n, reps, one_pp, one_tg, NULL, NULL, tty);
                n_one = reps;
            }
            continue;
        }
        par_run r;
        st = run_open(model, ns[i], p, n, prompt, p_row, lora, &r);
        if (st == VKSLM_OK)
            st = run_n(&r, &one, p, n, reps, pp, tg, one_pp + n_one, one_tg + n_one, tty);
        if (st == VKSLM_OK) {
            fill(&out[i], &r, pp, tg, reps);
            double one_pp_mean, one_tg_mean, sd;
            mean_sd(one_pp + n_one, reps, &one_pp_mean, &sd);
            mean_sd(one_tg + n_one, reps, &one_tg_mean, &sd);
            out[i].pp_speedup = one_pp_mean > 0 ? out[i].pp_tps / one_pp_mean : 0;
            out[i].tg_speedup = one_tg_mean > 0 ? out[i].tg_tps / one_tg_mean : 0;
            n_one += reps;
        }
        run_close(&r);
    }
    if (st == VKSLM_OK) {
        fill(&out[i_one], &one, one_pp, one_tg, n_one);
        out[i_one].pp_speedup = out[i_one].tg_speedup = 1;
    }
    run_close(&one);
    if (tty)
        fprintf(stderr, "\r                                        \r");
    if (st != VKSLM_OK)
        fprintf(stderr, "vkslm bench: --parallel: %s\n",
                vkslm_last_error()[0] ? vkslm_last_error() : vkslm_status_str(st));
    free(prompt);
    free(rates);
    return st;
}

static void mib(char *buf, size_t cap, uint64_t bytes) { snprintf(buf, cap, "%.1f MiB", bytes / 1048576.0); }

void bench_parallel_print_md(const bench_par *par, uint32_t count, uint32_t p, uint32_t n, uint32_t reps) {
    if (!count)
        return;
    printf("\n| parallel | pp%u t/s (all sequences) | speedup | tg%u t/s (all sequences) | speedup | "
           "KV cache (n_seq x n_ctx) | n_batch | session memory |\n",
           p, n);
    printf("|---|---|---|---|---|---|---|---|\n");
    for (uint32_t i = 0; i < count; i++) {
        const bench_par *b = &par[i];
        char mem[32];
        mib(mem, sizeof mem, b->session_bytes);
        printf("| %u | %.2f ± %.2f | %.2f | %.2f ± %.2f | %.2f | %u x %u = %llu | %u | %s |\n", b->n_parallel,
               b->pp_tps, b->pp_sd, b->pp_speedup, b->tg_tps, b->tg_sd, b->tg_speedup, b->n_parallel, b->n_ctx,
               (unsigned long long)b->n_parallel * b->n_ctx, b->n_batch, mem);
    }
    printf("\nparallel: N prompts of %u random tokens prefilled as one batch in steps of n_batch rows, then %u steps "
           "of one greedy token per sequence; t/s = N x tokens / time, mean ± sd of %u repetitions after a warm-up; "
           "each repetition of N > 1 is paired with one of N = 1 (in turn before and after it), and N's speedup is "
           "over those (the N = 1 row: all of them)\n",
           p, n, reps);
}

static void member(const char *key, double v, int comma) {
    printf("\"%s\": ", key);
    json_num(stdout, v);
    printf("%s", comma ? ", " : "");
}

void bench_parallel_print_json(const bench_par *par, uint32_t count) {
    printf("  \"parallel\": [");
    for (uint32_t i = 0; i < count; i++) {
        const bench_par *b = &par[i];
        printf("%s\n    {", i ? "," : "");
        member("n_parallel", b->n_parallel, 1);
        member("pp_tps", b->pp_tps, 1);
        member("pp_sd", b->pp_sd, 1);
        member("tg_tps", b->tg_tps, 1);
        member("tg_sd", b->tg_sd, 1);
        member("pp_speedup", b->pp_speedup, 1);
        member("tg_speedup", b->tg_speedup, 1);
        member("n_ctx", b->n_ctx, 1);
        member("n_batch", b->n_batch, 1);
        member("kv_cells", (double)b->n_parallel * b->n_ctx, 1);
        member("session_bytes", (double)b->session_bytes, 0);
        printf("}");
    }
    printf("%s]\n", count ? "\n  " : "");
}
