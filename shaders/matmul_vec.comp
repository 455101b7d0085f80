#version 450
// Matrix x vector(s) for decode: d[v][r] = sum_k W[r][k] * x[v][k] (+ bias[r]) for NVEC vectors at once,
// W of any weight type (quant_blocks.glsl), x and d f32. Every weight block is decoded once and used for
// all NVEC vectors. Also serves as the register-tiled matmul when dispatched with gl_WorkGroupID.y over
// groups of NVEC tokens (no shared memory, no barriers: what CPU devices prefer).
//
// Two strategies, chosen by specialization constant ROW_PER_LANE:
//   1: every invocation computes whole rows (rows RPL * global invocation x ...); no reduction at all.
//      The fastest on lavapipe (2.6x the other at 4096 x 4096 Q4_0).
//   0: each subgroup computes RPL rows at a time, lanes split the rows' 32-element units, subgroupAdd
//      reduces. The workgroup covers ROWS_PER_WG rows; works at any subgroup size, partial subgroups
//      included. The usual choice on GPUs (a lane's loads are contiguous with its neighbours').
// Either way an invocation works on RPL rows at once, so every x value it loads serves RPL rows (x loads
// are gathers on SIMD-on-CPU devices, and dominate there).
//
// With QB_TEXEL (the variants matmul_vec_texel_*, for CPU devices) W and x are uniform texel buffers of
// 16-byte texels (quant_blocks.glsl says why) and the loop runs x outer: an invocation fetches the NVEC
// vectors' 32 x values of a unit once, then decodes that unit of each of its RPL (up to 32) rows and
// multiplies it with all of them, as sum(q x) scaled once per half unit: d * sum(q x) + m * sum(x), with
// sum(x) shared by every row. What (row, vector) computes never depends on NVEC, on the vector's place in
// the group or on RPL: a batch of sequences gets bit for bit the logits each would get alone.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NVEC = 1u;         // vectors (tokens) per invocation, 1..8
layout(constant_id = 2) const uint ROW_PER_LANE = 1u;  // strategy (see above)
layout(constant_id = 3) const uint ROWS_PER_WG = 4u;   // rows of a workgroup when ROW_PER_LANE == 0
layout(constant_id = 4) const uint RPL = 1u;           // rows computed together (1..MAXR): x loads are shared
// QB_TEXEL only: 1 (SwiGLU) or 2 (GeGLU) reads x as the gated activation act(gate) * up of rows [gate | up],
// up pc.pad texels after gate (the feed-forward's down product without an activation pass; shaders/act.comp
// has the same formulas)
layout(constant_id = 5) const uint GLU = 0u;
// QB_TEXEL only: 1 when every weight block starts on 16 bytes (Q4_K and Q5_K at an aligned offset): the decoder
// fetches the texels of a unit directly (quant_blocks.glsl, QB_ALIGNED)
layout(constant_id = 6) const uint ALIGN16 = 0u;
#define QB_ALIGNED (ALIGN16 != 0u)
// QB_TEXEL only, the fusions: NORM a spec constant (lavapipe runs the loads inside an if whatever its condition, so
// as a run-time flag every product paid for the norm's g fetches), RESID the run-time flag pc.fuse & 2 (read once
// per result):
//   NORM reads x as RMS-normalised rows, x * g / sqrt(mean(x^2) + pc.eps) with g the norm's weight (binding 4,
//   texels from pc.g_off): g on the x loads, the scale on each vector's sums at the end. The mean is over the
//   vector's whole row, each subgroup summing it alone (so a vector's scale never depends on its batch): the
//   norm before a product without a pass of its own. Not with GLU.
//   RESID adds the product to d (the residual stream: every element is read, then written, by the one
//   invocation that computes it) instead of storing it.
layout(constant_id = 7) const uint NORM_ON = 0u;
// QB_TEXEL only: 1 (SwiGLU) or 2 (GeGLU) stores act(gate) * up, the feed-forward's gated activation, instead of the
// rows: W's rows are [gate | up] (up pc.pad rows after gate), d has pc.rows outputs, and an invocation computes
// RPL / 2 gate rows and the same up rows (the activation once per element, not in every down product's loads)
layout(constant_id = 8) const uint GLU_OUT = 0u;
// QB_TEXEL only, 8-bit x (the layout of engine/ops/matmul.h, vkslm_x8): two vectors per 32-bit integer, each
// vector's 32-element unit scaled to -127..127 by its largest magnitude.
//   X8_IN (weight types with qb_unit_x8): x (binding 1) arrives so; one integer multiply by a weight's centred quant
//   (-8..7) serves both vectors of a pair, and a sum over the unit holds both sums exactly (|sum| <= 32 * 8 * 127
//   < 2^15 for the low half; wider quants are summed in parts of a unit, QB_X8_PART). Each (row, vector) takes
//   d * dx * sum: never dependent on the other vector of its pair, on NVEC or on RPL. Not with GLU. With NORM x
//   holds x * g so, and the mean of squares comes from x as floats (binding 6).
//   X8_OUT: the stored outputs (with GLU_OUT the activation) are also written so into binding 5; the lanes of a
//   32-row block take its largest magnitude together (subgroup shuffles), so a unit's scale is the whole unit's.
//   With pc.fuse & 4 the outputs are multiplied by g (binding 7) first: the next product's norm weights.
layout(constant_id = 9) const uint X8_IN = 0u;
layout(constant_id = 10) const uint X8_OUT = 0u;
// QB_TEXEL only, RUN: weights in tiles of 32 rows (engine/model/weight_tiles.h) whose blocks of 32 elements, RPL of them
// (with GLU_OUT RPL / 2 gate rows' and as many up rows'), make whole texels. An invocation's rows are side by side in a
// tile, so their blocks of a unit lie side by side too, from a texel boundary: it fetches them once, as wrun (the
// texels of a run: 9 for 8 rows of Q4_0, where each block alone straddles 2 of them), and the decoders read the
// blocks there (QB_TEXEL_HOOK), at j * QB_BYTES for row j. The same bytes, the same sums: outputs bit for bit the same.
layout(constant_id = 11) const uint RUN = 0u;
// the rows an invocation outputs (with GLU_OUT: RPL / 2 gate rows, and as many up rows read): with RUN, a run's rows
const uint ROWS_OUT = GLU_OUT != 0u ? RPL / 2u : RPL;
#define NORM (NORM_ON != 0u)
#define RESID ((pc.fuse & 2u) != 0u)

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
    uint g_off;     // NORM: texel offset of g
    float eps;      // NORM
    uint tile;      // rows per tile of W (engine/model/weight_tiles.h; 1: row after row)
    uint fuse;      // QB_TEXEL: 2 RESID (above; NORM is the constant NORM_ON)
    uint q_off;     // X8_OUT: int offset of the first vector pair's row in binding 5
    uint q_stride;  // X8_OUT: ints between pair rows
    uint r_first;   // X8_OUT: the dispatch's first row in the whole output (a multiple of 32)
    uint xf_off;    // X8_IN with NORM: texel offset of x[0] as floats in binding 6 (the mean of squares)
    uint xf_stride; // X8_IN with NORM: texels between its vectors
    uint go_off;    // X8_OUT with pc.fuse & 4: texel offset of the weights its outputs are multiplied by (binding 7)
    uint pad2, pad3;
} pc;

