#version 450
// One pass of argmax over f32 rows: workgroup w reduces `chunk` entries of its row to the best
// (value, id) and writes it to output slot inv0 + w. Invocations read with a stride of WG (coalesced),
// then reduce through subgroup operations and one shared-memory exchange. RAW reads values whose id is
// their column; PAIRS reads (value, id) entries of an earlier pass. Order: value descending, ties to the
// lower id; NaN counts as -inf. Push constants as shaders/select_topk.comp (k is 1). TEXEL (select_argmax_texel):
// RAW rows read as texels.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint ncols, in_stride, in_off, ids_off, chunk, k, out_stride, out_off, oid_off, col0, inv0, sorted;
    uint th_off, th_stride, use_th, pad;
} pc;

#ifdef TEXEL
// the rows as texels of 4 values (CPU devices: a storage-buffer load is a load per lane there); in_off and
// in_stride count texels, chunk and ncols stay in entries (chunk a multiple of 4)
layout(binding = 0) uniform usamplerBuffer AT;
#else
layout(std430, binding = 0) readonly buffer BufA { float A[]; };
#endif
#ifdef PAIRS
layout(std430, binding = 1) readonly buffer BufAI { uint AI[]; };
#define OUT_B 2
#else
#define OUT_B 1
#endif
layout(std430, binding = OUT_B) writeonly buffer BufOV { float OV[]; };
layout(std430, binding = OUT_B + 1) writeonly buffer BufOI { uint OI[]; };

shared float sv[WG];
shared uint si[WG];

bool better(float v, uint i, float w, uint j) { return v > w || (v == w && i < j); }

void main() {
    uint slot = gl_WorkGroupID.x, row = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint c0 = slot * pc.chunk, c1 = min(pc.ncols, c0 + pc.chunk);
    float bv = -1.0 / 0.0;
    uint bi = 0xffffffffu;
#ifdef TEXEL
    for (uint t = c0 / 4u + lid; 4u * t < c1; t += WG) {
        vec4 v4 = uintBitsToFloat(texelFetch(AT, int(pc.in_off + row * pc.in_stride + t)));
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            float v = isnan(v4[j]) ? -1.0 / 0.0 : v4[j];
            uint id = pc.col0 + 4u * t + j;
            if (4u * t + j < c1 && better(v, id, bv, bi)) {
                bv = v;
                bi = id;
            }
        }
    }
#else
    for (uint c = c0 + lid; c < c1; c += WG) {
        float v = A[pc.in_off + row * pc.in_stride + c];
        if (isnan(v))
            v = -1.0 / 0.0;
#ifdef PAIRS
        uint id = AI[pc.ids_off + row * pc.in_stride + c];
#else
        uint id = pc.col0 + c;
#endif
        if (better(v, id, bv, bi)) {
            bv = v;
            bi = id;
        }
    }
#endif
    float m = subgroupMax(bv);
    uint mi = subgroupMin(bv == m ? bi : 0xffffffffu);
    if (gl_NumSubgroups > 1u) {
        if (subgroupElect()) {
            sv[gl_SubgroupID] = m;
            si[gl_SubgroupID] = mi;
        }
        barrier();
        if (lid == 0u)
            for (uint s = 1u; s < gl_NumSubgroups; s++)
                if (better(sv[s], si[s], m, mi)) {
                    m = sv[s];
                    mi = si[s];
                }
    }
    if (lid == 0u) {
        uint o = row * pc.out_stride + pc.inv0 + slot;
        OV[pc.out_off + o] = m;
        OI[pc.oid_off + o] = mi;
    }
}
