/* What a physical device can do: properties, features and limits vkslm cares about, and device choice. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

int vkslm_vk_has_extension(VkPhysicalDevice pd, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *props = VKSLM_CALLOC(n, sizeof *props);
    if (!props)
        return 0;
    int found = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].extensionName, name) == 0;
    VKSLM_FREE(props);
    return found;
}

/* Prefers a compute queue without graphics (a dedicated compute family), else any compute queue. */
int vkslm_vk_compute_queue_family(VkPhysicalDevice pd) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    if (n == 0)
        return -1;
    VkQueueFamilyProperties *q = VKSLM_CALLOC(n, sizeof *q);
    if (!q)
        return -1;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    int any = -1, dedicated = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[i].queueCount == 0)
            continue;
        if (any < 0)
            any = (int)i;
        if (!(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) && dedicated < 0 && q[i].timestampValidBits > 0)
            dedicated = (int)i;
    }
    VKSLM_FREE(q);
    return dedicated >= 0 ? dedicated : any;
}

static int queue_has_timestamps(VkPhysicalDevice pd, int family) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *q = VKSLM_CALLOC(n ? n : 1, sizeof *q);
    if (!q || family < 0 || (uint32_t)family >= n) {
        VKSLM_FREE(q);
        return 0;
    }
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    int ok = q[family].timestampValidBits > 0;
    VKSLM_FREE(q);
    return ok;
}

