/* Real files: every tensor of each ../shared/testdata/models/quant/tiny-llama-256-random-TYPE.gguf,
 * dequantized, is close to the same tensor of the F16 file (all were quantized by llama.cpp from those
 * F16 weights). A wrong bit layout gives errors near 1 (or far above), so this also cross-checks the
 * hand-built-block tests against files made by the reference implementation.
 *
 * Relative-RMSE bound per tensor type (sqrt(sum (q-f16)^2 / sum f16^2) over one tensor), with the
 * worst value measured over all tensors of that type in these files in brackets (the weights are
 * Gaussian, so these sit close to the N(0,1) column of test_quant_roundtrip.c). A wrong layout gives
 * about 1.4 (uncorrelated values of equal variance). Bounds are ~1.3x the measured worst:
 *
 *   F32    0 (exact: the norms are F32 in every file)   BF16   2.2e-3 (1.7e-3, f16 -> bf16 rounding)
 *   Q8_0   7.0e-3 (5.4e-3)    Q6_K   2.3e-2 (1.78e-2)   Q5_1   5.0e-2 (3.81e-2)
 *   Q5_0   5.6e-2 (4.29e-2)   Q5_K   4.7e-2 (3.62e-2)   Q4_1   0.10   (7.85e-2)
 *   Q4_0   0.11   (8.64e-2)   Q4_K   9.3e-2 (7.17e-2)   IQ4_NL 0.10   (7.64e-2)
 *   IQ4_XS 0.10   (7.70e-2)   Q3_K   0.20   (0.152)     Q2_K   0.38   (0.297)
 *
 * Also, for each type vkslm can quantize, quantizing the F16 tensor with vkslm_quantize_row lands within
 * 1.1x of llama.cpp's own error on it (the last column of the printed table; measured 0.98-1.006). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/ggml_types.h"
#include "loaders/gguf.h"
#include "loaders/quant.h"
#include "tests/harness.h"

typedef struct type_bound {
    uint32_t type;
    double bound;
} type_bound;

static const type_bound bounds[] = {
    {VKSLM_TYPE_F32, 0.0},      {VKSLM_TYPE_BF16, 2.2e-3},  {VKSLM_TYPE_Q8_0, 7.0e-3},
    {VKSLM_TYPE_Q6_K, 2.3e-2},  {VKSLM_TYPE_Q5_1, 5.0e-2},  {VKSLM_TYPE_Q5_0, 5.6e-2},
    {VKSLM_TYPE_Q5_K, 4.7e-2},  {VKSLM_TYPE_Q4_1, 0.10},    {VKSLM_TYPE_Q4_0, 0.11},
    {VKSLM_TYPE_Q4_K, 9.3e-2},  {VKSLM_TYPE_IQ4_NL, 0.10},  {VKSLM_TYPE_IQ4_XS, 0.10},
    {VKSLM_TYPE_Q3_K, 0.20},    {VKSLM_TYPE_Q2_K, 0.38},
};

/* file suffix and the type that must make up most of its tensors */
static const struct {
    const char *suffix;
    uint32_t main_type;
} files[] = {
    {"BF16", VKSLM_TYPE_BF16},   {"Q8_0", VKSLM_TYPE_Q8_0},     {"Q6_K", VKSLM_TYPE_Q6_K},
    {"Q5_1", VKSLM_TYPE_Q5_1},   {"Q5_0", VKSLM_TYPE_Q5_0},     {"Q5_K_M", VKSLM_TYPE_Q5_K},
    {"Q4_1", VKSLM_TYPE_Q4_1},   {"Q4_0", VKSLM_TYPE_Q4_0},     {"Q4_K_M", VKSLM_TYPE_Q4_K},
    {"IQ4_NL", VKSLM_TYPE_IQ4_NL}, {"IQ4_XS", VKSLM_TYPE_IQ4_XS}, {"Q3_K_M", VKSLM_TYPE_Q3_K},
    {"Q2_K", VKSLM_TYPE_Q2_K},
};

static double bound_of(uint32_t type) {
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (bounds[i].type == type)
            return bounds[i].bound;
    return -1;
}

static double rel_rmse(const float *x, const float *ref, size_t n) { return sqrt(test_nmse(x, ref, n)); }

static vkslm_gguf *open_quant(const char *suffix) {
    char rel[128], path[1024];
    snprintf(rel, sizeof rel, "models/quant/tiny-llama-256-random-%s.gguf", suffix);
    test_data_path(path, sizeof path, rel);
    vkslm_gguf *g = NULL;
    vkslm_status st = vkslm_gguf_open_file(path, &g);
    if (st != VKSLM_OK)
        printf("\n  %s: %s", path, vkslm_last_error());
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    return st == VKSLM_OK ? g : NULL;
}

