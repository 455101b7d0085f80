#version 450
// Weight products for plain float weights whose rows are no multiple of 32 elements (shaders/
// plain_weights.glsl): d[v][r] = sum_k W[r][k] * x[v][k] (+ bias[r]), one row per invocation
// (gl_GlobalInvocationID.x) and vector (gl_GlobalInvocationID.y); simple and exact.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "plain_weights.glsl"

layout(std430, binding = 1) readonly buffer BufX { float X[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };
layout(std430, binding = 3) readonly buffer BufB { float B[]; };

void main() {
    uint i = gl_GlobalInvocationID.x, v = gl_GlobalInvocationID.y;
    if (v >= pc.n_vec || i >= pc.rows)
        return;
    uint base = pc.w_half + i * pc.row_halves, xb = pc.x_off + v * pc.x_stride;
    float acc = 0.0;
    for (uint k = 0u; k < pc.k; k++)
        acc += wload(base + EH * k) * X[xb + k];
    D[pc.d_off + v * pc.d_stride + i] = acc + (pc.has_bias != 0u ? B[pc.b_off + i] : 0.0);
}
