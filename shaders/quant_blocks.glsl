// The GLSL mirror of loaders/quant_blocks.h: how every weight type decodes, read from raw 32-bit words.
//
// The including shader declares the weights as `uint W[]` (any binding), or, with QB_TEXEL defined, as a
// uniform texel buffer of 16-byte texels `usamplerBuffer WT` (VK_FORMAT_R32G32B32A32_UINT), and defines
// exactly one WTYPE_<type> (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
// IQ4_NL, IQ4_XS). Texels are for CPU devices: on lavapipe a storage-buffer load whose address differs
// between invocations is a loop over the lanes with a branch per lane (about 120 instructions for 8 lanes
// and one word), while a texel fetch is eight 16-byte loads and a transpose (about 40 for 4 words).
// No 8- or 16-bit storage is needed: bytes and halves come out of words with shifts. Blocks of 18, 22,
// 34, 110 ... bytes are not 4-aligned, so addresses are BYTE offsets into W; every field this file reads
// sits at an even byte offset inside its block, and every block size is even, so 16-bit fields never
// straddle a word and 32-bit reads need at most two words.
//
// A row is decoded in units of 32 consecutive elements. QB_UNITS units make one block of QB_BYTES bytes
// (F32/F16/BF16 count 32 elements as one "block"). For unit u of the block at byte `blk`:
//   qb_scales(blk, u)            -> vec4(d_lo, m_lo, d_hi, m_hi)
//   qb_quads(blk, u, i, lo, hi)  -> raw quants of elements 4i..4i+3 (lo) and 16+4i..16+4i+3 (hi), i < 4
// and element value = d * q + m, with (d_lo, m_lo) for elements 0..15 of the unit and (d_hi, m_hi) for
// 16..31. (The half split matches the nibble layout of the legacy blocks and the 16-element sub-blocks
// of Q2_K/Q3_K/Q6_K.)
#ifndef VKSLM_QUANT_BLOCKS_GLSL
#define VKSLM_QUANT_BLOCKS_GLSL
// QB_ALIGNED (the includer's, with texels): every block starts on 16 bytes, so a decoder may fetch whole texels
#ifndef QB_ALIGNED
#define QB_ALIGNED false
#endif
#extension GL_EXT_control_flow_attributes : require
#include "half.glsl"

// ---- reading words, bytes, halves and unaligned words out of W -----------------------------------------
#ifdef QB_TEXEL
#ifdef QB_TEXEL_HOOK // the includer's source of weight texels (matmul_vec.comp: its runs of blocks)
uvec4 qb_texel(uint t) { return QB_TEXEL_HOOK(t); }
#else
uvec4 qb_texel(uint t) { return texelFetch(WT, int(t)); }
#endif
// component s (0..3) of a texel: selects, never a dynamic index (that would go through memory)
uint qb_comp(uvec4 t, uint s) { return s == 0u ? t.x : s == 1u ? t.y : s == 2u ? t.z : t.w; }
// words s..s+3 of the 8 words of texels a, b (s = 0..3)
uvec4 qb_shift(uvec4 a, uvec4 b, uint s) {
    return s == 0u ? a : s == 1u ? uvec4(a.yzw, b.x) : s == 2u ? uvec4(a.zw, b.xy) : uvec4(a.w, b.xyz);
}
uint qb_word(uint w) { return qb_comp(qb_texel(w >> 2), w & 3u); }
// words w..w+3 (lo) and w+4 (hi4): two texels
void qb_words5(uint w, out uvec4 lo, out uint hi4) {
    uint t = w >> 2, s = w & 3u;
    uvec4 a = qb_texel(t), b = qb_texel(t + 1u);
    lo = qb_shift(a, b, s);
    hi4 = qb_comp(b, s);
}
// words w..w+7 (lo, hi) and w+8 (w8): three texels
void qb_words9(uint w, out uvec4 lo, out uvec4 hi, out uint w8) {
    uint t = w >> 2, s = w & 3u;
    uvec4 a = qb_texel(t), b = qb_texel(t + 1u), c = qb_texel(t + 2u);
    lo = qb_shift(a, b, s);
    hi = qb_shift(b, c, s);
    w8 = qb_comp(c, s);
}
// the 4 words from byte b (even) on, out of 5 words starting at word b / 4
uvec4 qb_unalign(uvec4 lo, uint hi4, uint b) {
    return (b & 2u) == 0u ? lo : (lo >> 16) | (uvec4(lo.yzw, hi4) << 16);
}
// 32 bytes from even byte b as 8 words: three texels
void qb_load8(uint b, out uvec4 r0, out uvec4 r1) {
    uvec4 lo, hi;
    uint w8;
    qb_words9(b >> 2, lo, hi, w8);
    r0 = qb_unalign(lo, hi.x, b);
    r1 = qb_unalign(hi, w8, b);
}
#else
uint qb_word(uint w) { return W[w]; }
#endif
uint qb_u8(uint b) { return (qb_word(b >> 2) >> ((b & 3u) << 3)) & 0xffu; }
uint qb_u16(uint b) { return (qb_word(b >> 2) >> ((b & 2u) << 3)) & 0xffffu; } // b even
float qb_f16(uint b) { return half_unpack2(qb_u16(b)).x; }
// 32 bits starting at even byte b (two word loads, both inside the 4 bytes' words)
uint qb_u32(uint b) {
    uint w = b >> 2;
    uint lo = qb_word(w);
    uint hi = qb_word(w + ((b >> 1) & 1u));
    return (b & 2u) == 0u ? lo : ((lo >> 16) | (hi << 16));
}
// two f16 at even byte b (b and b+2)
vec2 qb_f16x2(uint b) { return half_unpack2(qb_u32(b)); }

