/* The VkPipelineCache, persisted in the user's cache folder and keyed by device and driver UUID:
 *   $VKSLM_CACHE_DIR, else $XDG_CACHE_HOME/vkslm, else $HOME/.cache/vkslm
 *   pipelines-<device uuid>-<driver uuid>.bin = header (magic, UUIDs, size, FNV-1a hash) + cache data
 * A missing, corrupt or foreign file is ignored with a warning; saving problems are warnings too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define CACHE_MAGIC "VKSLMPC1"
#define MAX_CACHE_BYTES (256ull << 20)

typedef struct cache_header {
    char magic[8];
    uint8_t device_uuid[VK_UUID_SIZE];
    uint8_t driver_uuid[VK_UUID_SIZE];
    uint8_t pipeline_cache_uuid[VK_UUID_SIZE];
    uint64_t size;
    uint64_t hash;
} cache_header;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void hex(char *out, const uint8_t *uuid) {
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        sprintf(out + 2 * i, "%02x", uuid[i]);
}

static int cache_dir(char *out, size_t cap) {
    const char *d = getenv("VKSLM_CACHE_DIR");
    if (d && *d)
        return snprintf(out, cap, "%s", d) < (int)cap;
    d = getenv("XDG_CACHE_HOME");
    if (d && *d)
        return snprintf(out, cap, "%s/vkslm", d) < (int)cap;
    d = getenv("HOME");
    if (d && *d)
        return snprintf(out, cap, "%s/.cache/vkslm", d) < (int)cap;
    return 0;
}

static int mkdirs(const char *path) {
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Checks Vulkan's own header at the start of the cache data against this device. */
static int vk_header_ok(const vkslm_vk *vk, const uint8_t *d, uint64_t n) {
    if (n < 16 + VK_UUID_SIZE)
        return 0;
    uint32_t len, ver, vendor, device;
    memcpy(&len, d, 4);
    memcpy(&ver, d + 4, 4);
    memcpy(&vendor, d + 8, 4);
    memcpy(&device, d + 12, 4);
    return len >= 16 + VK_UUID_SIZE && ver == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && vendor == vk->caps.vendor_id &&
           device == vk->caps.device_id && memcmp(d + 16, vk->caps.pipeline_cache_uuid, VK_UUID_SIZE) == 0;
}

/* Reads and checks the file; returns malloc'd cache data or NULL (with a warning when a file existed). */
static uint8_t *read_cache(const vkslm_vk *vk, const char *path, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    cache_header h;
    uint8_t *data = NULL;
    const char *why = NULL;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CACHE_MAGIC, 8) != 0)
        why = "not a vkslm pipeline cache";
    else if (memcmp(h.device_uuid, vk->caps.device_uuid, VK_UUID_SIZE) ||
             memcmp(h.driver_uuid, vk->caps.driver_uuid, VK_UUID_SIZE) ||
             memcmp(h.pipeline_cache_uuid, vk->caps.pipeline_cache_uuid, VK_UUID_SIZE))
        why = "made by another device or driver";
    else if (h.size == 0 || h.size > MAX_CACHE_BYTES)
        why = "implausible size";
    else if (!(data = VKSLM_MALLOC(h.size)))
        why = "out of host memory";
    else if (fread(data, 1, h.size, f) != h.size || fgetc(f) != EOF)
        why = "truncated or has trailing bytes";
    else if (fnv1a(data, h.size) != h.hash)
        why = "checksum mismatch";
    else if (!vk_header_ok(vk, data, h.size))
        why = "Vulkan cache header does not match this device";
    fclose(f);
    if (why) {
        vkslm_log(VKSLM_LOG_WARN, "ignoring pipeline cache %s: %s", path, why);
        VKSLM_FREE(data);
        return NULL;
    }
    *size = h.size;
    return data;
}

void vkslm_vk_pipeline_cache_load(vkslm_vk *vk) {
    vk->cache_path[0] = 0;
    char dir[900], dev[2 * VK_UUID_SIZE + 1], drv[2 * VK_UUID_SIZE + 1];
    if (!vkslm_env_flag("VKSLM_NO_PIPELINE_CACHE") && cache_dir(dir, sizeof dir)) {
        hex(dev, vk->caps.device_uuid);
        hex(drv, vk->caps.driver_uuid);
        snprintf(vk->cache_path, sizeof vk->cache_path, "%s/pipelines-%s-%s.bin", dir, dev, drv);
    }
    uint64_t size = 0;
    uint8_t *data = vk->cache_path[0] ? read_cache(vk, vk->cache_path, &size) : NULL;
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, .initialDataSize = (size_t)size, .pInitialData = data,
    };
    VkResult r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    if (r != VK_SUCCESS && data) {
        vkslm_log(VKSLM_LOG_WARN, "the driver rejected pipeline cache %s (%s); starting empty", vk->cache_path,
                  vkslm_vk_result_name(r));
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    }
    if (r != VK_SUCCESS)
        vk->pipeline_cache = VK_NULL_HANDLE; /* pipelines still work without a cache */
    else if (data)
        vkslm_log(VKSLM_LOG_DEBUG, "loaded pipeline cache %s (%llu bytes)", vk->cache_path, (unsigned long long)size);
    VKSLM_FREE(data);
}

void vkslm_vk_pipeline_cache_save(vkslm_vk *vk) {
    if (!vk->pipeline_cache || !vk->cache_path[0] || vk->n_kernels == 0)
        return;
    size_t size = 0;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &size, NULL) != VK_SUCCESS || size == 0 ||
        size > MAX_CACHE_BYTES)
        return;
    uint8_t *data = VKSLM_MALLOC(size);
    if (!data)
        return;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &size, data) != VK_SUCCESS) {
        VKSLM_FREE(data);
        return;
    }
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    memcpy(h.device_uuid, vk->caps.device_uuid, VK_UUID_SIZE);
    memcpy(h.driver_uuid, vk->caps.driver_uuid, VK_UUID_SIZE);
    memcpy(h.pipeline_cache_uuid, vk->caps.pipeline_cache_uuid, VK_UUID_SIZE);
    h.size = size;
    h.hash = fnv1a(data, size);
    char dir[1024], tmp[1100];
    snprintf(dir, sizeof dir, "%s", vk->cache_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", vk->cache_path, (long)getpid());
    FILE *f = NULL;
    if (mkdirs(dir) != 0 || !(f = fopen(tmp, "wb"))) {
        vkslm_log(VKSLM_LOG_WARN, "cannot write pipeline cache in %s: %s", dir, strerror(errno));
        VKSLM_FREE(data);
        return;
    }
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, vk->cache_path) != 0) {
        vkslm_log(VKSLM_LOG_WARN, "cannot write pipeline cache %s", vk->cache_path);
        remove(tmp);
    }
    VKSLM_FREE(data);
}