#ifdef QB_TEXEL
layout(binding = 0) uniform usamplerBuffer WT;
layout(binding = 1) uniform usamplerBuffer XT; // x as 16-byte texels: the bits of vec4s
#define XV(i) uintBitsToFloat(texelFetch(XT, int(i)))
vec4 glu_silu(vec4 x) { return x / (1.0 + exp(-x)); }
vec4 glu_gelu(vec4 x) {
    const float c = 0.7978845608028654; // sqrt(2/pi)
    vec4 y = c * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * y));
}
layout(binding = 4) uniform usamplerBuffer GT; // NORM: g as texels
layout(binding = 6) uniform usamplerBuffer XFT; // X8_IN with NORM: x as floats
layout(binding = 7) uniform usamplerBuffer GOT; // X8_OUT with pc.fuse & 4: g of the outputs
// texel t of a vector's x (at texel b, as bound), through the gated activation when GLU is set
vec4 x_at(uint b, uint t) {
    if (GLU == 0u)
        return XV(b + t);
    vec4 g = XV(b + t), u = XV(b + t + pc.pad);
    return (GLU == 1u ? glu_silu(g) : glu_gelu(g)) * u;
}
// NORM: 1 / sqrt(mean(x^2) + eps) of the vector at texel b (units * 8 texels), lanes of a subgroup striding
float norm_scale(uint b) {
    float q = 0.0;
    for (uint t = gl_SubgroupInvocationID; t < pc.units * 8u; t += gl_SubgroupSize) {
        vec4 x = X8_IN != 0u ? uintBitsToFloat(texelFetch(XFT, int(b + t))) : XV(b + t);
        q += dot(x, x);
    }
    return inversesqrt(subgroupAdd(q) / float(pc.units * 32u) + pc.eps);
}
#else
layout(std430, binding = 0) readonly buffer BufW { uint W[]; };
layout(std430, binding = 1) readonly buffer BufX { vec4 X[]; };
#endif
#ifdef QB_TEXEL
layout(std430, binding = 2) buffer BufD { float D[]; }; // read too with RESID
#else
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };
#endif
layout(std430, binding = 3) readonly buffer BufB { float B[]; };
#ifdef QB_TEXEL
layout(std430, binding = 5) writeonly buffer BufQ { int Q8[]; }; // X8_OUT
#endif