// 16 bytes starting at even byte b as 4 words (5 loads, all inside the words holding those bytes)
#ifdef QB_TEXEL
uvec4 qb_load4(uint b) {
    uvec4 lo;
    uint hi4;
    qb_words5(b >> 2, lo, hi4);
    return qb_unalign(lo, hi4, b);
}
#else
uvec4 qb_load4(uint b) {
    uint w = b >> 2;
    bool al = (b & 2u) == 0u;
    uint a0 = qb_word(w), a1 = qb_word(w + 1u), a2 = qb_word(w + 2u), a3 = qb_word(w + 3u), a4 = qb_word(w + (al ? 3u : 4u));
    return al ? uvec4(a0, a1, a2, a3)
              : uvec4((a0 >> 16) | (a1 << 16), (a1 >> 16) | (a2 << 16), (a2 >> 16) | (a3 << 16), (a3 >> 16) | (a4 << 16));
}
#endif
// 32 and 64 bytes from even byte b: with texels 3 and 5 fetches instead of 4 and 8
#ifdef QB_TEXEL
void qb_load32(uint b, out uvec4 r0, out uvec4 r1) { qb_load8(b, r0, r1); }
void qb_load64(uint b, out uvec4 r[4]) {
    uint w = b >> 2, t = w >> 2, s = w & 3u;
    uvec4 a = qb_texel(t);
    [[unroll]] for (uint k = 0u; k < 4u; k++) {
        uvec4 n = qb_texel(t + k + 1u);
        r[k] = qb_unalign(qb_shift(a, n, s), qb_comp(n, s), b);
        a = n;
    }
}
#define QB_CACHE 8u // uvec4s a caller keeps for qb_unit_seq
#else
void qb_load32(uint b, out uvec4 r0, out uvec4 r1) {
    r0 = qb_load4(b);
    r1 = qb_load4(b + 16u);
}
void qb_load64(uint b, out uvec4 r[4]) {
    [[unroll]] for (uint k = 0u; k < 4u; k++)
        r[k] = qb_load4(b + 16u * k);
}
#define QB_CACHE 6u
#endif
// byte k (0..15) of 16 loaded bytes
uint qb_byte(uvec4 h, uint k) { return (h[k >> 2] >> ((k & 3u) << 3)) & 0xffu; }

// the four bytes of a word as vec4 (unsigned) after a right shift, masked
vec4 qb_bytes(uint w, uint shift, uint mask) {
    return vec4((uvec4(w >> shift) >> uvec4(0u, 8u, 16u, 24u)) & mask);
}
// four quants assembled per byte: the nibble of l at sl, and the high bits of h at hs (mask: 0x01010101 for
// one bit, 0x03030303 for two) above it; one conversion per quant instead of two and a multiply-add
uint qb_nib_hi(uint l, uint sl, uint h, uint hs, uint mask) {
    return ((l >> sl) & 0x0f0f0f0fu) | (((h >> hs) & mask) << 4);
}
// the four bytes of a word as signed values
vec4 qb_sbytes(uint w) { return vec4(ivec4(uvec4(w) << uvec4(24u, 16u, 8u, 0u)) >> 24); }
// QB_X8 (matmul_vec.comp's products with 8-bit x): qb_unit_x8(blk, u, q, c) gives a unit's 4-bit quants centred,
// q - 8 in -8..7, as integers in element order (q[t]: elements 4t .. 4t+3), and returns (d, m) with element =
// d * q + m (c: as qb_unit_seq's, for a caller walking the units in order). qb_snib4: the nibbles at bit sh of a
// word's four bytes so: flipping bit 3 of each, then reading it as a signed 4-bit number, gives q - 8 (two shifts a
// quant, no conversion). QB_X8_MIN: the types whose m is not 0.
ivec4 qb_snib4(uint w, uint sh) {
    return ivec4(uvec4(w ^ (0x08080808u << sh)) << (uvec4(28u, 20u, 12u, 4u) - sh)) >> 28;
}

