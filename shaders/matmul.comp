#version 450
// Matrix x matrix for prefill: d[m][n] = sum_k W[n][k] * x[m][k] (+ bias[n]), W of any weight type
// (quant_blocks.glsl), x and d f32. A workgroup of 128 invocations computes a tile of TN = 64 weight rows
// x TM = 32 tokens; per 32-element step of K it dequantizes its 64 weight units and 32 x slices into
// shared memory (transposed, so each invocation reads 4 rows or 4 tokens as one vec4), then every
// invocation accumulates a 4 x 4 block of outputs. Two barriers per step: meant for GPUs; CPU devices
// use the register-tiled kernel of matmul_vec.comp instead (see engine/ops/matmul.c).
#extension GL_GOOGLE_include_directive : require

#define TN 64u
#define TM 32u
#define NT 128u  // invocations: (TN / 4) x (TM / 4)
layout(local_size_x_id = 0) in; // always specialised to NT (the C side passes 128)

layout(push_constant) uniform Push {
    uint units;     // 32-element units per row (K / 32)
    uint rows;      // weight rows in this dispatch
    uint row_bytes;
    uint w_off;     // byte offset of row 0 in the bound weight range
    uint x_off;     // vec4 offset of x[0][0]
    uint x_stride;  // vec4s between tokens of x
    uint n_tok;     // tokens in this dispatch
    uint d_off;     // float offset of d[0][0] (row 0 of this dispatch)
    uint d_stride;  // floats between tokens of d
    uint b_off;
    uint has_bias;
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufW { uint W[]; };
layout(std430, binding = 1) readonly buffer BufX { vec4 X[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };
layout(std430, binding = 3) readonly buffer BufB { float B[]; };

#include "quant_blocks.glsl"

shared vec4 Ws[32u * (TN / 4u)]; // Ws[k * 16 + r / 4][r % 4] = W[row0 + r][k0 + k]
shared vec4 Xs[32u * (TM / 4u)]; // Xs[k * 8 + t / 4][t % 4] = x[tok0 + t][k0 + k]

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint row0 = gl_WorkGroupID.x * TN, tok0 = gl_WorkGroupID.y * TM;
    uint rg = tid % (TN / 4u), tg = tid / (TN / 4u); // this invocation's 4 rows and 4 tokens
    mat4 acc = mat4(0.0);                             // acc[token j][row i]
    for (uint g = 0u; g < pc.units; g++) {
        // weights: 64 rows x 4 quads = 256 loads, 2 per invocation
        [[unroll]] for (uint l = 0u; l < 2u; l++) {
            uint job = tid + l * NT, r = job >> 2, i = job & 3u;
            vec4 lo = vec4(0.0), hi = vec4(0.0);
            if (row0 + r < pc.rows) {
                uint blk = pc.w_off + (row0 + r) * pc.row_bytes + (g / QB_UNITS) * QB_BYTES, u = g % QB_UNITS;
                qb_dequant_quads(blk, u, i, qb_scales(blk, u), lo, hi);
            }
            [[unroll]] for (uint e = 0u; e < 4u; e++) {
                Ws[(4u * i + e) * (TN / 4u) + (r >> 2)][r & 3u] = lo[e];
                Ws[(16u + 4u * i + e) * (TN / 4u) + (r >> 2)][r & 3u] = hi[e];
            }
        }
        // x: 32 tokens x 8 vec4 = 256 loads, 2 per invocation
        [[unroll]] for (uint l = 0u; l < 2u; l++) {
            uint job = tid + l * NT, t = job >> 3, j = job & 7u;
            vec4 xv = tok0 + t < pc.n_tok ? X[pc.x_off + (tok0 + t) * pc.x_stride + 8u * g + j] : vec4(0.0);
            [[unroll]] for (uint e = 0u; e < 4u; e++)
                Xs[(4u * j + e) * (TM / 4u) + (t >> 2)][t & 3u] = xv[e];
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < 32u; k++)
            acc += outerProduct(Ws[k * (TN / 4u) + rg], Xs[k * (TM / 4u) + tg]);
        barrier();
    }
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        uint r = row0 + 4u * rg + i;
        if (r >= pc.rows)
            continue;
        float bias = pc.has_bias != 0u ? B[pc.b_off + r] : 0.0;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint t = tok0 + 4u * tg + j;
            if (t < pc.n_tok)
                D[pc.d_off + t * pc.d_stride + r] = acc[j][i] + bias;
        }
    }
}
