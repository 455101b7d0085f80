#version 450
// Embedding lookup from plain float weights whose rows are no multiple of 32 elements (shaders/
// plain_weights.glsl): d[i][k] = W[ids[i]][k], 0 for an id outside [0, rows); one element per invocation
// (gl_GlobalInvocationID.x) and id (gl_GlobalInvocationID.y).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "plain_weights.glsl"

layout(std430, binding = 1) readonly buffer BufI { int IDS[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };

void main() {
    uint i = gl_GlobalInvocationID.x, v = gl_GlobalInvocationID.y;
    if (v >= pc.n_vec || i >= pc.k)
        return;
    int id = IDS[pc.x_off + v];
    float val = 0.0;
    if (id >= 0 && uint(id) < pc.rows)
        val = wload(pc.w_half + uint(id) * pc.row_halves + EH * i);
    D[pc.d_off + v * pc.d_stride + i] = val;
}