const float QB_KVALUES_IQ4NL[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                                            1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
vec4 qb_iq4(vec4 idx) {
    return vec4(QB_KVALUES_IQ4NL[int(idx.x)], QB_KVALUES_IQ4NL[int(idx.y)], QB_KVALUES_IQ4NL[int(idx.z)],
                QB_KVALUES_IQ4NL[int(idx.w)]);
}

// 6-bit scale and min of sub-block s of a Q4_K/Q5_K block whose 12 scale bytes start at byte sb
// (get_scale_min_k4 in quant_blocks.h)
uvec2 qb_k4_scale_min(uint sb, uint s) {
    if (s < 4u)
        return uvec2(qb_u8(sb + s) & 63u, qb_u8(sb + s + 4u) & 63u);
    uint a = qb_u8(sb + s + 4u);
    return uvec2((a & 15u) | ((qb_u8(sb + s - 4u) >> 6) << 4), (a >> 4) | ((qb_u8(sb + s) >> 6) << 4));
}
// 6-bit scale (offset 32 not removed) of sub-block s of a Q3_K block, scale bytes at sb
uint qb_q3k_scale(uint sb, uint s) {
    uint lo = s < 8u ? (qb_u8(sb + s) & 15u) : (qb_u8(sb + s - 8u) >> 4);
    uint hi = (qb_u8(sb + 8u + (s & 3u)) >> (2u * (s >> 2))) & 3u;
    return lo | (hi << 4);
}

// ---- per type -------------------------------------------------------------------------------------------
#if defined(WTYPE_F32)
#define QB_BYTES 128u
#define QB_UNITS 1u
vec4 qb_scales(uint blk, uint u) { return vec4(1.0, 0.0, 1.0, 0.0); }
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint w = (blk >> 2) + 4u * i;
    lo = uintBitsToFloat(uvec4(qb_word(w), qb_word(w + 1u), qb_word(w + 2u), qb_word(w + 3u)));
    hi = uintBitsToFloat(uvec4(qb_word(w + 16u), qb_word(w + 17u), qb_word(w + 18u), qb_word(w + 19u)));
}
#ifdef QB_TEXEL
// the unit's 32 words (4-byte aligned) out of 9 texels
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uint w0 = blk >> 2, t = w0 >> 2, s = w0 & 3u;
    uvec4 a = qb_texel(t);
    [[unroll]] for (uint k = 0u; k < 8u; k++) { // words 4k..4k+3: quad k % 4 of the lo (k < 4) or hi half
        uvec4 b = qb_texel(t + k + 1u);
        q[2u * (k & 3u) + (k >> 2)] = uintBitsToFloat(qb_shift(a, b, s));
        a = b;
    }
    return vec4(1.0, 0.0, 1.0, 0.0);
}
#endif

#elif defined(WTYPE_F16)
#define QB_BYTES 64u
#define QB_UNITS 1u
vec4 qb_scales(uint blk, uint u) { return vec4(1.0, 0.0, 1.0, 0.0); }
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint b = blk + 8u * i;
    lo = vec4(qb_f16x2(b), qb_f16x2(b + 4u));
    hi = vec4(qb_f16x2(b + 32u), qb_f16x2(b + 36u));
}
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uint w0 = blk >> 2; // plain float rows are 4-byte aligned (engine/ops/weights.c checks)
#ifdef QB_TEXEL
    uint t = w0 >> 2, s = w0 & 3u;
    uvec4 ta = qb_texel(t);
#endif
    [[unroll]] for (uint h = 0u; h < 4u; h++) { // 16 bytes = elements 8h..8h+7 = quads 2h, 2h+1 (mod 4)
#ifdef QB_TEXEL
        uvec4 tb = qb_texel(t + h + 1u), w = qb_shift(ta, tb, s);
        ta = tb;
#else
        uvec4 w = uvec4(qb_word(w0 + 4u * h), qb_word(w0 + 4u * h + 1u), qb_word(w0 + 4u * h + 2u), qb_word(w0 + 4u * h + 3u));
#endif
        vec4 a = vec4(half_unpack2(w.x), half_unpack2(w.y)), b = vec4(half_unpack2(w.z), half_unpack2(w.w));
        // elements 8h..8h+3 and 8h+4..8h+7: quad (2h) and (2h+1) of the unit; lo half when h < 2
        q[((2u * h) & 3u) * 2u + (h >> 1)] = a;
        q[((2u * h + 1u) & 3u) * 2u + (h >> 1)] = b;
    }
    return vec4(1.0, 0.0, 1.0, 0.0);
}

#elif defined(WTYPE_BF16)
#define QB_BYTES 64u
#define QB_UNITS 1u
vec4 qb_scales(uint blk, uint u) { return vec4(1.0, 0.0, 1.0, 0.0); }
vec4 qb_bf16x4(uint b) {
    uint a = qb_u32(b), c = qb_u32(b + 4u);
    return uintBitsToFloat(uvec4(a << 16, a & 0xffff0000u, c << 16, c & 0xffff0000u));
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    lo = qb_bf16x4(blk + 8u * i);
    hi = qb_bf16x4(blk + 32u + 8u * i);
}

#elif defined(WTYPE_Q4_0) || defined(WTYPE_IQ4_NL)
// d @0, qs[16] @2
#define QB_BYTES 18u
#define QB_UNITS 1u
#ifdef WTYPE_Q4_0
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk);
    return vec4(d, -8.0 * d, d, -8.0 * d);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint q = qb_u32(blk + 2u + 4u * i);
    lo = qb_bytes(q, 0u, 15u);
    hi = qb_bytes(q, 4u, 15u);
}
#else
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk);
    return vec4(d, 0.0, d, 0.0);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint q = qb_u32(blk + 2u + 4u * i);
    lo = qb_iq4(qb_bytes(q, 0u, 15u));
    hi = qb_iq4(qb_bytes(q, 4u, 15u));
}
#endif
// The whole 18-byte block lies in 5 words whatever its alignment: 5 loads instead of 9.
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uint w = blk >> 2;
#ifdef QB_TEXEL
    uvec4 lo;
    uint a4;
    qb_words5(w, lo, a4);
    uint a0 = lo.x, a1 = lo.y, a2 = lo.z, a3 = lo.w;
