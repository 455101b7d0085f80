#version 450
// One pass of top-k selection over f32 rows. Each invocation takes `chunk` entries of its row (strided
// by the number of invocations, so reads are coalesced) and writes its k best to its own slot of the output (sorted in the last pass: value descending,
// ties to the lower id). RAW reads values whose id is their column; PAIRS reads (value, id) entries of an earlier
// pass. Passes repeat until one invocation covers a row (engine/ops/select.c). NaN counts as -inf.
// KMAX bounds k at compile time.
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
    uint sorted;     // 1: write each slot sorted (the last pass); 0: heap order (entry 0 the worst kept)
    uint th_off;     // RAW: per-row lower bounds of the k-th best (TH[th_off + row * th_stride]) ...
    uint th_stride;
    uint use_th;     // ... used when 1: entries below it are skipped
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
#ifndef PAIRS
layout(std430, binding = OUT_B + 2) readonly buffer BufTH { float TH[]; };
#endif

bool better(float v, uint i, float w, uint j) { return v > w || (v == w && i < j); }

float hv[KMAX];
uint hi[KMAX];

// Puts (v, id) at the root of the heap hv/hi[0..n) and sifts it down. The heap keeps the worst entry at
// the root, so a candidate is compared with the root alone and enters in O(log k).
void sift_down(float v, uint id, uint n) {
    uint i = 0u;
    for (;;) {
        uint l = 2u * i + 1u;
        if (l >= n)
            break;
        uint w = l + 1u < n && better(hv[l], hi[l], hv[l + 1u], hi[l + 1u]) ? l + 1u : l; // the worse child
        if (!better(v, id, hv[w], hi[w]))
            break;
        hv[i] = hv[w];
        hi[i] = hi[w];
        i = w;
    }
    hv[i] = v;
    hi[i] = id;
}

void main() {
    uint j = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;
    // the dispatch has `slots` invocations per row; invocation j takes entries j, j + slots, ... (at most
    // `chunk` of them), so neighbouring invocations read neighbouring entries
    uint slots = (pc.ncols + pc.chunk - 1u) / pc.chunk;
    if (j >= slots)
        return;
    uint k = pc.k;
    for (uint t = 0u; t < k; t++) {
        hv[t] = -1.0 / 0.0;
        hi[t] = 0xffffffffu;
    }
    float rv = -1.0 / 0.0; // the heap root (the worst kept), in registers for the scan
    uint ri = 0xffffffffu;
    float lower = -1.0 / 0.0;
#ifndef PAIRS
    if (pc.use_th != 0u)
        lower = TH[pc.th_off + row * pc.th_stride];
#endif
    for (uint c = j; c < pc.ncols; c += slots) {
        float v = A[pc.in_off + row * pc.in_stride + c];
        if (v < lower) // false for NaN, which becomes -inf below
            continue;
        if (isnan(v))
            v = -1.0 / 0.0;
#ifdef PAIRS
        uint id = AI[pc.ids_off + row * pc.in_stride + c];
#else
        uint id = pc.col0 + c;
#endif
        if (better(v, id, rv, ri)) {
            sift_down(v, id, k);
            rv = hv[0];
            ri = hi[0];
        }
    }
    uint o = pc.out_off + row * pc.out_stride + (pc.inv0 + j) * k;
    uint oi = pc.oid_off + row * pc.out_stride + (pc.inv0 + j) * k;
    if (pc.sorted == 0u) {
        for (uint t = 0u; t < k; t++) {
            OV[o + t] = hv[t];
            OI[oi + t] = hi[t];
        }
        return;
    }
    // pop the worst k times: best first in the output
    for (uint n = k; n > 0u; n--) {
        OV[o + n - 1u] = hv[0];
        OI[oi + n - 1u] = hi[0];
        if (n > 1u)
            sift_down(hv[n - 1u], hi[n - 1u], n - 1u);
    }
}
