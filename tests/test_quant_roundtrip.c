/* Quantizers: quantize then dequantize seeded random data and bound the relative RMSE
 * (sqrt(sum (y-x)^2 / sum x^2)); exactly representable blocks come back exactly; f16/bf16 conversions
 * are checked exhaustively and against the compiler's _Float16 cast.
 *
 * Relative-RMSE bounds per type and distribution, and (in brackets) what this quantizer measured over
 * seeds 1-3 (8 rows of 4096; the spread between seeds is in the third digit). Bounds are ~1.3x the
 * measured worst case; for reference, uniform rounding noise is step/sqrt(12).
 *
 *   type  bits/w  uniform[-1,1]      gauss N(0,1)       gauss+outliers     positive U[0.5,2]
 *   F16   16      2.5e-4 (1.85e-4)   2.5e-4 (2.08e-4)   2.5e-4 (7.7e-5)    2.5e-4 (1.85e-4)
 *   BF16  16      2.2e-3 (1.48e-3)   2.2e-3 (1.67e-3)   2.2e-3 (6.2e-4)    2.2e-3 (1.48e-3)
 *   Q8_0  8.5     5.0e-3 (3.76e-3)   7.0e-3 (5.36e-3)   1.6e-2 (1.19e-2)   4.5e-3 (3.33e-3)
 *   Q6_K  6.56    1.7e-2 (1.30e-2)   2.3e-2 (1.75e-2)   4.4e-2 (3.38e-2)   1.5e-2 (1.12e-2)
 *   Q5_1  6       3.8e-2 (2.94e-2)   5.0e-2 (3.81e-2)   6.7e-2 (5.17e-2)   1.3e-2 (9.6e-3)
 *   Q5_0  5.5     4.1e-2 (3.13e-2)   5.6e-2 (4.28e-2)   0.12   (9.28e-2)   3.4e-2 (2.63e-2)
 *   Q5_K  5.5     3.6e-2 (2.77e-2)   4.7e-2 (3.60e-2)   6.5e-2 (5.03e-2)   1.7e-2 (1.26e-2)
 *   Q4_1  5       7.9e-2 (6.08e-2)   0.10   (7.87e-2)   0.14   (0.109)     2.6e-2 (1.99e-2)
 *   Q4_0  4.5     8.5e-2 (6.53e-2)   0.11   (8.61e-2)   0.17   (0.130)     6.9e-2 (5.28e-2)
 *   Q4_K  4.5     7.2e-2 (5.52e-2)   9.3e-2 (7.18e-2)   0.13   (0.102)     3.3e-2 (2.54e-2)
 *
 * "gauss+outliers": N(0,1) with one element in every 256 set to +-40. A block holding an outlier loses
 * its other values in the 32-element symmetric/affine types (their one scale must reach 40), hence the
 * large bounds there. The K-quants confine that to the outlier's sub-block, but their 6/8-bit sub-block
 * scales, quantized against the outlier's large one, lose precision elsewhere. */
#include <math.h>
#include <string.h>

#include "engine/util/half.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "tests/harness.h"

#define ROW 4096
#define ROWS 8

enum { DIST_UNIFORM, DIST_GAUSS, DIST_OUTLIER, DIST_POSITIVE, DIST_COUNT };
static const char *dist_name[DIST_COUNT] = {"uniform", "gauss", "gauss+outliers", "positive"};

typedef struct bound_row {
    uint32_t type;
    double bound[DIST_COUNT];
} bound_row;

static const bound_row bounds[] = {
    {VKSLM_TYPE_F16, {2.5e-4, 2.5e-4, 2.5e-4, 2.5e-4}},
    {VKSLM_TYPE_BF16, {2.2e-3, 2.2e-3, 2.2e-3, 2.2e-3}},
    {VKSLM_TYPE_Q8_0, {5.0e-3, 7.0e-3, 1.6e-2, 4.5e-3}},
    {VKSLM_TYPE_Q6_K, {1.7e-2, 2.3e-2, 4.4e-2, 1.5e-2}},
    {VKSLM_TYPE_Q5_1, {3.8e-2, 5.0e-2, 6.7e-2, 1.3e-2}},
    {VKSLM_TYPE_Q5_0, {4.1e-2, 5.6e-2, 0.12, 3.4e-2}},
    {VKSLM_TYPE_Q5_K, {3.6e-2, 4.7e-2, 6.5e-2, 1.7e-2}},
    {VKSLM_TYPE_Q4_1, {7.9e-2, 0.10, 0.14, 2.6e-2}},
    {VKSLM_TYPE_Q4_0, {8.5e-2, 0.11, 0.17, 6.9e-2}},
    {VKSLM_TYPE_Q4_K, {7.2e-2, 9.3e-2, 0.13, 3.3e-2}},
};

