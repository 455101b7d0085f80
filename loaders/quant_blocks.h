/* The block layout of every quantized weight type, as GGUF files store them (ggml's definitions).
 * This is the ONE place these layouts are defined; the shaders' shared block .glsl must mirror it field by
 * field (byte offsets included).
 *
 * Conventions
 * - All multi-byte fields are little-endian. "f16" is an IEEE binary16 stored as uint16_t bits.
 * - Structs are packed (alignment 1): inside a GGUF row a block may start at any byte offset (an
 *   18-byte Q4_0 block after an odd number of blocks, say). Code that reads blocks copies them out with
 *   memcpy (engine code) or reads bytes (shaders); never dereference a field of a misaligned block
 *   through a pointer of the field's own type.
 * - "@N" in a comment is the field's byte offset inside the block.
 * - Element order: block elements are numbered 0..QK-1 in the order they appear in the row.
 *
 * Legacy types (32 elements per block), x[j] for j in 0..31, nibble pairs split the block in halves:
 *   qs[j] holds element j in its low nibble and element j+16 in its high nibble (j < 16).
 *   Q4_0  x = d * (q - 8)              q in 0..15
 *   Q4_1  x = d * q + m                q in 0..15
 *   Q5_0  x = d * (q - 16)             q in 0..31, bit 4 of element j is bit j of qh (32-bit LE)
 *   Q5_1  x = d * q + m                q in 0..31, same high bits
 *   Q8_0  x = d * q                    q in -128..127
 *   IQ4_NL x = d * kvalues_iq4nl[q]    q in 0..15, nibbles placed as Q4_0
 *
 * K-quants (256 elements per super-block): see each struct below. */
#ifndef VKSLM_LOADERS_QUANT_BLOCKS_H
#define VKSLM_LOADERS_QUANT_BLOCKS_H
#include <stdint.h>

#if defined(__GNUC__)
#define VKSLM_PACKED __attribute__((packed))
#else
#error "quant_blocks.h needs a packed-struct attribute for this compiler"
#endif

#define VKSLM_QK_LEGACY 32 /* elements per block of Q4_0 .. Q8_0 and IQ4_NL */
#define VKSLM_QK_K 256     /* elements per K-quant super-block (and IQ4_XS) */
#define VKSLM_K_SCALE_BYTES 12

/* ---- legacy blocks (32 elements) ------------------------------------------------------------- */

/* Q4_0: 18 bytes, 4.5 bits per weight. x = d * ((nibble) - 8). */
typedef struct VKSLM_PACKED vkslm_block_q4_0 {
    uint16_t d;      /* @0  f16 scale */
    uint8_t qs[16];  /* @2  qs[j]: element j in bits 0-3, element j+16 in bits 4-7 */
} vkslm_block_q4_0;

/* Q4_1: 20 bytes, 5 bits per weight. x = d * nibble + m. */
typedef struct VKSLM_PACKED vkslm_block_q4_1 {
    uint16_t d;      /* @0  f16 scale */
    uint16_t m;      /* @2  f16 offset (the block minimum) */
    uint8_t qs[16];  /* @4  as Q4_0 */
} vkslm_block_q4_1;

/* Q5_0: 22 bytes, 5.5 bits per weight. x = d * (q - 16), q = nibble | (high bit << 4). */
typedef struct VKSLM_PACKED vkslm_block_q5_0 {
    uint16_t d;      /* @0  f16 scale */
    uint8_t qh[4];   /* @2  32 high bits, little-endian: bit j (of the uint32) is bit 4 of element j */
    uint8_t qs[16];  /* @6  low 4 bits, as Q4_0 */
} vkslm_block_q5_0;

/* Q5_1: 24 bytes, 6 bits per weight. x = d * q + m. */
typedef struct VKSLM_PACKED vkslm_block_q5_1 {
    uint16_t d;      /* @0  f16 scale */
    uint16_t m;      /* @2  f16 offset */
    uint8_t qh[4];   /* @4  as Q5_0 */
    uint8_t qs[16];  /* @8  as Q5_0 */
} vkslm_block_q5_1;

/* Q8_0: 34 bytes, 8.5 bits per weight. x = d * qs[j]. */
typedef struct VKSLM_PACKED vkslm_block_q8_0 {
    uint16_t d;      /* @0  f16 scale */
    int8_t qs[32];   /* @2  signed quants, element j in qs[j] */
} vkslm_block_q8_0;

