/* Hand-built blocks with known bits decode to exactly known values, for every weight type.
 *
 * Each test writes one block byte by byte, straight from the format definition (the layout comments in
 * loaders/quant_blocks.h, which follow ggml), computes the expected floats here from the same definition
 * and checks a few of them against literal numbers worked out by hand. Scales are chosen exact in f16 so
 * every expected value is exact. The block is decoded twice in a row at an odd byte offset (unaligned,
 * and the second copy checks the block stride). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "loaders/quant_blocks.h"
#include "tests/harness.h"

#define MAXB 256
static const int8_t KV[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 255);
    p[1] = (uint8_t)(v >> 8);
}

/* Decodes two copies of `blk` placed at byte offset 1 and compares all elements with `want` exactly. */
static void check_decode(uint32_t type, const uint8_t *blk, const float *want) {
    const vkslm_type_traits *t = vkslm_type_info(type);
    CU_ASSERT_FATAL(t != NULL);
    uint32_t n = t->block_elems, bytes = t->block_bytes;
    uint8_t buf[1 + 2 * 300];
    float out[2 * MAXB];
    memset(buf, 0xcd, sizeof buf);
    memcpy(buf + 1, blk, bytes);
    memcpy(buf + 1 + bytes, blk, bytes);
    CU_ASSERT_EQUAL_FATAL(vkslm_dequantize_row(type, buf + 1, out, 2 * n), VKSLM_OK);
    int bad = 0;
    for (uint32_t k = 0; k < 2 * n; k++)
        if (memcmp(&out[k], &want[k % n], sizeof(float)) != 0 && bad++ < 4)
            printf("\n  %s element %u: got %.9g want %.9g", t->name, k, out[k], want[k % n]);
    CU_ASSERT_EQUAL(bad, 0);
}

/* ---- plain floats ------------------------------------------------------------------------------ */

static void test_known_f32(void) {
    const float v[4] = {1.5f, -0.0f, 3.0e38f, 1.0e-45f};
    float want[1] = {v[0]};
    check_decode(VKSLM_TYPE_F32, (const uint8_t *)v, want);
    float out[4];
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_F32, v, out, 4), VKSLM_OK);
    CU_ASSERT(memcmp(out, v, sizeof v) == 0);
}

static void test_known_f16(void) {
    /* bits -> value, by the binary16 definition */
    const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555, 0x03ff};
    const float want[8] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, -0.0f, INFINITY, 0.333251953125f, 1023 * 0x1p-24f};
    for (int i = 0; i < 8; i++) {
        uint8_t b[2];
        put16(b, h[i]);
        check_decode(VKSLM_TYPE_F16, b, &want[i]);
    }
    uint8_t nan[2];
    put16(nan, 0xfe00);
    float out;
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_F16, nan, &out, 1), VKSLM_OK);
    CU_ASSERT(isnan(out));
}

static void test_known_bf16(void) {
    const uint16_t h[6] = {0x3f80, 0xc0a0, 0x0001, 0x7f80, 0x4049, 0xff7f};
    const float want[6] = {1.0f, -5.0f, 0x1p-133f, INFINITY, 3.140625f, -0x1.fep127f};
    for (int i = 0; i < 6; i++) {
        uint8_t b[2];
        put16(b, h[i]);
        check_decode(VKSLM_TYPE_BF16, b, &want[i]);
    }
}

/* ---- legacy 32-element blocks ------------------------------------------------------------------ */

/* qs[j] = j | (15 - j) << 4: element j has nibble j, element j+16 has nibble 15-j. */
static void fill_nibbles(uint8_t *qs) {
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(j | (15 - j) << 4);
}
static int nib(int e) { return e < 16 ? e : 15 - (e - 16); }

static void test_known_q4_0(void) {
    uint8_t b[18];
    put16(b, 0x3800); /* d = 0.5 */
    fill_nibbles(b + 2);
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = 0.5f * (float)(nib(e) - 8);
    CU_ASSERT_EQUAL(want[0], -4.0f);
    CU_ASSERT_EQUAL(want[15], 3.5f);
    CU_ASSERT_EQUAL(want[16], 3.5f);
    CU_ASSERT_EQUAL(want[31], -4.0f);
    check_decode(VKSLM_TYPE_Q4_0, b, want);
}