static float gauss(vkslm_rng *r) {
    float u1 = vkslm_rng_f32(r), u2 = vkslm_rng_f32(r);
    if (u1 < 1e-7f)
        u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

static void fill(float *x, size_t n, int dist, vkslm_rng *r) {
    for (size_t i = 0; i < n; i++) {
        switch (dist) {
        case DIST_UNIFORM: x[i] = vkslm_rng_range(r, -1.0f, 1.0f); break;
        case DIST_GAUSS: x[i] = gauss(r); break;
        case DIST_OUTLIER: x[i] = i % 256 == 97 ? (vkslm_rng_f32(r) < 0.5f ? -40.0f : 40.0f) : gauss(r); break;
        default: x[i] = vkslm_rng_range(r, 0.5f, 2.0f); break;
        }
    }
}

static void test_quantizer_bounds(void) {
    static float x[ROWS * ROW], y[ROWS * ROW];
    static uint8_t q[ROWS * ROW * 4];
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        const bound_row *b = &bounds[k];
        const char *name = vkslm_type_info(b->type)->name;
        CU_ASSERT(vkslm_can_quantize(b->type));
        uint64_t row_bytes = vkslm_type_row_bytes(b->type, ROW);
        printf("\n  %-5s", name);
        for (int dist = 0; dist < DIST_COUNT; dist++) {
            vkslm_rng r;
            test_rng(&r, 1000u * b->type + (uint64_t)dist);
            fill(x, ROWS * ROW, dist, &r);
            memset(q, 0xee, sizeof q);
            size_t wrote = vkslm_quantize_rows(b->type, x, q, ROWS, ROW);
            CU_ASSERT_EQUAL(wrote, ROWS * row_bytes);
            for (int row = 0; row < ROWS; row++)
                CU_ASSERT_EQUAL(vkslm_dequantize_row(b->type, q + row * row_bytes, y + row * ROW, ROW), VKSLM_OK);
            double rel = sqrt(test_nmse(y, x, ROWS * ROW));
            printf("  %s %.3g", dist_name[dist], rel);
            if (!(rel <= b->bound[dist]))
                printf(" (over the bound %.3g)", b->bound[dist]);
            CU_ASSERT(rel <= b->bound[dist]);
            /* quantization is deterministic */
            static uint8_t q2[ROWS * ROW * 4];
            vkslm_quantize_rows(b->type, x, q2, ROWS, ROW);
            CU_ASSERT(memcmp(q, q2, wrote) == 0);
        }
    }
}

/* An all-zero row quantizes to blocks that decode to exact zeros (no NaN from a zero scale); a constant
 * row comes back close; values too large for an f16 scale give finite values (F16 itself: inf). */
static void test_quantize_zero_and_constant(void) {
    static float x[512], y[512];
    static uint8_t q[4096];
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        uint32_t t = bounds[k].type;
        memset(x, 0, sizeof x);
        CU_ASSERT_EQUAL(vkslm_quantize_row(t, x, q, 512), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_dequantize_row(t, q, y, 512), VKSLM_OK);
        for (int i = 0; i < 512; i++)
            CU_ASSERT(y[i] == 0.0f);
        for (int i = 0; i < 512; i++)
            x[i] = -0.75f; /* exact in f16: every type can return it to within its f16 scale rounding */
        CU_ASSERT_EQUAL(vkslm_quantize_row(t, x, q, 512), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_dequantize_row(t, q, y, 512), VKSLM_OK);
        CU_ASSERT(sqrt(test_nmse(y, x, 512)) < 1e-2);
        /* values beyond what an f16 scale can reach saturate instead of decoding to inf or NaN */
        for (int i = 0; i < 512; i++)
            x[i] = (i % 3 == 0 ? -3e9f : 2e9f) * (float)(i % 7 + 1);
        CU_ASSERT_EQUAL(vkslm_quantize_row(t, x, q, 512), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_dequantize_row(t, q, y, 512), VKSLM_OK);
        int finite = 1;
        for (int i = 0; i < 512; i++)
            finite &= t == VKSLM_TYPE_F16 ? !isnan(y[i]) : isfinite(y[i]);
        CU_ASSERT(finite);
    }
}

