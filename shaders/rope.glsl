// RoPE, once for every shader that rotates (rope.comp; kv_cache.comp, which ropes k on its way into the
// cache). The oracle is engine/cpu/rope.c. Pair p < n_rot/2 at position pos has the angle (llama.cpp's
// rope_yarn)
//   extrap = pos * base^(-2p / n_rot) / ff[p]            (ff: optional per-pair frequency divisors)
//   interp = freq_scale * extrap
//   theta  = mix(interp, extrap, ext_factor * ramp(p))   (YaRN; ext_factor 0: theta = interp)
//   ramp(p) = 1 - clamp((p - corr_low) / max(0.001, corr_high - corr_low), 0, 1)
// and rotates by (cos theta, sin theta) * attn_factor.
// ROPE_NEOX (qwen2, phi3, gemma) pairs elements (p, p + n_rot/2); otherwise (llama) (2p, 2p + 1).
// A shader that rotates defines ROPE_FF_BINDING (the binding of the frequency divisors, read only when
// flags & 1) before including this; without it only the push-constant struct is declared.
#ifndef VKSLM_ROPE_GLSL
#define VKSLM_ROPE_GLSL

// Push constants of the rotation, declared identically as vkslm_rope_args in engine/ops/rope.h.
struct RopeArgs {
    uint n_rot;        // rotated elements per head, even
    uint flags;        // 1: frequency divisors bound
    uint f_off;        // element offset of the divisors in their binding
    float theta_log2;  // log2(theta base)
    float freq_scale;  // 1 / linear or YaRN factor
    float ext_factor;  // YaRN ramp weight; 0: none
    float attn_factor; // magnitude of cos and sin
    float corr_low, corr_high;
};

#ifdef ROPE_FF_BINDING
layout(std430, binding = ROPE_FF_BINDING) readonly buffer BufRopeF { float RopeF[]; };

// (cos, sin) * attn_factor of pair p at position pos
vec2 rope_cos_sin(RopeArgs r, uint p, int pos) {
    float extrap = float(pos) * exp2(-float(2u * p) / float(r.n_rot) * r.theta_log2);
    if ((r.flags & 1u) != 0u)
        extrap /= RopeF[r.f_off + p];
    float theta = r.freq_scale * extrap;
    if (r.ext_factor != 0.0) {
        float ramp = 1.0 - clamp((float(p) - r.corr_low) / max(0.001, r.corr_high - r.corr_low), 0.0, 1.0);
        float m = ramp * r.ext_factor;
        theta = theta * (1.0 - m) + extrap * m;
    }
    return vec2(cos(theta), sin(theta)) * r.attn_factor;
}

// the elements of pair p
uvec2 rope_pair(uint p, uint n_rot) {
#ifdef ROPE_NEOX
    return uvec2(p, p + (n_rot >> 1));
#else
    return uvec2(2u * p, 2u * p + 1u);
#endif
}

// the pair of element e < n_rot, and whether e is its first element
uint rope_pair_of(uint e, uint n_rot, out bool first) {
#ifdef ROPE_NEOX
    uint half_rot = n_rot >> 1;
    first = e < half_rot;
    return first ? e : e - half_rot;
#else
    first = (e & 1u) == 0u;
    return e >> 1;
#endif
}

// the pair (x0, x1) rotated by cs = (cos, sin) * magnitude
vec2 rope_rotate(vec2 x, vec2 cs) { return vec2(x.x * cs.x - x.y * cs.y, x.x * cs.y + x.y * cs.x); }
#endif // ROPE_FF_BINDING

#endif