static void test_known_q4_1(void) {
    uint8_t b[20];
    put16(b, 0x3400);     /* d = 0.25 */
    put16(b + 2, 0xbc00); /* m = -1 */
    fill_nibbles(b + 4);
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = 0.25f * (float)nib(e) - 1.0f;
    CU_ASSERT_EQUAL(want[0], -1.0f);
    CU_ASSERT_EQUAL(want[16], 2.75f);
    check_decode(VKSLM_TYPE_Q4_1, b, want);
}

static const uint8_t QH[4] = {0xa5, 0x0f, 0xf0, 0x81}; /* bit j of the LE uint32 = bit 4 of element j */
static int q5(int e) { return nib(e) | ((QH[e / 8] >> (e % 8)) & 1) << 4; }

static void test_known_q5_0(void) {
    uint8_t b[22];
    put16(b, 0x4000); /* d = 2 */
    memcpy(b + 2, QH, 4);
    fill_nibbles(b + 6);
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = 2.0f * (float)(q5(e) - 16);
    CU_ASSERT_EQUAL(want[0], 0.0f);   /* nibble 0, bit 0 of 0xa5 set: q = 16 */
    CU_ASSERT_EQUAL(want[1], -30.0f); /* nibble 1, bit 1 clear: q = 1 */
    CU_ASSERT_EQUAL(want[16], -2.0f); /* nibble 15, bit 16 (bit 0 of 0xf0) clear: q = 15 */
    CU_ASSERT_EQUAL(want[31], 0.0f);  /* nibble 0, bit 31 (bit 7 of 0x81) set: q = 16 */
    check_decode(VKSLM_TYPE_Q5_0, b, want);
}

static void test_known_q5_1(void) {
    uint8_t b[24];
    put16(b, 0x3800);     /* d = 0.5 */
    put16(b + 2, 0x4200); /* m = 3 */
    memcpy(b + 4, QH, 4);
    fill_nibbles(b + 8);
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = 0.5f * (float)q5(e) + 3.0f;
    CU_ASSERT_EQUAL(want[0], 11.0f);
    CU_ASSERT_EQUAL(want[20], 0.5f * (11 + 16) + 3.0f); /* nibble 11, bit 20 = bit 4 of 0xf0: set */
    check_decode(VKSLM_TYPE_Q5_1, b, want);
}

static void test_known_q8_0(void) {
    uint8_t b[34];
    put16(b, 0x3a00); /* d = 0.75 */
    float want[32];
    for (int j = 0; j < 32; j++) {
        int8_t q = (int8_t)(j == 31 ? 127 : j * 8 - 128);
        memcpy(b + 2 + j, &q, 1);
        want[j] = 0.75f * (float)q;
    }
    CU_ASSERT_EQUAL(want[0], -96.0f);
    CU_ASSERT_EQUAL(want[31], 95.25f);
    check_decode(VKSLM_TYPE_Q8_0, b, want);
}

static void test_known_iq4_nl(void) {
    uint8_t b[18];
    put16(b, 0x3800); /* d = 0.5 */
    fill_nibbles(b + 2);
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = 0.5f * (float)KV[nib(e)];
    CU_ASSERT_EQUAL(want[0], -63.5f);
    CU_ASSERT_EQUAL(want[16], 56.5f);
    check_decode(VKSLM_TYPE_IQ4_NL, b, want);
}

/* ---- K-quants ---------------------------------------------------------------------------------- */

/* Position of element e in the "two-bit planes" layout of Q2_K/Q3_K/Q6_K: half h, plane c, lane l. */
#define E_H(e) ((e) / 128)
#define E_C(e) (((e) % 128) / 32)
#define E_L(e) ((e) % 32)

static void test_known_q2_k(void) {
    uint8_t b[84];
    for (int s = 0; s < 16; s++)
        b[s] = (uint8_t)(s | (15 - s) << 4); /* scale s, min 15 - s */
    for (int i = 0; i < 64; i++)
        b[16 + i] = (uint8_t)(i * 37 + 11);
    put16(b + 80, 0x3800); /* d = 0.5 */
    put16(b + 82, 0x3400); /* dmin = 0.25 */
    float want[256];
    for (int e = 0; e < 256; e++) {
        int s = e / 16, q = (b[16 + 32 * E_H(e) + E_L(e)] >> (2 * E_C(e))) & 3;
        want[e] = 0.5f * (float)s * (float)q - 0.25f * (float)(15 - s);
    }
    CU_ASSERT_EQUAL(want[0], -3.75f);
    CU_ASSERT_EQUAL(want[200], 5.25f); /* s 12, qs[40] = 211 = 0b11010011, plane 2 -> 1: 6 - 0.75 */
    check_decode(VKSLM_TYPE_Q2_K, b, want);
}

