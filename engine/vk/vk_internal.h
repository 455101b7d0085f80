/* The device context's fields, shared by the files of engine/vk/ only. */
#ifndef VKSLM_VK_INTERNAL_H
#define VKSLM_VK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/util/env.h"
#include "engine/vk/vk.h"

typedef struct vkslm_mem_block {
    VkDeviceMemory memory;
    VkBuffer buffer;
    VkDeviceSize size;
    void *mapped;
    uint32_t intent, type_index, coherent;
    /* free ranges, sorted by offset: [off, off + len) */
    VkDeviceSize *free_off, *free_len;
    uint32_t n_free, cap_free;
    VkDeviceSize used;
} vkslm_mem_block;

/* One specialisation of a shader variant: an entry of the list of vkslm_vk.kernels[shader]. Entries are
 * added at the front under the lock and never removed before the context closes, so readers walk the list
 * without the lock. */
#define VKSLM_MAX_SPEC 16
typedef struct vkslm_kernel_entry {
    struct vkslm_kernel_entry *next;
    uint32_t n_spec, n_bindings, push_size;
    uint32_t spec[VKSLM_MAX_SPEC];
    vkslm_pipeline p;
} vkslm_kernel_entry;

typedef struct vkslm_staging {
    vkslm_buf buf;          /* VKSLM_MEM_UPLOAD */
    vkslm_buf readback;     /* VKSLM_MEM_READBACK */
    uint64_t half;          /* bytes per ring half */
    VkCommandBuffer cmd[2];
    VkFence fence[2];
    int busy[2];
} vkslm_staging;

typedef struct vkslm_validation {
    uint32_t errors, warnings;
} vkslm_validation;

struct vkslm_vk {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    vkslm_validation *validation; /* heap: the messenger's user data */
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;
    vkslm_vk_caps caps;
    vkslm_vk_enabled enabled;
    uint64_t max_range;
    int profile, no_uma;
    uint64_t forced_range;  /* env VKSLM_MAX_STORAGE_RANGE, 0 when unset */
    uint64_t staging_bytes; /* env VKSLM_STAGING_BYTES, or the default */
    uint64_t memory_limit;  /* env VKSLM_DEVICE_MEMORY_LIMIT, 0: none */

    pthread_mutex_t lock;         /* guards the allocator, pipeline creation, the queue and refs */
    int refs;                     /* holders (models sharing the context); closed when the last lets go */
    pthread_mutex_t staging_lock; /* one transfer at a time through the staging ring */
    vkslm_mem_block *blocks;
    uint32_t n_blocks, cap_blocks;
    int mem_type[VKSLM_MEM_INTENTS]; /* chosen memory type per intent */

    _Atomic(vkslm_kernel_entry *) kernels[VKSLM_SHADER_COUNT]; /* the pipelines of each variant */
    uint32_t n_kernels;
    VkPipelineCache pipeline_cache;
    char cache_path[1024];

    vkslm_staging staging;
};

/* instance.c */
vkslm_status vkslm_vk_instance_create(int validate, VkInstance *inst, VkDebugUtilsMessengerEXT *messenger,
                                      vkslm_validation **counts);
void vkslm_vk_instance_destroy(VkInstance inst, VkDebugUtilsMessengerEXT messenger, vkslm_validation *counts);
/* device_caps.c */
void vkslm_vk_query_caps(VkPhysicalDevice pd, vkslm_vk_caps *caps);
int vkslm_vk_compute_queue_family(VkPhysicalDevice pd);
int vkslm_vk_has_extension(VkPhysicalDevice pd, const char *name);
/* memory.c */
vkslm_status vkslm_vk_memory_init(vkslm_vk *vk);
void vkslm_vk_memory_destroy(vkslm_vk *vk);
/* transfer.c */
#define VKSLM_STAGING_DEFAULT (16ull << 20) /* bytes of the upload ring unless VKSLM_STAGING_BYTES says */
vkslm_status vkslm_vk_staging_init(vkslm_vk *vk);
void vkslm_vk_staging_destroy(vkslm_vk *vk);
/* pipeline.c, pipeline_cache.c */
void vkslm_vk_pipelines_destroy(vkslm_vk *vk);
void vkslm_vk_pipeline_cache_load(vkslm_vk *vk);
void vkslm_vk_pipeline_cache_save(vkslm_vk *vk);
#endif
