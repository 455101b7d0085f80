/* Device profiles (env VKSLM_DEVICE_PROFILE): the limits and features of real phone, embedded and laptop GPUs,
 * applied to the chosen device so that its kernels, splits and memory budget are the ones that device would
 * get. A profile only narrows: every value becomes the smaller of the device's and the profile's, and a
 * feature stays on only if both have it. The subgroup size cannot be narrowed (a driver fixes it; lavapipe per
 * process through LP_NATIVE_VECTOR_WIDTH): the profile keeps its own range for `vkslm devices` to compare, and
 * scripts/profiles.sh starts lavapipe at the nearest size it can take. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)

/* Fields: name, what it stands for, subgroup default/min/max, size control, maxStorageBufferRange,
 * maxMemoryAllocationSize, maxComputeSharedMemorySize, maxComputeWorkGroupInvocations,
 * maxComputeWorkGroupSize[3], fp16 arithmetic, int8 arithmetic, 16-bit storage, 8-bit storage, integer dot
 * product, device-local heap. */
static const vkslm_vk_profile profiles[] = {
    /* Qualcomm Adreno 640 (Snapdragon 855) on Mesa turnip, src/freedreno/vulkan/tu_device.cc and tu_common.h:
     * MAX_STORAGE_BUFFER_RANGE (1u << 27), "match the latest Qualcomm driver which is also a hw limit on later
     * gens"; a6xx threads of 64 or 128 with subgroup size control (default 128); 32 KiB shared memory, 1024
     * invocations, shaderFloat16, shaderInt8, 16- and 8-bit storage as the Adreno reports on
     * https://vulkan.gpuinfo.org/displayreport.php?id=10983 give them (IREE's Adreno target cites the same
     * report); turnip's integer dot product (not accelerated on a6xx). A 6 GiB phone: 3 GiB for the GPU. */
    {"adreno-640", "Qualcomm Adreno 640 (turnip)", 128, 64, 128, 1, 128 * MIB, 1 * GIB, 32 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 1, 1, 1, 3 * GIB},
    /* Qualcomm Adreno 740 (Snapdragon 8 Gen 2) on turnip (a7xx): the same 128 MiB storage range, 32 KiB shared
     * memory, 1024 invocations, subgroup 64..128, and integer dot product in hardware. An 8 GiB phone. */
    {"adreno-740", "Qualcomm Adreno 740 (turnip)", 128, 64, 128, 1, 128 * MIB, 2 * GIB, 32 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 1, 1, 1, 4 * GIB},
    /* Arm Mali-G52 (Bifrost) with Arm's driver, as https://vulkan.gpuinfo.org/listreports.php?devicename=Mali-G52
     * lists its reports (Mesa's panvk: src/panfrost/vulkan/panvk_vX_physical_device.c): 8-wide warps, no
     * subgroup size control, 32 KiB shared memory, 256 invocations, maxStorageBufferRange 128 MiB, fp16 and int8,
     * 16/8-bit storage, no integer dot product (Bifrost has no dot instruction). A budget phone: 1 GiB for the
     * GPU. */
    {"mali-g52", "Arm Mali-G52 (Bifrost)", 8, 8, 8, 0, 128 * MIB, 512 * MIB, 32 * KIB, 256, {256, 256, 256}, 1, 1, 1,
     1, 0, 1 * GIB},
    /* Arm Mali-G710 (Valhall) on panvk (v10) and Arm's driver: 16-wide warps, 32 KiB shared memory, 512
     * invocations and 512 per dimension (IREE's Valhall target from https://vulkan.gpuinfo.org/displayreport.php?id=10312
     * and id=15142), fp16, int8, 16/8-bit storage and integer dot product. An 8 GiB phone. */
    {"mali-g710", "Arm Mali-G710 (Valhall)", 16, 16, 16, 0, 1 * GIB, 2 * GIB, 32 * KIB, 512, {512, 512, 512}, 1, 1,
     1, 1, 1, 4 * GIB},
    /* Imagination PowerVR BXM-8-256 (B-Series, e.g. Motorola G54) with Imagination's driver, as
     * https://vulkan.gpuinfo.org/listreports.php?devicename=PowerVR%20B-Series%20BXM-8-256 reports it, and
     * Mesa's pvr (src/imagination/vulkan/pvr_device.c): 32-wide subgroups without size control, 16 KiB shared
     * memory, 512 invocations, 128 MiB storage range, fp16 but no int8 arithmetic, 16-bit storage but no 8-bit
     * storage, no integer dot product. A 4 GiB phone. */
    {"powervr-bxm", "Imagination PowerVR BXM-8-256", 32, 32, 32, 0, 128 * MIB, 1 * GIB, 16 * KIB, 512,
     {512, 512, 512}, 1, 0, 1, 0, 0, 2 * GIB},
    /* Broadcom VideoCore VII (Raspberry Pi 5) on Mesa v3dv, src/broadcom/vulkan/v3dv_device.c:
     * subgroupSize = V3D_CHANNELS (16), no size control, maxStorageBufferRange = V3D_MAX_BUFFER_RANGE (1 << 30),
     * maxComputeSharedMemorySize 16384, maxComputeWorkGroupInvocations 256 and {256, 256, 256}; no
     * shaderFloat16 or shaderInt8, 16- and 8-bit storage, no integer dot product. v3dv's heap is part of system
     * RAM (compute_heap_size): 2 GiB of a 4 GiB board. (v3dv exposes only basic subgroup operations in compute;
     * the profile does not narrow subgroup operations, see docs/devices.md.) */
    {"v3d-rpi5", "Broadcom V3D 7.1 (Raspberry Pi 5, v3dv)", 16, 16, 16, 0, 1 * GIB, 1 * GIB, 16 * KIB, 256,
     {256, 256, 256}, 0, 0, 1, 1, 0, 2 * GIB},
    /* Intel UHD Graphics 630 (Gen 9.5) on Mesa anv, src/intel/vulkan/anv_physical_device.c: SIMD8/16/32 with
     * subgroup size control (default 32), maxStorageBufferRange 1 GiB (isl max buffer size on Gen9), 64 KiB of
     * shared memory, 1024 invocations, fp16, int8, 16/8-bit storage, integer dot product (not accelerated). A
     * laptop with 8 GiB, of which anv offers 3/4 as its heap; vkslm takes 4 GiB. */
    {"intel-uhd-630", "Intel UHD Graphics 630 (anv)", 32, 8, 32, 1, 1 * GIB, 2 * GIB, 64 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 1, 1, 1, 4 * GIB},
    /* A generic phone with a 1 GiB device-local heap: the lowest common values of the phone profiles above
     * (subgroup 16, no size control, 128 MiB storage range, 256 MiB allocations, 16 KiB shared memory, 256
     * invocations, no fp16, int8, 8-bit storage or integer dot product; 16-bit storage kept as every phone
     * above has it). Used to test loading under memory pressure. */
    {"phone-1gib", "a generic phone with a 1 GiB device-local heap", 16, 16, 16, 0, 128 * MIB, 256 * MIB, 16 * KIB,
     256, {256, 256, 64}, 0, 0, 1, 0, 0, 1 * GIB},
};