#ifdef QB_TEXEL
uvec4 wrun[69]; // RUN: the texels of an invocation's blocks of a unit (at most 32 rows of 34 bytes, and one to spare)
#define QB_TEXEL_HOOK(t) (RUN != 0u ? wrun[t] : texelFetch(WT, int(t)))
#endif
#include "quant_blocks.glsl"
#include "x8.glsl"

#define MAXV 8
#ifdef QB_TEXEL
#define MAXR 32
#else
#define MAXR 4
#endif
float acc[MAXR * MAXV]; // acc[j * MAXV + v]: row j, vector v
uint xbase[MAXV];       // vec4 index of each vector's x (vectors past the batch re-read the last one)
#ifdef QB_TEXEL
float outv[MAXR * MAXV]; // X8_OUT: what the store wrote, outv[j * MAXV + v]
#endif

uvec4 wcache[MAXR][QB_CACHE];
#ifdef QB_TEXEL
uint run_b[2]; // RUN: byte offsets of the blocks of unit 0 of the invocation's run of rows (with GLU_OUT: gate, up)
// RUN: wrun = the run's blocks of unit g (boff: the unit's offset in a tile); each row's block then at j * QB_BYTES
void fetch_run(uint boff) {
    const uint n = ROWS_OUT * QB_BYTES / 16u;
    [[unroll]] for (uint k = 0u; k < n; k++)
        wrun[k] = texelFetch(WT, int(((run_b[0] + boff) >> 4) + k));
    if (GLU_OUT != 0u)
        [[unroll]] for (uint k = 0u; k < n; k++)
            wrun[n + k] = texelFetch(WT, int(((run_b[1] + boff) >> 4) + k));
}
// the block of row j at unit offset boff: in the run, or in the weights
uint blk_at(uint rowb[MAXR], uint j, uint boff) { return RUN != 0u ? j * QB_BYTES : rowb[j] + boff; }
float nscale[MAXV];     // NORM: each vector's 1 / rms
#endif // per row: words qb_unit_seq keeps between the units of a block

