/* Device memory: a few large blocks per intent, each with one buffer spanning it, suballocated with a
 * first-fit free list. Callers get (buffer, offset, size) and bind sub-ranges of it. */
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define BLOCK_BYTES (64ull << 20)  /* default block size */
#define SUBALLOC_ALIGN 256ull        /* >= every minStorageBufferOffsetAlignment and nonCoherentAtomSize seen */

/* every block's buffer: storage, transfers, and texel views where vkslm makes them */
static VkBufferUsageFlags buffer_usage(const vkslm_vk *vk) {
    return VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
           (vk->enabled.texel_buffers ? VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT : 0);
}

/* Scores memory types for an intent; returns the best index or -1. `allowed` is a memoryTypeBits mask. */
static int pick_type(const vkslm_vk *vk, vkslm_mem_intent intent, uint32_t allowed) {
    const VkPhysicalDeviceMemoryProperties *m = &vk->caps.mem;
    int best = -1, best_score = -1;
    for (uint32_t i = 0; i < m->memoryTypeCount; i++) {
        if (!(allowed & (1u << i)))
            continue;
        VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags;
        int dl = !!(f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT), hv = !!(f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
        int hc = !!(f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT), cached = !!(f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (f & (VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT | VK_MEMORY_PROPERTY_PROTECTED_BIT))
            continue;
        int score;
        switch (intent) {
        case VKSLM_MEM_DEVICE: score = dl * 8 + (vk->caps.uma && !vk->no_uma ? hv * 4 : 0); break;
        case VKSLM_MEM_UPLOAD:
            if (!hv || !hc)
                continue;
            score = 4 + !cached * 2 + !dl; /* plain host memory, write-combined */
            break;
        default:
            if (!hv)
                continue;
            score = 4 + cached * 4 + hc;
            break;
        }
        if (score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

vkslm_status vkslm_vk_memory_init(vkslm_vk *vk) {
    /* memoryTypeBits of a storage+transfer buffer: ask with a small probe buffer */
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 4096, .usage = buffer_usage(vk),
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkBuffer probe;
    VKSLM_VK_TRY(vkCreateBuffer(vk->device, &bci, NULL, &probe));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, probe, &req);
    vkDestroyBuffer(vk->device, probe, NULL);
    for (int i = 0; i < VKSLM_MEM_INTENTS; i++) {
        vk->mem_type[i] = pick_type(vk, (vkslm_mem_intent)i, req.memoryTypeBits);
        if (vk->mem_type[i] < 0)
            return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "device '%s' has no memory type for %s buffers",
                              vk->caps.name, i == 0 ? "device" : i == 1 ? "upload" : "readback");
    }
    return VKSLM_OK;
}

static void block_release(vkslm_vk *vk, vkslm_mem_block *b) {
    if (b->buffer)
        vkDestroyBuffer(vk->device, b->buffer, NULL);
    if (b->memory)
        vkFreeMemory(vk->device, b->memory, NULL);
    VKSLM_FREE(b->free_off);
    VKSLM_FREE(b->free_len);
    memset(b, 0, sizeof *b);
}

void vkslm_vk_memory_destroy(vkslm_vk *vk) {
    for (uint32_t i = 0; i < vk->n_blocks; i++)
        block_release(vk, &vk->blocks[i]);
    VKSLM_FREE(vk->blocks);
    vk->blocks = NULL;
    vk->n_blocks = vk->cap_blocks = 0;
}

static vkslm_status block_create(vkslm_vk *vk, vkslm_mem_intent intent, VkDeviceSize size, uint32_t *index) {
    uint32_t slot = vk->n_blocks;
    for (uint32_t i = 0; i < vk->n_blocks; i++)
        if (!vk->blocks[i].memory) {
            slot = i;
            break;
        }
    if (slot == vk->cap_blocks) {
        uint32_t cap = vk->cap_blocks ? vk->cap_blocks * 2 : 8;
        vkslm_mem_block *nb = VKSLM_REALLOC(vk->blocks, cap * sizeof *nb);
        if (!nb)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        memset(nb + vk->cap_blocks, 0, (cap - vk->cap_blocks) * sizeof *nb);
        vk->blocks = nb;
        vk->cap_blocks = cap;
    }
    vkslm_mem_block *b = &vk->blocks[slot];
    memset(b, 0, sizeof *b);
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = buffer_usage(vk),
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(vk->device, &bci, NULL, &b->buffer);
    if (r != VK_SUCCESS)
        return vkslm_vk_fail(r, "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, b->buffer, &req);
    uint32_t type = (uint32_t)vk->mem_type[intent];
    if (!(req.memoryTypeBits & (1u << type))) {
        block_release(vk, b);
        return vkslm_fail(VKSLM_ERR_VULKAN, "memory type %u cannot back a buffer of %llu bytes", type,
                          (unsigned long long)size);
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type,
    };
    r = vkAllocateMemory(vk->device, &mai, NULL, &b->memory);
    if (r != VK_SUCCESS) {
        b->memory = VK_NULL_HANDLE;
        block_release(vk, b);
        vkslm_status st = vkslm_vk_fail(r, "vkAllocateMemory");
        return vkslm_fail_context(st, "allocating %llu MiB of %s memory", (unsigned long long)(size >> 20),
                                  intent == VKSLM_MEM_DEVICE ? "device" : "host-visible");
    }
    r = vkBindBufferMemory(vk->device, b->buffer, b->memory, 0);
    VkMemoryPropertyFlags f = vk->caps.mem.memoryTypes[type].propertyFlags;
    int map = (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
              (intent != VKSLM_MEM_DEVICE || (vk->caps.uma && !vk->no_uma));
    if (r == VK_SUCCESS && map)
        r = vkMapMemory(vk->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
    if (r != VK_SUCCESS) {
        block_release(vk, b);
        return vkslm_vk_fail(r, "vkBindBufferMemory/vkMapMemory");
    }
    b->size = size;
    b->intent = intent;
    b->type_index = type;
    b->coherent = !!(f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    b->free_off = VKSLM_MALLOC(4 * sizeof *b->free_off);
    b->free_len = VKSLM_MALLOC(4 * sizeof *b->free_len);
    if (!b->free_off || !b->free_len) {
        block_release(vk, b);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    b->cap_free = 4;
    b->n_free = 1;
    b->free_off[0] = 0;
    b->free_len[0] = size;
    if (slot == vk->n_blocks)
        vk->n_blocks++;
    *index = slot;
    return VKSLM_OK;
}

static int block_take(vkslm_mem_block *b, VkDeviceSize size, VkDeviceSize *off) {
    for (uint32_t i = 0; i < b->n_free; i++) {
        if (b->free_len[i] < size)
            continue;
        *off = b->free_off[i];
        b->free_off[i] += size;
        b->free_len[i] -= size;
        if (b->free_len[i] == 0) {
            memmove(b->free_off + i, b->free_off + i + 1, (b->n_free - i - 1) * sizeof *b->free_off);
            memmove(b->free_len + i, b->free_len + i + 1, (b->n_free - i - 1) * sizeof *b->free_len);
            b->n_free--;
        }
        b->used += size;
        return 1;
    }
    return 0;
}

/* Returns [off, off + size) to the free list, merging with neighbours. Returns 0 on host OOM (the range
 * is then leaked until the block is destroyed, which is safe). */
static int block_give(vkslm_mem_block *b, VkDeviceSize off, VkDeviceSize size) {
    uint32_t i = 0;
    while (i < b->n_free && b->free_off[i] < off)
        i++;
    b->used -= size;
    int merge_prev = i > 0 && b->free_off[i - 1] + b->free_len[i - 1] == off;
    int merge_next = i < b->n_free && off + size == b->free_off[i];
    if (merge_prev && merge_next) {
        b->free_len[i - 1] += size + b->free_len[i];
        memmove(b->free_off + i, b->free_off + i + 1, (b->n_free - i - 1) * sizeof *b->free_off);
        memmove(b->free_len + i, b->free_len + i + 1, (b->n_free - i - 1) * sizeof *b->free_len);
        b->n_free--;
    } else if (merge_prev) {
        b->free_len[i - 1] += size;
    } else if (merge_next) {
        b->free_off[i] = off;
        b->free_len[i] += size;
    } else {
        if (b->n_free == b->cap_free) {
            uint32_t cap = b->cap_free * 2;
            VkDeviceSize *no = VKSLM_REALLOC(b->free_off, cap * sizeof *no);
            if (!no)
                return 0;
            b->free_off = no;
            VkDeviceSize *nl = VKSLM_REALLOC(b->free_len, cap * sizeof *nl);
            if (!nl)
                return 0;
            b->free_len = nl;
            b->cap_free = cap;
        }
        memmove(b->free_off + i + 1, b->free_off + i, (b->n_free - i) * sizeof *b->free_off);
        memmove(b->free_len + i + 1, b->free_len + i, (b->n_free - i) * sizeof *b->free_len);
        b->free_off[i] = off;
        b->free_len[i] = size;
        b->n_free++;
    }
    return 1;
}

vkslm_status vkslm_vk_alloc(vkslm_vk *vk, vkslm_mem_intent intent, uint64_t size, vkslm_buf *out) {
    memset(out, 0, sizeof *out);
    if (size == 0 || intent >= VKSLM_MEM_INTENTS)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_vk_alloc: size 0 or bad intent");
    if (size > vk->caps.max_memory_allocation_size)
        return vkslm_fail(VKSLM_ERR_LIMIT,
                          "a buffer of %llu bytes exceeds the device's maxMemoryAllocationSize (%llu): split it",
                          (unsigned long long)size, (unsigned long long)vk->caps.max_memory_allocation_size);
    VkDeviceSize need = (size + SUBALLOC_ALIGN - 1) & ~(SUBALLOC_ALIGN - 1);
    pthread_mutex_lock(&vk->lock);
    vkslm_status st = VKSLM_OK;
    VkDeviceSize off = 0;
    uint32_t bi = UINT32_MAX;
    for (uint32_t i = 0; i < vk->n_blocks; i++) {
        vkslm_mem_block *b = &vk->blocks[i];
        if (b->memory && b->intent == (uint32_t)intent && block_take(b, need, &off)) {
            bi = i;
            break;
        }
    }
    if (bi == UINT32_MAX) {
        VkDeviceSize bsize = need > BLOCK_BYTES ? need : BLOCK_BYTES;
        if (intent != VKSLM_MEM_DEVICE && need < BLOCK_BYTES)
            bsize = need < (16ull << 20) ? (16ull << 20) : need; /* host blocks stay small */
        if (bsize > vk->caps.max_memory_allocation_size)
            bsize = need;
        st = block_create(vk, intent, bsize, &bi);
        if (st == VKSLM_OK && !block_take(&vk->blocks[bi], need, &off))
            st = vkslm_fail(VKSLM_ERR_VULKAN, "allocator: a fresh block cannot hold the request");
    }
    if (st == VKSLM_OK) {
        vkslm_mem_block *b = &vk->blocks[bi];
        out->buffer = b->buffer;
        out->offset = off;
        out->size = size;
        out->mapped = b->mapped ? (char *)b->mapped + off : NULL;
        out->intent = intent;
        out->block = bi;
        out->coherent = b->coherent;
    }
    pthread_mutex_unlock(&vk->lock);
    return st;
}

void vkslm_vk_free(vkslm_vk *vk, vkslm_buf *buf) {
    if (!vk || !buf || !buf->buffer)
        return;
    pthread_mutex_lock(&vk->lock);
    if (buf->block < vk->n_blocks && vk->blocks[buf->block].buffer == buf->buffer) {
        vkslm_mem_block *b = &vk->blocks[buf->block];
        VkDeviceSize need = (buf->size + SUBALLOC_ALIGN - 1) & ~(SUBALLOC_ALIGN - 1);
        block_give(b, buf->offset, need);
        if (b->used == 0)
            block_release(vk, b); /* give empty blocks back to the driver */
    }
    pthread_mutex_unlock(&vk->lock);
    memset(buf, 0, sizeof *buf);
}

uint64_t vkslm_vk_memory_budget(const vkslm_vk *vk) {
    uint64_t b = vk->caps.device_local_bytes;
    uint64_t lim = vk->memory_limit; /* env VKSLM_DEVICE_MEMORY_LIMIT, read at open */
    return lim && lim < b ? lim : b;
}

void vkslm_vk_memory_usage(const vkslm_vk *cvk, uint64_t *used, uint64_t *reserved) {
    vkslm_vk *vk = (vkslm_vk *)cvk; /* the lock is not part of the context's value */
    uint64_t u = 0, r = 0;
    pthread_mutex_lock(&vk->lock);
    for (uint32_t i = 0; i < vk->n_blocks; i++)
        if (vk->blocks[i].memory && vk->blocks[i].intent == VKSLM_MEM_DEVICE) {
            u += vk->blocks[i].used;
            r += vk->blocks[i].size;
        }
    pthread_mutex_unlock(&vk->lock);
    *used = u;
    *reserved = r;
}
