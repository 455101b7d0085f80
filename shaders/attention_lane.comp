#version 450
// Decode attention for CPU devices (lavapipe): a key per lane, each lane with its own online softmax.
//
// attention.comp shares every block of keys between the lanes of a subgroup: a subgroupMax and a subgroupAdd
// per row per block, probabilities through shared memory, and output dimensions spread over the lanes. On a
// CPU device each of those is a walk over the lanes, and they cost more than the arithmetic. Here a lane
// takes keys lo + lane, lo + lane + n, ... alone: it scores its key against the R rows (q loaded into shared
// memory by the lanes together, then copied into each lane's registers: on lavapipe a shared load is a load per
// lane, and reading q from shared memory for every key took half the time at 512 keys), keeps a running max m,
// sum l and unnormalised output
// o[R][D] of its own (registers and stack: no lane-dependent address but the K and V texels, which are
// gathers), and the lanes merge once, after their last key. Few rows per workgroup (a decode token's q heads
// of one kv head), one subgroup per workgroup (ONE_SUBGROUP devices).
//
// It takes attention.comp's bindings, push constants and specialization constants (engine/ops/attention.h):
// the same rows, visibility, key splits and outputs (out = o / l when direct, else the partials
// (o[D], m, l) that attention_combine.comp merges), for the tiles attention.comp would give it.
//
// FUSED_QKV (with ROPE_NORMAL or ROPE_NEOX; the variants attention_lane_qkv_*): a decode step's attention straight
// from the fused projection's rows, every token of its own sequence (seqs), replacing kv_cache.comp's qkv write
// and the attention after it (one dispatch a layer fewer). Binding 0 is then the rows [q heads | k heads | v heads]
// of each token (16-byte texels, pc.src_stride texels apart), and the tile's workgroup:
//   - ropes its q rows on the way into shared memory (as kv_cache.comp writes them for attention);
//   - reads the cache's keys below the token's own position from K and V, as without the fusion;
//   - takes its own key and value from the row (k roped), rounded to the cache's type, in the order the lanes
//     would have met it in the cache (the last key of lane (pos - lo) % lanes): the same sums, bit for bit;
//   - where its key split holds that position, writes them into the cache (binding 6, the layer's K heads then
//     its V heads pc.v_delta elements on) for the steps after: what kv_cache.comp would have written.
// Its own push constants (engine/ops/attention.h, vkslm_attn_qkv_push): a tile is a token, keys split per token.
//
// X8_OUT (with FUSED_QKV, direct output; the variants attention_lane_qkv_*_x8): out in 8 bits, the input of a
// product taking x so (engine/ops/matmul.h, vkslm_x8: tokens in pairs, lo + 65536 hi in a 32-bit integer, each
// 32-element unit scaled to -127..127 by its largest magnitude, as vkslm_cpu_quantize_x8 rounds it). A unit lies
// inside a head (D a multiple of 32), so the workgroup that computes it scales it alone. The two tokens of a pair
// are different workgroups, and lo's sign carries into hi's half: each adds its value (atomically) into the
// integers the op zeroed before the dispatch, and stores its own scale.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#include "types.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 16;   // invocations: one subgroup
layout(constant_id = 1) const uint D = 64;    // head_dim (a multiple of 4)
layout(constant_id = 2) const uint R = 1;     // rows per workgroup (at most R_MAX)
layout(constant_id = 3) const uint NSG = 1;   // (attention.comp's; unused)
layout(constant_id = 4) const uint SGMAX = 16;// (unused)
layout(constant_id = 5) const uint DPL = 16;  // (unused)

#define GRAIN 64u           // as engine/ops/attention.c
#define MIN_SPLIT_KEYS 128u
#define NEG_BIG (-3.0e38)
#define IS_NEG_BIG(x) ((x) < -1.0e38)