/* Blocks whose values lie exactly on the format's grid (with the extreme level used, so the quantizer
 * finds the same scale) come back bit-exactly. */
static void test_quantize_exact_grid(void) {
    struct {
        uint32_t type;
        float d, m; /* x_k = m + d * k for k = 0..levels-1 (cycled over the block) */
        int levels;
    } cases[] = {
        {VKSLM_TYPE_Q4_0, 0.5f, -4.0f, 16},   /* 0.5 * (q - 8), max magnitude -4 -> d = 0.5 */
        {VKSLM_TYPE_Q5_0, 0.25f, -4.0f, 32},  /* 0.25 * (q - 16) */
        {VKSLM_TYPE_Q4_1, 0.25f, -1.0f, 16},  /* range 3.75 / 15 */
        {VKSLM_TYPE_Q5_1, 0.125f, -2.0f, 32}, /* range 3.875 / 31 */
        {VKSLM_TYPE_Q8_0, 0.5f, -63.5f, 255}, /* 0.5 * q, q in -127..127 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float x[64], y[64];
        uint8_t q[128];
        for (int i = 0; i < 64; i++)
            x[i] = cases[c].m + cases[c].d * (float)((i * 7) % cases[c].levels);
        x[5] = cases[c].m;      /* the extreme low level in both blocks */
        x[37] = cases[c].m;
        if (cases[c].type == VKSLM_TYPE_Q4_1 || cases[c].type == VKSLM_TYPE_Q5_1) {
            x[6] = x[38] = cases[c].m + cases[c].d * (float)(cases[c].levels - 1); /* and the high one */
        }
        CU_ASSERT_EQUAL(vkslm_quantize_row(cases[c].type, x, q, 64), VKSLM_OK);
        CU_ASSERT_EQUAL(vkslm_dequantize_row(cases[c].type, q, y, 64), VKSLM_OK);
        CU_ASSERT(memcmp(x, y, sizeof x) == 0);
    }
}

/* ---- f16 / bf16 -------------------------------------------------------------------------------- */

static int is_nan16(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

static void test_f16_exhaustive_roundtrip(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = vkslm_f16_to_f32((uint16_t)h);
        uint16_t back = vkslm_f32_to_f16(f);
        if (is_nan16((uint16_t)h)) {
            /* NaN stays NaN with its sign and payload; a signalling NaN comes back quieted */
            if (!isnan(f) || back != (uint16_t)(h | 0x200))
                bad++;
        } else if (back != h) {
            bad++;
        }
#if defined(__FLT16_MAX__)
        _Float16 hf;
        uint16_t hb = (uint16_t)h;
        memcpy(&hf, &hb, 2);
        float ref = (float)hf;
        if (memcmp(&ref, &f, 4) != 0 && !(isnan(ref) && isnan(f)))
            bad++;
#endif
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* known values */
    CU_ASSERT_EQUAL(vkslm_f16_to_f32(0x7bff), 65504.0f);
    CU_ASSERT_EQUAL(vkslm_f16_to_f32(0x0001), 0x1p-24f);
    CU_ASSERT_EQUAL(vkslm_f32_to_f16(65520.0f), 0x7c00);     /* halfway to 2^16 rounds to inf */
    CU_ASSERT_EQUAL(vkslm_f32_to_f16(65519.99f), 0x7bff);
    CU_ASSERT_EQUAL(vkslm_f32_to_f16(0x1p-25f), 0x0000);     /* halfway to the smallest subnormal: even */
    CU_ASSERT_EQUAL(vkslm_f32_to_f16(0x1.000002p-25f), 0x0001);
    CU_ASSERT_EQUAL(vkslm_f32_to_f16(-3.0f * 0x1p-25f), 0x8002); /* 1.5 ulp: to even (2) */
}

#if defined(__FLT16_MAX__)
static uint16_t gcc_f16(float f) {
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, 2);
    return u;
}
#endif

