/* Opening a device: instance, device choice, logical device with the features vkslm uses, and the
 * allocator, staging ring and pipeline cache that hang off it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

static vkslm_status pick_physical(vkslm_vk *vk, const char *selector) {
    uint32_t n = 0;
    VKSLM_VK_TRY(vkEnumeratePhysicalDevices(vk->instance, &n, NULL));
    if (n == 0)
        return vkslm_fail(VKSLM_ERR_NO_DEVICE, "the Vulkan loader found no device");
    VkPhysicalDevice *pds = VKSLM_CALLOC(n, sizeof *pds);
    vkslm_vk_caps *caps = VKSLM_CALLOC(n, sizeof *caps);
    vkslm_status st = VKSLM_OK;
    if (!pds || !caps) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    VkResult r = vkEnumeratePhysicalDevices(vk->instance, &n, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        st = vkslm_vk_fail(r, "vkEnumeratePhysicalDevices");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        vkslm_vk_query_caps(pds[i], &caps[i]);
    int chosen;
    st = vkslm_vk_choose(caps, n, selector, &chosen);
    if (st != VKSLM_OK)
        goto done;
    if (caps[chosen].api_version < VK_API_VERSION_1_2) {
        st = vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "device '%s' supports Vulkan %u.%u; vkslm needs 1.2",
                        caps[chosen].name, VK_API_VERSION_MAJOR(caps[chosen].api_version),
                        VK_API_VERSION_MINOR(caps[chosen].api_version));
        goto done;
    }
    vk->phys = pds[chosen];
    vk->caps = caps[chosen];
    st = vkslm_vk_narrow(&vk->caps); /* env VKSLM_DEVICE_PROFILE and the driver quirk table */
    if (st != VKSLM_OK)
        goto done;
    if (caps[chosen].type == VK_PHYSICAL_DEVICE_TYPE_CPU)
        vkslm_log(VKSLM_LOG_WARN, "using '%s', a CPU implementation of Vulkan: expect CPU speed, not GPU speed",
                  caps[chosen].name);
done:
    VKSLM_FREE(pds);
    VKSLM_FREE(caps);
    return st;
}

static vkslm_status create_device(vkslm_vk *vk) {
    const vkslm_vk_caps *c = &vk->caps;
    int fam = vkslm_vk_compute_queue_family(vk->phys);
    if (fam < 0)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "device '%s' has no compute queue", c->name);
    vk->queue_family = (uint32_t)fam;

    vkslm_vk_enabled *e = &vk->enabled;
    e->fp16 = c->fp16 && !vkslm_env_flag("VKSLM_DISABLE_F16");
    e->int8 = c->int8 && !vkslm_env_flag("VKSLM_DISABLE_8BIT");
    e->storage8 = c->storage8 && !vkslm_env_flag("VKSLM_DISABLE_8BIT");
    e->storage16 = c->storage16 && !vkslm_env_flag("VKSLM_DISABLE_16BIT");
    e->subgroup_size_control = c->subgroup_size_control;
    e->integer_dot_product = c->integer_dot_product && !vkslm_env_flag("VKSLM_DISABLE_8BIT");
    e->soft_f16 = (c->quirk_mask & VKSLM_QUIRK_SOFT_F16) != 0; /* fp16 and storage16 are off then (quirks.c) */
    /* only CPU devices' kernels read through texels (a texel fetch is 8 vector loads there, a storage load a
     * loop over lanes): elsewhere buffers keep exactly the usage they had */
    e->texel_buffers = c->type == VK_PHYSICAL_DEVICE_TYPE_CPU && c->texel_rgba32ui &&
                       c->max_texel_elements * 16 >= c->max_storage_buffer_range &&
                       !vkslm_env_flag("VKSLM_DISABLE_TEXEL");
    /* (the lanes of an 8-bit output block share its scale through subgroup shuffles) */
    e->x8_products = e->texel_buffers && (c->subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                     !vkslm_env_flag("VKSLM_DISABLE_X8");
    e->weight_runs = e->texel_buffers && !vkslm_env_flag("VKSLM_DISABLE_RUNS");
    if (e->weight_tile == UINT32_MAX) /* not set by VKSLM_WEIGHT_TILE (read_env) */
        e->weight_tile = e->texel_buffers ? 32u : 0u;
    else if (e->weight_tile == 1)
        e->weight_tile = 0;
    int v13 = c->api_version >= VK_API_VERSION_1_3;

    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .storageBuffer16BitAccess = (VkBool32)e->storage16,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .pNext = &f11,
        .shaderFloat16 = (VkBool32)e->fp16,
        .shaderInt8 = (VkBool32)e->int8,
        .storageBuffer8BitAccess = (VkBool32)e->storage8,
    };
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fsg = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT,
        .subgroupSizeControl = (VkBool32)e->subgroup_size_control,
        .computeFullSubgroups = (VkBool32)(e->subgroup_size_control && c->compute_full_subgroups),
    };
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR fid = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR,
        .shaderIntegerDotProduct = VK_TRUE,
    };
    const char *exts[4];
    uint32_t n_exts = 0;
    void *chain = &f12;
    if (e->subgroup_size_control) {
        fsg.pNext = chain;
        chain = &fsg;
        if (!v13)
            exts[n_exts++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    }
    if (e->integer_dot_product) {
        fid.pNext = chain;
        chain = &fid;
        if (!v13)
            exts[n_exts++] = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
    }
    if (vkslm_vk_has_extension(vk->phys, "VK_KHR_portability_subset"))
        exts[n_exts++] = "VK_KHR_portability_subset";
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = chain};
    f2.features.shaderInt16 = VK_FALSE;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = vk->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VKSLM_VK_TRY(vkCreateDevice(vk->phys, &dci, NULL, &vk->device));
    vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = vk->queue_family,
    };
    VKSLM_VK_TRY(vkCreateCommandPool(vk->device, &pci, NULL, &vk->pool));
    return VKSLM_OK;
}