#ifdef FUSED_QKV
#define ROPE_FF_BINDING 7
#include "rope.glsl"
// the rows as 16-byte texels (pc.q_off and pc.src_stride count texels): a storage-buffer load is a load per lane
// on lavapipe, a texel fetch takes 4 values
layout(binding = 0) uniform usamplerBuffer ST;
vec4 src4(uint t) { return uintBitsToFloat(texelFetch(ST, int(t))); }
layout(push_constant) uniform Push {
    uint n_rows, group, n_head, kv_end;
    uint window, chunk, n_split, head_stride;
    uint pos_stride, q_off, k_off, v_off;
    uint dst_off, direct;
    float scale, softcap;
    uint seq_stride, pos_off, seq_off;
    uint src_stride; // texels between the tokens' rows in ST (q_off: the first row's)
    uint kw_off;     // element offset of sequence 0's K in binding 6
    uint v_delta;    // elements from K to V there
    RopeArgs rope;
} pc;
#define PC_SEQS true
#define PC_P0 0u
#define PC_KEY_LO 0u
#define PC_SPLIT_BASE 0u
#define PC_HEAD_BASE 0u
#define PC_KEY_BASE 0u
#else
layout(push_constant) uniform Push {
    uint n_rows, group, n_head, p0;
    uint kv_end, key_lo, window, chunk;
    uint n_split, split_base, head_base, key_base;
    uint head_stride, pos_stride;
    uint q_off, k_off, v_off, dst_off;
    uint direct, seqs;
    float scale, softcap;
    uint seq_stride;
    uint pos_off, seq_off, pad;
} pc;
#define PC_SEQS (pc.seqs != 0u)
#define PC_P0 pc.p0
#define PC_KEY_LO pc.key_lo
#define PC_SPLIT_BASE pc.split_base
#define PC_HEAD_BASE pc.head_base
#define PC_KEY_BASE pc.key_base
layout(std430, binding = 0) readonly buffer BufQ { vec4 Q[]; };
#endif
layout(binding = 1) uniform usamplerBuffer KT;
layout(binding = 2) uniform usamplerBuffer VT;
// A key's (or value's) row of D elements from vec4 index b on: KV_ROW(w, s, b) fetches it, KV_UNIT(w, s, b, d4) is
// its elements 4 d4 .. 4 d4 + 3. With f16 a texel holds 8 elements, and the row's texels are fetched once each: a
// texel fetch is a gather on lavapipe, and a fetch per 4 elements took twice as many (16 for D = 64, now 9). b may
// be odd (the row starts mid-texel): a unit is picked from the texel and half it has at either parity, never by a
// lane-dependent index.
#ifdef KV_F16
#define KV_NT (D / 8u + 1u)
// unit d4 of a row at b from its texels we (d4 / 2 of the row's, as an even b takes it) and wo ((d4 + 1) / 2)
vec4 kv_unit(uvec4 we, uvec4 wo, uint b, uint d4) {
    const uvec2 p = (b & 1u) == 0u ? ((d4 & 1u) != 0u ? we.zw : we.xy) : ((d4 & 1u) != 0u ? wo.xy : wo.zw);
    return vec4(half_unpack2(p.x), half_unpack2(p.y));
}
// (the row's last texel is ((b & 1) + D / 4 - 1) / 2: an even row fetches it twice rather than one past the row)
#define KV_ROW(w, s, b)                                                                                  \
    uvec4 w[KV_NT];                                                                                      \
    [[unroll]] for (uint i_ = 0u; i_ < KV_NT; i_++)                                                      \
        w[i_] = texelFetch(s, int(((b) >> 1) + min(i_, (((b) & 1u) + D / 4u - 1u) >> 1)))
#define KV_UNIT(w, s, b, d4) kv_unit(w[(d4) >> 1], w[((d4) + 1u) >> 1], b, d4)
#else
#define KV_ROW(w, s, b)
#define KV_UNIT(w, s, b, d4) uintBitsToFloat(texelFetch(s, int((b) + (d4))))
#endif
#ifdef X8_OUT
layout(std430, binding = 3) buffer BufO8 { int O8[]; }; // (atomics)
#else
DECLARE_F32(3, DST, writeonly)
#endif
layout(std430, binding = 4) readonly buffer BufP { int P[]; };
layout(std430, binding = 5) readonly buffer BufSeq { int SEQ[]; };
#ifdef FUSED_QKV
#ifdef KV_F16
layout(std430, binding = 6) writeonly buffer BufCW { uint CW[]; }; // f16 pairs as packed words
// a pair as the cache holds it (rounded to f16), and its word
vec2 kv_round(vec2 x) { return half_unpack2(half_pack2(x)); }
void kv_store(uint e, vec2 x) { CW[e >> 1] = half_pack2(x); } // e even
#else
layout(std430, binding = 6) writeonly buffer BufCW { float CW[]; };
vec2 kv_round(vec2 x) { return x; }
void kv_store(uint e, vec2 x) {
    CW[e] = x.x;
    CW[e + 1u] = x.y;
}
#endif
#endif

