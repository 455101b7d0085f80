#version 450
// Rotary position embedding on f32 [tokens][heads][head_dim] (token rows may be strided), one
// invocation per pair of elements. Pair p < n_rot/2 of a head rotates by
//   theta = pos * base^(-2p / n_rot) * freq_scale / ff[p]     (ff: optional frequency factors)
// NORMAL (llama) pairs elements (2p, 2p+1); NEOX (qwen2, phi3, gemma) pairs (p, p + n_rot/2).
// Elements n_rot .. head_dim-1 pass through (invocations p >= n_rot/2 copy elements 2p, 2p+1).
layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint head_dim, n_rot, n_heads, n_tokens;
    uint a_off, d_off, p_off, f_off;
    uint a_tstride, d_tstride; // elements between tokens
    uint flags;                // 1: frequency factors bound
    float theta_log2;          // log2(theta base)
    float freq_scale;
    uint pad0, pad1, pad2;
} pc;

layout(std430, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, binding = 1) readonly buffer BufP { int P[]; };
layout(std430, binding = 2) readonly buffer BufF { float F[]; };
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
    uint half_rot = pc.n_rot >> 1;
    if (p >= half_rot) {
        D[d0 + 2u * p] = A[a0 + 2u * p];
        D[d0 + 2u * p + 1u] = A[a0 + 2u * p + 1u];
        return;
    }
#ifdef ROPE_NEOX
    uint i0 = p, i1 = p + half_rot;
#else
    uint i0 = 2u * p, i1 = 2u * p + 1u;
#endif
    float inv_freq = exp2(-float(2u * p) / float(pc.n_rot) * pc.theta_log2) * pc.freq_scale;
    if ((pc.flags & 1u) != 0u)
        inv_freq /= F[pc.f_off + p];
    float theta = float(P[pc.p_off + t]) * inv_freq;
    float c = cos(theta), s = sin(theta);
    float x0 = A[a0 + i0], x1 = A[a0 + i1];
    D[d0 + i0] = x0 * c - x1 * s;
    D[d0 + i1] = x0 * s + x1 * c;
}
