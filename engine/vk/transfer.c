/* Host <-> device transfers. Uploads go through a two-half staging ring so that copying the next chunk
 * on the CPU overlaps the GPU's copy of the previous one; any size works. On UMA devices (device memory
 * the CPU can map) the staging copy is skipped. Downloads go through host-cached readback memory. */
#include <string.h>

#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

vkslm_status vkslm_vk_staging_init(vkslm_vk *vk) {
    vkslm_staging *s = &vk->staging;
    s->half = (vk->staging_bytes / 2) & ~(uint64_t)255; /* at least 8 KiB: device.c checked the env */
    VKSLM_TRY(vkslm_vk_alloc(vk, VKSLM_MEM_UPLOAD, s->half * 2, &s->buf));
    VKSLM_TRY(vkslm_vk_alloc(vk, VKSLM_MEM_READBACK, s->half, &s->readback));
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = vk->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 2,
    };
    VKSLM_VK_TRY(vkAllocateCommandBuffers(vk->device, &cai, s->cmd));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    for (int i = 0; i < 2; i++)
        VKSLM_VK_TRY(vkCreateFence(vk->device, &fci, NULL, &s->fence[i]));
    return VKSLM_OK;
}

void vkslm_vk_staging_destroy(vkslm_vk *vk) {
    vkslm_staging *s = &vk->staging;
    for (int i = 0; i < 2; i++)
        if (s->fence[i])
            vkDestroyFence(vk->device, s->fence[i], NULL);
    if (s->cmd[0])
        vkFreeCommandBuffers(vk->device, vk->pool, 2, s->cmd);
    vkslm_vk_free(vk, &s->buf);
    vkslm_vk_free(vk, &s->readback);
    memset(s, 0, sizeof *s);
}

static vkslm_status wait_slot(vkslm_vk *vk, int h) {
    vkslm_staging *s = &vk->staging;
    if (!s->busy[h])
        return VKSLM_OK;
    s->busy[h] = 0;
    VKSLM_VK_TRY(vkWaitForFences(vk->device, 1, &s->fence[h], VK_TRUE, UINT64_MAX));
    VKSLM_VK_TRY(vkResetFences(vk->device, 1, &s->fence[h]));
    return VKSLM_OK;
}

/* Records one buffer copy (with a barrier that orders it against earlier compute work and makes it
 * visible to later compute and host reads), submits it, and returns without waiting. */
static vkslm_status submit_copy(vkslm_vk *vk, int h, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
                                VkDeviceSize dst_off, VkDeviceSize size) {
    vkslm_staging *s = &vk->staging;
    VkCommandBuffer cb = s->cmd[h];
    VKSLM_VK_TRY(vkResetCommandBuffer(cb, 0));
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VKSLM_VK_TRY(vkBeginCommandBuffer(cb, &bi));
    VkBufferCopy region = {.srcOffset = src_off, .dstOffset = dst_off, .size = size};
    vkCmdCopyBuffer(cb, src, dst, 1, &region);
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0,
                         NULL);
    VKSLM_VK_TRY(vkEndCommandBuffer(cb));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    pthread_mutex_lock(&vk->lock);
    VkResult r = vkQueueSubmit(vk->queue, 1, &si, s->fence[h]);
    pthread_mutex_unlock(&vk->lock);
    if (r != VK_SUCCESS)
        return vkslm_vk_fail(r, "vkQueueSubmit");
    s->busy[h] = 1;
    return VKSLM_OK;
}

static vkslm_status check_range(const vkslm_buf *b, uint64_t offset, uint64_t size, const char *what) {
    if (!b || !b->buffer || offset > b->size || size > b->size - offset)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "%s: range [%llu, +%llu) outside a buffer of %llu bytes", what,
                          (unsigned long long)offset, (unsigned long long)size,
                          (unsigned long long)(b ? b->size : 0));
    return VKSLM_OK;
}

vkslm_status vkslm_vk_upload(vkslm_vk *vk, const vkslm_buf *dst, uint64_t offset, const void *src, uint64_t size) {
    VKSLM_TRY(check_range(dst, offset, size, "upload"));
    if (dst->mapped && dst->coherent) {
        memcpy((char *)dst->mapped + offset, src, size);
        return VKSLM_OK;
    }
    vkslm_staging *s = &vk->staging;
    const char *p = src;
    int h = 0;
    vkslm_status st = VKSLM_OK;
    pthread_mutex_lock(&vk->staging_lock);
    for (uint64_t done = 0; done < size && st == VKSLM_OK; done += s->half, h ^= 1) {
        uint64_t n = size - done < s->half ? size - done : s->half;
        st = wait_slot(vk, h);
        if (st != VKSLM_OK)
            break;
        memcpy((char *)s->buf.mapped + (uint64_t)h * s->half, p + done, n);
        st = submit_copy(vk, h, s->buf.buffer, s->buf.offset + (uint64_t)h * s->half, dst->buffer,
                         dst->offset + offset + done, n);
    }
    vkslm_status w0 = wait_slot(vk, 0), w1 = wait_slot(vk, 1);
    pthread_mutex_unlock(&vk->staging_lock);
    return st != VKSLM_OK ? st : w0 != VKSLM_OK ? w0 : w1;
}

vkslm_status vkslm_vk_download(vkslm_vk *vk, const vkslm_buf *src, uint64_t offset, void *dst, uint64_t size) {
    VKSLM_TRY(check_range(src, offset, size, "download"));
    vkslm_staging *s = &vk->staging;
    if (src->mapped && src->coherent) {
        memcpy(dst, (const char *)src->mapped + offset, size);
        return VKSLM_OK;
    }
    char *p = dst;
    vkslm_status st = VKSLM_OK;
    pthread_mutex_lock(&vk->staging_lock);
    for (uint64_t done = 0; done < size && st == VKSLM_OK; done += s->half) {
        uint64_t n = size - done < s->half ? size - done : s->half;
        st = submit_copy(vk, 0, src->buffer, src->offset + offset + done, s->readback.buffer, s->readback.offset, n);
        if (st == VKSLM_OK)
            st = wait_slot(vk, 0);
        if (st == VKSLM_OK && !s->readback.coherent) {
            VkMappedMemoryRange mr = {
                .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                .memory = vk->blocks[s->readback.block].memory, .offset = 0, .size = VK_WHOLE_SIZE,
            };
            VkResult r = vkInvalidateMappedMemoryRanges(vk->device, 1, &mr);
            if (r != VK_SUCCESS)
                st = vkslm_vk_fail(r, "vkInvalidateMappedMemoryRanges");
        }
        if (st == VKSLM_OK)
            memcpy(p + done, s->readback.mapped, n);
    }
    pthread_mutex_unlock(&vk->staging_lock);
    return st;
}

vkslm_status vkslm_vk_fill(vkslm_vk *vk, const vkslm_buf *dst, uint64_t offset, uint64_t size, uint32_t word) {
    VKSLM_TRY(check_range(dst, offset, size, "fill"));
    if ((offset | size) & 3)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "fill: offset and size must be multiples of 4");
    vkslm_cmd *c;
    VKSLM_TRY(vkslm_cmd_create(vk, &c));
    vkslm_status st = vkslm_cmd_begin(c);
    if (st == VKSLM_OK)
        st = vkslm_cmd_fill(c, dst, offset, size, word);
    if (st == VKSLM_OK)
        st = vkslm_cmd_submit_wait(c);
    vkslm_cmd_destroy(c);
    return st;
}