static void test_known_q3_k(void) {
    /* 6-bit scales sc[16] = {0,1,2,3, 16,17,18,19, 32,33,47,48, 60,61,62,63}, packed by hand:
     * bytes 0-7: low nibble sc[s] & 15, high nibble sc[s+8] & 15; bytes 8-11: 2-bit high parts of
     * sc[k], sc[k+4], sc[k+8], sc[k+12] at bits 0, 2, 4, 6. */
    static const uint8_t scales[12] = {0x00, 0x11, 0xf2, 0x03, 0xc0, 0xd1, 0xe2, 0xf3, 0xe4, 0xe4, 0xe4, 0xf4};
    static const int sc[16] = {0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 47, 48, 60, 61, 62, 63};
    uint8_t b[110];
    for (int l = 0; l < 32; l++)
        b[l] = (uint8_t)(l * 29 + 7); /* hmask */
    for (int i = 0; i < 64; i++)
        b[32 + i] = (uint8_t)(i * 53 + 5); /* qs */
    memcpy(b + 96, scales, 12);
    put16(b + 108, 0x3400); /* d = 0.25 */
    float want[256];
    for (int e = 0; e < 256; e++) {
        int low = (b[32 + 32 * E_H(e) + E_L(e)] >> (2 * E_C(e))) & 3;
        int high = (b[E_L(e)] >> (4 * E_H(e) + E_C(e))) & 1;
        want[e] = 0.25f * (float)(sc[e / 16] - 32) * (float)(low - (high ? 0 : 4));
    }
    CU_ASSERT_EQUAL(want[0], -8.0f);    /* sc 0-32, low 1, high bit set -> q 1 */
    CU_ASSERT_EQUAL(want[254], -7.75f); /* sc 63-32, qs[62]=219 plane 3 -> 3, hmask[30]=109 bit 7 clear */
    check_decode(VKSLM_TYPE_Q3_K, b, want);
}

/* 6-bit scales and mins of Q4_K/Q5_K, sc = {1,2,3,4,17,34,51,63}, mn = {0,5,10,15,16,32,48,63}, packed
 * by hand: bytes 0-3 sc[0..3] | (sc[4..7] >> 4) << 6; bytes 4-7 mn[0..3] | (mn[4..7] >> 4) << 6;
 * bytes 8-11 (sc[4..7] & 15) | (mn[4..7] & 15) << 4. */
static const uint8_t K4_SCALES[12] = {65, 130, 195, 196, 64, 133, 202, 207, 1, 2, 3, 255};
static const int K4_SC[8] = {1, 2, 3, 4, 17, 34, 51, 63}, K4_MN[8] = {0, 5, 10, 15, 16, 32, 48, 63};
static int k4_low(int e) { return (e * 7 + 3) % 16; }

/* qs[32p + l]: element 64p + l in the low nibble, element 64p + 32 + l in the high nibble */
static void fill_k4_qs(uint8_t *qs) {
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++)
            qs[32 * p + l] = (uint8_t)(k4_low(64 * p + l) | k4_low(64 * p + 32 + l) << 4);
}

static void test_known_q4_k(void) {
    uint8_t b[144];
    put16(b, 0x3c00);     /* d = 1 */
    put16(b + 2, 0x3800); /* dmin = 0.5 */
    memcpy(b + 4, K4_SCALES, 12);
    fill_k4_qs(b + 16);
    float want[256];
    for (int e = 0; e < 256; e++)
        want[e] = 1.0f * (float)K4_SC[e / 32] * (float)k4_low(e) - 0.5f * (float)K4_MN[e / 32];
    CU_ASSERT_EQUAL(want[0], 3.0f);
    CU_ASSERT_EQUAL(want[255], 724.5f); /* 63 * 12 - 31.5 */
    check_decode(VKSLM_TYPE_Q4_K, b, want);
}

