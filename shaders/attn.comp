#version 450
// Attention with an online softmax (flash attention), for decode (one token) and prefill (many tokens).
//
// Rows: a "row" is one (token, q head) pair of the call; row = token * group + g, where g is the q head's
// index inside its kv head's group (q head = kv_head * group + g). A workgroup takes R consecutive rows of
// one kv head (gl_WorkGroupID.y: row tile, .z: kv head) and one split of the key range (.x), walks that
// split in blocks of WG keys and keeps per row a running max m, a running sum l and an unnormalised output
// o (flash attention: the score matrix never exists beyond one block). A key j is visible to the row at
// position p when j <= p and (window == 0 or p - j < window).
//   direct != 0: the call has one split and writes out = o / l.
//   direct == 0: it writes the partial (o[D], m, l) of every row to a scratch buffer; attn_combine.comp
//               merges the splits (flash-decoding).
// Per block: 1) each invocation scores one key against all R rows (K from memory, q from shared memory);
// 2) R invocations update m and l and turn the scores into probabilities; 3) each invocation owns head
// dimensions d = t, t + WG, ... of all R rows and accumulates p * V. Scores and per-block rescale factors
// are double-buffered, so a block needs two barriers. No subgroup operations: any subgroup size works.
// All arithmetic is f32 (no fp16 arithmetic needed); f16 caches load through 16-bit storage or, without
// it, as packed 32-bit words (types.glsl).
#extension GL_GOOGLE_include_directive : require
#include "types.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64; // invocations, and keys per block
layout(constant_id = 1) const uint D = 64;  // head_dim (at most DPER_MAX * WG)
layout(constant_id = 2) const uint R = 1;   // rows per workgroup (at most R_MAX)

#define R_MAX 16
#define DPER_MAX 4
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
    uint chunk;        // keys per split (a multiple of WG)
    uint n_split;      // splits of the whole call (scratch layout)
    uint split_base;   // split of gl_WorkGroupID.x == 0
    uint head_base;    // kv head of gl_WorkGroupID.z == 0, and of the K/V bindings' start
    uint key_base;     // key at the K/V bindings' start
    uint head_stride;  // K/V elements between kv heads
    uint pos_stride;   // K/V elements between positions
    uint q_off, k_off, v_off, dst_off; // element offsets into the bound ranges
    uint direct;
    uint pad0;
    float scale;
    float softcap;     // 0: none; else score = softcap * tanh(score / softcap)
} pc;

DECLARE_F32(0, Q, readonly)
#ifdef KV_F16
DECLARE_F16(1, K, readonly)
DECLARE_F16(2, V, readonly)
#define LOAD_K(i) LOAD_F16(K, i)
#define LOAD_V(i) LOAD_F16(V, i)
#else
DECLARE_F32(1, K, readonly)
DECLARE_F32(2, V, readonly)
#define LOAD_K(i) K[i]
#define LOAD_V(i) V[i]
#endif
DECLARE_F32(3, DST, writeonly)

const uint DPER = (D + WG - 1) / WG;

