#version 450
// Elementwise ops: ADD d = a + b (b broadcast: element e uses b[e % nb]), SCALE d = a * scale,
// SOFTCAP d = scale * tanh(a / scale); a, b and d f32 or f16. A dispatch covers reps periods of nb
// elements (engine/ops/elementwise.c splits the work into such pieces; ops without b have one period).
// Each invocation writes one pair of elements, so f16 output needs no 16-bit storage: without it, a
// pair is one packed word (d_off must then be even; the last odd element keeps its neighbour's half).
#extension GL_GOOGLE_include_directive : require
#include "types.glsl"

layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint reps;    // periods in this dispatch
    uint nb;      // elements of a period (of b)
    uint a_off;   // element offsets into the bound ranges
    uint b_off;
    uint d_off;
    uint pad0;
    float scale;
    uint pad1;
} pc;

#if defined(OP_ADD)
#define HAS_B 1
#endif

#ifdef TYPE_A_F16
DECLARE_F16(0, A, readonly)
#define LOAD_A(i) LOAD_F16(A, i)
#ifdef HAS_B
DECLARE_F16(1, B, readonly)
#define LOAD_B(i) LOAD_F16(B, i)
#endif
#else
DECLARE_F32(0, A, readonly)
#define LOAD_A(i) LOAD_F32(A, i)
#ifdef HAS_B
DECLARE_F32(1, B, readonly)
#define LOAD_B(i) LOAD_F32(B, i)
#endif
#endif

#ifdef HAS_B
#define D_BINDING 2
#else
#define D_BINDING 1
#endif

#ifdef TYPE_D_F16
DECLARE_F16(D_BINDING, D, )
#else
DECLARE_F32(D_BINDING, D, writeonly)
#endif

float op(uint e) {
    float a = LOAD_A(pc.a_off + e);
#if defined(OP_ADD)
    return a + LOAD_B(pc.b_off + e % pc.nb);
#elif defined(OP_SCALE)
    return a * pc.scale;
#else // SOFTCAP
    // tanh(y) = 1 - 2 / (exp(2y) + 1): no overflow for large |y| (exp -> inf gives 1)
    float y = a / pc.scale;
    return pc.scale * (1.0 - 2.0 / (exp(2.0 * y) + 1.0));
#endif
}

void main() {
    uint p = gl_GlobalInvocationID.x;
    uint e0 = 2u * p, n = pc.reps * pc.nb;
    if (e0 >= n)
        return;
    bool has1 = e0 + 1u < n;
    float v0 = op(e0);
    float v1 = has1 ? op(e0 + 1u) : 0.0;
#if defined(TYPE_D_F16) && !defined(STORAGE16)
    uint w = (pc.d_off >> 1) + p;
    uint lo = half_pack2(vec2(v0, v1));
    D[w] = has1 ? lo : ((D[w] & 0xffff0000u) | (lo & 0xffffu));
#elif defined(TYPE_D_F16)
    D[pc.d_off + e0] = float16_t(v0);
    if (has1)
        D[pc.d_off + e0 + 1u] = float16_t(v1);
#else
    D[pc.d_off + e0] = v0;
    if (has1)
        D[pc.d_off + e0 + 1u] = v1;
#endif
}
