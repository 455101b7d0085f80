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
 * product, device-local heap.
 *
 * Every value is read from a driver's source or a published report, cited per value group below; "mesa/..."
 * paths are Mesa's tree as mirrored at github.com/bminor/mesa-mesa (read 2026-12). Where a value could not be
 * read, the smaller value (or the feature off) is taken and the comment says it is an assumption.
 *
 * The device-local heap is no driver constant: turnip (tu_get_system_heap_size), pvr (pvr_compute_heap_size),
 * v3dv (compute_heap_size) and anv (anv_compute_sys_heap_size) all offer half of the system RAM when it is 4 GiB
 * or less. The RAM size is an assumption, not a reading: 4 GiB (the small end for these devices), so 2 GiB of
 * heap; 2 GiB for the budget Mali-G52 phone, so 1 GiB. */
static const vkslm_vk_profile profiles[] = {
    /* Qualcomm Adreno 640 (Snapdragon 855) on Mesa turnip.
     * - Subgroups: mesa/src/freedreno/vulkan/tu_device.cc, tu_get_physical_device_properties_1_1/_1_3:
     *   subgroupSize = threadsize_base * 2 (double threadsize), min threadsize_base, max threadsize_base * 2;
     *   mesa/src/freedreno/common/freedreno_devices.py: GPUId(640) is [a6xx_base, a6xx_gen2], threadsize_base 64,
     *   max_waves 16 (GPUInfo defaults), a6xx_base supports_double_threadsize: 128 (64..128); tu_get_features
     *   subgroupSizeControl = true.
     * - Ranges: mesa/src/freedreno/vulkan/tu_common.h MAX_STORAGE_BUFFER_RANGE (1u << 27), 128 MiB ("match the
     *   latest Qualcomm driver"); tu_get_physical_device_properties_1_1 maxMemoryAllocationSize = 0xFFFFFFFF.
     * - Compute: tu_get_properties maxComputeSharedMemorySize = cs_shared_mem_size (GPUId(640): 32 * 1024),
     *   maxComputeWorkGroupSize {1024, 1024, 1024}; its maxComputeWorkGroupInvocations is 64 * 2 * 16 = 2048, but
     *   IREE's Adreno target (iree-org/iree compiler/src/iree/compiler/Codegen/Dialect/GPU/TargetUtils/
     *   KnownTargets.cpp, getAdrenoWgpDetails, from the Qualcomm driver's vulkan.gpuinfo.org reports) gives 1024:
     *   the smaller is kept.
     * - Features: tu_get_features shaderFloat16 = true, shaderInt8 = true, shaderIntegerDotProduct = true (not
     *   accelerated: a6xx_gen2 has_dp2acc = False); storageBuffer16BitAccess = a6xx.storage_16bit, which
     *   a6xx_gen2 does not set; storageBuffer8BitAccess = a7xx.storage_8bit: both off on the a640. */
    {"adreno-640", "Qualcomm Adreno 640 (turnip)", 128, 64, 128, 1, 128 * MIB, 0xFFFFFFFFull, 32 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 0, 0, 1, 2 * GIB},
    /* Qualcomm Adreno 740 (Snapdragon 8 Gen 2) on Mesa turnip: the same files as adreno-640.
     * - freedreno_devices.py: GPUId(740) is [a7xx_base, a7xx_gen2], cs_shared_mem_size 32 * 1024, threadsize_base
     *   and max_waves defaults: subgroups 128 (64..128) with size control, 32 KiB shared memory.
     * - Ranges as adreno-640 (tu_common.h, tu_get_physical_device_properties_1_1).
     * - Invocations: turnip 2048, IREE's Adreno target (KnownTargets.cpp, citing the Qualcomm driver's report
     *   https://vulkan.gpuinfo.org/displayreport.php?id=19218 for the Adreno 740) 1024: the smaller is kept;
     *   {1024, 1024, 1024} in both.
     * - Features: shaderFloat16, shaderInt8, shaderIntegerDotProduct (tu_get_features; a7xx_base has_dp4acc);
     *   a7xx_base storage_16bit = True; storage_8bit is only in a7xx_gen3, so no 8-bit storage. IREE's Adreno
     *   target agrees: storage B64/B32/B16 (no B8), Int8 and FP16 compute, DP4xI8ToI32. */
    {"adreno-740", "Qualcomm Adreno 740 (turnip)", 128, 64, 128, 1, 128 * MIB, 0xFFFFFFFFull, 32 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 1, 0, 1, 2 * GIB},
    /* Arm Mali-G52 (Bifrost v7) on Mesa panvk; no published report of Arm's driver was found, so panvk's values.
     * - Subgroups: mesa/src/panfrost/vulkan/panvk_vX_physical_device.c subgroupSize = pan_subgroup_size(PAN_ARCH),
     *   which is 8 for arch 7 (mesa/src/panfrost/util/pan_ir.h); EXT_subgroup_size_control only for arch >= 10.
     * - Ranges: panvk maxStorageBufferRange = UINT32_MAX, maxMemoryAllocationSize = UINT32_MAX.
     * - Compute: panvk maxComputeSharedMemorySize = 32768; maxComputeWorkGroupInvocations and every
     *   maxComputeWorkGroupSize = kmod max_threads_per_wg, a hardware register; pan_ir.h panfrost_max_thread_count
     *   gives arch 7 384 threads with more than 32 work registers, else 768: the smaller, 384, is kept.
     * - Features: panvk shaderFloat16 = PAN_ARCH >= 10 (off), shaderInt8, storageBuffer16BitAccess,
     *   storageBuffer8BitAccess and shaderIntegerDotProduct = true. */
    {"mali-g52", "Arm Mali-G52 (Bifrost, panvk)", 8, 8, 8, 0, 0xFFFFFFFFull, 0xFFFFFFFFull, 32 * KIB, 384,
     {384, 384, 384}, 0, 1, 1, 1, 1, 1 * GIB},
    /* Arm Mali-G710 (Valhall) with Arm's driver, through IREE's Valhall target (KnownTargets.cpp,
     * getValhallWgpDetails; it cites https://vulkan.gpuinfo.org/displayreport.php?id=30471 for the Mali-G710).
     * - Subgroups {16, 16}; workgroup {512, 512, 512}, 512 invocations, 32 KiB shared memory; Int8 and FP16
     *   compute, all storage bit widths (8 and 16), DP4xI8ToI32 integer dot product.
     * - No size control: one size only (panvk v10 exposes subgroupSizeControl, but for that single size).
     * - Ranges: not in IREE's target; panvk (panvk_vX_physical_device.c) maxStorageBufferRange and
     *   maxMemoryAllocationSize = UINT32_MAX. */
    {"mali-g710", "Arm Mali-G710 (Valhall)", 16, 16, 16, 0, 0xFFFFFFFFull, 0xFFFFFFFFull, 32 * KIB, 512,
     {512, 512, 512}, 1, 1, 1, 1, 1, 2 * GIB},
    /* Imagination PowerVR BXM-8-256 (B-Series). No published report of Imagination's driver was found, so Mesa's
     * pvr driver, mesa/src/imagination/vulkan/pvr_physical_device.c (which targets other B-Series cores, so this
     * stands for the driver, not measured silicon):
     * - pvr_physical_device_get_properties: subgroupSize = 1; maxStorageBufferRange = 128 MiB;
     *   maxMemoryAllocationSize = the heap's size; maxComputeSharedMemorySize = 16 KiB;
     *   maxComputeWorkGroupInvocations = 128, maxComputeWorkGroupSize {128, 128, 64}.
     * - pvr_physical_device_get_supported_features: shaderFloat16, shaderInt8, storageBuffer16BitAccess,
     *   storageBuffer8BitAccess false; no shaderIntegerDotProduct (Vulkan 1.2 driver). */
    {"powervr-bxm", "Imagination PowerVR BXM-8-256 (Mesa pvr)", 1, 1, 1, 0, 128 * MIB, 2 * GIB, 16 * KIB, 128,
     {128, 128, 64}, 0, 0, 0, 0, 0, 2 * GIB},
    /* Broadcom VideoCore VII (Raspberry Pi 5) on Mesa v3dv, mesa/src/broadcom/vulkan/v3dv_device.c:
     * - get_device_properties: subgroupSize = V3D_CHANNELS (16), one size; maxStorageBufferRange =
     *   V3D_MAX_BUFFER_RANGE (1 << 30 in v3d_limits.h; older Mesa had 1 << 27); maxMemoryAllocationSize =
     *   MAX_MEMORY_ALLOCATION_SIZE, "Minimum required by the spec" (Vulkan 1.1: 1 GiB);
     *   maxComputeSharedMemorySize 16384, maxComputeWorkGroupInvocations 256, maxComputeWorkGroupSize
     *   {256, 256, 256}.
     * - get_features: storageBuffer16BitAccess and storageBuffer8BitAccess true, shaderIntegerDotProduct true
     *   (lowered in NIR, "No native acceleration"); shaderFloat16 and shaderInt8 not set, shaderInt16 false.
     * - Subgroup operations: BASIC, plus BALLOT, SHUFFLE, VOTE and QUAD on V3D 7.1, no ARITHMETIC; the profile
     *   does not narrow subgroup operations, see docs/devices.md. */
    {"v3d-rpi5", "Broadcom V3D 7.1 (Raspberry Pi 5, v3dv)", 16, 16, 16, 0, 1 * GIB, 1 * GIB, 16 * KIB, 256,
     {256, 256, 256}, 0, 0, 1, 1, 1, 2 * GIB},
    /* Intel UHD Graphics 630 (Gen 9.5) on Mesa anv, mesa/src/intel/vulkan/anv_physical_device.c:
     * - Subgroups: get_properties_1_1 subgroupSize = BRW_SUBGROUP_SIZE (32, brw_compiler.h); get_properties_1_3
     *   minSubgroupSize 8 (before Xe2), maxSubgroupSize 32; get_features subgroupSizeControl = true.
     * - Ranges: get_properties maxStorageBufferRange = MIN3(isl max_buffer_size, largest heap, UINT32_MAX), isl
     *   max_buffer_size = 1ull << 32 on Gen9 (mesa/src/intel/isl/isl.c isl_device_init); get_properties_1_1
     *   maxMemoryAllocationSize = the largest heap. Both are the 2 GiB heap here.
     * - Compute: maxComputeWorkGroupInvocations and each maxComputeWorkGroupSize = MIN2(1024, 32 *
     *   max_cs_workgroup_threads), max_cs_workgroup_threads = MIN2(max_cs_threads, 64) before Xe-HP
     *   (intel_device_info.c); Gen9's max_cs_threads was not read (Broadwell GT2's is 56), so 1024 is inferred,
     *   not read. maxComputeSharedMemorySize = intel_device_info_get_max_slm_size(), not read: 32 KiB is a
     *   conservative assumption (intel_compute_slm.c bounds SLM at 64 KiB).
     * - Features: get_features shaderFloat16, shaderInt8, storageBuffer16BitAccess (unless the no_16bit driconf
     *   option), storageBuffer8BitAccess, shaderIntegerDotProduct all true (dot product accelerated only on
     *   Gen12+). */
    {"intel-uhd-630", "Intel UHD Graphics 630 (anv)", 32, 8, 32, 1, 2 * GIB, 2 * GIB, 32 * KIB, 1024,
     {1024, 1024, 1024}, 1, 1, 1, 1, 1, 2 * GIB},
    /* A generic phone with a 1 GiB device-local heap, derived from the five phone profiles above (adreno-640,
     * adreno-740, mali-g52, mali-g710, powervr-bxm): each limit their smallest (subgroup 1, 128 MiB storage
     * range, 16 KiB shared memory, 128 invocations in {128, 128, 64}), each feature on only if all have it (none:
     * powervr-bxm has none). The 256 MiB allocation limit is below every phone's and chosen to test loading in
     * parts under memory pressure; the 1 GiB heap is the point of the profile. */
    {"phone-1gib", "a generic phone with a 1 GiB device-local heap", 1, 1, 1, 0, 128 * MIB, 256 * MIB, 16 * KIB,
     128, {128, 128, 64}, 0, 0, 0, 0, 0, 1 * GIB},
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
