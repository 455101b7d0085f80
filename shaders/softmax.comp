#version 450
// Softmax over f32 rows, one workgroup per row: d = exp(s*a - max) / sum(exp(s*a - max)), s = scale.
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
#include "reduce.glsl"

layout(push_constant) uniform Push {
    uint n;
    uint a_off, d_off;
    float scale;
} pc;

layout(std430, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, binding = 1) writeonly buffer BufD { float D[]; };

void main() {
    uint base_a = pc.a_off + gl_WorkGroupID.x * pc.n, base_d = pc.d_off + gl_WorkGroupID.x * pc.n;
    uint t = gl_LocalInvocationID.x;
    float m = -3.4028235e38;
    for (uint i = t; i < pc.n; i += WG)
        m = max(m, pc.scale * A[base_a + i]);
    m = wg_max(m, 0u);
    float s = 0.0;
    for (uint i = t; i < pc.n; i += WG)
        s += exp(pc.scale * A[base_a + i] - m);
    float inv = 1.0 / wg_sum(s, 1u);
    for (uint i = t; i < pc.n; i += WG)
        D[base_d + i] = exp(pc.scale * A[base_a + i] - m) * inv;
}
