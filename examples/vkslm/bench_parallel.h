/* vkslm bench --parallel LIST: aggregate prompt and generation speed with N sequences decoded together,
 * measured as llama.cpp's llama-batched-bench measures it (bench_parallel.c; public API only). */
#ifndef VKSLM_CLI_BENCH_PARALLEL_H
#define VKSLM_CLI_BENCH_PARALLEL_H

#include <stdint.h>

#include "cli.h"
#include "vkslm.h"

#define BENCH_PAR_MAX 64u /* the largest N, and the most entries a list yields */

typedef struct bench_par {
    uint32_t n_parallel;        /* N: sequences decoded together (the session's n_seq) */
    uint32_t n_ctx;             /* positions per sequence: the KV cache holds n_parallel x n_ctx */
    uint32_t n_batch;           /* rows per step (prefill steps may hold several sequences' prompts) */
    uint64_t session_bytes;     /* device memory of the session: KV cache, activations, outputs */
    double pp_tps, pp_sd;       /* prompt tokens per second over all N sequences: N * p / time; mean, sd */
    double tg_tps, tg_sd;       /* generated tokens per second over all N sequences: N * n / time; mean, sd */
    double pp_speedup, tg_speedup; /* pp_tps and tg_tps over the N = 1 row's */
} bench_par;

/* Parses a comma-separated list of sequence counts, each 1 .. BENCH_PAR_MAX, into ns (increasing, without
 * duplicates, 1 added when absent: the speedups are over it); *count gets how many. 0 after a message on
 * stderr for an empty list, an empty item, a non-number or a count out of range. */
int bench_parallel_parse(const char *list, uint32_t ns[BENCH_PAR_MAX], uint32_t *count);

/* For each ns[i]: a session of ns[i] sequences (sequence j with lora's adapter j mod K, when K > 0 are loaded); per repetition (reps, after a warm-up) the sequences are
 * cleared, ns[i] prompts of p random tokens (different per sequence) are prefilled as one batch cut into
 * n_batch steps, then n steps each carry one token of every sequence (greedy, argmax on the device).
 * Fills out[0 .. count); on failure, says why on stderr. The model should be loaded without profile (GPU
 * timestamps slow every step). */
vkslm_status bench_parallel_run(vkslm_model *model, uint32_t p, uint32_t n, uint32_t reps, const uint32_t *ns,
                                uint32_t count, const cli_lora *lora, bench_par *out);

/* Output for bench_print.c (which writes the CSV rows itself): a Markdown table (nothing when count is 0)
 * and the JSON key "parallel" with its array (a member of the caller's object, after a comma). */
void bench_parallel_print_md(const bench_par *par, uint32_t count, uint32_t p, uint32_t n, uint32_t reps);
void bench_parallel_print_json(const bench_par *par, uint32_t count);
#endif