#ifdef QB_TEXEL
// Adds unit g of each row (rows at bytes rowb[j]) times x into acc, x outer (see the top). seq: as below.
void add_units(uint rowb[MAXR], uint g, bool seq) {
    uint boff = (g / QB_UNITS) * QB_BYTES * pc.tile, u = g % QB_UNITS;
    vec4 xv[MAXV][8];
    vec2 sx[MAXV]; // sum of each half of the unit
    [[unroll]] for (uint v = 0u; v < NVEC; v++)
        [[unroll]] for (uint i = 0u; i < 8u; i++)
            xv[v][i] = x_at(xbase[v], 8u * g + i);
    if (NORM) { // the norm's weights of the unit, for every vector
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            vec4 gw = uintBitsToFloat(texelFetch(GT, int(pc.g_off + 8u * g + i)));
            [[unroll]] for (uint v = 0u; v < NVEC; v++)
                xv[v][i] *= gw;
        }
    }
    [[unroll]] for (uint v = 0u; v < NVEC; v++) {
        vec4 l = (xv[v][0] + xv[v][1]) + (xv[v][2] + xv[v][3]), h = (xv[v][4] + xv[v][5]) + (xv[v][6] + xv[v][7]);
        sx[v] = vec2((l.x + l.y) + (l.z + l.w), (h.x + h.y) + (h.z + h.w));
    }
    if (RUN != 0u)
        fetch_run(boff);
    [[unroll]] for (uint j = 0u; j < RPL; j++) {
        vec4 q[8];
        uint b = blk_at(rowb, j, boff);
        vec4 s = seq ? qb_unit_seq(b, u, q, wcache[j]) : qb_unit(b, u, q);
        // one half of the unit at a time (16 of q's values live, not 32: fewer register spills on CPUs)
        float sl[MAXV];
        [[unroll]] for (uint v = 0u; v < NVEC; v++) {
            vec4 l = q[0] * xv[v][0];
            [[unroll]] for (uint i = 1u; i < 4u; i++)
                l += q[2u * i] * xv[v][i];
            sl[v] = (l.x + l.y) + (l.z + l.w);
        }
        [[unroll]] for (uint v = 0u; v < NVEC; v++) {
            vec4 h = q[1] * xv[v][4];
            [[unroll]] for (uint i = 1u; i < 4u; i++)
                h += q[2u * i + 1u] * xv[v][4u + i];
            float sh = (h.x + h.y) + (h.z + h.w);
            acc[j * MAXV + v] += (s.x * sl[v] + s.y * sx[v].x) + (s.z * sh + s.w * sx[v].y);
        }
    }
}
#ifdef QB_X8
// the two sums a pair's integer holds: the low half (signed 16 bits) and the high one
ivec2 x8_halves(int s) {
    int lo = (s << 16) >> 16;
    return ivec2(lo, (s - lo) >> 16);
}
#ifndef QB_X8_PART
#define QB_X8_PART 8 // (no suffix: #if compares it)
#endif
const uint NPART = 8u / uint(QB_X8_PART);
// a unit's d * sum(q x) + m * sum(x) from sum(q x) and sum(x) over the rounded x (m is 0 without QB_X8_MIN)
float x8_unit(vec2 dm, float qx, float sx) {
#ifdef QB_X8_MIN
    return dm.x * qx + dm.y * sx;
#else
    return dm.x * qx;
#endif
}
// X8_IN: adds unit g of each row times x (pairs of vectors in 8 bits) into acc
void add_units_x8(uint rowb[MAXR], uint g) {
    const uint NP = (NVEC + 1u) / 2u;
    ivec4 xp[(MAXV + 1) / 2][8];
    vec2 dx[(MAXV + 1) / 2], sq[(MAXV + 1) / 2];
    [[unroll]] for (uint p = 0u; p < NP; p++) {
        uint t = xbase[2u * p] + 9u * g;
        [[unroll]] for (uint i = 0u; i < 8u; i++)
            xp[p][i] = ivec4(texelFetch(XT, int(t + i)));
        dx[p] = uintBitsToFloat(texelFetch(XT, int(t + 8u)).xy);
#ifdef QB_X8_MIN // the unit's sum of each vector's x (as rounded), for the weight types with a minimum
        ivec4 s4 = (xp[p][0] + xp[p][1]) + (xp[p][2] + xp[p][3]) + ((xp[p][4] + xp[p][5]) + (xp[p][6] + xp[p][7]));
        sq[p] = vec2(x8_halves((s4.x + s4.y) + (s4.z + s4.w)));
#else
        sq[p] = vec2(0.0); // (unread: x8_unit)
#endif
    }
    uint boff = (g / QB_UNITS) * QB_BYTES * pc.tile, u = g % QB_UNITS;
    if (RUN != 0u)
        fetch_run(boff);
    [[unroll]] for (uint j = 0u; j < RPL; j++) {
        ivec4 q[8];
        vec2 dm = qb_unit_x8(blk_at(rowb, j, boff), u, q, wcache[j]);
        // the quants outer, the pairs inner: a quant texel serves every pair while it is in registers (the sums of
        // the pairs are few registers; the quants of a unit, kept for pair after pair, were spilled). A sum takes
        // QB_X8_PART quant texels, all 8 for 4-bit quants (32 * 8 * 127 < 2^15); wider quants sum fewer per part so
        // that a part's sum still fits a 16-bit half, and the parts add up as integers after their halves part.
#if QB_X8_PART == 8 // one part: the unit's sums as they were before the parts (the same code for 4-bit quants)
        ivec4 s4[(MAXV + 1) / 2];
        [[unroll]] for (uint p = 0u; p < NP; p++)
            s4[p] = q[0] * xp[p][0];
        [[unroll]] for (uint i = 1u; i < 8u; i++)
            [[unroll]] for (uint p = 0u; p < NP; p++)
                s4[p] += q[i] * xp[p][i];
        [[unroll]] for (uint p = 0u; p < NP; p++) {
            vec2 h = vec2(x8_halves((s4[p].x + s4[p].y) + (s4[p].z + s4[p].w)));
            acc[j * MAXV + 2u * p] += dx[p].x * x8_unit(dm, h.x, sq[p].x);
            if (2u * p + 1u < NVEC)
                acc[j * MAXV + 2u * p + 1u] += dx[p].y * x8_unit(dm, h.y, sq[p].y);
        }
#else
        const uint PART = uint(QB_X8_PART);
        ivec4 s4[NPART][(MAXV + 1) / 2];
        [[unroll]] for (uint i = 0u; i < 8u; i++)
            [[unroll]] for (uint p = 0u; p < NP; p++)
                if (i % PART == 0u)
                    s4[i / PART][p] = q[i] * xp[p][i];
                else
                    s4[i / PART][p] += q[i] * xp[p][i];
        [[unroll]] for (uint p = 0u; p < NP; p++) {
            // each vector's sum over the unit's halves (a: elements 0..15, or all 32 with one part; b: 16..31)
            ivec2 a = ivec2(0), b = ivec2(0);
            [[unroll]] for (uint k = 0u; k < NPART; k++) {
                ivec2 h = x8_halves((s4[k][p].x + s4[k][p].y) + (s4[k][p].z + s4[k][p].w));
                if (k < (NPART + 1u) / 2u)
                    a += h;
                else
                    b += h;
            }
#ifdef QB_X8_SUB // (each half its own scale, dm.x and dm.y)
            acc[j * MAXV + 2u * p] += dx[p].x * (dm.x * float(a.x) + dm.y * float(b.x));
            if (2u * p + 1u < NVEC)
                acc[j * MAXV + 2u * p + 1u] += dx[p].y * (dm.x * float(a.y) + dm.y * float(b.y));
#else
            // element = d q + m: sum = d * sum(q x) + m * sum(x), both over the rounded x, times dx
            vec2 h = vec2(a + b);
            acc[j * MAXV + 2u * p] += dx[p].x * x8_unit(dm, h.x, sq[p].x);
            if (2u * p + 1u < NVEC)
                acc[j * MAXV + 2u * p + 1u] += dx[p].y * x8_unit(dm, h.y, sq[p].y);
#endif
        }
#endif
    }
}
#endif

