#version 450
// Rotary position embedding on f32 [tokens][heads][head_dim] (token rows may be strided), one
// invocation per pair of elements; the rotation itself is shaders/rope.glsl (variants ROPE_NORMAL and
// ROPE_NEOX). Elements n_rot .. head_dim-1 pass through (invocations p >= n_rot/2 copy elements 2p, 2p+1).
#extension GL_GOOGLE_include_directive : require
#define ROPE_FF_BINDING 2
#include "rope.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

// declared identically as vkslm_rope_push in engine/ops/rope.h
layout(push_constant) uniform Push {
    uint head_dim, n_heads, n_tokens;
    uint a_off, d_off, p_off;
    uint a_tstride, d_tstride; // elements between tokens
    RopeArgs rope;
} pc;

layout(std430, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, binding = 1) readonly buffer BufP { int P[]; };
layout(std430, binding = 3) writeonly buffer BufD { float D[]; };

void main() {
    uint half_dim = pc.head_dim >> 1;
    uint g = gl_GlobalInvocationID.x;
    if (g >= pc.n_tokens * pc.n_heads * half_dim)
        return;
    uint p = g % half_dim, row = g / half_dim;
    uint h = row % pc.n_heads, t = row / pc.n_heads;
    uint a0 = pc.a_off + t * pc.a_tstride + h * pc.head_dim;
    uint d0 = pc.d_off + t * pc.d_tstride + h * pc.head_dim;
    if (p >= (pc.rope.n_rot >> 1)) {
        D[d0 + 2u * p] = A[a0 + 2u * p];
        D[d0 + 2u * p + 1u] = A[a0 + 2u * p + 1u];
        return;
    }
    uvec2 i = rope_pair(p, pc.rope.n_rot);
    vec2 y = rope_rotate(vec2(A[a0 + i.x], A[a0 + i.y]), rope_cos_sin(pc.rope, p, P[pc.p_off + t]));
    D[d0 + i.x] = y.x;
    D[d0 + i.y] = y.y;
}