#else
    uint a0 = qb_word(w), a1 = qb_word(w + 1u), a2 = qb_word(w + 2u), a3 = qb_word(w + 3u), a4 = qb_word(w + 4u);
#endif
    bool al = (blk & 2u) == 0u;
    float d = half_unpack2(al ? a0 : a0 >> 16).x;
    uint qw[4] = uint[4](al ? (a0 >> 16) | (a1 << 16) : a1, al ? (a1 >> 16) | (a2 << 16) : a2,
                         al ? (a2 >> 16) | (a3 << 16) : a3, al ? (a3 >> 16) | (a4 << 16) : a4);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
#ifdef WTYPE_Q4_0
        q[2u * i] = qb_bytes(qw[i], 0u, 15u);
        q[2u * i + 1u] = qb_bytes(qw[i], 4u, 15u);
#else
        q[2u * i] = qb_iq4(qb_bytes(qw[i], 0u, 15u));
        q[2u * i + 1u] = qb_iq4(qb_bytes(qw[i], 4u, 15u));
#endif
    }
#ifdef WTYPE_Q4_0
    return vec4(d, -8.0 * d, d, -8.0 * d);
#else
    return vec4(d, 0.0, d, 0.0);
#endif
}

#if defined(WTYPE_Q4_0) && defined(QB_TEXEL)
#define QB_X8 1
vec2 qb_unit_x8(uint blk, uint u, out ivec4 q[8], inout uvec4 c[QB_CACHE]) {
    uvec4 lo;
    uint a4;
    qb_words5(blk >> 2, lo, a4);
    bool al = (blk & 2u) == 0u;
    float d = half_unpack2(al ? lo.x : lo.x >> 16).x;
    uvec4 qw = al ? (lo >> 16) | (uvec4(lo.yzw, a4) << 16) : uvec4(lo.yzw, a4);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[i] = qb_snib4(qw[i], 0u);
        q[4u + i] = qb_snib4(qw[i], 4u);
    }
    return vec2(d, 0.0);
}
#endif

#elif defined(WTYPE_Q4_1)
// d @0, m @2, qs[16] @4
#define QB_BYTES 20u
#define QB_UNITS 1u
vec4 qb_scales(uint blk, uint u) {
    vec2 dm = qb_f16x2(blk);
    return dm.xyxy;
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint q = qb_u32(blk + 4u + 4u * i);
    lo = qb_bytes(q, 0u, 15u);
    hi = qb_bytes(q, 4u, 15u);
}
#ifdef QB_TEXEL
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uvec4 r0, r1;
    qb_load8(blk, r0, r1);
    uint qs[4] = uint[4](r0.y, r0.z, r0.w, r1.x);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[2u * i] = qb_bytes(qs[i], 0u, 15u);
        q[2u * i + 1u] = qb_bytes(qs[i], 4u, 15u);
    }
    return half_unpack2(r0.x).xyxy;
}
#define QB_X8 1
#define QB_X8_MIN 1
vec2 qb_unit_x8(uint blk, uint u, out ivec4 q[8], inout uvec4 c[QB_CACHE]) {
    uvec4 r0, r1;
    qb_load8(blk, r0, r1);
    uint qs[4] = uint[4](r0.y, r0.z, r0.w, r1.x);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[i] = qb_snib4(qs[i], 0u);
        q[4u + i] = qb_snib4(qs[i], 4u);
    }
    vec2 dm = half_unpack2(r0.x);
    return vec2(dm.x, dm.y + 8.0 * dm.x);
}
#endif

#elif defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
// Q5_0: d @0, qh @2, qs @6.  Q5_1: d @0, m @2, qh @4, qs @8.  Bit j of qh is bit 4 of element j.
#ifdef WTYPE_Q5_0
#define QB_BYTES 22u
#define QB_QH 2u
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk);
    return vec4(d, -16.0 * d, d, -16.0 * d);
}
#else
#define QB_BYTES 24u
#define QB_QH 4u
vec4 qb_scales(uint blk, uint u) { return qb_f16x2(blk).xyxy; }
#endif
#define QB_UNITS 1u
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint qh = qb_u32(blk + QB_QH);
    uint q = qb_u32(blk + QB_QH + 4u + 4u * i);
    uvec4 sh = uvec4(0u, 1u, 2u, 3u) + 4u * i;
    lo = qb_bytes(q, 0u, 15u) + vec4(((uvec4(qh) >> sh) & 1u) << 4);
    hi = qb_bytes(q, 4u, 15u) + vec4(((uvec4(qh) >> (sh + 16u)) & 1u) << 4);
}
#ifdef QB_TEXEL
// A block from its first 8 words (qb_load8): qh, the quant words qs (quant word i: the nibbles of elements 4i..4i+3
// low, 16+4i..16+4i+3 high) and (d, m) (m 0 for Q5_0).
vec2 qb_q5_words(uvec4 r0, uvec4 r1, out uint qh, out uint qs[4]) {
#ifdef WTYPE_Q5_0
    qh = (r0.x >> 16) | (r0.y << 16);
    qs = uint[4]((r0.y >> 16) | (r0.z << 16), (r0.z >> 16) | (r0.w << 16), (r0.w >> 16) | (r1.x << 16),
                 (r1.x >> 16) | (r1.y << 16));
    return vec2(half_unpack2(r0.x).x, 0.0);
#else
    qh = r0.y;
    qs = uint[4](r0.z, r0.w, r1.x, r1.y);
    return half_unpack2(r0.x);
#endif
}
// The 5-bit quants of quant word w (word i of the block; hi: its high nibbles) assembled one per byte, bit 4 from h:
// bits 4i..4i+3 of h (16 on for hi) go to bit 4 of the four bytes as a 4-bit n times 2^4 + 2^11 + 2^18 + 2^25
// (copies 7 bits apart: none overlap, no carries)
uint qb_q5_bytes(uint w, uint h, uint i, bool hi) {
    uint b = (((h >> (4u * i + (hi ? 16u : 0u))) & 15u) * 0x02040810u) & 0x10101010u;
    return ((hi ? w >> 4 : w) & 0x0f0f0f0fu) | b;
}
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uvec4 r0, r1;
    qb_load8(blk, r0, r1);
    uint qh, qs[4];
    vec2 dm = qb_q5_words(r0, r1, qh, qs);
    // the quants assembled in the words, one conversion each
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[2u * i] = qb_bytes(qb_q5_bytes(qs[i], qh, i, false), 0u, 31u);
        q[2u * i + 1u] = qb_bytes(qb_q5_bytes(qs[i], qh, i, true), 0u, 31u);
    }