// X8_OUT: writes outv of rows r0 .. r0 + n - 1 (n outputs per invocation, a power of two up to 32: the 32 / n
// invocations of a block are adjacent lanes) as vector pairs in 8 bits; v0 is even
void quant_out(uint r0, uint v0, uint n) {
    const uint NP = (NVEC + 1u) / 2u;
    float dx[MAXV], inv[MAXV];
    if ((pc.fuse & 4u) != 0u) // the outputs times g (the next product's norm weights)
        for (uint j = 0u; j < n; j++) {
            uint r = min(r0 + j, pc.rows - 1u) + pc.r_first;
            float gw = uintBitsToFloat(qb_comp(texelFetch(GOT, int(pc.go_off + r / 4u)), r % 4u));
            [[unroll]] for (uint v = 0u; v < NVEC; v++)
                outv[j * MAXV + v] *= gw;
        }
    [[unroll]] for (uint v = 0u; v < NVEC; v++) {
        float a = 0.0;
        for (uint j = 0u; j < n; j++)
            a = max(a, abs(outv[j * MAXV + v]));
        for (uint o = 1u; o < 32u / n; o *= 2u)
            a = max(a, subgroupShuffleXor(a, o));
        const vec2 sc = x8_scale(a);
        dx[v] = sc.x;
        inv[v] = sc.y;
    }
    [[unroll]] for (uint p = 0u; p < NP; p++) {
        uint v = 2u * p;
        if (v0 + v >= pc.n_vec)
            break;
        bool two = v + 1u < NVEC && v0 + v + 1u < pc.n_vec;
        uint at = pc.q_off + ((v0 + v) / 2u) * pc.q_stride + ((pc.r_first + r0) / 32u) * 36u;
        for (uint j = 0u; j < n; j++) {
            if (r0 + j >= pc.rows)
                break;
            int lo = x8_round(outv[j * MAXV + v], inv[v]);
            int hi = two ? x8_round(outv[j * MAXV + v + 1u], inv[v + 1u]) : 0;
            Q8[at + (r0 + j) % 32u] = lo + (hi << 16);
        }
        if (r0 % 32u == 0u && r0 < pc.rows) {
            Q8[at + 32u] = floatBitsToInt(dx[v]);
            Q8[at + 33u] = two ? floatBitsToInt(dx[v + 1u]) : 0;
            Q8[at + 34u] = 0;
            Q8[at + 35u] = 0;
        }
    }
}
#else
// Adds unit g (the g-th 32-element unit of each row; rows at bytes rowb[j]) times x into acc. seq: the
// caller walks g = 0, 1, 2, ... (so qb_unit_seq may reuse words of the previous unit).
void add_units(uint rowb[MAXR], uint g, bool seq) {
    uint boff = (g / QB_UNITS) * QB_BYTES * pc.tile, u = g % QB_UNITS;
    vec4 q[MAXR][8];
    [[unroll]] for (uint j = 0u; j < RPL; j++) {
        vec4 s = seq ? qb_unit_seq(rowb[j] + boff, u, q[j], wcache[j]) : qb_unit(rowb[j] + boff, u, q[j]);
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            q[j][2u * i] = q[j][2u * i] * s.x + s.y;
            q[j][2u * i + 1u] = q[j][2u * i + 1u] * s.z + s.w;
        }
    }
    [[unroll]] for (uint v = 0u; v < NVEC; v++) {
        uint xi = xbase[v] + 8u * g;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            vec4 xl = X[xi + i], xh = X[xi + 4u + i];
            [[unroll]] for (uint j = 0u; j < RPL; j++)
                acc[j * MAXV + v] += dot(q[j][2u * i], xl) + dot(q[j][2u * i + 1u], xh);
        }
    }
}
#endif

