/* Public device listing (vkslm_devices_list, vkslm_devices_list_details in vkslm.h) and the public
 * description of an open context's device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/error.h"
#include "engine/vk/vk.h"

static vkslm_device_type public_type(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return VKSLM_DEVICE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return VKSLM_DEVICE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return VKSLM_DEVICE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return VKSLM_DEVICE_CPU;
    default: return VKSLM_DEVICE_OTHER;
    }
}

const char *vkslm_device_type_str(vkslm_device_type type) {
    switch (type) {
    case VKSLM_DEVICE_DISCRETE_GPU: return "discrete";
    case VKSLM_DEVICE_INTEGRATED_GPU: return "integrated";
    case VKSLM_DEVICE_VIRTUAL_GPU: return "virtual";
    case VKSLM_DEVICE_CPU: return "cpu";
    default: return "other";
    }
}

static void fill_info(const vkslm_vk_caps *c, vkslm_device_info *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", c->name);
    snprintf(d->driver_name, sizeof d->driver_name, "%s", c->driver_name);
    snprintf(d->driver_info, sizeof d->driver_info, "%s", c->driver_info);
    d->type = public_type(c->type);
    d->vendor_id = c->vendor_id;
    d->device_id = c->device_id;
    d->api_version = c->api_version;
    d->driver_version = c->driver_version;
    d->subgroup_size = c->subgroup_size;
    d->subgroup_size_min = c->subgroup_size_min;
    d->subgroup_size_max = c->subgroup_size_max;
    d->max_storage_buffer_range = c->max_storage_buffer_range;
    d->max_memory_allocation_size = c->max_memory_allocation_size;
    d->device_local_bytes = c->device_local_bytes;
    d->uma = c->uma;
    d->fp16 = c->fp16;
    d->int8 = c->int8;
    d->storage16 = c->storage16;
    d->storage8 = c->storage8;
    d->integer_dot_product = c->integer_dot_product;
    d->cooperative_matrix = c->coopmat_khr || c->coopmat_nv;
}

static void fill_details(const vkslm_vk_caps *c, vkslm_device_details *d) {
    memset(d, 0, sizeof *d);
    fill_info(c, &d->info);
    for (uint32_t h = 0; h < c->mem.memoryHeapCount && h < VKSLM_MAX_MEMORY_HEAPS; h++) {
        d->memory_heaps[h].bytes = c->mem.memoryHeaps[h].size;
        d->memory_heaps[h].device_local = (c->mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
        d->n_memory_heaps = h + 1;
    }
    d->subgroup_size_control = c->subgroup_size_control != 0;
    d->subgroup_ops = (uint32_t)c->subgroup_ops & 0xFFu; /* VKSLM_SUBGROUP_* are Vulkan's bits */
    d->integer_dot_4x8_accelerated = c->integer_dot_4x8_accel != 0;
    d->cooperative_matrix_nv = c->coopmat_nv != 0;
    d->cooperative_matrix_khr = c->coopmat_khr != 0;
    d->max_compute_shared_memory = c->max_shared_memory;
    d->max_workgroup_invocations = c->max_workgroup_invocations;
    for (int k = 0; k < 3; k++) {
        d->max_workgroup_size[k] = c->max_workgroup_size[k];
        d->max_workgroup_count[k] = c->max_workgroup_count[k];
    }
    d->max_push_constants = c->max_push_constants;
    d->min_storage_offset_alignment = c->min_storage_offset_align;
    d->timestamps = c->timestamps != 0;
    d->timestamp_period_ns = c->timestamp_period_ns;
    snprintf(d->profile, sizeof d->profile, "%s", c->profile);
    d->profile_subgroup_size = c->profile_subgroup_size;
    d->profile_subgroup_size_min = c->profile_subgroup_min;
    d->profile_subgroup_size_max = c->profile_subgroup_max;
    snprintf(d->quirks, sizeof d->quirks, "%s", c->quirks);
}

vkslm_status vkslm_device_profiles_list(vkslm_device_profile *out, int cap, int *count) {
    if (!count || cap < 0 || (cap > 0 && !out))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_device_profiles_list: NULL output or negative capacity");
    uint32_t n = vkslm_vk_profile_count();
    *count = (int)n;
    for (uint32_t i = 0; i < n && (int)i < cap; i++) {
        const vkslm_vk_profile *p = vkslm_vk_profile_at(i);
        vkslm_device_profile *d = &out[i];
        memset(d, 0, sizeof *d);
        d->name = p->name;
        d->description = p->description;
        d->subgroup_size = p->subgroup_size;
        d->subgroup_size_min = p->subgroup_min;
        d->subgroup_size_max = p->subgroup_max;
        d->subgroup_size_control = p->subgroup_size_control != 0;
        d->max_storage_buffer_range = p->max_storage_buffer_range;
        d->max_memory_allocation_size = p->max_memory_allocation_size;
        d->max_compute_shared_memory = p->max_shared_memory;
        d->max_workgroup_invocations = p->max_workgroup_invocations;
        for (int k = 0; k < 3; k++)
            d->max_workgroup_size[k] = p->max_workgroup_size[k];
        d->fp16 = p->fp16 != 0;
        d->int8 = p->int8 != 0;
        d->storage16 = p->storage16 != 0;
        d->storage8 = p->storage8 != 0;
        d->integer_dot_product = p->integer_dot_product != 0;
        d->device_local_bytes = p->device_local_bytes;
    }
    return VKSLM_OK;
}

_Static_assert(VKSLM_SUBGROUP_QUAD == VK_SUBGROUP_FEATURE_QUAD_BIT &&
                   VKSLM_SUBGROUP_ARITHMETIC == VK_SUBGROUP_FEATURE_ARITHMETIC_BIT &&
                   VKSLM_SUBGROUP_SHUFFLE_RELATIVE == VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT,
               "VKSLM_SUBGROUP_* mirror VkSubgroupFeatureFlagBits");
_Static_assert(VKSLM_MAX_MEMORY_HEAPS == VK_MAX_MEMORY_HEAPS, "one entry per Vulkan memory heap");

vkslm_status vkslm_devices_list(vkslm_device_info *info, int cap, int *count, int *chosen) {
    if (!count || !chosen || cap < 0 || (cap > 0 && !info))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_devices_list: NULL output or negative capacity");
    vkslm_vk_caps *caps;
    uint32_t n;
    VKSLM_TRY(vkslm_vk_list_devices(NULL, &caps, &n, chosen));
    *count = (int)n;
    for (uint32_t i = 0; i < n && (int)i < cap; i++)
        fill_info(&caps[i], &info[i]);
    free(caps);
    return VKSLM_OK;
}

vkslm_status vkslm_devices_list_details(const char *selector, vkslm_device_details *out, int cap, int *count,
                                        int *chosen) {
    if (!count || !chosen || cap < 0 || (cap > 0 && !out))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_devices_list_details: NULL output or negative capacity");
    *count = 0;
    *chosen = -1;
    vkslm_vk_caps *caps;
    uint32_t n;
    VKSLM_TRY(vkslm_vk_list_devices(selector, &caps, &n, chosen));
    *count = (int)n;
    for (uint32_t i = 0; i < n && (int)i < cap; i++)
        fill_details(&caps[i], &out[i]);
    free(caps);
    return VKSLM_OK;
}

void vkslm_vk_device_info(const vkslm_vk *vk, vkslm_device_info *out) { fill_info(vkslm_vk_get_caps(vk), out); }