#ifdef WTYPE_Q5_0
    return vec4(dm.x, -16.0 * dm.x, dm.x, -16.0 * dm.x);
#else
    return dm.xyxy;
#endif
}
// QB_X8: the quants centred, q - 16 in -16..15: each byte assembled as above but with bit 4 flipped (from qh
// inverted), then read as a signed 5-bit number (two shifts a quant, no conversion). |q - 16| x <= 16 * 127: a sum
// over half a unit fits a 16-bit half (16 * 16 * 127 < 2^15), a whole unit's would not, so the product sums each
// half apart (QB_X8_PART: 4 quant texels). Q5_1 (element d q + m = d (q - 16) + m + 16 d) has a minimum.
#define QB_X8 1
#define QB_X8_PART 4
#ifdef WTYPE_Q5_1
#define QB_X8_MIN 1
#endif
ivec4 qb_s5(uint w) { return ivec4(uvec4(w) << uvec4(27u, 19u, 11u, 3u)) >> 27; }
vec2 qb_unit_x8(uint blk, uint u, out ivec4 q[8], inout uvec4 c[QB_CACHE]) {
    uvec4 r0, r1;
    qb_load8(blk, r0, r1);
    uint qh, qs[4];
    vec2 dm = qb_q5_words(r0, r1, qh, qs);
    [[unroll]] for (uint i = 0u; i < 4u; i++) { // q[t]: elements 4t .. 4t + 3 (low nibbles, then high ones)
        q[i] = qb_s5(qb_q5_bytes(qs[i], ~qh, i, false));
        q[4u + i] = qb_s5(qb_q5_bytes(qs[i], ~qh, i, true));
    }
#ifdef WTYPE_Q5_1
    dm.y += 16.0 * dm.x;
#endif
    return dm;
}
#endif

#elif defined(WTYPE_Q8_0)
// d @0, qs[32] (int8) @2
#define QB_BYTES 34u
#define QB_UNITS 1u
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk);
    return vec4(d, 0.0, d, 0.0);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    lo = qb_sbytes(qb_u32(blk + 2u + 4u * i));
    hi = qb_sbytes(qb_u32(blk + 18u + 4u * i));
}
// The 34-byte block lies in 9 words whatever its alignment: 9 loads instead of 17.
#define QB_HAS_UNIT 1
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uint w = blk >> 2;
    uint a[9];
#ifdef QB_TEXEL
    uvec4 lo, hi;
    qb_words9(w, lo, hi, a[8]);
    a[0] = lo.x, a[1] = lo.y, a[2] = lo.z, a[3] = lo.w, a[4] = hi.x, a[5] = hi.y, a[6] = hi.z, a[7] = hi.w;
#else
    [[unroll]] for (uint j = 0u; j < 9u; j++)
        a[j] = qb_word(w + j);
#endif
    bool al = (blk & 2u) == 0u;
    float d = half_unpack2(al ? a[0] : a[0] >> 16).x;
    [[unroll]] for (uint j = 0u; j < 8u; j++) {
        uint qw = al ? (a[j] >> 16) | (a[j + 1u] << 16) : a[j + 1u];
        q[(j & 3u) * 2u + (j >> 2)] = qb_sbytes(qw); // word j: elements 4j..4j+3
    }
    return vec4(d, 0.0, d, 0.0);
}

#elif defined(WTYPE_Q2_K)
// scales[16] @0, qs[64] @16, d @80, dmin @82. Unit u: half h = u/4, 2-bit field c = u%4, sub-blocks 2u, 2u+1.
#define QB_BYTES 84u
#define QB_UNITS 8u
vec4 qb_scales(uint blk, uint u) {
    vec2 dm = qb_f16x2(blk + 80u);
    uint s = qb_u16(blk + 2u * u);
    return vec4(dm.x * float(s & 15u), -dm.y * float((s >> 4) & 15u), dm.x * float((s >> 8) & 15u),
                -dm.y * float(s >> 12));
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint b = blk + 16u + 32u * (u >> 2) + 4u * i, sh = 2u * (u & 3u);
    lo = qb_bytes(qb_u32(b), sh, 3u);
    hi = qb_bytes(qb_u32(b + 16u), sh, 3u);
}

