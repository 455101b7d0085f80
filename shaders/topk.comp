#version 450
// One pass of top-k selection over f32 rows. Each invocation takes `chunk` consecutive entries of its
// row and writes its k best, sorted, to its own slot of the output: value descending, ties to the
// lower id. RAW reads values whose id is their column; PAIRS reads (value, id) entries of an earlier
// pass. Passes repeat until one invocation covers a row (engine/ops/select.c). NaN counts as -inf.
// KMAX bounds k at compile time (1 for argmax: no arrays).
layout(constant_id = 0) const uint WG = 32;
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint ncols;      // entries per row in this dispatch
    uint in_stride;  // elements between rows of the bound input
    uint in_off;     // element offset of input values (and of input ids, PAIRS)
    uint ids_off;
    uint chunk;      // entries per invocation
    uint k;
    uint out_stride; // output entries between rows
    uint out_off;    // element offsets of output values and ids
    uint oid_off;
    uint col0;       // RAW: id of bound column 0
    uint inv0;       // output slot of this dispatch's first invocation
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufA { float A[]; };
#ifdef PAIRS
layout(std430, binding = 1) readonly buffer BufAI { uint AI[]; };
#define OUT_B 2
#else
#define OUT_B 1
#endif
layout(std430, binding = OUT_B) writeonly buffer BufOV { float OV[]; };
layout(std430, binding = OUT_B + 1) writeonly buffer BufOI { uint OI[]; };

bool better(float v, uint i, float w, uint j) { return v > w || (v == w && i < j); }

void main() {
    uint j = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;
    uint c0 = j * pc.chunk;
    if (c0 >= pc.ncols)
        return;
    uint c1 = min(pc.ncols, c0 + pc.chunk);
    float bv[KMAX];
    uint bi[KMAX];
    for (uint t = 0u; t < KMAX; t++) {
        bv[t] = -1.0 / 0.0;
        bi[t] = 0xffffffffu;
    }
    uint k = pc.k, last = pc.k - 1u;
    for (uint c = c0; c < c1; c++) {
        float v = A[pc.in_off + row * pc.in_stride + c];
        if (isnan(v))
            v = -1.0 / 0.0;
#ifdef PAIRS
        uint id = AI[pc.ids_off + row * pc.in_stride + c];
#else
        uint id = pc.col0 + c;
#endif
        if (!better(v, id, bv[last], bi[last]))
            continue;
        uint p = last;
        while (p > 0u && better(v, id, bv[p - 1u], bi[p - 1u])) {
            bv[p] = bv[p - 1u];
            bi[p] = bi[p - 1u];
            p--;
        }
        bv[p] = v;
        bi[p] = id;
    }
    uint o = row * pc.out_stride + (pc.inv0 + j) * k;
    for (uint t = 0u; t < k; t++) {
        OV[pc.out_off + o + t] = bv[t];
        OI[pc.oid_off + o + t] = bi[t];
    }
}
