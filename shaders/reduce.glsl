// Workgroup-wide reductions that work at any subgroup size: subgroup arithmetic first, then one
// shared-memory exchange between subgroups (skipped when the workgroup is a single subgroup).
// The including shader declares `layout(constant_id = 0) const uint WG` (its local_size_x) first.
// Each call site passes its own slot (0 or 1), so two reductions in a row need no extra barrier; a
// shader that reduces again into the same slot must barrier() before that.
#ifndef VKSLM_REDUCE_GLSL
#define VKSLM_REDUCE_GLSL
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

shared float reduce_buf[2u * WG];

float wg_sum(float v, uint slot) {
    float s = subgroupAdd(v);
    if (gl_NumSubgroups == 1u)
        return s;
    if (subgroupElect())
        reduce_buf[slot * WG + gl_SubgroupID] = s;
    barrier();
    float t = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++)
        t += reduce_buf[slot * WG + i];
    return t;
}
#endif
