#version 450
// Rows of f32 x in 8 bits (engine/ops/matmul.h, vkslm_x8), as vkslm_cpu_quantize_x8 writes them and as the products
// that write 8 bits round (matmul_vec.comp's X8_OUT, attention_lane.comp's): an invocation per (vector pair, unit);
// each vector's unit scaled by its largest magnitude / 127, rounded to nearest even, the pair's two values in one
// integer lo + 65536 hi (an odd last vector: hi 0), then the two scales and two zeros. With pc.has_g each row is
// multiplied by g (binding 2: the next norm's weights) first, as the products' X8_OUT multiply their outputs.
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "x8.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

layout(push_constant) uniform Push {
    uint units;    // 32-element units per row
    uint n_vec;    // vectors (rows of x)
    uint x_off;    // vec4 offset of x[0] in binding 0
    uint x_stride; // vec4s between vectors
    uint q_off;    // int offset of pair 0's row in binding 1
    uint q_stride; // ints between pair rows
    uint g_off;    // vec4 offset of g in binding 2
    uint has_g;
} pc;

layout(std430, binding = 0) readonly buffer BufX { vec4 X[]; };
layout(std430, binding = 1) writeonly buffer BufQ { int Q[]; };
layout(std430, binding = 2) readonly buffer BufG { vec4 G[]; };

void main() {
    const uint i = gl_GlobalInvocationID.x, g = i % pc.units, p = i / pc.units;
    if (p >= (pc.n_vec + 1u) / 2u)
        return;
    int w[32];
    [[unroll]] for (uint e = 0u; e < 32u; e++)
        w[e] = 0;
    float dx[2];
    [[unroll]] for (uint h = 0u; h < 2u; h++) {
        const uint v = 2u * p + h;
        dx[h] = 0.0;
        if (v >= pc.n_vec)
            break;
        vec4 x[8];
        vec4 a4 = vec4(0.0);
        [[unroll]] for (uint t = 0u; t < 8u; t++) {
            x[t] = X[pc.x_off + v * pc.x_stride + 8u * g + t];
            if (pc.has_g != 0u)
                x[t] *= G[pc.g_off + 8u * g + t];
            a4 = max(a4, abs(x[t]));
        }
        const vec2 sc = x8_scale(max(max(a4.x, a4.y), max(a4.z, a4.w)));
        dx[h] = sc.x;
        [[unroll]] for (uint t = 0u; t < 8u; t++)
            [[unroll]] for (uint c = 0u; c < 4u; c++)
                w[4u * t + c] += x8_round(x[t][c], sc.y) << (16u * h);
    }
    const uint at = pc.q_off + p * pc.q_stride + g * 36u;
    [[unroll]] for (uint e = 0u; e < 32u; e++)
        Q[at + e] = w[e];
    Q[at + 32u] = floatBitsToInt(dx[0]);
    Q[at + 33u] = floatBitsToInt(dx[1]);
    Q[at + 34u] = 0;
    Q[at + 35u] = 0;
}