/* The numeric environment variables, checked before any Vulkan work: a bad value fails the open. */
static vkslm_status read_env(vkslm_vk *vk) {
    VKSLM_TRY(vkslm_env_size("VKSLM_MAX_STORAGE_RANGE", 0, 4096, UINT64_MAX, &vk->forced_range));
    VKSLM_TRY(vkslm_env_size("VKSLM_STAGING_BYTES", VKSLM_STAGING_DEFAULT, 8192, UINT64_MAX, &vk->staging_bytes));
    uint64_t rpl;
    VKSLM_TRY(vkslm_env_uint("VKSLM_MATVEC_RPL", 0, 1, 32, &rpl));
    vk->enabled.matvec_rpl = (uint32_t)rpl;
    uint64_t tile;
    VKSLM_TRY(vkslm_env_uint("VKSLM_WEIGHT_TILE", UINT32_MAX, 0, 1024, &tile));
    vk->enabled.weight_tile = (uint32_t)tile;
    return vkslm_env_size("VKSLM_DEVICE_MEMORY_LIMIT", 0, 0, UINT64_MAX, &vk->memory_limit);
}

vkslm_status vkslm_vk_open(const vkslm_vk_options *opt, vkslm_vk **out) {
    *out = NULL;
    vkslm_vk_options defaults = {.validate_from_env = 1};
    if (!opt)
        opt = &defaults;
    int validate = opt->validate > 0 || (opt->validate_from_env && vkslm_env_flag("VKSLM_VALIDATE"));
    vkslm_vk *vk = VKSLM_CALLOC(1, sizeof *vk);
    if (!vk)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    pthread_mutex_init(&vk->lock, NULL);
    pthread_mutex_init(&vk->staging_lock, NULL);
    for (int i = 0; i < VKSLM_SHADER_COUNT; i++)
        atomic_init(&vk->kernels[i], NULL);
    vk->refs = 1;
    vk->profile = opt->profile;
    vk->no_uma = vkslm_env_flag("VKSLM_DISABLE_UMA");
    const char *selector = opt->device ? opt->device : getenv("VKSLM_DEVICE");
    vkslm_status st = read_env(vk);
    if (st == VKSLM_OK)
        st = vkslm_vk_instance_create(validate, &vk->instance, &vk->messenger, &vk->validation);
    if (st == VKSLM_OK)
        st = pick_physical(vk, selector);
    if (st == VKSLM_OK)
        st = create_device(vk);
    if (st == VKSLM_OK) {
        vk->max_range = vk->caps.max_storage_buffer_range;
        if (vk->forced_range && vk->forced_range < vk->max_range)
            vk->max_range = vk->forced_range & ~(uint64_t)255;
        st = vkslm_vk_memory_init(vk);
    }
    if (st == VKSLM_OK)
        st = vkslm_vk_staging_init(vk);
    if (st != VKSLM_OK) {
        vkslm_vk_close(vk);
        return st;
    }
    vkslm_vk_pipeline_cache_load(vk);
    *out = vk;
    return VKSLM_OK;
}

void vkslm_vk_retain(vkslm_vk *vk) {
    pthread_mutex_lock(&vk->lock);
    vk->refs++;
    pthread_mutex_unlock(&vk->lock);
}

void vkslm_vk_close(vkslm_vk *vk) {
    if (!vk)
        return;
    pthread_mutex_lock(&vk->lock);
    int last = --vk->refs <= 0;
    pthread_mutex_unlock(&vk->lock);
    if (!last)
        return;
    if (vk->device) {
        vkDeviceWaitIdle(vk->device);
        vkslm_vk_pipeline_cache_save(vk);
        vkslm_vk_pipelines_destroy(vk);
        vkslm_vk_staging_destroy(vk);
        vkslm_vk_memory_destroy(vk);
        if (vk->pool)
            vkDestroyCommandPool(vk->device, vk->pool, NULL);
        vkDestroyDevice(vk->device, NULL);
    }
    vkslm_vk_instance_destroy(vk->instance, vk->messenger, vk->validation);
    pthread_mutex_destroy(&vk->lock);
    pthread_mutex_destroy(&vk->staging_lock);
    VKSLM_FREE(vk);
}

const vkslm_vk_caps *vkslm_vk_get_caps(const vkslm_vk *vk) { return &vk->caps; }
VkDevice vkslm_vk_device(const vkslm_vk *vk) { return vk->device; }
const vkslm_vk_enabled *vkslm_vk_get_enabled(const vkslm_vk *vk) { return &vk->enabled; }
uint64_t vkslm_vk_max_range(const vkslm_vk *vk) { return vk->max_range; }
int vkslm_vk_is_cpu(const vkslm_vk *vk) { return vk->caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU; }

void vkslm_vk_set_profile(vkslm_vk *vk, int on) { vk->profile = on; }

void vkslm_vk_validation_counts(const vkslm_vk *vk, uint32_t *errors, uint32_t *warnings) {
    *errors = vk->validation ? vk->validation->errors : 0;
    *warnings = vk->validation ? vk->validation->warnings : 0;
}
