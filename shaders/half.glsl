// f16 <-> f32 conversions of every kernel. SOFT_F16 (specialization constant 100, which pipeline.c sets for
// every shader from the device's soft_f16: driver quirk lavapipe-aarch64-f16) picks conversions in integer and
// f32 arithmetic instead of the device's: Debian 12's arm64 lavapipe (LLVM 15) aborts compiling those. The
// constant folds the other branch away before the driver's backend sees it. The soft conversions are exact and
// match engine/util/half.h bit for bit: f16 -> f32 for zeros, subnormals, normals, inf and NaN (payload kept);
// f32 -> f16 rounds to nearest even, overflows to inf, gives subnormals, keeps NaN a (quiet) NaN.
// The 16-bit storage variants (STORAGE16: float16_t buffers) are never chosen when SOFT_F16 is set (the quirk
// turns 16-bit storage off), so their float16_t loads and stores stay as they are.
#ifndef VKSLM_HALF_GLSL
#define VKSLM_HALF_GLSL

layout(constant_id = 100) const bool SOFT_F16 = false;

// the low 16 bits of h as an f16
float half_soft_to_float(uint h) {
    uint s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0u) // zero or subnormal: m * 2^-24, exact in f32 (a normal f32 unless zero)
        return uintBitsToFloat(s | floatBitsToUint(float(m) * 5.9604644775390625e-8));
    return uintBitsToFloat(s | (e == 31u ? 0x7f800000u : (e + 112u) << 23) | (m << 13));
}

// f as f16 bits (in the low 16 bits)
uint half_soft_from_float(float f) {
    uint x = floatBitsToUint(f), s = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) // inf; NaN quieted, the payload's top bits kept
        return s | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u);
    if (a >= 0x477ff000u) // 65520 and above round to 65536: inf
        return s | 0x7c00u;
    if (a >= 0x38800000u) // a normal f16: rebias the exponent by 112, round to nearest even at bit 13
        return s | ((a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13);
    if (a < 0x33000000u) // below 2^-25 (half the smallest subnormal): zero
        return s;
    // a subnormal f16 (or the smallest normal after rounding): the f32 significand in units of 2^-24
    uint e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, sh = 126u - e; // sh in 14..24
    uint q = m >> sh, rem = m & ((1u << sh) - 1u), halfway = 1u << (sh - 1u);
    return s | (q + (rem > halfway || (rem == halfway && (q & 1u) != 0u) ? 1u : 0u));
}

// unpackHalf2x16 / packHalf2x16, by the device or soft
vec2 half_unpack2(uint w) {
    if (SOFT_F16)
        return vec2(half_soft_to_float(w & 0xffffu), half_soft_to_float(w >> 16));
    return unpackHalf2x16(w);
}
uint half_pack2(vec2 v) {
    if (SOFT_F16)
        return half_soft_from_float(v.x) | (half_soft_from_float(v.y) << 16);
    return packHalf2x16(v);
}

#endif
