#version 450
// Attention with an online softmax (flash attention), for decode (one token) and prefill (many tokens).
//
// Rows: a "row" is one (token, q head) pair of the call; row = token * group + g, where g is the q head's
// index inside its kv head's group (q head = kv_head * group + g). A workgroup takes R consecutive rows of
// one kv head (gl_WorkGroupID.y: row tile, .z: kv head) and one split of the key range (.x). A key j is
// visible to the row at position p when j <= p and (window == 0 or p - j < window).
//   direct != 0: the call has one split and writes out = o / l.
// seqs != 0: the tokens belong to several sequences (a batch's decode tokens): token i sits at position
//   P[i] of sequence SEQ[i], whose K/V start seq_stride vec4s after the previous sequence's. A workgroup then
//   takes one token's `group` rows (gl_WorkGroupID.y: the token; R >= group).
//   direct == 0: it writes the partial (o[D], m, l) of every row to a scratch buffer; attention_combine.comp
//               merges the splits (flash-decoding).
//
// Each subgroup walks its own part of the workgroup's keys with its own running max m, sum l and
// unnormalised output o (flash attention: scores exist for one block of keys only). A block holds one key
// per active lane: the lane scores its key against the R rows (K from memory, q from shared memory),
// subgroupMax/subgroupAdd give the block's max and sum, the probabilities go to the subgroup's slice of
// shared memory, and each lane then owns head dimensions d = rank, rank + n, ... of o (in registers: a
// lane's own, so no shared memory in the key loop but the probabilities) and adds p V; o goes to shared
// memory once, after the loop, for the merge. No workgroup barrier inside the key loop (barriers are expensive on some devices,
// lavapipe among them); at the end the subgroups' states are merged. Nothing assumes a subgroup size:
// lanes are ranked with subgroupExclusiveAdd over the active ones, keys are split by gl_NumSubgroups.
// ONE_SUBGROUP: the workgroup is exactly one subgroup (the device has one fixed subgroup size and the
// workgroup has that size): the merge and every barrier become subgroup-local.
// Memory is read in groups of 4 elements (vec4; head_dim is a multiple of 4): per-lane memory accesses
// are costly on some devices (lavapipe loads each lane's address separately), so each moves 16 bytes.
// All arithmetic is f32 (no fp16 arithmetic needed); f16 caches load through 16-bit storage (f16vec4) or,
// without it, as packed pairs of 32-bit words (uvec2).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#include "types.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 16;   // invocations
layout(constant_id = 1) const uint D = 64;    // head_dim (a multiple of 4)
layout(constant_id = 2) const uint R = 1;     // rows per workgroup (at most R_MAX)
layout(constant_id = 3) const uint NSG = 1;   // subgroups per workgroup at most (ceil(WG / min size))
layout(constant_id = 4) const uint SGMAX = 16;// lanes per subgroup at most
layout(constant_id = 5) const uint DPL = 16;  // groups of 4 head dimensions a lane owns at most: D4 / the
                                              // fewest lanes a subgroup has, rounded up

#define R_MAX 16
#define GRAIN 64u           // as engine/ops/attention.c
#define MIN_SPLIT_KEYS 128u
#define NEG_BIG (-3.0e38)     // "minus infinity" without infinities: masked score, empty max
#define IS_NEG_BIG(x) ((x) < -1.0e38)

layout(push_constant) uniform Push {
    uint n_rows;       // rows of this call: n_tokens * group
    uint group;        // q heads per kv head
    uint n_head;       // q heads
    uint p0;           // position of the call's first token
    uint kv_end;       // keys [0, kv_end) exist (p0 + n_tokens)
    uint key_lo;       // first key of split 0
    uint window;       // sliding window (0: none)
    uint chunk;        // keys per split
    uint n_split;      // splits of the whole call (scratch layout)
    uint split_base;   // split of gl_WorkGroupID.x == 0
    uint head_base;    // kv head of gl_WorkGroupID.z == 0, and of the K/V bindings' start
    uint key_base;     // key at the K/V bindings' start
    uint head_stride;  // K/V vec4s between kv heads
    uint pos_stride;   // K/V vec4s between positions
    uint q_off, k_off, v_off; // vec4 offsets into the bound ranges
    uint dst_off;      // element offset into the bound range
    uint direct;
    uint seqs;         // positions and sequences per token from P and SEQ
    float scale;
    float softcap;     // 0: none; else score = softcap * tanh(score / softcap)
    uint seq_stride;   // K/V vec4s between sequences (seqs)
    uint pos_off, seq_off, pad;
} pc;

