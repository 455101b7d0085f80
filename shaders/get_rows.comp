#version 450
// Embedding lookup: d[i][0..K) = row ids[i] of W, dequantized to f32, W of any weight type
// (quant_blocks.glsl). One invocation decodes one 32-element unit of one id's row. A dispatch sees the
// weight rows [r0, r0 + rows) (large matrices are bound in row chunks, one dispatch each) and writes only
// the ids inside them; the dispatch with r0 == 0 also writes zeros for ids outside [0, n_total).
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint units;     // 32-element units per row (K / 32)
    uint row_bytes;
    uint w_off;     // byte offset of row r0 in the bound weight range
    uint r0;        // first row bound
    uint rows;      // rows bound
    uint n_total;   // rows of the whole matrix
    uint ids_off;   // int offset of ids[0]
    uint n_ids;     // ids in this dispatch
    uint d_off;     // float offset of d[0][0]
    uint tile;      // rows per tile of W (engine/model/weight_tiles.h; 1: row after row)
    uint pad1, pad2;
} pc;

layout(std430, binding = 0) readonly buffer BufW { uint W[]; };
layout(std430, binding = 1) readonly buffer BufI { int IDS[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };

#include "quant_blocks.glsl"

void main() {
    uint t = gl_GlobalInvocationID.x;
    uint i = t / pc.units, g = t % pc.units;
    if (i >= pc.n_ids)
        return;
    int id = IDS[pc.ids_off + i];
    uint o = pc.d_off + i * pc.units * 32u + 32u * g;
    if (id < 0 || uint(id) >= pc.n_total) {
        if (pc.r0 == 0u)
            for (uint j = 0u; j < 32u; j++)
                D[o + j] = 0.0;
        return;
    }
    uint r = uint(id) - pc.r0;
    if (uint(id) < pc.r0 || r >= pc.rows)
        return;
    uint blk = pc.w_off + (r / pc.tile) * pc.tile * pc.row_bytes + ((g / QB_UNITS) * pc.tile + r % pc.tile) * QB_BYTES;
    uint u = g % QB_UNITS;
    vec4 q[8];
    vec4 s = qb_unit(blk, u, q);
    [[unroll]] for (uint k = 0u; k < 4u; k++) {
        vec4 lo = q[2u * k] * s.x + s.y, hi = q[2u * k + 1u] * s.z + s.w;
        [[unroll]] for (uint e = 0u; e < 4u; e++) {
            D[o + 4u * k + e] = lo[e];
            D[o + 16u + 4u * k + e] = hi[e];
        }
    }
}
