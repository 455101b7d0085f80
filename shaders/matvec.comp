#version 450
// Matrix x vector(s) for decode: d[v][r] = sum_k W[r][k] * x[v][k] (+ bias[r]) for NVEC vectors at once,
// W of any weight type (quant_blocks.glsl), x and d f32. Every weight block is decoded once and used for
// all NVEC vectors. Also serves as the register-tiled matmul when dispatched with gl_WorkGroupID.y over
// groups of NVEC tokens (no shared memory, no barriers: what CPU devices prefer).
//
// Two strategies, chosen by specialization constant ROW_PER_LANE:
//   1: every invocation computes whole rows (row = global invocation x); no reduction at all. The x
//      loads are the same for every lane (cheap on SIMD-on-CPU devices such as lavapipe).
//   0: each subgroup computes one row at a time, lanes split the row's 32-element units, subgroupAdd
//      reduces. The workgroup covers ROWS_PER_WG rows; works at any subgroup size, partial subgroups
//      included.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NVEC = 1u;         // vectors (tokens) per invocation, 1..8
layout(constant_id = 2) const uint ROW_PER_LANE = 1u;  // strategy (see above)
layout(constant_id = 3) const uint ROWS_PER_WG = 4u;   // rows of a workgroup when ROW_PER_LANE == 0

layout(push_constant) uniform Push {
    uint units;     // 32-element units per row (K / 32)
    uint rows;      // rows in this dispatch
    uint row_bytes; // bytes of one weight row
    uint w_off;     // byte offset of row 0 in the bound weight range
    uint x_off;     // vec4 offset of x[0][0] in the bound x range
    uint x_stride;  // vec4s between vectors of x
    uint n_vec;     // vectors in the whole batch (tokens); vectors >= n_vec are not computed
    uint d_off;     // float offset of d[0][0] (row 0 of this dispatch)
    uint d_stride;  // floats between vectors of d
    uint b_off;     // float offset of bias[0] (row 0 of this dispatch)
    uint has_bias;
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufW { uint W[]; };
layout(std430, binding = 1) readonly buffer BufX { vec4 X[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };
layout(std430, binding = 3) readonly buffer BufB { float B[]; };

#include "quant_blocks.glsl"

#define MAXV 8
float acc[MAXV];
uint xbase[MAXV]; // vec4 index of each vector's x (vectors past the batch re-read the last one)

// Adds unit g (the g-th 32-element unit of the row at byte `row`) times x into acc, for every vector.
void add_unit(uint row, uint g) {
    uint blk = row + (g / QB_UNITS) * QB_BYTES, u = g % QB_UNITS;
    vec4 q[8];
    vec4 s = qb_unit(blk, u, q);
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        vec4 lo = q[2u * i] * s.x + s.y, hi = q[2u * i + 1u] * s.z + s.w;
        [[unroll]] for (uint v = 0u; v < NVEC; v++) {
            uint xi = xbase[v] + 8u * g + i;
            acc[v] += dot(lo, X[xi]) + dot(hi, X[xi + 4u]);
        }
    }
}

void store(uint r, uint v0) {
    float bias = pc.has_bias != 0u ? B[pc.b_off + r] : 0.0;
    [[unroll]] for (uint v = 0u; v < NVEC; v++)
        if (v0 + v < pc.n_vec)
            D[pc.d_off + (v0 + v) * pc.d_stride + r] = acc[v] + bias;
}

void main() {
    uint v0 = gl_WorkGroupID.y * NVEC;                  // first vector of this invocation
    [[unroll]] for (uint v = 0u; v < MAXV; v++) {
        acc[v] = 0.0;
        xbase[v] = pc.x_off + min(v0 + v, pc.n_vec - 1u) * pc.x_stride;
    }
    if (ROW_PER_LANE != 0u) {
        uint r = gl_GlobalInvocationID.x;
        if (r >= pc.rows)
            return;
        uint row = pc.w_off + r * pc.row_bytes;
        for (uint g = 0u; g < pc.units; g++)
            add_unit(row, g);
        store(r, v0);
    } else {
        uint lanes = subgroupAdd(1u), lane = subgroupExclusiveAdd(1u);
        for (uint rr = gl_SubgroupID; rr < ROWS_PER_WG; rr += gl_NumSubgroups) {
            uint r = gl_WorkGroupID.x * ROWS_PER_WG + rr;   // the same in the whole subgroup
            if (r >= pc.rows)
                break;
            [[unroll]] for (uint v = 0u; v < NVEC; v++)
                acc[v] = 0.0;
            uint row = pc.w_off + r * pc.row_bytes;
            for (uint g = lane; g < pc.units; g += lanes)
                add_unit(row, g);
            [[unroll]] for (uint v = 0u; v < NVEC; v++)
                acc[v] = subgroupAdd(acc[v]);
            if (lane == 0u)
                store(r, v0);
        }
    }
}
