#version 450
// KV-cache write: src f32 rows [token][head][head_dim] (token rows strided) into the cache, laid out
// [head][pos][head_dim] per layer (engine/ops/kv_cache.h), at pos = P[token]; one invocation per pair
// of elements, so an f16 cache without 16-bit storage is written as whole packed words (head_dim is
// even and the bound cache range starts on an even element). Positions outside [0, n_ctx) are skipped.
// ROPE_NORMAL / ROPE_NEOX variants rotate the row on the way (shaders/rope.glsl): each element of the
// pair is computed from its rotation partner, so writes stay adjacent pairs. Only heads below rope_heads
// rotate: K and V of a layer, adjacent in a fused QKV row and in the cache, go in one dispatch (K's heads
// roped, V's not). With seq_stride != 0 the tokens belong to several sequences: token t goes to sequence
// SEQ[t], whose cache starts seq_stride elements after the previous one's (ids >= n_seq are skipped).
// With q_heads != 0 the first q_heads heads of a src row are q heads, written (roped) to QD instead, and the
// cache is bound from kv head 0 for every piece: a fused QKV output in one dispatch.
#extension GL_GOOGLE_include_directive : require
#include "types.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

#if defined(ROPE_NORMAL) || defined(ROPE_NEOX)
#define ROPE 1
#define ROPE_FF_BINDING 3
#endif
#include "rope.glsl"

// declared identically as vkslm_kv_write_push in engine/ops/kv_cache.h
layout(push_constant) uniform Push {
    uint head_dim, n_ctx, n_head, n_tokens; // n_head: heads in this dispatch
    uint src_off, dst_off, pos_off;
    uint h0;                                // first head of this dispatch, in src
    uint src_head_stride, src_token_stride;
    uint rope_heads;                        // rope variants: only src heads h0 + h < rope_heads rotate
    RopeArgs rope;                          // rope variants
    uint seq_stride, seq_off, n_seq;
    uint q_heads, q_off, q_token_stride;
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufS { float S[]; };
layout(std430, binding = 1) readonly buffer BufP { int P[]; };
#ifdef CACHE_F16
DECLARE_F16(2, D, writeonly)
#else
DECLARE_F32(2, D, writeonly)
#endif
layout(std430, binding = 4) readonly buffer BufQ { int SEQ[]; };
layout(std430, binding = 5) writeonly buffer BufQD { float QD[]; };
#ifdef ROPE
// element e (< n_rot) of a row starting at S[s0], rotated for position pos
float rope_elem(uint s0, uint e, int pos) {
    bool first;
    uint q = rope_pair_of(e, pc.rope.n_rot, first);
    uvec2 i = rope_pair(q, pc.rope.n_rot);
    vec2 y = rope_rotate(vec2(S[s0 + i.x], S[s0 + i.y]), rope_cos_sin(pc.rope, q, pos));
    return first ? y.x : y.y;
}
#endif

void main() {
    uint half_dim = pc.head_dim >> 1;
    uint g = gl_GlobalInvocationID.x;
    if (g >= pc.n_tokens * pc.n_head * half_dim)
        return;
    uint p = g % half_dim, row = g / half_dim;
    uint h = row % pc.n_head, t = row / pc.n_head;
    int pos = P[pc.pos_off + t];
    if (pos < 0 || uint(pos) >= pc.n_ctx)
        return;
    const uint ha = pc.h0 + h; // head of the src row
    if (ha < pc.q_heads) {
        uint s0 = pc.src_off + t * pc.src_token_stride + ha * pc.src_head_stride;
        vec2 v = vec2(S[s0 + 2u * p], S[s0 + 2u * p + 1u]);
#ifdef ROPE
        if (2u * p < pc.rope.n_rot && ha < pc.rope_heads)
            v = vec2(rope_elem(s0, 2u * p, pos), rope_elem(s0, 2u * p + 1u, pos));
#endif
        uint qd = pc.q_off + t * pc.q_token_stride + ha * pc.head_dim + 2u * p;
        QD[qd] = v.x;
        QD[qd + 1u] = v.y;
        return;
    }
    const uint hc = pc.q_heads != 0u ? ha - pc.q_heads : h; // cache head, from the binding's first
    uint seq_base = 0u;
    if (pc.seq_stride != 0u) {
        int q = SEQ[pc.seq_off + t];
        if (q < 0 || uint(q) >= pc.n_seq)
            return;
        seq_base = uint(q) * pc.seq_stride;
    }
    uint s0 = pc.src_off + t * pc.src_token_stride + (pc.h0 + h) * pc.src_head_stride;
    uint d = pc.dst_off + seq_base + (hc * pc.n_ctx + uint(pos)) * pc.head_dim + 2u * p;
    vec2 v = vec2(S[s0 + 2u * p], S[s0 + 2u * p + 1u]);
#ifdef ROPE
    if (2u * p < pc.rope.n_rot && pc.h0 + h < pc.rope_heads) // n_rot is even: both elements rotate
        v = vec2(rope_elem(s0, 2u * p, pos), rope_elem(s0, 2u * p + 1u, pos));
#endif
#if defined(CACHE_F16) && !defined(STORAGE16)
    D[d >> 1] = half_pack2(v);
#elif defined(CACHE_F16)
    D[d] = float16_t(v.x);
    D[d + 1u] = float16_t(v.y);
#else
    D[d] = v.x;
    D[d + 1u] = v.y;
#endif
}