/* Dequantizes a whole tensor into a new buffer (caller frees), NULL on failure. */
static float *dequant_tensor(const vkslm_gguf_tensor *t) {
    float *out = malloc(t->n_elems * sizeof(float));
    CU_ASSERT_FATAL(out != NULL);
    vkslm_status st = vkslm_dequantize_row(t->type, t->data, out, t->n_elems);
    CU_ASSERT_EQUAL(st, VKSLM_OK);
    if (st != VKSLM_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* vkslm's own quantization error on the reference tensor, for types it can quantize; -1 otherwise. */
static double own_quant_error(uint32_t type, const float *ref, uint64_t n) {
    if (type == VKSLM_TYPE_F32 || !vkslm_can_quantize(type))
        return -1;
    uint64_t bytes = vkslm_type_row_bytes(type, n);
    uint8_t *q = malloc(bytes);
    float *back = malloc(n * sizeof(float));
    CU_ASSERT_FATAL(q && back);
    CU_ASSERT_EQUAL(vkslm_quantize_row(type, ref, q, n), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(type, q, back, n), VKSLM_OK);
    double e = rel_rmse(back, ref, n);
    free(q);
    free(back);
    return e;
}

static void test_quant_files_match_f16(void) {
    TEST_REQUIRE_DATA();
    vkslm_gguf *ref = open_quant("F16");
    if (!ref)
        return;
    double worst[VKSLM_TYPE_COUNT] = {0}, worst_own_ratio[VKSLM_TYPE_COUNT] = {0};
    int seen[VKSLM_TYPE_COUNT] = {0};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        vkslm_gguf *g = open_quant(files[f].suffix);
        if (!g)
            continue;
        uint64_t n_tensors = vkslm_gguf_tensor_count(g), n_main = 0;
        CU_ASSERT_EQUAL(n_tensors, vkslm_gguf_tensor_count(ref));
        for (uint64_t i = 0; i < n_tensors; i++) {
            const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            const vkslm_gguf_tensor *r = vkslm_gguf_find_tensor(ref, name);
            CU_ASSERT_FATAL(r != NULL);
            CU_ASSERT_EQUAL(t->n_elems, r->n_elems);
            CU_ASSERT(memcmp(t->ne, r->ne, sizeof t->ne) == 0);
            double bound = bound_of(t->type);
            if (bound < 0) {
                printf("\n  %s %s: unexpected type %u", files[f].suffix, name, t->type);
                CU_FAIL("tensor of a type with no bound");
                continue;
            }
            n_main += t->type == files[f].main_type;
            float *x = dequant_tensor(t), *y = dequant_tensor(r);
            if (x && y) {
                double e = rel_rmse(x, y, t->n_elems);
                if (!(e <= bound))
                    printf("\n  %s %s (%s): relative RMSE %.4g over the bound %.3g", files[f].suffix, name,
                           vkslm_type_info(t->type)->name, e, bound);
                CU_ASSERT(e <= bound);
                seen[t->type] = 1;
                worst[t->type] = e > worst[t->type] ? e : worst[t->type];
                double own = own_quant_error(t->type, y, r->n_elems);
                if (own >= 0 && e > 0) {
                    double ratio = own / e;
                    worst_own_ratio[t->type] = ratio > worst_own_ratio[t->type] ? ratio : worst_own_ratio[t->type];
                    if (!(ratio <= 1.1))
                        printf("\n  %s %s: vkslm's %s error %.4g vs llama.cpp's %.4g", files[f].suffix, name,
                               vkslm_type_info(t->type)->name, own, e);
                    CU_ASSERT(ratio <= 1.1);
                }
            }
            free(x);
            free(y);
        }
        CU_ASSERT(n_main * 2 > n_tensors - 5); /* most weight matrices are of the file's type */
        vkslm_gguf_close(g);
    }
    printf("\n  type     worst rel-RMSE vs F16   bound    vkslm quantizer / llama.cpp (worst)");
    for (uint32_t t = 0; t < VKSLM_TYPE_COUNT; t++)
        if (seen[t]) {
            printf("\n  %-7s  %-22.3g  %-7.3g", vkslm_type_info(t)->name, worst[t], bound_of(t));
            if (worst_own_ratio[t] > 0)
                printf("  %.3f", worst_own_ratio[t]);
        }
    /* every dequantizable quantized type was exercised by a real file */
    const uint32_t must[] = {VKSLM_TYPE_Q4_0, VKSLM_TYPE_Q4_1, VKSLM_TYPE_Q5_0, VKSLM_TYPE_Q5_1,
                             VKSLM_TYPE_Q8_0, VKSLM_TYPE_Q2_K, VKSLM_TYPE_Q3_K, VKSLM_TYPE_Q4_K,
                             VKSLM_TYPE_Q5_K, VKSLM_TYPE_Q6_K, VKSLM_TYPE_IQ4_NL, VKSLM_TYPE_IQ4_XS,
                             VKSLM_TYPE_BF16, VKSLM_TYPE_F32};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        CU_ASSERT(seen[must[i]]);
    vkslm_gguf_close(ref);
}

int main(void) {
    static const vkslm_test tests[] = {{"files_match_f16", test_quant_files_match_f16}, {NULL, NULL}};
    return test_run_suite("quant_gguf", tests);
}
