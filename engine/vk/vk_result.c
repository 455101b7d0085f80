/* VkResult names and their mapping to vkslm statuses. */
#include <string.h>

#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

const char *vkslm_vk_result_name(VkResult r) {
    switch (r) {
#define R(x) \
    case x: return #x;
        R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_EVENT_SET) R(VK_EVENT_RESET) R(VK_INCOMPLETE)
        R(VK_ERROR_OUT_OF_HOST_MEMORY) R(VK_ERROR_OUT_OF_DEVICE_MEMORY) R(VK_ERROR_INITIALIZATION_FAILED)
        R(VK_ERROR_DEVICE_LOST) R(VK_ERROR_MEMORY_MAP_FAILED) R(VK_ERROR_LAYER_NOT_PRESENT)
        R(VK_ERROR_EXTENSION_NOT_PRESENT) R(VK_ERROR_FEATURE_NOT_PRESENT) R(VK_ERROR_INCOMPATIBLE_DRIVER)
        R(VK_ERROR_TOO_MANY_OBJECTS) R(VK_ERROR_FORMAT_NOT_SUPPORTED) R(VK_ERROR_FRAGMENTED_POOL)
        R(VK_ERROR_UNKNOWN) R(VK_ERROR_OUT_OF_POOL_MEMORY) R(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        R(VK_ERROR_FRAGMENTATION) R(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) R(VK_PIPELINE_COMPILE_REQUIRED)
#undef R
    default: return "VK_ERROR_(unnamed)";
    }
}

vkslm_status vkslm_vk_fail(VkResult r, const char *call) {
    vkslm_status st = VKSLM_ERR_VULKAN;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        st = VKSLM_ERR_OUT_OF_DEVICE_MEMORY;
    else if (r == VK_ERROR_OUT_OF_HOST_MEMORY)
        st = VKSLM_ERR_OUT_OF_HOST_MEMORY;
    else if (r == VK_ERROR_DEVICE_LOST)
        st = VKSLM_ERR_DEVICE_LOST;
    else if (r == VK_ERROR_FEATURE_NOT_PRESENT || r == VK_ERROR_EXTENSION_NOT_PRESENT)
        st = VKSLM_ERR_FEATURE_MISSING;
    /* name only the function, not its arguments */
    char fn[96];
    size_t n = strcspn(call, "(");
    if (n >= sizeof fn)
        n = sizeof fn - 1;
    memcpy(fn, call, n);
    fn[n] = 0;
    return vkslm_fail(st, "%s failed: %s (%d)", fn, vkslm_vk_result_name(r), (int)r);
}