static void test_known_q5_k(void) {
    uint8_t b[176];
    put16(b, 0x3800);     /* d = 0.5 */
    put16(b + 2, 0x3c00); /* dmin = 1 */
    memcpy(b + 4, K4_SCALES, 12);
    for (int l = 0; l < 32; l++)
        b[16 + l] = (uint8_t)(l * 13 + 1); /* qh: bit e/32 of qh[e%32] is bit 4 of element e */
    fill_k4_qs(b + 48);
    float want[256];
    for (int e = 0; e < 256; e++) {
        int q = k4_low(e) | ((b[16 + e % 32] >> (e / 32)) & 1) << 4;
        want[e] = 0.5f * (float)K4_SC[e / 32] * (float)q - 1.0f * (float)K4_MN[e / 32];
    }
    CU_ASSERT_EQUAL(want[255], 819.0f); /* qh[31] = 148, bit 7 set: q = 12 + 16; 0.5*63*28 - 63 */
    check_decode(VKSLM_TYPE_Q5_K, b, want);
}

static void test_known_q6_k(void) {
    static const int8_t sc[16] = {-128, -64, -1, 0, 1, 2, 3, 127, 10, -10, 20, -20, 5, -5, 64, 100};
    uint8_t b[210];
    memset(b, 0, sizeof b);
    int q[256];
    for (int e = 0; e < 256; e++) {
        q[e] = (e * 11 + 5) % 64;
        int h = E_H(e), c = E_C(e), l = E_L(e);
        uint8_t *ql = &b[64 * h + 32 * (c & 1) + l]; /* planes 0,1 low nibbles; 2,3 high nibbles */
        *ql |= (uint8_t)(c < 2 ? (q[e] & 15) : (q[e] & 15) << 4);
        b[128 + 32 * h + l] |= (uint8_t)((q[e] >> 4) << (2 * c));
    }
    memcpy(b + 192, sc, 16);
    put16(b + 208, 0x3400); /* d = 0.25 */
    float want[256];
    for (int e = 0; e < 256; e++)
        want[e] = 0.25f * (float)sc[e / 16] * (float)(q[e] - 32);
    CU_ASSERT_EQUAL(want[0], 864.0f);   /* 0.25 * -128 * (5 - 32) */
    CU_ASSERT_EQUAL(want[255], 650.0f); /* 0.25 * 100 * (58 - 32) */
    CU_ASSERT_EQUAL(b[0], 0x55);        /* ql[0]: element 0 (q 5) low, element 64 (q 709 % 64 = 5) high */
    check_decode(VKSLM_TYPE_Q6_K, b, want);
}

static void test_known_iq4_xs(void) {
    /* 6-bit scales ls = {0,1,31,32,33,47,48,63}: scales_l = low nibbles in pairs (even s low),
     * scales_h = high 2 bits of ls[s] at bit 2s: 0,0,1,2,2,2,3,3 -> 0xfa90. */
    static const int ls[8] = {0, 1, 31, 32, 33, 47, 48, 63};
    uint8_t b[136];
    put16(b, 0x3800);     /* d = 0.5 */
    put16(b + 2, 0xfa90); /* scales_h */
    const uint8_t sl[4] = {0x10, 0x0f, 0xf1, 0xf0};
    memcpy(b + 4, sl, 4);
    for (int i = 0; i < 128; i++)
        b[8 + i] = (uint8_t)(i * 19 + 3);
    float want[256];
    for (int s = 0; s < 8; s++)
        for (int j = 0; j < 16; j++) {
            uint8_t v = b[8 + 16 * s + j];
            want[32 * s + j] = 0.5f * (float)(ls[s] - 32) * (float)KV[v & 15];
            want[32 * s + 16 + j] = 0.5f * (float)(ls[s] - 32) * (float)KV[v >> 4];
        }
    CU_ASSERT_EQUAL(want[0], 1040.0f); /* 0.5 * -32 * KV[3] */
    CU_ASSERT_EQUAL(want[255], 0.5f * 31 * KV[((127 * 19 + 3) & 255) >> 4]);
    check_decode(VKSLM_TYPE_IQ4_XS, b, want);
}

