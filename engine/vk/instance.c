/* The Vulkan instance, with the Khronos validation layer and a debug messenger that counts messages. */
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT types,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                       void *user) {
    vkslm_validation *v = user;
    const char *msg = data->pMessage ? data->pMessage : "";
    /* The loader's own report of driver manifests whose library it cannot open (another architecture's
     * drivers installed for multiarch, as the aarch64 cross build does): not a fault of ours or of the
     * driver we use, so logged, not counted */
    if (!(types & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT) &&
        (strstr(msg, "loader_icd_scan") || strstr(msg, "cannot open shared object file"))) {
        vkslm_log(VKSLM_LOG_DEBUG, "loader: %s", msg);
        return VK_FALSE;
    }
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        v->errors++;
        vkslm_log(VKSLM_LOG_ERROR, "validation: %s", data->pMessage ? data->pMessage : "(no text)");
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        v->warnings++;
        vkslm_log(VKSLM_LOG_WARN, "validation: %s", data->pMessage ? data->pMessage : "(no text)");
    }
    return VK_FALSE;
}

static int has_layer(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkLayerProperties *props = VKSLM_CALLOC(n, sizeof *props);
    if (!props)
        return 0;
    int found = 0;
    if (vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].layerName, name) == 0;
    VKSLM_FREE(props);
    return found;
}

static int has_instance_extension(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *props = VKSLM_CALLOC(n, sizeof *props);
    if (!props)
        return 0;
    int found = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].extensionName, name) == 0;
    VKSLM_FREE(props);
    return found;
}

vkslm_status vkslm_vk_instance_create(int validate, VkInstance *inst, VkDebugUtilsMessengerEXT *messenger,
                                      vkslm_validation **counts) {
    *inst = VK_NULL_HANDLE;
    *messenger = VK_NULL_HANDLE;
    *counts = NULL;
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion(&loader_version) != VK_SUCCESS)
        loader_version = VK_API_VERSION_1_0;
    if (loader_version < VK_API_VERSION_1_2)
        return vkslm_fail(VKSLM_ERR_NO_VULKAN, "the Vulkan loader supports only %u.%u; vkslm needs 1.2 or newer",
                          VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));

    const char *layers[1];
    const char *exts[2];
    uint32_t n_layers = 0, n_exts = 0;
    VkInstanceCreateFlags flags = 0;
    if (validate) {
        if (!has_layer(VALIDATION_LAYER))
            return vkslm_fail(VKSLM_ERR_FEATURE_MISSING,
                              "validation was asked for but %s is not installed (Debian: vulkan-validationlayers)",
                              VALIDATION_LAYER);
        if (!has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "validation needs %s", VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        layers[n_layers++] = VALIDATION_LAYER;
        exts[n_exts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
#ifdef VK_KHR_portability_enumeration
    if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts[n_exts++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
#endif
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkslm",
        .pEngineName = "vkslm",
        .apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2,
    };
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
    };
    vkslm_validation *v = NULL;
    if (validate) {
        v = VKSLM_CALLOC(1, sizeof *v);
        if (!v)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        dbg.pUserData = v;
    }
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validate ? &dbg : NULL, /* also catches messages of instance creation itself */
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = n_layers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&ci, NULL, inst);
    if (r != VK_SUCCESS) {
        VKSLM_FREE(v);
        *inst = VK_NULL_HANDLE;
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
            return vkslm_fail(VKSLM_ERR_NO_VULKAN, "vkCreateInstance: no compatible Vulkan driver is installed");
        return vkslm_vk_fail(r, "vkCreateInstance");
    }
    if (validate) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(*inst, "vkCreateDebugUtilsMessengerEXT");
        if (!create || create(*inst, &dbg, NULL, messenger) != VK_SUCCESS) {
            vkDestroyInstance(*inst, NULL);
            *inst = VK_NULL_HANDLE;
            VKSLM_FREE(v);
            return vkslm_fail(VKSLM_ERR_VULKAN, "vkCreateDebugUtilsMessengerEXT failed");
        }
    }
    *counts = v;
    return VKSLM_OK;
}

void vkslm_vk_instance_destroy(VkInstance inst, VkDebugUtilsMessengerEXT messenger, vkslm_validation *counts) {
    if (!inst)
        return;
    if (messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(inst, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy)
            destroy(inst, messenger, NULL);
    }
    vkDestroyInstance(inst, NULL);
    VKSLM_FREE(counts);
}