/* Random floats from several ranges convert exactly as gcc's _Float16 cast does. */
static void test_f16_matches_compiler(void) {
#if defined(__FLT16_MAX__)
    vkslm_rng r;
    test_rng(&r, 77);
    int bad = 0;
    for (int i = 0; i < 4000000; i++) {
        uint32_t bits;
        switch (i % 5) {
        case 0: bits = (uint32_t)vkslm_rng_u64(&r); break; /* anything: NaN, inf, f32 subnormals */
        case 1: /* the f16 subnormal range and just around it (2^-26 .. 2^-13) */
            bits = (uint32_t)(101 + vkslm_rng_u64(&r) % 14) << 23 | (uint32_t)(vkslm_rng_u64(&r) & 0x7fffff);
            break;
        case 2: /* near overflow: 2^15 .. 2^17 */
            bits = (uint32_t)(142 + vkslm_rng_u64(&r) % 2) << 23 | (uint32_t)(vkslm_rng_u64(&r) & 0x7fffff);
            break;
        case 3: { /* exact halfway points between neighbouring f16 values, and one f32 ulp either side */
            float a = vkslm_f16_to_f32((uint16_t)(vkslm_rng_u64(&r) & 0x7bfe));
            float b = vkslm_f16_to_f32((uint16_t)(vkslm_f32_to_f16(a) + 1));
            float mid = (float)(((double)a + (double)b) / 2);
            bits = vkslm_f32_to_bits(mid) + (uint32_t)(vkslm_rng_u64(&r) % 3) - 1u;
            break;
        }
        default: /* the normal range */
            bits = (uint32_t)(103 + vkslm_rng_u64(&r) % 40) << 23 | (uint32_t)(vkslm_rng_u64(&r) & 0x7fffff);
            break;
        }
        bits |= (uint32_t)(vkslm_rng_u64(&r) & 1) << 31;
        float f = vkslm_bits_to_f32(bits);
        uint16_t mine = vkslm_f32_to_f16(f), ref = gcc_f16(f);
        if (mine != ref && bad++ < 5)
            printf("\n  f32 %08x: got %04x, gcc %04x", bits, mine, ref);
    }
    CU_ASSERT_EQUAL(bad, 0);
#else
    test_skip("this compiler has no _Float16");
#endif
}

/* bf16 rounding against a reference by distance: the nearer of the two bf16 neighbours, ties to the
 * even one; NaN stays NaN. */
static void test_bf16_rounding(void) {
    vkslm_rng r;
    test_rng(&r, 78);
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t bits = (uint32_t)vkslm_rng_u64(&r);
        if (i % 4 == 1) /* exact ties */
            bits = (bits & 0xffff0000u) | 0x8000u;
        float f = vkslm_bits_to_f32(bits);
        uint16_t mine = vkslm_f32_to_bf16(f);
        if (isnan(f)) {
            if (!isnan(vkslm_bf16_to_f32(mine)) || (mine & 0x8000) != (bits >> 16 & 0x8000))
                bad++;
            continue;
        }
        uint32_t lo = bits & 0xffff0000u, hi = lo + 0x10000u;
        double x = f, vlo = vkslm_bits_to_f32(lo);
        double vhi = (hi & 0x7fffffffu) == 0x7f800000u ? copysign(0x1p128, x) : (double)vkslm_bits_to_f32(hi);
        double dlo = fabs(x - vlo), dhi = fabs(vhi - x);
        uint16_t want = (uint16_t)((dlo < dhi || (dlo == dhi && !(lo & 0x10000u))) ? lo >> 16 : hi >> 16);
        if (mine != want && bad++ < 5)
            printf("\n  f32 %08x: got %04x, want %04x", bits, mine, want);
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* bf16 -> f32 -> bf16 is the identity except for NaN quieting */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = vkslm_f32_to_bf16(vkslm_bf16_to_f32((uint16_t)h));
        int nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (nan ? back != (h | 0x40) : back != h)
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

int main(void) {
    static const vkslm_test tests[] = {{"quantizer_bounds", test_quantizer_bounds},
                                       {"zero_and_constant", test_quantize_zero_and_constant},
                                       {"exact_grid", test_quantize_exact_grid},
                                       {"f16_exhaustive", test_f16_exhaustive_roundtrip},
                                       {"f16_vs_compiler", test_f16_matches_compiler},
                                       {"bf16_rounding", test_bf16_rounding},
                                       {NULL, NULL}};
    return test_run_suite("quant_roundtrip", tests);
}