/* The packed structs agree with the traits table that sizes rows (loaders/ggml_types.c). */
static void test_layout_sizes(void) {
    const struct {
        uint32_t type;
        size_t bytes, elems;
    } t[] = {
        {VKSLM_TYPE_Q4_0, sizeof(vkslm_block_q4_0), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_Q4_1, sizeof(vkslm_block_q4_1), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_Q5_0, sizeof(vkslm_block_q5_0), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_Q5_1, sizeof(vkslm_block_q5_1), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_Q8_0, sizeof(vkslm_block_q8_0), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_IQ4_NL, sizeof(vkslm_block_iq4_nl), VKSLM_QK_LEGACY},
        {VKSLM_TYPE_Q2_K, sizeof(vkslm_block_q2_k), VKSLM_QK_K},
        {VKSLM_TYPE_Q3_K, sizeof(vkslm_block_q3_k), VKSLM_QK_K},
        {VKSLM_TYPE_Q4_K, sizeof(vkslm_block_q4_k), VKSLM_QK_K},
        {VKSLM_TYPE_Q5_K, sizeof(vkslm_block_q5_k), VKSLM_QK_K},
        {VKSLM_TYPE_Q6_K, sizeof(vkslm_block_q6_k), VKSLM_QK_K},
        {VKSLM_TYPE_IQ4_XS, sizeof(vkslm_block_iq4_xs), VKSLM_QK_K},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const vkslm_type_traits *tr = vkslm_type_info(t[i].type);
        CU_ASSERT_FATAL(tr != NULL);
        CU_ASSERT_EQUAL(tr->block_bytes, t[i].bytes);
        CU_ASSERT_EQUAL(tr->block_elems, t[i].elems);
        CU_ASSERT(tr->supported);
    }
    /* field offsets the shaders will rely on */
    CU_ASSERT_EQUAL(offsetof(vkslm_block_q3_k, d), 108);
    CU_ASSERT_EQUAL(offsetof(vkslm_block_q2_k, d), 80);
    CU_ASSERT_EQUAL(offsetof(vkslm_block_q5_k, qs), 48);
    CU_ASSERT_EQUAL(offsetof(vkslm_block_q6_k, scales), 192);
    CU_ASSERT_EQUAL(offsetof(vkslm_block_iq4_xs, qs), 8);
    CU_ASSERT_EQUAL(offsetof(vkslm_block_q5_1, qs), 8);
}

/* ---- argument checks --------------------------------------------------------------------------- */

static void test_dequant_bad_args(void) {
    uint8_t buf[1024] = {0};
    float out[512];
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_Q4_0, buf, out, 31), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT(strstr(vkslm_last_error(), "Q4_0") != NULL);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_Q4_K, buf, out, 128), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_Q6_K, NULL, out, 256), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_IQ2_XXS, buf, out, 256), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(99, buf, out, 256), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_dequantize_row(VKSLM_TYPE_Q8_0, buf, out, 0), VKSLM_OK);
    float src[256] = {0};
    CU_ASSERT_EQUAL(vkslm_quantize_row(VKSLM_TYPE_Q8_0, src, buf, 33), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(vkslm_quantize_row(VKSLM_TYPE_Q2_K, src, buf, 256), VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(vkslm_quantize_rows(VKSLM_TYPE_Q4_0, src, buf, 2, 30), 0u);
    /* every type the traits table calls supported can be dequantized */
    for (uint32_t t = 0; t < VKSLM_TYPE_COUNT; t++) {
        const vkslm_type_traits *tr = vkslm_type_info(t);
        if (tr && tr->supported)
            CU_ASSERT(vkslm_can_dequantize(t));
    }
}

int main(void) {
    static const vkslm_test tests[] = {
        {"f32", test_known_f32},       {"f16", test_known_f16},       {"bf16", test_known_bf16},
        {"q4_0", test_known_q4_0},     {"q4_1", test_known_q4_1},     {"q5_0", test_known_q5_0},
        {"q5_1", test_known_q5_1},     {"q8_0", test_known_q8_0},     {"iq4_nl", test_known_iq4_nl},
        {"q2_k", test_known_q2_k},     {"q3_k", test_known_q3_k},     {"q4_k", test_known_q4_k},
        {"q5_k", test_known_q5_k},     {"q6_k", test_known_q6_k},     {"iq4_xs", test_known_iq4_xs},
        {"layout_sizes", test_layout_sizes}, {"bad_args", test_dequant_bad_args}, {NULL, NULL}};
    return test_run_suite("quant_known", tests);
}