layout(std430, binding = 0) readonly buffer BufQ { vec4 Q[]; };
#if defined(KV_TEXEL)
// CPU devices (lavapipe): K and V as uniform texel buffers of 16-byte texels, whose per-lane reads are one
// gather where a storage-buffer read walks the lanes one by one. An f16 cache's group of 4 (8 bytes) is
// half of a texel.
layout(binding = 1) uniform usamplerBuffer KT;
layout(binding = 2) uniform usamplerBuffer VT;
#ifdef KV_F16
vec4 tex4(uvec4 w, uint i) {
    uvec2 p = (i & 1u) != 0u ? w.zw : w.xy;
    return vec4(half_unpack2(p.x), half_unpack2(p.y));
}
#define LOAD_K4(i) tex4(texelFetch(KT, int((i) >> 1u)), (i))
#define LOAD_V4(i) tex4(texelFetch(VT, int((i) >> 1u)), (i))
#else
#define LOAD_K4(i) uintBitsToFloat(texelFetch(KT, int(i)))
#define LOAD_V4(i) uintBitsToFloat(texelFetch(VT, int(i)))
#endif
#elif defined(KV_F16) && defined(STORAGE16)
layout(std430, binding = 1) readonly buffer BufK { f16vec4 K[]; };
layout(std430, binding = 2) readonly buffer BufV { f16vec4 V[]; };
#define LOAD_K4(i) vec4(K[i])
#define LOAD_V4(i) vec4(V[i])
#elif defined(KV_F16)
layout(std430, binding = 1) readonly buffer BufK { uvec2 K[]; };
layout(std430, binding = 2) readonly buffer BufV { uvec2 V[]; };
vec4 unpack4(uvec2 w) { return vec4(half_unpack2(w.x), half_unpack2(w.y)); }
#define LOAD_K4(i) unpack4(K[i])
#define LOAD_V4(i) unpack4(V[i])
#else
layout(std430, binding = 1) readonly buffer BufK { vec4 K[]; };
layout(std430, binding = 2) readonly buffer BufV { vec4 V[]; };
#define LOAD_K4(i) K[i]
#define LOAD_V4(i) V[i]
#endif
DECLARE_F32(3, DST, writeonly)
layout(std430, binding = 4) readonly buffer BufP { int P[]; };
layout(std430, binding = 5) readonly buffer BufS { int SEQ[]; };

const uint D4 = D / 4u;

shared vec4 q_sh[R * D4];             // q rows of the tile, pre-multiplied by scale
shared vec4 o_sh[NSG * R * D4];       // per subgroup: unnormalised output rows
shared float p_sh[NSG * R * SGMAX];   // per subgroup: probabilities of one block
shared float m_sh[NSG * R];           // per subgroup: final running max and sum
shared float l_sh[NSG * R];