shared float q_sh[R * D];       // q rows of the tile, pre-multiplied by scale
shared float s_sh[2 * R * WG];  // scores, then probabilities, of one block (two buffers)
shared float a_sh[2 * R];       // per-row rescale factor of one block (two buffers)
shared float m_sh[R];
shared float l_sh[R];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint s = gl_WorkGroupID.x + pc.split_base;
    const uint row0 = gl_WorkGroupID.y * R;
    const uint h = gl_WorkGroupID.z + pc.head_base;
    const uint hrel = gl_WorkGroupID.z;

    // the keys this workgroup visits: its split, cut to what any of its rows can see
    const uint last_row = min(row0 + R, pc.n_rows) - 1u;
    const uint p_first = pc.p0 + row0 / pc.group;
    const uint p_last = pc.p0 + last_row / pc.group;
    uint lo = pc.key_lo + s * pc.chunk;
    uint hi = min(min(lo + pc.chunk, pc.kv_end), p_last + 1u);
    if (pc.window > 0u && p_first + 1u > pc.window)
        lo = max(lo, p_first + 1u - pc.window);

    for (uint e = t; e < R * D; e += WG) {
        uint r = e / D, d = e - r * D, row = row0 + r;
        float q = 0.0;
        if (row < pc.n_rows) {
            uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
            q = Q[pc.q_off + (tok * pc.n_head + head) * D + d] * pc.scale;
        }
        q_sh[e] = q;
    }
    if (t < R) {
        m_sh[t] = NEG_BIG;
        l_sh[t] = 0.0;
    }
    float o[R_MAX * DPER_MAX];
    for (uint i = 0; i < R * DPER; i++)
        o[i] = 0.0;
    barrier();

    uint buf = 0;
    for (uint kb = lo; kb < hi; kb += WG, buf ^= 1u) {
        const uint sb = buf * R * WG;
        // 1) scores of key kb + t against every row
        {
            const uint j = kb + t;
            float acc[R_MAX];
            for (uint r = 0; r < R; r++)
                acc[r] = 0.0;
            if (j < hi) {
                uint kbase = pc.k_off + hrel * pc.head_stride + (j - pc.key_base) * pc.pos_stride;
                for (uint d = 0; d < D; d++) {
                    float kd = LOAD_K(kbase + d);
                    for (uint r = 0; r < R; r++)
                        acc[r] += q_sh[r * D + d] * kd;
                }
            }
            for (uint r = 0; r < R; r++) {
                uint row = row0 + r;
                uint p = pc.p0 + row / pc.group;
                bool ok = j < hi && row < pc.n_rows && j <= p && (pc.window == 0u || p - j < pc.window);
                float sc = acc[r];
                if (pc.softcap > 0.0)
                    sc = pc.softcap * tanh(clamp(sc / pc.softcap, -10.0, 10.0));
                s_sh[sb + r * WG + t] = ok ? sc : NEG_BIG;
            }
        }
        barrier();
        // 2) online softmax update of row t
        if (t < R) {
            const uint rb = sb + t * WG;
            float m_old = m_sh[t];
            float mx = m_old;
            for (uint jj = 0; jj < WG; jj++)
                mx = max(mx, s_sh[rb + jj]);
            float sum = 0.0;
            for (uint jj = 0; jj < WG; jj++) {
                float v = s_sh[rb + jj];
                float pr = IS_NEG_BIG(v) ? 0.0 : exp(v - mx);
                s_sh[rb + jj] = pr;
                sum += pr;
            }
            float a = IS_NEG_BIG(m_old) ? 0.0 : exp(m_old - mx);
            m_sh[t] = mx;
            l_sh[t] = l_sh[t] * a + sum;
            a_sh[buf * R + t] = a;
        }
        barrier();
        // 3) o = o * a + P V for this invocation's dimensions
        {
            const uint nb = min(WG, hi - kb);
            const uint vbase = pc.v_off + hrel * pc.head_stride + (kb - pc.key_base) * pc.pos_stride;
            for (uint i = 0; i < DPER; i++) {
                const uint d = t + i * WG;
                if (d < D) {
                    for (uint r = 0; r < R; r++)
                        o[r * DPER + i] *= a_sh[buf * R + r];
                    for (uint jj = 0; jj < nb; jj++) {
                        float vd = LOAD_V(vbase + jj * pc.pos_stride + d);
                        for (uint r = 0; r < R; r++)
                            o[r * DPER + i] += s_sh[sb + r * WG + jj] * vd;
                    }
                }
            }
        }
    }

    // m_sh and l_sh were last written before a barrier: every invocation sees the final values
    for (uint r = 0; r < R; r++) {
        const uint row = row0 + r;
        if (row >= pc.n_rows)
            break;
        const float l = l_sh[r];
        if (pc.direct != 0u) {
            uint tok = row / pc.group, head = h * pc.group + (row - tok * pc.group);
            uint ob = pc.dst_off + (tok * pc.n_head + head) * D;
            float inv = l > 0.0 ? 1.0 / l : 0.0;
            for (uint i = 0; i < DPER; i++) {
                uint d = t + i * WG;
                if (d < D)
                    DST[ob + d] = o[r * DPER + i] * inv;
            }
        } else {
            // scratch element ((h * n_split + s) * n_rows + row) * (D + 2), relative to the binding
            uint pb = pc.dst_off + ((hrel * pc.n_split + (s - pc.split_base)) * pc.n_rows + row) * (D + 2u);
            for (uint i = 0; i < DPER; i++) {
                uint d = t + i * WG;
                if (d < D)
                    DST[pb + d] = o[r * DPER + i];
            }
            if (t == 0u) {
                DST[pb + D] = m_sh[r];
                DST[pb + D + 1u] = l;
            }
        }
    }
}
