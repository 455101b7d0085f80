#version 450
// Weight products and row gathers for plain float weights (F32, F16, BF16) whose rows are not a multiple
// of 32 elements, which the blocked kernels (matvec.comp, get_rows.comp) need: small models only, so one
// row (MATVEC) or one element (GET_ROWS) per invocation, simple and exact. Weights are bound as 32-bit
// words and addressed in 16-bit halves, so an F16/BF16 row may start in the middle of a word.
//   MATVEC:   d[v][r] = sum_k W[r][k] * x[v][k] (+ bias[r]); x: gl_GlobalInvocationID.y = v
//   GET_ROWS: d[i][k] = W[ids[i]][k] (0 for an id outside [0, rows)); gl_GlobalInvocationID.y = i
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint k;          // elements per row
    uint rows;       // weight rows bound
    uint w_half;     // 16-bit offset of row 0 in the bound weights
    uint row_halves; // 16-bit units between rows
    uint x_off;      // float offset of x[0] (MATVEC) or int offset of ids[0] (GET_ROWS)
    uint x_stride;   // floats between vectors of x
    uint n_vec;      // vectors (MATVEC) or ids (GET_ROWS) of this dispatch
    uint d_off;      // float offset of d[0][0]
    uint d_stride;   // floats between vectors (rows) of d
    uint b_off;      // float offset of bias[0]
    uint has_bias;
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufW { uint W[]; };
#ifdef OP_MATVEC
layout(std430, binding = 1) readonly buffer BufX { float X[]; };
#else
layout(std430, binding = 1) readonly buffer BufI { int IDS[]; };
#endif
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };
#ifdef OP_MATVEC
layout(std430, binding = 3) readonly buffer BufB { float B[]; };
#endif

#if defined(WTYPE_F32)
#define EH 2u
float wload(uint h) { return uintBitsToFloat(W[h >> 1]); }
#elif defined(WTYPE_F16)
#define EH 1u
float wload(uint h) { return unpackHalf2x16(W[h >> 1])[h & 1u]; }
#else // BF16
#define EH 1u
float wload(uint h) { uint w = W[h >> 1]; return uintBitsToFloat(((h & 1u) != 0u ? w >> 16 : w & 0xffffu) << 16); }
#endif

void main() {
    uint i = gl_GlobalInvocationID.x, v = gl_GlobalInvocationID.y;
    if (v >= pc.n_vec)
        return;
#ifdef OP_MATVEC
    if (i >= pc.rows)
        return;
    uint base = pc.w_half + i * pc.row_halves, xb = pc.x_off + v * pc.x_stride;
    float acc = 0.0;
    for (uint k = 0u; k < pc.k; k++)
        acc += wload(base + EH * k) * X[xb + k];
    D[pc.d_off + v * pc.d_stride + i] = acc + (pc.has_bias != 0u ? B[pc.b_off + i] : 0.0);
#else
    if (i >= pc.k)
        return;
    int id = IDS[pc.x_off + v];
    float val = 0.0;
    if (id >= 0 && uint(id) < pc.rows)
        val = wload(pc.w_half + uint(id) * pc.row_halves + EH * i);
    D[pc.d_off + v * pc.d_stride + i] = val;
#endif
}