#define N_PROFILES (sizeof profiles / sizeof *profiles)

uint32_t vkslm_vk_profile_count(void) { return (uint32_t)N_PROFILES; }

const vkslm_vk_profile *vkslm_vk_profile_at(uint32_t i) { return i < N_PROFILES ? &profiles[i] : NULL; }

vkslm_status vkslm_vk_profile_find(const char *name, const vkslm_vk_profile **out) {
    *out = NULL;
    if (!name || !*name)
        return VKSLM_OK;
    for (size_t i = 0; i < N_PROFILES; i++)
        if (strcmp(profiles[i].name, name) == 0) {
            *out = &profiles[i];
            return VKSLM_OK;
        }
    char names[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < N_PROFILES && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", profiles[i].name);
    return vkslm_fail(VKSLM_ERR_INVALID_ARG, "unknown device profile '%.64s' (VKSLM_DEVICE_PROFILE); profiles: %s",
                      name, names);
}

vkslm_status vkslm_vk_profile_from_env(const vkslm_vk_profile **out) {
    return vkslm_vk_profile_find(getenv("VKSLM_DEVICE_PROFILE"), out);
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

void vkslm_vk_profile_apply(const vkslm_vk_profile *p, vkslm_vk_caps *c) {
    if (!p)
        return;
    snprintf(c->profile, sizeof c->profile, "%s", p->name);
    c->profile_subgroup_size = p->subgroup_size;
    c->profile_subgroup_min = p->subgroup_min;
    c->profile_subgroup_max = p->subgroup_max;
    c->subgroup_size_control = c->subgroup_size_control && p->subgroup_size_control;
    c->compute_full_subgroups = c->compute_full_subgroups && p->subgroup_size_control;
    c->max_storage_buffer_range = min64(c->max_storage_buffer_range, p->max_storage_buffer_range);
    c->max_memory_allocation_size = min64(c->max_memory_allocation_size, p->max_memory_allocation_size);
    c->max_shared_memory = min32(c->max_shared_memory, p->max_shared_memory);
    c->max_workgroup_invocations = min32(c->max_workgroup_invocations, p->max_workgroup_invocations);
    for (int i = 0; i < 3; i++)
        c->max_workgroup_size[i] = min32(c->max_workgroup_size[i], p->max_workgroup_size[i]);
    c->fp16 = c->fp16 && p->fp16;
    c->int8 = c->int8 && p->int8;
    c->storage16 = c->storage16 && p->storage16;
    c->storage8 = c->storage8 && p->storage8;
    c->integer_dot_product = c->integer_dot_product && p->integer_dot_product;
    c->integer_dot_4x8_accel = c->integer_dot_4x8_accel && p->integer_dot_product;
    c->device_local_bytes = min64(c->device_local_bytes, p->device_local_bytes);
    /* a texel view must still span the whole (narrowed) storage range: maxTexelBufferElements is not narrowed */
}