#ifdef QB_TEXEL
// GLU_OUT: outputs r0 .. r0 + RPL / 2 - 1 (those below pc.rows) of d, act(gate) * up from rows j and RPL / 2 + j
// (each as the plain store would write it, then as GLU's loads take it)
void store_glu(uint r0, uint v0) {
    const uint h = RPL / 2u;
    [[unroll]] for (uint j = 0u; j < h; j++) {
        uint r = r0 + j;
        if (r >= pc.rows)
            break;
        [[unroll]] for (uint v = 0u; v < NVEC; v++)
            if (v0 + v < pc.n_vec) {
                vec2 gu = vec2(acc[j * MAXV + v], acc[(h + j) * MAXV + v]);
                if (NORM)
                    gu *= nscale[v];
                vec4 g = vec4(gu.x);
                float y = (GLU_OUT == 1u ? glu_silu(g) : glu_gelu(g)).x * gu.y;
                D[pc.d_off + (v0 + v) * pc.d_stride + r] = y;
                outv[j * MAXV + v] = y;
            }
    }
}
#endif

// Rows r0 .. r0 + RPL - 1 (those below pc.rows) of d.
void store(uint r0, uint v0) {
    [[unroll]] for (uint j = 0u; j < RPL; j++) {
        uint r = r0 + j;
        if (r >= pc.rows)
            break;
        float bias = pc.has_bias != 0u ? B[pc.b_off + r] : 0.0;
        [[unroll]] for (uint v = 0u; v < NVEC; v++)
            if (v0 + v < pc.n_vec) {
                uint at = pc.d_off + (v0 + v) * pc.d_stride + r;
#ifdef QB_TEXEL
                float y = acc[j * MAXV + v];
                if (NORM)
                    y *= nscale[v];
                y += bias;
                if (RESID)
                    y += D[at];
                D[at] = y;
                outv[j * MAXV + v] = y;
#else
                D[at] = acc[j * MAXV + v] + bias;
#endif
            }
    }
}

// Byte offset of row r's first block. In tiles of T rows, block b of row r is block b * T + r % T of its tile
// (T = 1: GGUF's rows).
uint row_block0(uint r) { return pc.w_off + (r / pc.tile) * pc.tile * pc.row_bytes + (r % pc.tile) * QB_BYTES; }