/* IQ4_NL: 18 bytes, 4.5 bits per weight. x = d * kvalues_iq4nl[nibble], nibbles as Q4_0. */
typedef struct VKSLM_PACKED vkslm_block_iq4_nl {
    uint16_t d;      /* @0  f16 scale */
    uint8_t qs[16];  /* @2  qs[j]: index of element j in bits 0-3, of element j+16 in bits 4-7 */
} vkslm_block_iq4_nl;

/* The 16 non-linear levels of IQ4_NL and IQ4_XS (index = the 4-bit quant). */
static const int8_t vkslm_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                              1,    13,   25,  38,  53,  69,  89,  113};

/* ---- K-quants (256 elements per super-block) -------------------------------------------------- */

/* Q2_K: 84 bytes, 2.625 bits per weight. 16 sub-blocks of 16 elements.
 * Sub-block s (elements 16s..16s+15): scale = d * (scales[s] & 15), min = dmin * (scales[s] >> 4);
 *   x = scale * q - min, q in 0..3.
 * Quant of element e: with h = e / 128 (half), r = e % 128, c = r / 32 (which 2-bit field), l = r % 32:
 *   q = (qs[32*h + l] >> (2*c)) & 3. */
typedef struct VKSLM_PACKED vkslm_block_q2_k {
    uint8_t scales[16]; /* @0   per sub-block: bits 0-3 scale, bits 4-7 min */
    uint8_t qs[64];     /* @16  2-bit quants, four per byte (see above) */
    uint16_t d;         /* @80  f16 super-scale of the scales */
    uint16_t dmin;      /* @82  f16 super-scale of the mins */
} vkslm_block_q2_k;

/* Q3_K: 110 bytes, 3.4375 bits per weight. 16 sub-blocks of 16 elements. x = d * (sc[s] - 32) * q,
 * q = low2 - (high bit set ? 0 : 4), so q in -4..3.
 * Element e: h = e / 128, r = e % 128, c = r / 32, l = r % 32 (so sub-block s = e / 16):
 *   low2 = (qs[32*h + l] >> (2*c)) & 3;  high bit = (hmask[l] >> (4*h + c)) & 1.
 * 6-bit sub-block scales sc[0..15] (unsigned, stored with offset 32) are packed in 12 bytes:
 *   low 4 bits of sc[s]:  s < 8: scales[s] & 15;   s >= 8: scales[s-8] >> 4
 *   high 2 bits of sc[s]: (scales[8 + s%4] >> (2*(s/4))) & 3 */
typedef struct VKSLM_PACKED vkslm_block_q3_k {
    uint8_t hmask[32];  /* @0   high bits: bit (4h+c) of hmask[l] belongs to element 128h + 32c + l */
    uint8_t qs[64];     /* @32  low 2 bits, four per byte, as Q2_K */
    uint8_t scales[12]; /* @96  16 packed 6-bit scales (see above) */
    uint16_t d;         /* @108 f16 super-scale */
} vkslm_block_q3_k;

/* Q4_K: 144 bytes, 4.5 bits per weight. 8 sub-blocks of 32 elements.
 * Sub-block s: scale = d * sc[s], min = dmin * m[s] (6-bit unsigned each); x = scale * q - min, q 0..15.
 * Scales and mins packed in 12 bytes (ggml's get_scale_min_k4):
 *   s < 4:  sc[s] = scales[s] & 63;          m[s] = scales[s+4] & 63
 *   s >= 4: sc[s] = (scales[s+4] & 15) | ((scales[s-4] >> 6) << 4)
 *           m[s]  = (scales[s+4] >> 4) | ((scales[s]   >> 6) << 4)
 * Quants: pair p = 0..3 covers elements 64p..64p+63; qs[32p + l] holds element 64p + l in bits 0-3
 * (sub-block 2p) and element 64p + 32 + l in bits 4-7 (sub-block 2p+1). */
typedef struct VKSLM_PACKED vkslm_block_q4_k {
    uint16_t d;         /* @0   f16 super-scale of the scales */
    uint16_t dmin;      /* @2   f16 super-scale of the mins */
    uint8_t scales[12]; /* @4   8 scales and 8 mins, 6 bits each (see above) */
    uint8_t qs[128];    /* @16  4-bit quants (see above) */
} vkslm_block_q4_k;

/* Q5_K: 176 bytes, 5.5 bits per weight. As Q4_K with a fifth bit: q = nibble | (hb << 4), q 0..31,
 * where for element e = 64p + 32k + l (k = 0 low nibble, 1 high nibble): hb = (qh[l] >> (2p + k)) & 1. */