#elif defined(WTYPE_Q3_K)
// hmask[32] @0, qs[64] @32, scales[12] @96, d @108. Unit u: h = u/4, c = u%4, sub-blocks 2u, 2u+1.
// q = low2 | high << 2 in 0..7 and x = d * (sc - 32) * (q - 4).
#define QB_BYTES 110u
#define QB_UNITS 8u
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk + 108u);
    float d0 = d * (float(qb_q3k_scale(blk + 96u, 2u * u)) - 32.0);
    float d1 = d * (float(qb_q3k_scale(blk + 96u, 2u * u + 1u)) - 32.0);
    return vec4(d0, -4.0 * d0, d1, -4.0 * d1);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint h = u >> 2, c = u & 3u;
    uint b = blk + 32u + 32u * h + 4u * i;
    uint hs = 4u * h + c;
    lo = qb_bytes(qb_u32(b), 2u * c, 3u) + 4.0 * qb_bytes(qb_u32(blk + 4u * i), hs, 1u);
    hi = qb_bytes(qb_u32(b + 16u), 2u * c, 3u) + 4.0 * qb_bytes(qb_u32(blk + 16u + 4u * i), hs, 1u);
}

#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16.  Q5_K: the same plus qh[32] @16, qs @48.
// Unit u = sub-block s: pair p = u/2, nibble k = u%2; element l of it is nibble k of qs[32p + l].
#ifdef WTYPE_Q4_K
#define QB_BYTES 144u
#define QB_QS 16u
#else
#define QB_BYTES 176u
#define QB_QS 48u
#endif
#define QB_UNITS 8u
vec4 qb_scales(uint blk, uint u) {
    vec2 dm = qb_f16x2(blk);
    uvec2 sm = qb_k4_scale_min(blk + 4u, u);
    float d = dm.x * float(sm.x), m = -dm.y * float(sm.y);
    return vec4(d, m, d, m);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint b = blk + QB_QS + 32u * (u >> 1) + 4u * i, sh = 4u * (u & 1u);
    lo = qb_bytes(qb_u32(b), sh, 15u);
    hi = qb_bytes(qb_u32(b + 16u), sh, 15u);
#ifdef WTYPE_Q5_K
    lo += 16.0 * qb_bytes(qb_u32(blk + 16u + 4u * i), u, 1u);
    hi += 16.0 * qb_bytes(qb_u32(blk + 32u + 4u * i), u, 1u);
#endif
}
// Whole-unit loaders. Units 2p and 2p+1 share their 32 quant bytes (low and high nibbles) and all units
// share the 16-byte header (d, dmin, scales) and Q5_K's 32 high-bit bytes. qb_unit_seq, for a caller that
// walks the units of a block in order, keeps those words in `c` and loads them only when they change.
#define QB_HAS_UNIT 1
#define QB_HAS_UNIT_SEQ 1
// the scale and min of unit u from the block's 16-byte header h (get_scale_min_k4 on header bytes 4..15)
uvec2 qb_k4_header_sm(uvec4 h, uint u) {
    if (u < 4u)
        return uvec2(qb_byte(h, 4u + u) & 63u, qb_byte(h, 8u + u) & 63u);
    uint a = qb_byte(h, 8u + u);
    return uvec2((a & 15u) | ((qb_byte(h, u) >> 6) << 4), (a >> 4) | ((qb_byte(h, 4u + u) >> 6) << 4));
}
vec4 qb_unit_words(uint u, out vec4 q[8], uvec4 c[QB_CACHE]) {
    uvec4 h = c[0];
    vec2 dm = half_unpack2(h.x);
    uvec2 sm = qb_k4_header_sm(h, u);
    uint sc = sm.x, mn = sm.y;
    uint sh = 4u * (u & 1u);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
#ifdef WTYPE_Q5_K
        q[2u * i] = qb_bytes(qb_nib_hi(c[1][i], sh, c[3][i], u, 0x01010101u), 0u, 31u);
        q[2u * i + 1u] = qb_bytes(qb_nib_hi(c[2][i], sh, c[4][i], u, 0x01010101u), 0u, 31u);
#else
        q[2u * i] = qb_bytes(c[1][i], sh, 15u);
        q[2u * i + 1u] = qb_bytes(c[2][i], sh, 15u);
#endif
    }
    float d = dm.x * float(sc), m = -dm.y * float(mn);
    return vec4(d, m, d, m);
}
// the words of unit u in c, for a caller walking the units in order
void qb_unit_load(uint blk, uint u, inout uvec4 c[QB_CACHE]) {
#ifdef QB_TEXEL
    // blocks on 16 bytes: the header, the unit's 32 quant bytes (and Q5_K's high bits) are whole texels, fetched
    // directly in every unit (lavapipe runs the loads of the `if`s below whatever their condition): 3 fetches
    // a unit instead of 5 (Q5_K: 5 instead of 8)
    if (QB_ALIGNED) {
        uint t = blk >> 4, p = t + (QB_QS >> 4) + 2u * (u >> 1);
        c[0] = qb_texel(t);
        c[1] = qb_texel(p);
        c[2] = qb_texel(p + 1u);
#ifdef WTYPE_Q5_K
        c[3] = qb_texel(t + 1u);
        c[4] = qb_texel(t + 2u);
#endif
        return;
    }
#endif
    if (u == 0u) {
        c[0] = qb_load4(blk);
#ifdef WTYPE_Q5_K
        qb_load32(blk + 16u, c[3], c[4]);
#endif
    }
    if ((u & 1u) == 0u)
        qb_load32(blk + QB_QS + 32u * (u >> 1), c[1], c[2]);
}
vec4 qb_unit_seq(uint blk, uint u, out vec4 q[8], inout uvec4 c[QB_CACHE]) {
    qb_unit_load(blk, u, c);
    return qb_unit_words(u, q, c);
}
#if defined(WTYPE_Q4_K) && defined(QB_TEXEL)
#define QB_X8 1
#define QB_X8_MIN 1
vec2 qb_unit_x8(uint blk, uint u, out ivec4 q[8], inout uvec4 c[QB_CACHE]) {
    qb_unit_load(blk, u, c);
    vec2 dm = half_unpack2(c[0].x);
    uvec2 sm = qb_k4_header_sm(c[0], u);
    uint sh = 4u * (u & 1u);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[i] = qb_snib4(c[1][i], sh);
        q[4u + i] = qb_snib4(c[2][i], sh);
    }
    float d = dm.x * float(sm.x);
    return vec2(d, 8.0 * d - dm.y * float(sm.y));
}
#endif
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uvec4 c[QB_CACHE];
    c[0] = qb_load4(blk);
    qb_load32(blk + QB_QS + 32u * (u >> 1), c[1], c[2]);