void vkslm_vk_query_caps(VkPhysicalDevice pd, vkslm_vk_caps *c) {
    memset(c, 0, sizeof *c);
    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(pd, &base);
    int v12 = base.apiVersion >= VK_API_VERSION_1_2;
    int v13 = base.apiVersion >= VK_API_VERSION_1_3;
    int ext_sgsc = v13 || vkslm_vk_has_extension(pd, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    int ext_idot = v13 || vkslm_vk_has_extension(pd, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    int ext_cm_nv = vkslm_vk_has_extension(pd, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
#ifdef VK_KHR_cooperative_matrix
    int ext_cm_khr = vkslm_vk_has_extension(pd, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
#else
    int ext_cm_khr = vkslm_vk_has_extension(pd, "VK_KHR_cooperative_matrix");
#endif

    /* properties */
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlPropertiesEXT sgsc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceIDProperties ids = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceShaderIntegerDotProductPropertiesKHR idotp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES_KHR};
    void **tail = &p2.pNext;
#define CHAIN(s)                 \
    do {                         \
        *tail = &(s);            \
        tail = (void **)&(s).pNext; \
    } while (0)
    CHAIN(sg);
    CHAIN(ids);
    if (v12)
        CHAIN(drv);
    if (ext_sgsc)
        CHAIN(sgsc);
    if (ext_idot)
        CHAIN(idotp);
    vkGetPhysicalDeviceProperties2(pd, &p2);

    snprintf(c->name, sizeof c->name, "%s", base.deviceName);
    if (v12) {
        snprintf(c->driver_name, sizeof c->driver_name, "%s", drv.driverName);
        snprintf(c->driver_info, sizeof c->driver_info, "%s", drv.driverInfo);
        c->driver_id = (uint32_t)drv.driverID;
    }
    c->type = base.deviceType;
    c->vendor_id = base.vendorID;
    c->device_id = base.deviceID;
    c->api_version = base.apiVersion;
    c->driver_version = base.driverVersion;
    memcpy(c->device_uuid, ids.deviceUUID, VK_UUID_SIZE);
    memcpy(c->driver_uuid, ids.driverUUID, VK_UUID_SIZE);
    memcpy(c->pipeline_cache_uuid, base.pipelineCacheUUID, VK_UUID_SIZE);
    c->subgroup_size = sg.subgroupSize;
    c->subgroup_ops = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ? sg.supportedOperations : 0;
    c->subgroup_size_min = ext_sgsc ? sgsc.minSubgroupSize : sg.subgroupSize;
    c->subgroup_size_max = ext_sgsc ? sgsc.maxSubgroupSize : sg.subgroupSize;
    c->integer_dot_4x8_accel = ext_idot && idotp.integerDotProduct4x8BitPackedSignedAccelerated;

    const VkPhysicalDeviceLimits *l = &base.limits;
    c->max_storage_buffer_range = l->maxStorageBufferRange;
    c->max_shared_memory = l->maxComputeSharedMemorySize;
    c->max_workgroup_invocations = l->maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++) {
        c->max_workgroup_size[i] = l->maxComputeWorkGroupSize[i];
        c->max_workgroup_count[i] = l->maxComputeWorkGroupCount[i];
    }
    c->max_push_constants = l->maxPushConstantsSize;
    c->min_storage_offset_align = l->minStorageBufferOffsetAlignment;
    c->timestamp_period_ns = l->timestampPeriod;
    VkFormatProperties fmt;
    vkGetPhysicalDeviceFormatProperties(pd, VK_FORMAT_R32G32B32A32_UINT, &fmt);
    c->texel_rgba32ui = !!(fmt.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT);
    c->max_texel_elements = l->maxTexelBufferElements;
    c->min_texel_offset_align = l->minTexelBufferOffsetAlignment;
    c->max_memory_allocation_size = 1ull << 30; /* the guaranteed minimum, if 1.1 maintenance3 is absent */
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2b = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    vkGetPhysicalDeviceProperties2(pd, &p2b);
    if (m3.maxMemoryAllocationSize)
        c->max_memory_allocation_size = m3.maxMemoryAllocationSize;

    /* features */
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fsg = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR fid = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV fcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    tail = &f2.pNext;
    if (v12) {
        CHAIN(f11);
        CHAIN(f12);
    }
    if (ext_sgsc)
        CHAIN(fsg);
    if (ext_idot)
        CHAIN(fid);
    if (ext_cm_nv)
        CHAIN(fcm);
#undef CHAIN
    vkGetPhysicalDeviceFeatures2(pd, &f2);
    c->fp16 = v12 && f12.shaderFloat16;
    c->int8 = v12 && f12.shaderInt8;
    c->storage16 = v12 && f11.storageBuffer16BitAccess;
    c->storage8 = v12 && f12.storageBuffer8BitAccess;
    c->subgroup_size_control = ext_sgsc && fsg.subgroupSizeControl;
    c->compute_full_subgroups = ext_sgsc && fsg.computeFullSubgroups;
    c->integer_dot_product = ext_idot && fid.shaderIntegerDotProduct;
    c->coopmat_nv = ext_cm_nv && fcm.cooperativeMatrix;
    c->coopmat_khr = ext_cm_khr; /* headers here may predate the KHR feature struct: presence only */

    int qf = vkslm_vk_compute_queue_family(pd);
    c->timestamps = qf >= 0 && queue_has_timestamps(pd, qf) && l->timestampPeriod > 0;

    /* memory */
    vkGetPhysicalDeviceMemoryProperties(pd, &c->mem);
    for (uint32_t i = 0; i < c->mem.memoryHeapCount; i++)
        if (c->mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            c->device_local_bytes += c->mem.memoryHeaps[i].size;
    for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = c->mem.memoryTypes[i].propertyFlags;
        if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
            (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
            c->mem.memoryHeaps[c->mem.memoryTypes[i].heapIndex].size >= c->device_local_bytes / 2)
            c->uma = 1; /* a small host-visible window of VRAM (resizable BAR off) does not count */
    }
}

const char *vkslm_vk_type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

vkslm_status vkslm_vk_choose(const vkslm_vk_caps *caps, uint32_t count, const char *selector, int *chosen) {
    *chosen = -1;
    if (count == 0)
        return vkslm_fail(VKSLM_ERR_NO_DEVICE, "no Vulkan device found");
    if (selector && *selector) {
        /* only decimal digits: an index (no sign, space or suffix); anything else: a name substring */
        if (strspn(selector, "0123456789") == strlen(selector)) {
            uint64_t idx;
            if (!vkslm_parse_size(selector, 0, &idx) || idx >= count)
                return vkslm_fail(VKSLM_ERR_NO_DEVICE, "device index %.32s is out of range (%u devices)", selector,
                                  count);
            *chosen = (int)idx;
            return VKSLM_OK;
        }
        for (uint32_t i = 0; i < count; i++)
            if (contains_nocase(caps[i].name, selector)) {
                *chosen = (int)i;
                return VKSLM_OK;
            }
        return vkslm_fail(VKSLM_ERR_NO_DEVICE, "no Vulkan device name contains \"%s\" (try `vkslm devices`)", selector);
    }
    int best = -1;
    for (uint32_t i = 0; i < count; i++) {
        if (caps[i].api_version < VK_API_VERSION_1_2)
            continue;
        if (best < 0 || type_rank(caps[i].type) > type_rank(caps[best].type) ||
            (type_rank(caps[i].type) == type_rank(caps[best].type) &&
             caps[i].device_local_bytes > caps[best].device_local_bytes))
            best = (int)i;
    }
    if (best < 0)
        return vkslm_fail(VKSLM_ERR_NO_DEVICE, "no Vulkan device supports Vulkan 1.2");
    *chosen = best;
    return VKSLM_OK;
}

vkslm_status vkslm_vk_list_devices(const char *selector, vkslm_vk_caps **out, uint32_t *count, int *chosen) {
    *out = NULL;
    *count = 0;
    *chosen = -1;
    VkInstance inst;
    VkDebugUtilsMessengerEXT messenger;
    vkslm_validation *counts;
    VKSLM_TRY(vkslm_vk_instance_create(0, &inst, &messenger, &counts));
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(inst, &n, NULL);
    VkPhysicalDevice *pds = NULL;
    vkslm_vk_caps *caps = NULL;
    vkslm_status st = VKSLM_OK;
    if (r != VK_SUCCESS) {
        st = vkslm_vk_fail(r, "vkEnumeratePhysicalDevices");
        goto done;
    }
    if (n == 0) {
        st = vkslm_fail(VKSLM_ERR_NO_DEVICE, "the Vulkan loader found no device");
        goto done;
    }
    pds = VKSLM_CALLOC(n, sizeof *pds);
    caps = VKSLM_CALLOC(n, sizeof *caps);
    if (!pds || !caps) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    r = vkEnumeratePhysicalDevices(inst, &n, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        st = vkslm_vk_fail(r, "vkEnumeratePhysicalDevices");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        vkslm_vk_query_caps(pds[i], &caps[i]);
    if (!selector)
        selector = getenv("VKSLM_DEVICE");
    st = vkslm_vk_choose(caps, n, selector, chosen);
    if (st == VKSLM_ERR_NO_DEVICE && n > 0 && selector && *selector)
        st = VKSLM_OK; /* listing still works; *chosen stays -1 and the message says why */
    /* every device as vkslm would use it under the profile and the quirks (chosen on its own values) */
    for (uint32_t i = 0; i < n && st == VKSLM_OK; i++)
        st = vkslm_vk_narrow(&caps[i]);
    *out = caps;
    *count = n;
    caps = NULL;
done:
    VKSLM_FREE(pds);
    VKSLM_FREE(caps);
    vkslm_vk_instance_destroy(inst, messenger, counts);
    return st;
}

vkslm_status vkslm_vk_narrow(vkslm_vk_caps *c) {
    const vkslm_vk_profile *p;
    VKSLM_TRY(vkslm_vk_profile_from_env(&p));
    vkslm_vk_profile_apply(p, c);
    return vkslm_vk_quirks_apply(c);
}
