#version 450
// Row normalisation, one workgroup per row of n elements (f32 in, f32 out, f32 weight and bias):
//   RMS:   d = a / sqrt(mean(a^2) + eps)              (* w if HAS_W)
//   LAYER: d = (a - mean(a)) / sqrt(var(a) + eps)      (* w if HAS_W) (+ b if HAS_B)
// The variance is the mean of squared deviations (two passes over the row, not E[a^2] - E[a]^2).
// RESIDUAL (with RMS): a += r first (written back: the residual stream), then d = rms_norm(a) (* w); each
// invocation reads back only the elements it wrote, and d may be r itself.
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#include "reduce.glsl"

layout(push_constant) uniform Push {
    uint n;      // row length
    uint a_off;  // element offsets into the bound ranges
    uint d_off;
    uint w_off;
    uint b_off;
    uint flags;  // 1: multiply by w, 2: add b
    float eps;
    uint r_off;  // RESIDUAL: element offset of r
} pc;

#ifdef RESIDUAL
layout(std430, binding = 0) buffer BufA { float A[]; };
layout(std430, binding = 4) readonly buffer BufR { float R[]; };
#else
layout(std430, binding = 0) readonly buffer BufA { float A[]; };
#endif
layout(std430, binding = 1) readonly buffer BufW { float W[]; };
layout(std430, binding = 2) readonly buffer BufB { float B[]; };
layout(std430, binding = 3) writeonly buffer BufD { float D[]; };

void main() {
    uint row = gl_WorkGroupID.x;
    uint base_a = pc.a_off + row * pc.n;
    uint base_d = pc.d_off + row * pc.n;
    uint t = gl_LocalInvocationID.x;
#ifdef OP_LAYER
    float s = 0.0;
    for (uint i = t; i < pc.n; i += WG)
        s += A[base_a + i];
    float mean = wg_sum(s, 0u) / float(pc.n);
    float q = 0.0;
    for (uint i = t; i < pc.n; i += WG) {
        float x = A[base_a + i] - mean;
        q += x * x;
    }
    float scale = inversesqrt(wg_sum(q, 1u) / float(pc.n) + pc.eps);
#else
    const float mean = 0.0;
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
#endif
    bool has_w = (pc.flags & 1u) != 0u, has_b = (pc.flags & 2u) != 0u;
    for (uint i = t; i < pc.n; i += WG) {
        float y = (A[base_a + i] - mean) * scale;
        if (has_w)
            y *= W[pc.w_off + i];
        if (has_b)
            y += B[pc.b_off + i];
        D[base_d + i] = y;
    }
}
