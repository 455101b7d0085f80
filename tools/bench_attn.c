/* Decode attention speed: N tokens of N sequences (one dispatch, vkslm_op_attention_seqs; with -1 each
 * token's own vkslm_op_attention instead, one dispatch per sequence), every token at position P, over an f16
 * cache of smollm2-135m's heads (9 q heads on 3 kv heads of 64; -H, -K, -D change them). Submits L
 * dispatches (one per layer) per round and prints the medians over the rounds of the GPU-timestamp ms and of
 * the process CPU ms per layer (lavapipe's threads included: on a shared machine the steadier of the two).
 * With -t T (T > 1, implies -1) each sequence's call is a prefill chunk of T tokens at positions P - T + 1 .. P.
 * With -F the decode attention from the fused projection's rows instead (vkslm_op_attention_qkv: q and k roped,
 * each token's k and v written at P), with -X that attention writing its output in 8 bits (vkslm_x8).
 * Not a test: it measures.
 *   vkslm_bench_attn [-n N] [-p P] [-t T] [-H q_heads] [-K kv_heads] [-D head_dim] [-L layers] [-r rounds] [-1]
 *                    [-F | -X] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/attention.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "tools/bench_timing.h"

int main(int argc, char **argv) {
    uint32_t n = 8, p = 64, nh = 9, nkv = 3, D = 64, layers = 30, rounds = 9, T = 1;
    int one = 0, fused = 0; /* fused: 1 -F, 2 -X */
    for (int i = 1; i < argc; i++) {
        uint32_t *dst = !strcmp(argv[i], "-n")   ? &n
                        : !strcmp(argv[i], "-p") ? &p
                        : !strcmp(argv[i], "-H") ? &nh
                        : !strcmp(argv[i], "-K") ? &nkv
                        : !strcmp(argv[i], "-D") ? &D
                        : !strcmp(argv[i], "-L") ? &layers
                        : !strcmp(argv[i], "-r") ? &rounds
                        : !strcmp(argv[i], "-t") ? &T
                                                 : NULL;
        if (!strcmp(argv[i], "-1"))
            one = 1;
        else if (!strcmp(argv[i], "-F") || !strcmp(argv[i], "-X"))
            fused = argv[i][1] == 'F' ? 1 : 2;
        else if (dst && i + 1 < argc)
            *dst = (uint32_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: vkslm_bench_attn [-n N] [-p P] [-H q_heads] [-K kv_heads] [-D head_dim] "
                            "[-L layers] [-r rounds] [-1] [-F | -X]\n");
            return 2;
        }
    }
    one |= T > 1;
    if ((one && fused) || !n || !nh || !nkv || nh % nkv || !D || D % 4 || !layers || !rounds || rounds > 1000 || !T ||
        T > p + 1) {
        fprintf(stderr, "vkslm_bench_attn: bad sizes\n");
        return 2;
    }
    vkslm_vk_options opt = {.profile = 1, .validate = 0};
    vkslm_vk *vk;
    if (vkslm_vk_open(&opt, &vk)) {
        fprintf(stderr, "no device: %s\n", vkslm_last_error());
        return 1;
    }
    const uint32_t n_ctx = p + 1;
    const uint64_t part = (uint64_t)nkv * n_ctx * D, stride = 2 * part, cache_bytes = stride * n * 2;
    /* (with -F/-X q holds the fused projection's rows: q, k and v heads) */
    const uint64_t q_bytes = (uint64_t)n * T * (fused ? nh + 2 * nkv : nh) * D * 4;
    uint16_t *cache = malloc(cache_bytes);
    float *q = malloc(q_bytes);
    int32_t *pos = malloc(n * 4), *seq = malloc(n * 4);
    for (uint64_t i = 0; i < cache_bytes / 2; i++)
        cache[i] = (uint16_t)(0x3000 + (i * 2654435761u >> 20) % 0x800); /* f16 values in [0.125, 0.5) */
    for (uint64_t i = 0; i < q_bytes / 4; i++)
        q[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    for (uint32_t i = 0; i < n; i++)
        pos[i] = (int32_t)p, seq[i] = (int32_t)i;
    vkslm_buf bc, bq, bo, bp, bs, bsc;
    uint64_t scratch = vkslm_attn_scratch_bytes(n * T, nh, D, VKSLM_ATTN_DEFAULT_SPLITS);
    if (vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, cache_bytes, &bc) || vkslm_vk_upload(vk, &bc, 0, cache, cache_bytes) ||
        vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, q_bytes, &bq) || vkslm_vk_upload(vk, &bq, 0, q, q_bytes) ||
        vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, q_bytes, &bo) || vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, n * 4, &bp) ||
        vkslm_vk_upload(vk, &bp, 0, pos, n * 4) || vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, n * 4, &bs) ||
        vkslm_vk_upload(vk, &bs, 0, seq, n * 4) || vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, scratch, &bsc)) {
        fprintf(stderr, "setup: %s\n", vkslm_last_error());
        return 1;
    }
    vkslm_tensor tq = {&bq, 0, VKSLM_TYPE_F32, {D, nh, n, 1}}, to = {&bo, 0, VKSLM_TYPE_F32, {D, nh, n, 1}};
    vkslm_tensor tp = {&bp, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}}, ts = {&bs, 0, VKSLM_TYPE_I32, {n, 1, 1, 1}};
    vkslm_tensor tsc = {&bsc, 0, VKSLM_TYPE_F32, {scratch / 4, 1, 1, 1}};
    vkslm_attn_seqs seqs = {&tp, &ts, n, p, stride};
    vkslm_cmd *c;
    if (vkslm_cmd_create(vk, &c))
        return 1;
    double *gpu = calloc(rounds, sizeof *gpu), *cpu = calloc(rounds, sizeof *cpu);
    for (uint32_t r = 0; r <= rounds; r++) { /* round 0 warms up */
        if (vkslm_cmd_begin(c))
            return 1;
        for (uint32_t l = 0; l < layers; l++) {
            vkslm_status st = VKSLM_OK;
            if (one)
                for (uint32_t i = 0; i < n && st == VKSLM_OK; i++) {
                    vkslm_tensor k = {&bc, i * stride * 2, VKSLM_TYPE_F16, {D, n_ctx, nkv, 1}}, v = k;
                    v.offset += part * 2;
                    vkslm_tensor qi = tq, oi = to, si = tsc;
                    qi.offset = oi.offset = (uint64_t)i * T * nh * D * 4, qi.ne[2] = oi.ne[2] = T;
                    si.offset = i * (scratch / n), si.ne[0] = scratch / n / 4;
                    vkslm_attn_params ap = {.p0 = p + 1 - T};
                    st = vkslm_op_attention(c, &oi, &qi, &k, &v, &si, &ap);
                }
            else {
                vkslm_tensor k = {&bc, 0, VKSLM_TYPE_F16, {D, n_ctx, nkv, 1}}, v = k;
                v.offset += part * 2;
                vkslm_attn_params ap = {0};
                vkslm_tensor rows = {&bq, 0, VKSLM_TYPE_F32, {D, nh + 2 * nkv, n, 1}};
                vkslm_tensor o8 = {&bo, 0, VKSLM_TYPE_I32,
                                   {vkslm_x8_pair_ints((uint64_t)nh * D), vkslm_x8_pairs(n), 1, 1}};
                vkslm_rope_params rope = {.mode = VKSLM_ROPE_NORMAL, .n_rot = D, .theta_base = 10000.0f,
                                          .freq_scale = 1.0f, .attn_factor = 1.0f};
                st = fused ? vkslm_op_attention_qkv(c, fused == 2 ? &o8 : &to, &rows, &k, &v, &tsc, &ap, &seqs, NULL,
                                                    &rope)
                           : vkslm_op_attention_seqs(c, &to, &tq, &k, &v, &tsc, &ap, &seqs);
            }
            if (st != VKSLM_OK) {
                fprintf(stderr, "attention: %s\n", vkslm_last_error());
                return 1;
            }
        }
        double g_ms, c_ms;
        if (bench_submit_timed(c, &g_ms, &c_ms))
            return 1;
        if (r > 0) {
            gpu[r - 1] = g_ms / layers;
            cpu[r - 1] = c_ms / layers;
        }
    }
    printf("attention, %u sequences x %u tokens up to position %u (%u/%u heads of %u), %s: %.4f ms GPU, %.4f ms CPU "
           "per layer\n", n, T, p, nh, nkv, D,
           one         ? "one dispatch per sequence"
           : fused == 2 ? "from qkv rows, out in 8 bits"
           : fused      ? "from qkv rows"
                        : "one dispatch",
           bench_median(gpu, (int)rounds), bench_median(cpu, (int)rounds));
    vkslm_cmd_destroy(c);
    vkslm_vk_free(vk, &bc), vkslm_vk_free(vk, &bq), vkslm_vk_free(vk, &bo), vkslm_vk_free(vk, &bp);
    vkslm_vk_free(vk, &bs), vkslm_vk_free(vk, &bsc);
    vkslm_vk_close(vk);
    free(cache), free(q), free(pos), free(seq), free(gpu), free(cpu);
    return 0;
}