#ifdef WTYPE_Q5_K
    qb_load32(blk + 16u, c[3], c[4]);
#endif
    return qb_unit_words(u, q, c);
}

#elif defined(WTYPE_Q6_K)
// ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208. Unit u: h = u/4, c = u%4:
// low4 = nibble (c/2) of ql[64h + 32(c%2) + l], high2 = (qh[32h + l] >> 2c) & 3, x = d * sc * (q - 32).
#define QB_BYTES 210u
#define QB_UNITS 8u
vec4 qb_scales(uint blk, uint u) {
    float d = qb_f16(blk + 208u);
    uint s = qb_u16(blk + 192u + 2u * u);
    float d0 = d * float(int(s << 24) >> 24), d1 = d * float(int(s << 16) >> 24);
    return vec4(d0, -32.0 * d0, d1, -32.0 * d1);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint h = u >> 2, c = u & 3u;
    uint bl = blk + 64u * h + 32u * (c & 1u) + 4u * i, bh = blk + 128u + 32u * h + 4u * i;
    uint sl = 4u * (c >> 1), shh = 2u * c;
    lo = qb_bytes(qb_u32(bl), sl, 15u) + 16.0 * qb_bytes(qb_u32(bh), shh, 3u);
    hi = qb_bytes(qb_u32(bl + 16u), sl, 15u) + 16.0 * qb_bytes(qb_u32(bh + 16u), shh, 3u);
}
#define QB_HAS_UNIT 1
#define QB_HAS_UNIT_SEQ 1
// In order: units 4h+c and 4h+c+2 share ql bytes (low/high nibbles); the 4 units of half h share qh.
// With texels the block's scales and d (bytes 192..209) are kept too, in cw[6], cw[7], and the caller loads
// the words of each group of QB_GROUP units once (qb_group_load) before their qb_unit_seq calls: lavapipe
// runs the loads of an `if` whatever its condition, so loads under `c == 0` cost as much in every unit.
#ifdef QB_TEXEL
#define QB_GROUP 4u
void qb_group_load(uint blk, uint u, inout uvec4 cw[QB_CACHE]) {
    uvec4 l[4];
    qb_load64(blk + 64u * (u >> 2), l);
    cw[0] = l[0], cw[1] = l[1], cw[2] = l[2], cw[3] = l[3];
    qb_load32(blk + 128u + 32u * (u >> 2), cw[4], cw[5]);
    qb_load32(blk + 192u, cw[6], cw[7]);
}
#endif
// The 6-bit quants of word i of unit u's first half (hi 0: elements 4i..4i+3) or second (hi 1: 16+4i..) from the
// kept words, one per byte
uint qb_q6k_bytes(uvec4 cw[QB_CACHE], uint u, uint i, uint hi) {
    uint c = u & 3u;
    uint l = (c & 1u) == 0u ? cw[hi][i] : cw[2u + hi][i];
    return qb_nib_hi(l, 4u * (c >> 1), cw[4u + hi][i], 2u * c, 0x03030303u);
}
#ifdef QB_TEXEL
// d * sc of unit u's two sub-blocks, from the kept words
vec2 qb_q6k_sub_d(uvec4 cw[QB_CACHE], uint u) {
    float d = half_unpack2(cw[7].x).x;
    uint s = qb_comp(cw[6], u >> 1) >> (16u * (u & 1u)); // scale bytes 2u, 2u + 1
    return vec2(d * float(int(s << 24) >> 24), d * float(int(s << 16) >> 24));
}
#endif
vec4 qb_unit_seq(uint blk, uint u, out vec4 q[8], inout uvec4 cw[QB_CACHE]) {
#ifndef QB_TEXEL
    uint c = u & 3u;
    if (c == 0u) {
        uint bl = blk + 64u * (u >> 2), bh = blk + 128u + 32u * (u >> 2);
        uvec4 l[4];
        qb_load64(bl, l);
        cw[0] = l[0], cw[1] = l[1], cw[2] = l[2], cw[3] = l[3];
        qb_load32(bh, cw[4], cw[5]);
    }
#endif
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[2u * i] = qb_bytes(qb_q6k_bytes(cw, u, i, 0u), 0u, 63u);
        q[2u * i + 1u] = qb_bytes(qb_q6k_bytes(cw, u, i, 1u), 0u, 63u);
    }
