#version 450
// RMS normalisation, one workgroup per row of n elements (f32 in, f32 out, f32 weight):
//   d = a / sqrt(mean(a^2) + eps)    (* w when flags & 1)
// RESIDUAL: a += r first (written back: the residual stream), then d = rms_norm(a) (* w); each invocation
// reads back only the elements it wrote, and d may be r itself.
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

#ifdef RESIDUAL
layout(std430, binding = 0) buffer BufA { float A[]; };
layout(std430, binding = 3) readonly buffer BufR { float R[]; };
#else
layout(std430, binding = 0) readonly buffer BufA { float A[]; };
#endif
layout(std430, binding = 1) readonly buffer BufW { float W[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };

void main() {
    uint row = gl_WorkGroupID.x;
    uint base_a = pc.a_off + row * pc.n;
    uint base_d = pc.d_off + row * pc.n;
    uint t = gl_LocalInvocationID.x;
    float q = 0.0;
    for (uint i = t; i < pc.n; i += WG) {
        float x = A[base_a + i];
#ifdef RESIDUAL
        x += R[pc.r_off + row * pc.n + i];
        A[base_a + i] = x;
#endif
        q += x * x;
    }
    float scale = inversesqrt(wg_sum(q, 0u) / float(pc.n) + pc.eps);
    bool has_w = (pc.flags & 1u) != 0u;
    for (uint i = t; i < pc.n; i += WG) {
        float y = A[base_a + i] * scale;
        if (has_w)
            y *= W[pc.w_off + i];
        D[base_d + i] = y;
    }
}
