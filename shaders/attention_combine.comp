#version 450
// Merges the per-split partials of attention.comp (flash-decoding): for one row (gl_WorkGroupID.x) of one kv
// head (gl_WorkGroupID.z), with partials (o_s[D], m_s, l_s) of splits s < n_split:
//   m = max_s m_s,  w_s = exp(m_s - m),  out = sum_s w_s o_s / sum_s w_s l_s.
// A split that saw no key has l_s = 0 and weighs nothing. Invocations own head dimensions; every
// invocation reads the (m_s, l_s) pairs itself, so no barrier and no subgroup operation is needed.
#extension GL_GOOGLE_include_directive : require
#include "types.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint D = 64;

layout(push_constant) uniform Push {
    uint n_rows;    // rows of the call (n_tokens * group)
    uint group;
    uint n_head;
    uint n_split;
    uint head_base; // kv head of gl_WorkGroupID.z == 0 (and of the scratch binding's start)
    uint src_off;   // element offsets into the bound ranges
    uint out_off;
    uint pad;
} pc;

DECLARE_F32(0, SRC, readonly)
DECLARE_F32(1, OUT, writeonly)

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint hrel = gl_WorkGroupID.z;
    const uint h = hrel + pc.head_base;
    const uint stride = pc.n_rows * (D + 2u); // elements between splits
    const uint base = pc.src_off + (hrel * pc.n_split * pc.n_rows + row) * (D + 2u);

    float m = -3.0e38;
    for (uint s = 0; s < pc.n_split; s++)
        if (SRC[base + s * stride + D + 1u] > 0.0)
            m = max(m, SRC[base + s * stride + D]);
    float l = 0.0;
    for (uint s = 0; s < pc.n_split; s++) {
        float ls = SRC[base + s * stride + D + 1u];
        if (ls > 0.0)
            l += ls * exp(SRC[base + s * stride + D] - m);
    }
    const float inv = l > 0.0 ? 1.0 / l : 0.0;
    const uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
    const uint ob = pc.out_off + (tok * pc.n_head + head) * D;
    for (uint d = gl_LocalInvocationID.x; d < D; d += WG) {
        float acc = 0.0;
        for (uint s = 0; s < pc.n_split; s++) {
            float ls = SRC[base + s * stride + D + 1u];
            if (ls > 0.0)
                acc += SRC[base + s * stride + d] * exp(SRC[base + s * stride + D] - m);
        }
        OUT[ob + d] = acc * inv;
    }
}