typedef struct VKSLM_PACKED vkslm_block_q5_k {
    uint16_t d;         /* @0   f16 super-scale of the scales */
    uint16_t dmin;      /* @2   f16 super-scale of the mins */
    uint8_t scales[12]; /* @4   as Q4_K */
    uint8_t qh[32];     /* @16  high bits: bit (e/32) of qh[e%32] belongs to element e */
    uint8_t qs[128];    /* @48  low 4 bits, as Q4_K */
} vkslm_block_q5_k;

/* Q6_K: 210 bytes, 6.5625 bits per weight. 16 sub-blocks of 16 elements; x = d * scales[s] * (q - 32),
 * q in 0..63, sub-block s = e / 16. Half h = e / 128 covers ql[64h..64h+63] and qh[32h..32h+31];
 * within it r = e % 128, c = r / 32, l = r % 32:
 *   low4 = c == 0: ql[64h + l] & 15;   c == 1: ql[64h + 32 + l] & 15;
 *          c == 2: ql[64h + l] >> 4;   c == 3: ql[64h + 32 + l] >> 4
 *   high2 = (qh[32h + l] >> (2*c)) & 3;   q = low4 | (high2 << 4). */
typedef struct VKSLM_PACKED vkslm_block_q6_k {
    uint8_t ql[128];    /* @0   low 4 bits (see above) */
    uint8_t qh[64];     /* @128 high 2 bits, four per byte */
    int8_t scales[16];  /* @192 signed 8-bit sub-block scales */
    uint16_t d;         /* @208 f16 super-scale */
} vkslm_block_q6_k;

/* IQ4_XS: 136 bytes, 4.25 bits per weight. 8 sub-blocks of 32 elements, non-linear levels.
 * Sub-block s: ls = (scales_l[s/2] >> (4*(s%2))) & 15 | ((scales_h >> (2*s)) & 3) << 4  (6 bits),
 *   x = d * (ls - 32) * kvalues_iq4nl[q].
 * Quants: qs[16s + j] holds element 32s + j in bits 0-3 and element 32s + 16 + j in bits 4-7. */
typedef struct VKSLM_PACKED vkslm_block_iq4_xs {
    uint16_t d;          /* @0  f16 super-scale */
    uint16_t scales_h;   /* @2  high 2 bits of the 8 sub-block scales, sub-block s at bits 2s..2s+1 */
    uint8_t scales_l[4]; /* @4  low 4 bits of the scales, two per byte (even s in the low nibble) */
    uint8_t qs[128];     /* @8  4-bit indices into kvalues_iq4nl (see above) */
} vkslm_block_iq4_xs;

_Static_assert(sizeof(vkslm_block_q4_0) == 18, "Q4_0 block size");
_Static_assert(sizeof(vkslm_block_q4_1) == 20, "Q4_1 block size");
_Static_assert(sizeof(vkslm_block_q5_0) == 22, "Q5_0 block size");
_Static_assert(sizeof(vkslm_block_q5_1) == 24, "Q5_1 block size");
_Static_assert(sizeof(vkslm_block_q8_0) == 34, "Q8_0 block size");
_Static_assert(sizeof(vkslm_block_iq4_nl) == 18, "IQ4_NL block size");
_Static_assert(sizeof(vkslm_block_q2_k) == 84, "Q2_K block size");
_Static_assert(sizeof(vkslm_block_q3_k) == 110, "Q3_K block size");
_Static_assert(sizeof(vkslm_block_q4_k) == 144, "Q4_K block size");
_Static_assert(sizeof(vkslm_block_q5_k) == 176, "Q5_K block size");
_Static_assert(sizeof(vkslm_block_q6_k) == 210, "Q6_K block size");
_Static_assert(sizeof(vkslm_block_iq4_xs) == 136, "IQ4_XS block size");

/* Unpacks the 6-bit scale and min of sub-block s (0..7) of a Q4_K/Q5_K block (get_scale_min_k4). */
static inline void vkslm_k4_scale_min(const uint8_t scales[VKSLM_K_SCALE_BYTES], int s, uint8_t *sc,
                                      uint8_t *mn) {
    if (s < 4) {
        *sc = scales[s] & 63;
        *mn = scales[s + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[s + 4] & 15) | ((scales[s - 4] >> 6) << 4));
        *mn = (uint8_t)((scales[s + 4] >> 4) | ((scales[s] >> 6) << 4));
    }
}

/* Unpacks the 6-bit scale of sub-block s (0..15) of a Q3_K block, without the -32 offset. */
static inline uint8_t vkslm_q3k_scale(const uint8_t scales[VKSLM_K_SCALE_BYTES], int s) {
    uint8_t lo = s < 8 ? (scales[s] & 15) : (scales[s - 8] >> 4);
    uint8_t hi = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (uint8_t)(lo | (hi << 4));
}
#endif
