/* Public device listing (vkslm_devices_list in vkslm.h). */
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

vkslm_status vkslm_devices_list(vkslm_device_info *info, int cap, int *count, int *chosen) {
    if (!count || !chosen || cap < 0 || (cap > 0 && !info))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_devices_list: NULL output or negative capacity");
    vkslm_vk_caps *caps;
    uint32_t n;
    VKSLM_TRY(vkslm_vk_list_devices(NULL, &caps, &n, chosen));
    *count = (int)n;
    for (uint32_t i = 0; i < n && (int)i < cap; i++) {
        const vkslm_vk_caps *c = &caps[i];
        vkslm_device_info *d = &info[i];
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
    free(caps);
    return VKSLM_OK;
}