#ifdef QB_TEXEL
    vec2 d = qb_q6k_sub_d(cw, u);
    return vec4(d.x, -32.0 * d.x, d.y, -32.0 * d.y);
#else
    return qb_scales(blk, u);
#endif
}
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    uint h = u >> 2, c = u & 3u;
    uint bl = blk + 64u * h + 32u * (c & 1u), bh = blk + 128u + 32u * h;
    uint sl = 4u * (c >> 1), shh = 2u * c;
    uvec4 l0 = qb_load4(bl), l1 = qb_load4(bl + 16u), h0 = qb_load4(bh), h1 = qb_load4(bh + 16u);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        q[2u * i] = qb_bytes(qb_nib_hi(l0[i], sl, h0[i], shh, 0x03030303u), 0u, 63u);
        q[2u * i + 1u] = qb_bytes(qb_nib_hi(l1[i], sl, h1[i], shh, 0x03030303u), 0u, 63u);
    }
    return qb_scales(blk, u);
}
#ifdef QB_TEXEL
// QB_X8 (from the words qb_group_load keeps, as qb_unit_seq): the quants centred, q - 32 in -32..31 (bit 5 of each
// assembled byte flipped, then read as a signed 6-bit number). A part of 8 elements sums within a 16-bit half
// (8 * 32 * 127 < 2^15): QB_X8_PART 2. Each half unit (a sub-block) has its own scale, d * sc: (x, y), QB_X8_SUB.
#define QB_X8 1
#define QB_X8_PART 2
#define QB_X8_SUB 1
ivec4 qb_s6(uint w) { return ivec4(uvec4(w ^ 0x20202020u) << uvec4(26u, 18u, 10u, 2u)) >> 26; }
vec2 qb_unit_x8(uint blk, uint u, out ivec4 q[8], inout uvec4 cw[QB_CACHE]) {
    [[unroll]] for (uint i = 0u; i < 4u; i++) { // q[t]: elements 4t .. 4t + 3
        q[i] = qb_s6(qb_q6k_bytes(cw, u, i, 0u));
        q[4u + i] = qb_s6(qb_q6k_bytes(cw, u, i, 1u));
    }
    return qb_q6k_sub_d(cw, u);
}
#endif

#elif defined(WTYPE_IQ4_XS)
// d @0, scales_h @2, scales_l[4] @4, qs[128] @8. Unit u = sub-block s: element j < 16 is the low
// nibble of qs[16s + j], element 16 + j its high nibble; x = d * (ls - 32) * kvalues[q].
#define QB_BYTES 136u
#define QB_UNITS 8u
vec4 qb_scales(uint blk, uint u) {
    uint w = qb_u32(blk);
    float d = half_unpack2(w).x;
    uint ls = ((qb_u8(blk + 4u + (u >> 1)) >> (4u * (u & 1u))) & 15u) | (((w >> (16u + 2u * u)) & 3u) << 4);
    float s = d * (float(ls) - 32.0);
    return vec4(s, 0.0, s, 0.0);
}
void qb_quads(uint blk, uint u, uint i, out vec4 lo, out vec4 hi) {
    uint q = qb_u32(blk + 8u + 16u * u + 4u * i);
    lo = qb_iq4(qb_bytes(q, 0u, 15u));
    hi = qb_iq4(qb_bytes(q, 4u, 15u));
}

#else
#error "quant_blocks.glsl: define one WTYPE_<type>"
#endif

#ifndef QB_HAS_UNIT
// The raw quants of a whole unit, q[2i] = lo and q[2i+1] = hi of quad i; returns qb_scales. Types with a
// cheaper way to load a whole block define their own (QB_HAS_UNIT).
vec4 qb_unit(uint blk, uint u, out vec4 q[8]) {
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        qb_quads(blk, u, i, q[2u * i], q[2u * i + 1u]);
    return qb_scales(blk, u);
}
#endif

#ifndef QB_HAS_UNIT_SEQ
// qb_unit for a caller walking the units of each block in order (u = 0, 1, ...): types whose units share
// words keep them in c between calls; the others ignore c.
vec4 qb_unit_seq(uint blk, uint u, out vec4 q[8], inout uvec4 c[QB_CACHE]) { return qb_unit(blk, u, q); }
#endif

// The 8 dequantized values of quad i of unit u: elements 4i..4i+3 (lo) and 16+4i..16+4i+3 (hi).
void qb_dequant_quads(uint blk, uint u, uint i, vec4 s, out vec4 lo, out vec4 hi) {
    vec4 ql, qh;
    qb_quads(blk, u, i, ql, qh);
    lo = ql * s.x + s.y;
    hi = qh * s.z + s.w;
}
#endif