#ifdef ONE_SUBGROUP
#define WG_BARRIER() subgroupMemoryBarrierShared(); subgroupBarrier()
#else
#define WG_BARRIER() barrier()
#endif

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint s = gl_WorkGroupID.x + pc.split_base;
    const uint h = gl_WorkGroupID.z + pc.head_base;
    const uint hrel = gl_WorkGroupID.z;

    // the tile's rows: R consecutive ones, or with seqs one token's group (and where its cache starts)
    const bool seqs = pc.seqs != 0u;
    const uint row0 = seqs ? gl_WorkGroupID.y * pc.group : gl_WorkGroupID.y * R;
    const uint last_valid = seqs ? pc.group : pc.n_rows - row0; // rows r < last_valid exist
    uint tok_pos = 0u, kv_seq = 0u, key_lo = pc.key_lo;
    if (seqs) {
        tok_pos = uint(P[pc.pos_off + gl_WorkGroupID.y]);
        kv_seq = uint(SEQ[pc.seq_off + gl_WorkGroupID.y]) * pc.seq_stride;
        key_lo = pc.window > 0u && tok_pos + 1u > pc.window ? tok_pos + 1u - pc.window : 0u;
    }

    // the keys this workgroup visits: its split, cut to what any of its rows can see
    const uint last_row = row0 + min(R, last_valid) - 1u;
    const uint p_first = seqs ? tok_pos : pc.p0 + row0 / pc.group;
    const uint p_last = seqs ? tok_pos : pc.p0 + last_row / pc.group;
    // keys per split: the call's, or with seqs the token's own, as a call for it alone would choose (at most
    // pc.chunk splits of at least MIN_SPLIT_KEYS keys, rounded up to GRAIN: engine/ops/attention.c), so that a
    // token sums in the same order batched or alone
    uint chunk = pc.chunk;
    if (seqs) {
        const uint span = tok_pos + 1u - key_lo;
        const uint n = clamp((span + MIN_SPLIT_KEYS - 1u) / MIN_SPLIT_KEYS, 1u, pc.chunk);
        chunk = ((span + n - 1u) / n + GRAIN - 1u) / GRAIN * GRAIN;
    }
    uint lo = key_lo + s * chunk;
    uint hi = min(min(lo + chunk, pc.kv_end), p_last + 1u);
    if (pc.window > 0u && p_first + 1u > pc.window)
        lo = max(lo, p_first + 1u - pc.window);
    hi = max(hi, lo);

    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint row = row0 + r;
        const uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
        const uint qb = pc.q_off + (tok * pc.n_head + head) * D4;
        for (uint d4 = t; d4 < D4; d4 += WG)
            q_sh[r * D4 + d4] = r < last_valid ? Q[qb + d4] * pc.scale : vec4(0.0);
    }
    for (uint e = t; e < NSG * R * D4; e += WG)
        o_sh[e] = vec4(0.0);
    WG_BARRIER();

    // this subgroup's part of [lo, hi), its lanes ranked among the active ones
#ifdef ONE_SUBGROUP
    const uint sg = 0u, nsg = 1u;
#else
    const uint nsg = min(gl_NumSubgroups, NSG);
    const uint sg = gl_SubgroupID;