// Byte offsets of the first blocks of rows r0 .. r0 + RPL - 1, clamped to the last row (clamped rows compute,
// never store). GLU_OUT: rows j < RPL / 2 are gate rows r0 + j, the rest the up rows pc.pad further.
void row_offsets(uint r0, out uint rowb[MAXR]) {
    [[unroll]] for (uint j = 0u; j < MAXR; j++) {
        uint r = GLU_OUT != 0u ? min(r0 + j % (RPL / 2u), pc.rows - 1u) + (j < RPL / 2u ? 0u : pc.pad)
                               : min(r0 + j, pc.rows - 1u);
        rowb[j] = row_block0(r);
    }
}

void main() {
    uint v0 = gl_WorkGroupID.y * NVEC;                  // first vector of this invocation
    [[unroll]] for (uint v = 0u; v < MAXV; v++)
        xbase[v] = pc.x_off + (X8_IN != 0u ? min(v0 + v, pc.n_vec - 1u) / 2u : min(v0 + v, pc.n_vec - 1u)) * pc.x_stride;
    [[unroll]] for (uint a = 0u; a < MAXR * MAXV; a++)
        acc[a] = 0.0;
#ifdef QB_TEXEL
    if (NORM)
        [[unroll]] for (uint v = 0u; v < NVEC; v++)
            nscale[v] = norm_scale(X8_IN != 0u ? pc.xf_off + min(v0 + v, pc.n_vec - 1u) * pc.xf_stride : xbase[v]);
#endif
    uint rowb[MAXR];
    if (ROW_PER_LANE != 0u) {
        // lanes past the last row recompute it (clamped offsets) and store nothing: no early return
        // (with X8_OUT the lanes of a subgroup take adjacent rows, whatever the order of its invocations)
        uint inv_x = X8_OUT != 0u ? gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_SubgroupID * gl_SubgroupSize +
                                        gl_SubgroupInvocationID
                                  : gl_GlobalInvocationID.x;
        uint r0 = inv_x * ROWS_OUT;
        row_offsets(r0, rowb);
#ifdef QB_TEXEL
        if (RUN != 0u) { // (an invocation past the last rows reads the last run)
            run_b[0] = row_block0(min(r0, pc.rows - ROWS_OUT));
            run_b[1] = run_b[0] + pc.pad * pc.row_bytes; // (GLU_OUT: the up rows, pc.pad rows on: whole tiles)
        }
#endif
#if defined(QB_TEXEL) && defined(QB_GROUP)
        // the words a group of units shares, loaded once for the group (quant_blocks.glsl says why)
        for (uint g0 = 0u; g0 < pc.units; g0 += QB_GROUP) {
            uint boff = (g0 / QB_UNITS) * QB_BYTES * pc.tile;
            [[unroll]] for (uint j = 0u; j < RPL; j++)
                qb_group_load(rowb[j] + boff, g0 % QB_UNITS, wcache[j]);
            for (uint t = 0u; t < QB_GROUP; t++)
#ifdef QB_X8
                if (X8_IN != 0u)
                    add_units_x8(rowb, g0 + t);
                else
#endif
                    add_units(rowb, g0 + t, true);
        }
#else
        for (uint g = 0u; g < pc.units; g++)
#if defined(QB_TEXEL) && defined(QB_X8)
            if (X8_IN != 0u)
                add_units_x8(rowb, g);
            else
#endif
                add_units(rowb, g, true);
#endif
#ifdef QB_TEXEL
        if (GLU_OUT != 0u)
            store_glu(r0, v0);
        else
#endif
            store(r0, v0);
#ifdef QB_TEXEL
        if (X8_OUT != 0u)
            quant_out(r0, v0, ROWS_OUT);
#endif
    } else {
        uint lanes = subgroupAdd(1u), lane = subgroupExclusiveAdd(1u);
        for (uint rr = gl_SubgroupID * RPL; rr < ROWS_PER_WG; rr += gl_NumSubgroups * RPL) {
            uint r0 = gl_WorkGroupID.x * ROWS_PER_WG + rr;  // the same in the whole subgroup
            if (r0 >= pc.rows)
                break;
            [[unroll]] for (uint a = 0u; a < MAXR * MAXV; a++)
                acc[a] = 0.0;
            row_offsets(r0, rowb);
            for (uint g = lane; g < pc.units; g += lanes)
                add_units(rowb, g, false);
            [[unroll]] for (uint j = 0u; j < RPL; j++)
                [[unroll]] for (uint v = 0u; v < NVEC; v++)
                    acc[j * MAXV + v] = subgroupAdd(acc[j * MAXV + v]);
            if (lane == 0u)
                store(r0, v0);
        }
    }
}
