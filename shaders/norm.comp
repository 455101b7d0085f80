#version 450
// RMS normalisation, one workgroup per row of n elements (f32 in, f32 out, f32 weight):
//   d = a / sqrt(mean(a^2) + eps)    (* w when flags & 1)
// RESIDUAL: a += r first (written back: the residual stream), then d = rms_norm(a) (* w); each invocation
// reads back only the elements it wrote, and d may be r itself.
// VEC4: every row, offset and the weight in groups of 4 (vec4 accesses: a quarter of the loads, which a CPU
// device makes lane by lane); offsets then count vec4s.
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#include "reduce.glsl"

layout(push_constant) uniform Push {
    uint n;      // row length
    uint a_off;  // element offsets into the bound ranges
    uint d_off;
    uint w_off;
    uint r_off;  // RESIDUAL: element offset of r
    uint flags;  // 1: multiply by w
    float eps;
    uint pad;
} pc;

#ifdef VEC4
#define T vec4
#define SQ(x) dot(x, x)
#define PER 4u
#else
#define T float
#define SQ(x) ((x) * (x))
#define PER 1u
#endif
#ifdef RESIDUAL
layout(std430, binding = 0) buffer BufA { T A[]; };
layout(std430, binding = 3) readonly buffer BufR { T R[]; };
#else
layout(std430, binding = 0) readonly buffer BufA { T A[]; };
#endif
layout(std430, binding = 1) readonly buffer BufW { T W[]; };
layout(std430, binding = 2) writeonly buffer BufD { T D[]; };

void main() {
    const uint n = pc.n / PER; // accesses per row
    uint row = gl_WorkGroupID.x;
    uint base_a = pc.a_off + row * n;
    uint base_d = pc.d_off + row * n;
    uint t = gl_LocalInvocationID.x;
    float q = 0.0;
    for (uint i = t; i < n; i += WG) {
        T x = A[base_a + i];
#ifdef RESIDUAL
        x += R[pc.r_off + row * n + i];
        A[base_a + i] = x;
#endif
        q += SQ(x);
    }
    float scale = inversesqrt(wg_sum(q, 0u) / float(pc.n) + pc.eps);
    bool has_w = (pc.flags & 1u) != 0u;
    for (uint i = t; i < n; i += WG) {
        T y = A[base_a + i] * scale;
        if (has_w)
            y *= W[pc.w_off + i];
        D[base_d + i] = y;
    }
}