#endif
    const uint lane = subgroupExclusiveAdd(1u);
    const uint n_lanes = subgroupAdd(1u);
    const uint part = (hi - lo + nsg - 1u) / nsg;
    const uint my_lo = min(lo + sg * part, hi), my_hi = sg < nsg ? min(my_lo + part, hi) : my_lo;
    const uint ob = sg * R * D4, pb = sg * R * SGMAX;
    vec4 o[R * DPL]; // o[r * DPL + i]: row r, dimensions of group lane + i * n_lanes
    [[unroll]] for (uint e = 0; e < R * DPL; e++)
        o[e] = vec4(0.0);

    // subgroup-uniform running max and sum per row (loops over r have constant bounds: registers)
    float m[R_MAX], l[R_MAX], alpha[R_MAX];
    uint pos[R_MAX]; // position of each row; rows past the call's end see no key (integer division is
                     // slow on some devices: none inside the key loop)
    [[unroll]] for (uint r = 0; r < R; r++) {
        m[r] = NEG_BIG;
        l[r] = 0.0;
        uint row = row0 + r;
        pos[r] = r >= last_valid ? 0u : seqs ? tok_pos : pc.p0 + row / pc.group;
    }

    for (uint kb = my_lo; kb < my_hi; kb += n_lanes) {
        // scores of key kb + lane against every row
        const uint j = kb + lane;
        float acc[R_MAX];
        [[unroll]] for (uint r = 0; r < R; r++)
            acc[r] = 0.0;
        if (j < my_hi) {
            uint kbase = pc.k_off + kv_seq + hrel * pc.head_stride + (j - pc.key_base) * pc.pos_stride;
            for (uint d4 = 0; d4 < D4; d4++) {
                vec4 kd = LOAD_K4(kbase + d4);
                [[unroll]] for (uint r = 0; r < R; r++)
                    acc[r] += dot(q_sh[r * D4 + d4], kd);
            }
        }
        [[unroll]] for (uint r = 0; r < R; r++) {
            uint p = pos[r];
            bool ok = j < my_hi && r < last_valid && j <= p && (pc.window == 0u || p - j < pc.window);
            float sc = acc[r];
            if (pc.softcap > 0.0)
                sc = pc.softcap * tanh(clamp(sc / pc.softcap, -10.0, 10.0));
            sc = ok ? sc : NEG_BIG;
            float mx = max(m[r], subgroupMax(sc));
            float pr = IS_NEG_BIG(sc) ? 0.0 : exp(sc - mx);
            alpha[r] = IS_NEG_BIG(m[r]) ? 0.0 : exp(m[r] - mx);
            l[r] = l[r] * alpha[r] + subgroupAdd(pr);
            m[r] = mx;
            p_sh[pb + r * SGMAX + lane] = pr;
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        // o = o * alpha + P V on this lane's dimensions
        const uint nb = min(n_lanes, my_hi - kb);
        const uint vbase = pc.v_off + kv_seq + hrel * pc.head_stride + (kb - pc.key_base) * pc.pos_stride;
        [[unroll]] for (uint i = 0; i < DPL; i++) {
            const uint d4 = lane + i * n_lanes;
            if (d4 < D4) {
                vec4 od[R_MAX];
                [[unroll]] for (uint r = 0; r < R; r++)
                    od[r] = o[r * DPL + i] * alpha[r];
                for (uint jj = 0; jj < nb; jj++) {
                    vec4 vd = LOAD_V4(vbase + jj * pc.pos_stride + d4);
                    [[unroll]] for (uint r = 0; r < R; r++)
                        od[r] += p_sh[pb + r * SGMAX + jj] * vd;
                }
                [[unroll]] for (uint r = 0; r < R; r++)
                    o[r * DPL + i] = od[r];
            }
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier(); // p_sh is rewritten by the next block
    }
    [[unroll]] for (uint i = 0; i < DPL; i++) {
        const uint d4 = lane + i * n_lanes;
        if (d4 < D4 && sg < nsg)
            [[unroll]] for (uint r = 0; r < R; r++)
                o_sh[ob + r * D4 + d4] = o[r * DPL + i];
    }
    if (lane == 0u && sg < nsg)
        [[unroll]] for (uint r = 0; r < R; r++) {
            m_sh[sg * R + r] = m[r];
            l_sh[sg * R + r] = l[r];
        }
    WG_BARRIER();

    // merge the subgroups' states and write
    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint row = row0 + r;
        if (r >= last_valid)
            continue;
        const uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
        float mm = NEG_BIG;
        for (uint g = 0; g < nsg; g++)
            if (l_sh[g * R + r] > 0.0)
                mm = max(mm, m_sh[g * R + r]);
        float ll = 0.0;
        for (uint g = 0; g < nsg; g++)
            if (l_sh[g * R + r] > 0.0)
                ll += l_sh[g * R + r] * exp(m_sh[g * R + r] - mm);
        // direct: out row; else scratch element ((h * n_split + s) * n_rows + row) * (D + 2)
        const uint db = pc.direct != 0u ? pc.dst_off + (tok * pc.n_head + head) * D
                                        : pc.dst_off + ((hrel * pc.n_split + (s - pc.split_base)) * pc.n_rows + row) * (D + 2u);
        const float inv = pc.direct == 0u ? 1.0 : ll > 0.0 ? 1.0 / ll : 0.0;
        for (uint d = t; d < D; d += WG) {
            float oo = 0.0;
            for (uint g = 0; g < nsg; g++)
                if (l_sh[g * R + r] > 0.0)
                    oo += o_sh[(g * R + r) * D4 + (d >> 2)][d & 3u] * exp(m_sh[g * R + r] - mm);
            DST[db + d] = oo * inv;
        }
        if (pc.direct == 0u && t == 0u) {
            DST[db + D] = mm;
            DST[db + D + 1u] = ll;
        }
    }
}