const uint D4 = D / 4u;
shared vec4 q_sh[R * D4]; // the tile's q rows, pre-multiplied by scale
// element e0 + lane (below D) of a row every lane holds, picked by blends: with a lane-dependent index lavapipe
// would read the row lane by lane (the merged row's stores: lane l stores elements l, l + WG, ...)
float lane_elem(vec4 row[D4], uint e0, uint lane) {
    float v = 0.0;
    [[unroll]] for (uint k = 0u; k < WG; k++)
        if (e0 + k < D)
            v = lane == k ? row[(e0 + k) / 4u][(e0 + k) % 4u] : v;
    return v;
}
#ifdef FUSED_QKV
shared vec4 own_sh[2u * D4]; // the token's own key, then its value, as the cache holds them
// the (cos, sin) of elements 4 d4 .. 4 d4 + 3 at pos (each element's pair; without NEOX two pairs, in cs[0] and
// cs[1]): computed once for every row the workgroup ropes (its q heads and the token's key)
void rope4(uint d4, int pos, out vec2 cs[4]) {
#ifdef ROPE_NEOX
    const uint half_rot = pc.rope.n_rot >> 1;
    const uint p0 = 4u * d4 < half_rot ? 4u * d4 : 4u * d4 - half_rot;
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        cs[j] = rope_cos_sin(pc.rope, p0 + j, pos);
#else
    cs[0] = rope_cos_sin(pc.rope, 2u * d4, pos);
    cs[1] = rope_cos_sin(pc.rope, 2u * d4 + 1u, pos);
    cs[2] = cs[3] = vec2(0.0);
#endif
}
// elements 4 d4 .. 4 d4 + 3 of the head at texel h0, roped by cs (rope4's) below n_rot: the values kv_cache.comp's
// rope_elem gives (the same pairs, rope_cos_sin and rope_rotate; n_rot a multiple of 8, so a texel's elements
// rotate together and a NEOX partner texel lies n_rot / 8 texels away)
vec4 row4(uint h0, uint d4, vec2 cs[4]) {
    vec4 x = src4(h0 + d4);
    if (4u * d4 >= pc.rope.n_rot)
        return x;
#ifdef ROPE_NEOX
    const uint half_rot = pc.rope.n_rot >> 1;
    const bool first = 4u * d4 < half_rot;
    vec4 y = src4(first ? h0 + d4 + half_rot / 4u : h0 + d4 - half_rot / 4u), r;
    [[unroll]] for (uint j = 0u; j < 4u; j++)
        r[j] = first ? rope_rotate(vec2(x[j], y[j]), cs[j]).x : rope_rotate(vec2(y[j], x[j]), cs[j]).y;
    return r;
#else
    return vec4(rope_rotate(x.xy, cs[0]), rope_rotate(x.zw, cs[1]));
#endif
}
#endif

#ifdef X8_OUT
#include "x8.glsl"
// row o (D values, the same in every lane) of q head `head` of token tok in 8 bits, added into the zeroed pair row:
// lane l adds elements l, l + WG, ... and stores the scales of units l, l + WG, ...
void store_x8(uint tok, uint head, vec4 o[D4], uint lane) {
    const uint hi = tok & 1u, pair_ints = pc.n_head * D / 32u * 36u;
    const uint at = pc.dst_off + (tok >> 1) * pair_ints + head * D / 32u * 36u; // the head's first unit
    float inv[D / 32u];
    [[unroll]] for (uint u = 0; u < D / 32u; u++) {
        vec4 a4 = abs(o[8u * u]);
        [[unroll]] for (uint i = 1u; i < 8u; i++)
            a4 = max(a4, abs(o[8u * u + i]));
        const vec2 sc = x8_scale(max(max(a4.x, a4.y), max(a4.z, a4.w)));
        inv[u] = sc.y;
        if (lane == u % WG)
            O8[at + u * 36u + 32u + hi] = floatBitsToInt(sc.x);
    }
    [[unroll]] for (uint e0 = 0u; e0 < D; e0 += WG) {
        const uint e = e0 + lane;
        float iv = inv[0];
        [[unroll]] for (uint u = 1u; u < D / 32u; u++)
            iv = e / 32u == u ? inv[u] : iv;
        if (e < D)
            atomicAdd(O8[at + (e / 32u) * 36u + e % 32u], x8_round(lane_elem(o, e0, lane), iv) << (16u * hi));
    }
}
#endif

