/* The kernels' f16 <-> f32 conversions (shaders/half.glsl) bit for bit against engine/util/half.h, through the
 * elementwise scale by 1 (exact in f32): an F16 input converts every one of the 65536 f16 bit patterns to f32,
 * an F16 output converts f32 values to f16: every f16 value, the midpoints between neighbours (ties to even)
 * and the f32 values just either side of them, the overflow threshold, infinities and NaN. Run on the device's
 * own conversions and with quirk lavapipe-aarch64-f16 forced (the soft conversions that arm64 lavapipe needs),
 * so that x86-64 CI checks the soft path too. NaN need only stay NaN (a multiply may quiet it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/ops/elementwise.h"
#include "engine/util/half.h"
#include "engine/vk/vk.h"
#include "tests/harness.h"
#include "tests/util_ops.h"

#define F16 VKSLM_TYPE_F16
#define F32 VKSLM_TYPE_F32

/* out (as read back) against want, element by element; prints the first few mismatches */
static uint64_t mismatches(const float *out, const float *want, uint64_t n, const float *in, const char *what) {
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        int ok = isnan(want[i]) ? isnan(out[i]) : vkslm_f32_to_bits(out[i]) == vkslm_f32_to_bits(want[i]);
        if (!ok && bad++ < 8)
            fprintf(stderr, "%s: input %08x gave %08x, want %08x\n", what, vkslm_f32_to_bits(in[i]),
                    vkslm_f32_to_bits(out[i]), vkslm_f32_to_bits(want[i]));
    }
    return bad;
}

/* d = a * 1 with a of type ta, d of type td; returns the mismatches of d against want */
static uint64_t run_scale(vkslm_vk *vk, const ot_tensor *a, uint32_t td, const float *in, const float *want,
                          uint64_t n, const char *what) {
    ot_tensor d = ot_out(vk, td, n, 1, 1, 16);
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL_FATAL(ot_submit(c, vkslm_op_scale(c, &d.t, &a->t, 1.0f), what), VKSLM_OK);
    float *out = malloc(n * sizeof *out);
    CU_ASSERT_FATAL(out != NULL);
    uint64_t bad = ot_read(vk, &d, out, n, what) ? mismatches(out, want, n, in, what) : n;
    free(out);
    ot_free(vk, &d);
    return bad;
}

static void check_conversions(vkslm_vk *vk, const char *mode) {
    char what[96];
    /* f16 -> f32: every bit pattern */
    enum { NH = 65536 };
    uint16_t *h = malloc(NH * sizeof *h);
    float *hin = malloc(NH * sizeof *hin), *hwant = malloc(NH * sizeof *hwant);
    CU_ASSERT_FATAL(h && hin && hwant);
    for (uint32_t i = 0; i < NH; i++) {
        h[i] = (uint16_t)i;
        hin[i] = vkslm_bits_to_f32(i); /* for the messages: the pattern itself */
        hwant[i] = vkslm_f16_to_f32((uint16_t)i);
    }
    ot_tensor a = ot_raw(vk, h, NH * 2, F16, NH, 1, 6);
    snprintf(what, sizeof what, "f16 -> f32, %s", mode);
    uint64_t bad = run_scale(vk, &a, F32, hin, hwant, NH, what);
    printf("  %s: %llu of %d bit patterns differ\n", what, (unsigned long long)bad, NH);
    CU_ASSERT_EQUAL(bad, 0);
    ot_free(vk, &a);

    /* f32 -> f16: every f16 value, and around each midpoint between positive neighbours (both signs) */
    uint64_t cap = NH + 6 * 0x7c00 + 16, n = 0;
    float *in = malloc(cap * sizeof *in), *want = malloc(cap * sizeof *want);
    CU_ASSERT_FATAL(in && want);
    for (uint32_t i = 0; i < NH; i++)
        in[n++] = hwant[i];
    for (uint32_t i = 0; i < 0x7c00; i++) { /* 0x7bff's upper neighbour is 65536 (the overflow threshold) */
        float lo = vkslm_f16_to_f32((uint16_t)i), hi = i == 0x7bff ? 65536.0f : vkslm_f16_to_f32((uint16_t)(i + 1));
        float mid = (lo + hi) / 2; /* exact: 12 significant bits */
        float near[3] = {mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
        for (int k = 0; k < 3; k++)
            in[n++] = near[k], in[n++] = -near[k];
    }
    static const float specials[] = {65519.0f, 65520.0f, 65536.0f, 1e10f, 3e38f, INFINITY, -INFINITY, 1e-8f,
                                     2.9802322e-8f /* 2^-25 */, 2.98023259e-8f, 1e-30f, -0.0f, 0.0f};
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
        in[n++] = specials[k];
    in[n++] = NAN;
    for (uint64_t i = 0; i < n; i++)
        want[i] = vkslm_f16_to_f32(vkslm_f32_to_f16(in[i]));
    a = ot_raw(vk, in, n * 4, F32, n, 1, 12);
    snprintf(what, sizeof what, "f32 -> f16, %s", mode);
    bad = run_scale(vk, &a, F16, in, want, n, what);
    printf("  %s: %llu of %llu values differ\n", what, (unsigned long long)bad, (unsigned long long)n);
    CU_ASSERT_EQUAL(bad, 0);
    ot_free(vk, &a);
    free(h), free(hin), free(hwant), free(in), free(want);
    test_gpu_assert_clean(vk);
}

static void test_device_conversions(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    check_conversions(vk, vkslm_vk_get_enabled(vk)->soft_f16 ? "soft (a quirk applies)" : "device's");
}

static void test_soft_conversions(void) {
    const char *env[] = {"VKSLM_FORCE_QUIRK=lavapipe-aarch64-f16", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    const vkslm_vk_enabled *e = vkslm_vk_get_enabled(vk);
    CU_ASSERT(e->soft_f16 && !e->fp16 && !e->storage16);
    check_conversions(vk, "soft");
    vkslm_vk_close(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"f16 conversions bit for bit, the device's", test_device_conversions},
        {"f16 conversions bit for bit, soft (quirk lavapipe-aarch64-f16 forced)", test_soft_conversions},
        {NULL, NULL},
    };
    return test_run_suite("gpu_half_ops", tests);
}