float m[R], l[R]; // each lane's running max and sum per row
// key j's scores sc into m and l: alpha, the weight of o so far, and p, the key's
void softmax_step(float sc[R], uint j, uint last_valid, uint pos[R], out float alpha[R], out float p[R]) {
    [[unroll]] for (uint r = 0; r < R; r++) {
        bool ok = r < last_valid && j <= pos[r] && (pc.window == 0u || pos[r] - j < pc.window);
        float x = sc[r];
        if (pc.softcap > 0.0)
            x = pc.softcap * tanh(clamp(x / pc.softcap, -10.0, 10.0));
        float mx = ok ? max(m[r], x) : m[r];
        alpha[r] = IS_NEG_BIG(m[r]) ? 0.0 : exp(m[r] - mx);
        p[r] = ok ? exp(x - mx) : 0.0;
        l[r] = l[r] * alpha[r] + p[r];
        m[r] = mx;
    }
}

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint s = gl_WorkGroupID.x + PC_SPLIT_BASE;
    const uint h = gl_WorkGroupID.z + PC_HEAD_BASE;
    const uint hrel = gl_WorkGroupID.z;

    // the tile's rows and the keys they see (as attention.comp)
    const bool seqs = PC_SEQS;
    const uint row0 = seqs ? gl_WorkGroupID.y * pc.group : gl_WorkGroupID.y * R;
    const uint last_valid = seqs ? pc.group : pc.n_rows - row0;
    uint tok_pos = 0u, kv_seq = 0u, key_lo = PC_KEY_LO;
    if (seqs) {
        tok_pos = uint(P[pc.pos_off + gl_WorkGroupID.y]);
        kv_seq = uint(SEQ[pc.seq_off + gl_WorkGroupID.y]) * pc.seq_stride;
        key_lo = pc.window > 0u && tok_pos + 1u > pc.window ? tok_pos + 1u - pc.window : 0u;
    }
    const uint last_row = row0 + min(R, last_valid) - 1u;
    const uint p_first = seqs ? tok_pos : PC_P0 + row0 / pc.group;
    const uint p_last = seqs ? tok_pos : PC_P0 + last_row / pc.group;
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

#ifdef FUSED_QKV
    // the token's row; its own key in this split: the split then writes it and its value into the cache
    const uint srow = pc.q_off + gl_WorkGroupID.y * pc.src_stride;
    const bool own_in = lo <= tok_pos && tok_pos < hi;
    const uint ks = srow + (pc.n_head + h) * D4, vs = ks + (pc.n_head / pc.group) * D4;
    const uint kw = pc.kw_off + kv_seq * 4u + h * pc.head_stride * 4u + tok_pos * D;
    for (uint d4 = t; d4 < D4; d4 += WG) {
        vec2 cs[4];
        rope4(d4, int(tok_pos), cs);
        [[unroll]] for (uint r = 0; r < R; r++)
            q_sh[r * D4 + d4] = r < last_valid ? row4(srow + (h * pc.group + r) * D4, d4, cs) * pc.scale : vec4(0.0);
        if (own_in) {
            vec4 kp = row4(ks, d4, cs), vp = src4(vs + d4);
            kv_store(kw + 4u * d4, kp.xy);
            kv_store(kw + 4u * d4 + 2u, kp.zw);
            kv_store(kw + pc.v_delta + 4u * d4, vp.xy);
            kv_store(kw + pc.v_delta + 4u * d4 + 2u, vp.zw);
            own_sh[d4] = vec4(kv_round(kp.xy), kv_round(kp.zw));
            own_sh[D4 + d4] = vec4(kv_round(vp.xy), kv_round(vp.zw));
        }
    }
#else
    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint row = row0 + r;
        const uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
        const uint qb = pc.q_off + (tok * pc.n_head + head) * D4;
        for (uint d4 = t; d4 < D4; d4 += WG)
            q_sh[r * D4 + d4] = r < last_valid ? Q[qb + d4] * pc.scale : vec4(0.0);
    }
#endif
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    vec4 qv[R * D4]; // the q rows in registers: every key reads them all (a shared load is a load per lane)
    [[unroll]] for (uint i = 0; i < R * D4; i++)
        qv[i] = q_sh[i];

    const uint lane = subgroupExclusiveAdd(1u);
    const uint n_lanes = subgroupAdd(1u);
    uint pos[R];
    vec4 o[R * D4];
    [[unroll]] for (uint r = 0; r < R; r++) {
        m[r] = NEG_BIG;
        l[r] = 0.0;
        pos[r] = r >= last_valid ? 0u : seqs ? tok_pos : PC_P0 + (row0 + r) / pc.group;
    }
    [[unroll]] for (uint e = 0; e < R * D4; e++)
        o[e] = vec4(0.0);

#ifdef FUSED_QKV
    const uint hi_cache = own_in ? tok_pos : hi; // the own key comes from the row, after the loop
#else
    const uint hi_cache = hi;
#endif
    for (uint j = lo + lane; j < hi_cache; j += n_lanes) {
        const uint kbase = pc.k_off + kv_seq + hrel * pc.head_stride + (j - PC_KEY_BASE) * pc.pos_stride;
        const uint vbase = pc.v_off + kv_seq + hrel * pc.head_stride + (j - PC_KEY_BASE) * pc.pos_stride;
        float sc[R];
        [[unroll]] for (uint r = 0; r < R; r++)
            sc[r] = 0.0;
        KV_ROW(kw, KT, kbase);
        [[unroll]] for (uint d4 = 0; d4 < D4; d4++) {
            vec4 kd = KV_UNIT(kw, KT, kbase, d4);
            [[unroll]] for (uint r = 0; r < R; r++)
                sc[r] += dot(qv[r * D4 + d4], kd);
        }
        float alpha[R], p[R];
        softmax_step(sc, j, last_valid, pos, alpha, p);
        KV_ROW(vw, VT, vbase);
        [[unroll]] for (uint d4 = 0; d4 < D4; d4++) {
            vec4 vd = KV_UNIT(vw, VT, vbase, d4);
            [[unroll]] for (uint r = 0; r < R; r++)
                o[r * D4 + d4] = o[r * D4 + d4] * alpha[r] + p[r] * vd;
        }
    }
#ifdef FUSED_QKV
    // the own key: the same arithmetic as a key of the loop, in the one lane that would have read it last
    if (own_in && lane == (tok_pos - lo) % n_lanes) {
        const uint j = tok_pos;
        float sc[R];
        [[unroll]] for (uint r = 0; r < R; r++)
            sc[r] = 0.0;
        [[unroll]] for (uint d4 = 0; d4 < D4; d4++) {
            vec4 kd = own_sh[d4];
            [[unroll]] for (uint r = 0; r < R; r++)
                sc[r] += dot(qv[r * D4 + d4], kd);
        }
        float alpha[R], p[R];
        softmax_step(sc, j, last_valid, pos, alpha, p);
        [[unroll]] for (uint d4 = 0; d4 < D4; d4++) {
            vec4 vd = own_sh[D4 + d4];
            [[unroll]] for (uint r = 0; r < R; r++)
                o[r * D4 + d4] = o[r * D4 + d4] * alpha[r] + p[r] * vd;
        }
    }
#endif

    // merge the lanes: weights exp(m_lane - max), then sums over the subgroup; every lane then holds the
    // row's result, and each stores D / WG of its elements (a store is a loop over the lanes on a CPU device,
    // whether one lane stores or all of them: 8 such loops a row, not 64)
    [[unroll]] for (uint r = 0; r < R; r++) {
        const uint row = row0 + r;
        if (r >= last_valid)
            continue;
        const float mm = subgroupMax(l[r] > 0.0 ? m[r] : NEG_BIG);
        const float w = l[r] > 0.0 ? exp(m[r] - mm) : 0.0;
        const float ll = subgroupAdd(l[r] * w);
        const uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
        const uint db = pc.direct != 0u ? pc.dst_off + (tok * pc.n_head + head) * D
                                        : pc.dst_off + ((hrel * pc.n_split + (s - PC_SPLIT_BASE)) * pc.n_rows + row) * (D + 2u);
        const float inv = pc.direct == 0u ? 1.0 : ll > 0.0 ? 1.0 / ll : 0.0;
        vec4 ov[D4];
        [[unroll]] for (uint d4 = 0; d4 < D4; d4++)
            ov[d4] = subgroupAdd(o[r * D4 + d4] * w) * inv;
#ifdef X8_OUT // (direct: the op asks for no key split)
        store_x8(tok, head, ov, lane);
#else
        [[unroll]] for (uint e0 = 0u; e0 < D; e0 += WG)
            if (e0 + lane < D)
                DST[db + e0 + lane] = lane_elem(ov, e0, lane);
        if (pc.direct == 0u && lane == 0u) {
            DST[db + D] = ll > 0.0 ? mm : NEG_BIG;
            DST[db + D + 1u] = ll;
        }
#endif
    }
}
