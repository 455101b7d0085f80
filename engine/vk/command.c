/* Recording one step: dispatches, copies and fills into one command buffer, with the narrowest buffer
 * barriers between dependent commands, one submit and one fence, and optional timestamp queries. */
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define SETS_PER_POOL 256
#define MAX_TIMED 4096

typedef struct range {
    VkBuffer buffer;
    VkDeviceSize off, size;
} range;

typedef struct range_list {
    range *r;
    uint32_t n, cap;
} range_list;

struct vkslm_cmd {
    vkslm_vk *vk;
    VkCommandPool pool; /* its own: recordings on different threads never share a pool */
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool *pools;
    uint32_t n_pools, cap_pools;
    uint32_t cur_pool, pool_used; /* the pool sets come from now, and how many it gave */
    VkBufferView *views;          /* of this recording's texel bindings: destroyed when the next one begins */
    uint32_t n_views, cap_views;
    range_list writes, reads;               /* since the last barrier */
    uint32_t barriers;
    int recording;
    int dry;                     /* records nothing: vkslm_cmd_create_dry */
    /* profiling */
    VkQueryPool queries;
    uint32_t n_timed;
    double cost_bytes, cost_flops; /* for the next dispatch (vkslm_cmd_cost) */
    double *costs;               /* [2 * MAX_TIMED]: bytes, flops per timed dispatch */
    const char **labels;
    vkslm_timing *timings;
    uint32_t n_timings;
};

static int list_add(range_list *l, VkBuffer b, VkDeviceSize off, VkDeviceSize size) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 32;
        range *nr = VKSLM_REALLOC(l->r, cap * sizeof *nr);
        if (!nr)
            return 0;
        l->r = nr;
        l->cap = cap;
    }
    l->r[l->n++] = (range){b, off, size};
    return 1;
}

static int list_overlaps(const range_list *l, VkBuffer b, VkDeviceSize off, VkDeviceSize size) {
    for (uint32_t i = 0; i < l->n; i++)
        if (l->r[i].buffer == b && off < l->r[i].off + l->r[i].size && l->r[i].off < off + size)
            return 1;
    return 0;
}

vkslm_status vkslm_cmd_create(vkslm_vk *vk, vkslm_cmd **out) {
    *out = NULL;
    vkslm_cmd *c = VKSLM_CALLOC(1, sizeof *c);
    if (!c)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    c->vk = vk;
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = vk->queue_family,
    };
    VkResult r = vkCreateCommandPool(vk->device, &pci, NULL, &c->pool);
    if (r != VK_SUCCESS) {
        c->pool = VK_NULL_HANDLE;
        vkslm_cmd_destroy(c);
        return vkslm_vk_fail(r, "vkCreateCommandPool");
    }
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = c->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1,
    };
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vkAllocateCommandBuffers(vk->device, &cai, &c->cb);
    if (r != VK_SUCCESS) {
        c->cb = VK_NULL_HANDLE;
        vkslm_cmd_destroy(c);
        return vkslm_vk_fail(r, "vkAllocateCommandBuffers");
    }
    r = vkCreateFence(vk->device, &fci, NULL, &c->fence);
    if (r == VK_SUCCESS && vk->profile && vk->caps.timestamps) {
        VkQueryPoolCreateInfo qci = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = 2 * MAX_TIMED,
        };
        r = vkCreateQueryPool(vk->device, &qci, NULL, &c->queries);
        c->labels = VKSLM_CALLOC(MAX_TIMED, sizeof *c->labels);
        c->costs = VKSLM_CALLOC(2 * MAX_TIMED, sizeof *c->costs);
        c->timings = VKSLM_CALLOC(MAX_TIMED, sizeof *c->timings);
        if (r == VK_SUCCESS && (!c->labels || !c->timings || !c->costs)) {
            vkslm_cmd_destroy(c);
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        }
    }
    if (r != VK_SUCCESS) {
        vkslm_cmd_destroy(c);
        return vkslm_vk_fail(r, "vkCreateFence/vkCreateQueryPool");
    }
    *out = c;
    return VKSLM_OK;
}

static void views_release(vkslm_cmd *c) {
    for (uint32_t i = 0; i < c->n_views; i++)
        vkDestroyBufferView(c->vk->device, c->views[i], NULL);
    c->n_views = 0;
}

void vkslm_cmd_destroy(vkslm_cmd *c) {
    if (!c)
        return;
    VkDevice dev = c->vk->device;
    views_release(c);
    VKSLM_FREE(c->views);
    for (uint32_t i = 0; i < c->n_pools; i++)
        vkDestroyDescriptorPool(dev, c->pools[i], NULL);
    VKSLM_FREE(c->pools);
    if (c->queries)
        vkDestroyQueryPool(dev, c->queries, NULL);
    if (c->fence)
        vkDestroyFence(dev, c->fence, NULL);
    if (c->cb)
        vkFreeCommandBuffers(dev, c->pool, 1, &c->cb);
    if (c->pool)
        vkDestroyCommandPool(dev, c->pool, NULL);
    VKSLM_FREE(c->writes.r);
    VKSLM_FREE(c->reads.r);
    VKSLM_FREE(c->labels);
    VKSLM_FREE(c->costs);
    VKSLM_FREE(c->timings);
    VKSLM_FREE(c);
}

vkslm_status vkslm_cmd_create_dry(vkslm_vk *vk, vkslm_cmd **out) {
    *out = VKSLM_CALLOC(1, sizeof **out);
    if (!*out)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    (*out)->vk = vk;
    (*out)->dry = 1;
    return VKSLM_OK;
}

vkslm_vk *vkslm_cmd_vk(const vkslm_cmd *c) { return c->vk; }
int vkslm_cmd_is_dry(const vkslm_cmd *c) { return c->dry; }

void vkslm_cmd_cost(vkslm_cmd *c, double bytes, double flops) {
    c->cost_bytes = bytes;
    c->cost_flops = flops;
}
uint32_t vkslm_cmd_barrier_count(const vkslm_cmd *c) { return c->barriers; }

uint32_t vkslm_cmd_timings(const vkslm_cmd *c, const vkslm_timing **out) {
    *out = c->timings;
    return c->n_timings;
}

vkslm_status vkslm_cmd_begin(vkslm_cmd *c) {
    c->cost_bytes = c->cost_flops = 0;
    if (c->dry) {
        c->recording = 1;
        return VKSLM_OK;
    }
    VkDevice dev = c->vk->device;
    for (uint32_t i = 0; i < c->n_pools; i++)
        VKSLM_VK_TRY(vkResetDescriptorPool(dev, c->pools[i], 0));
    views_release(c); /* the previous recording has run (its command buffer is reset below) */
    c->cur_pool = 0;
    c->pool_used = 0;
    c->writes.n = c->reads.n = 0;
    c->barriers = 0;
    c->n_timed = 0;
    VKSLM_VK_TRY(vkResetCommandBuffer(c->cb, 0));
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VKSLM_VK_TRY(vkBeginCommandBuffer(c->cb, &bi));
    if (c->queries)
        vkCmdResetQueryPool(c->cb, c->queries, 0, 2 * MAX_TIMED);
    c->recording = 1;
    return VKSLM_OK;
}

static vkslm_status alloc_set(vkslm_cmd *c, VkDescriptorSetLayout layout, VkDescriptorSet *set) {
    VkDevice dev = c->vk->device;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->cur_pool < c->n_pools && c->pool_used == SETS_PER_POOL) {
            c->cur_pool++;
            c->pool_used = 0;
        }
        if (c->cur_pool == c->n_pools) {
            if (c->n_pools == c->cap_pools) {
                uint32_t cap = c->cap_pools ? c->cap_pools * 2 : 4;
                VkDescriptorPool *np = VKSLM_REALLOC(c->pools, cap * sizeof *np);
                if (!np)
                    return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
                c->pools = np;
                c->cap_pools = cap;
            }
            VkDescriptorPoolSize ps[2] = {
                {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = SETS_PER_POOL * 16},
                {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = SETS_PER_POOL * 4},
            };
            VkDescriptorPoolCreateInfo pci = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = SETS_PER_POOL,
                .poolSizeCount = c->vk->enabled.texel_buffers ? 2u : 1u, .pPoolSizes = ps,
            };
            VKSLM_VK_TRY(vkCreateDescriptorPool(dev, &pci, NULL, &c->pools[c->n_pools]));
            c->n_pools++;
            c->pool_used = 0;
        }
        VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = c->pools[c->cur_pool],
            .descriptorSetCount = 1, .pSetLayouts = &layout,
        };
        VkResult r = vkAllocateDescriptorSets(dev, &ai, set);
        if (r == VK_SUCCESS) {
            c->pool_used++;
            return VKSLM_OK;
        }
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            return vkslm_vk_fail(r, "vkAllocateDescriptorSets");
        c->pool_used = SETS_PER_POOL; /* this pool is full: move on */
    }
    return vkslm_fail(VKSLM_ERR_VULKAN, "vkAllocateDescriptorSets: a fresh pool is full");
}

/* Emits a barrier if the access [reads, writes] conflicts with what was written or read since the last
 * one: buffer memory barriers for exactly the ranges written, or an execution barrier for write-after-
 * read alone. */
static vkslm_status hazard(vkslm_cmd *c, const range *acc, const int *writes, uint32_t n) {
    int need = 0;
    for (uint32_t i = 0; i < n && !need; i++)
        need = list_overlaps(&c->writes, acc[i].buffer, acc[i].off, acc[i].size) ||
               (writes[i] && list_overlaps(&c->reads, acc[i].buffer, acc[i].off, acc[i].size));
    if (need) {
        VkBufferMemoryBarrier stack[32], *bm = stack;
        uint32_t nb = c->writes.n;
        if (nb > 32 && !(bm = VKSLM_MALLOC(nb * sizeof *bm)))
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        for (uint32_t i = 0; i < nb; i++)
            bm[i] = (VkBufferMemoryBarrier){
                .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                 VK_ACCESS_TRANSFER_WRITE_BIT,
                .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                .buffer = c->writes.r[i].buffer, .offset = c->writes.r[i].off, .size = c->writes.r[i].size,
            };
        VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        vkCmdPipelineBarrier(c->cb, stages, stages, 0, 0, NULL, nb, nb ? bm : NULL, 0, NULL);
        if (bm != stack)
            VKSLM_FREE(bm);
        c->barriers++;
        c->writes.n = c->reads.n = 0;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!list_add(writes[i] ? &c->writes : &c->reads, acc[i].buffer, acc[i].off, acc[i].size))
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKSLM_OK;
}

vkslm_status vkslm_vk_bind(const vkslm_vk *vk, const vkslm_buf *buf, uint64_t byte_off, uint64_t size, int write,
                           vkslm_binding *out, uint64_t *skip) {
    if (!buf || !buf->buffer || byte_off > buf->size || size > buf->size - byte_off || size == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "bind: range [%llu, +%llu) outside a buffer of %llu bytes",
                          (unsigned long long)byte_off, (unsigned long long)size,
                          (unsigned long long)(buf ? buf->size : 0));
    uint64_t align = vk->caps.min_storage_offset_align ? vk->caps.min_storage_offset_align : 1;
    uint64_t abs = buf->offset + byte_off;
    uint64_t base = abs / align * align;
    uint64_t len = abs + size - base;
    /* storage buffer ranges must be multiples of 4 for std430 arrays; stay inside the suballocation's
     * padded extent (allocations are padded to 256 bytes) */
    len = (len + 3) & ~(uint64_t)3;
    if (len > vk->max_range)
        return vkslm_fail(VKSLM_ERR_LIMIT, "bind: %llu bytes exceed the bindable range of %llu bytes: split the tensor",
                          (unsigned long long)len, (unsigned long long)vk->max_range);
    out->buffer = buf->buffer;
    out->offset = base;
    out->range = len;
    out->write = write;
    out->texel = 0;
    *skip = abs - base;
    return VKSLM_OK;
}

vkslm_status vkslm_vk_bind_texels(const vkslm_vk *vk, const vkslm_buf *buf, uint64_t byte_off, uint64_t size,
                                  vkslm_binding *out, uint64_t *skip) {
    if (!vk->enabled.texel_buffers)
        return vkslm_fail(VKSLM_ERR_FEATURE_MISSING, "bind: texel buffers are not enabled on this device");
    if (!buf || !buf->buffer || byte_off > buf->size || size > buf->size - byte_off || size == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "bind: range [%llu, +%llu) outside a buffer of %llu bytes",
                          (unsigned long long)byte_off, (unsigned long long)size,
                          (unsigned long long)(buf ? buf->size : 0));
    uint64_t align = vk->caps.min_texel_offset_align > 16 ? vk->caps.min_texel_offset_align : 16;
    uint64_t abs = buf->offset + byte_off, base = abs / align * align;
    /* whole texels: suballocations start on 256 bytes and are padded to 256 (memory.c), so the rounded
     * range stays inside this one's extent */
    uint64_t len = (abs + size - base + 15) & ~(uint64_t)15;
    if (len > vk->max_range || len / 16 > vk->caps.max_texel_elements)
        return vkslm_fail(VKSLM_ERR_LIMIT, "bind: %llu bytes exceed the bindable range of %llu bytes: split the tensor",
                          (unsigned long long)len, (unsigned long long)vk->max_range);
    *out = (vkslm_binding){buf->buffer, base, len, 0, 1};
    *skip = abs - base;
    return VKSLM_OK;
}

vkslm_status vkslm_cmd_dispatch(vkslm_cmd *c, const vkslm_pipeline *p, const vkslm_binding *b, uint32_t nb,
                                const void *push, uint32_t gx, uint32_t gy, uint32_t gz, const char *label) {
    const vkslm_vk_caps *caps = &c->vk->caps;
    if (!c->recording)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "dispatch %s: not recording (call vkslm_cmd_begin)", label);
    if (nb != p->n_bindings)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "dispatch %s: %u bindings for a pipeline of %u", label, nb,
                          p->n_bindings);
    if (gx == 0 || gy == 0 || gz == 0 || gx > caps->max_workgroup_count[0] || gy > caps->max_workgroup_count[1] ||
        gz > caps->max_workgroup_count[2])
        return vkslm_fail(VKSLM_ERR_LIMIT, "dispatch %s: %u x %u x %u workgroups (device maximum %u x %u x %u)", label,
                          gx, gy, gz, caps->max_workgroup_count[0], caps->max_workgroup_count[1],
                          caps->max_workgroup_count[2]);
    for (uint32_t i = 0; i < nb; i++) {
        if (b[i].range > c->vk->max_range)
            return vkslm_fail(VKSLM_ERR_LIMIT, "dispatch %s: binding %u spans %llu bytes (max %llu)", label, i,
                              (unsigned long long)b[i].range, (unsigned long long)c->vk->max_range);
        if (!!b[i].texel != (p->texel_mask >> i & 1))
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "dispatch %s: binding %u is %s, the pipeline declares %s", label,
                              i, b[i].texel ? "texels" : "a storage buffer",
                              b[i].texel ? "a storage buffer" : "texels");
    }
    if (c->dry)
        return VKSLM_OK;
    range acc[16];
    int wr[16];
    VkDescriptorBufferInfo info[16];
    VkWriteDescriptorSet w[16];
    VkBufferView tv[16];
    VkDescriptorSet set;
    VKSLM_TRY(alloc_set(c, p->set_layout, &set));
    for (uint32_t i = 0; i < nb; i++) {
        acc[i] = (range){b[i].buffer, b[i].offset, b[i].range};
        wr[i] = b[i].write;
        info[i] = (VkDescriptorBufferInfo){b[i].buffer, b[i].offset, b[i].range};
        w[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set, .dstBinding = i, .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &info[i],
        };
        if (b[i].texel) {
            if (c->n_views == c->cap_views) {
                uint32_t cap = c->cap_views ? c->cap_views * 2 : 64;
                VkBufferView *nv = VKSLM_REALLOC(c->views, cap * sizeof *nv);
                if (!nv)
                    return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
                c->views = nv;
                c->cap_views = cap;
            }
            VkBufferViewCreateInfo vi = {
                .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO, .buffer = b[i].buffer,
                .format = VK_FORMAT_R32G32B32A32_UINT, .offset = b[i].offset, .range = b[i].range,
            };
            VKSLM_VK_TRY(vkCreateBufferView(c->vk->device, &vi, NULL, &tv[i]));
            c->views[c->n_views++] = tv[i];
            w[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            w[i].pBufferInfo = NULL;
            w[i].pTexelBufferView = &tv[i];
        }
    }
    vkUpdateDescriptorSets(c->vk->device, nb, w, 0, NULL);
    VKSLM_TRY(hazard(c, acc, wr, nb));
    vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdBindDescriptorSets(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (p->push_size)
        vkCmdPushConstants(c->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size, push);
    int timed = c->queries && c->n_timed < MAX_TIMED;
    /* both stamps at the bottom of the pipe: an interval runs from the end of the previous command to the
     * end of this one, so the intervals tile the step and their shares add up to 100% */
    if (timed)
        vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries, 2 * c->n_timed);
    vkCmdDispatch(c->cb, gx, gy, gz);
    if (timed) {
        vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries, 2 * c->n_timed + 1);
        c->labels[c->n_timed] = label;
        c->costs[2 * c->n_timed] = c->cost_bytes;
        c->costs[2 * c->n_timed + 1] = c->cost_flops;
        c->n_timed++;
    }
    c->cost_bytes = c->cost_flops = 0;
    return VKSLM_OK;
}

vkslm_status vkslm_cmd_copy(vkslm_cmd *c, const vkslm_buf *src, uint64_t src_off, const vkslm_buf *dst,
                            uint64_t dst_off, uint64_t size) {
    if (!c->recording || src_off > src->size || size > src->size - src_off || dst_off > dst->size ||
        size > dst->size - dst_off || size == 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "copy: bad range or not recording");
    if (c->dry)
        return VKSLM_OK;
    range acc[2] = {{src->buffer, src->offset + src_off, size}, {dst->buffer, dst->offset + dst_off, size}};
    int wr[2] = {0, 1};
    VKSLM_TRY(hazard(c, acc, wr, 2));
    VkBufferCopy region = {.srcOffset = acc[0].off, .dstOffset = acc[1].off, .size = size};
    vkCmdCopyBuffer(c->cb, src->buffer, dst->buffer, 1, &region);
    return VKSLM_OK;
}

vkslm_status vkslm_cmd_fill(vkslm_cmd *c, const vkslm_buf *dst, uint64_t off, uint64_t size, uint32_t word) {
    if (!c->recording || off > dst->size || size > dst->size - off || size == 0 || ((dst->offset + off) | size) & 3)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "fill: bad range or not recording");
    if (c->dry)
        return VKSLM_OK;
    range acc = {dst->buffer, dst->offset + off, size};
    int wr = 1;
    VKSLM_TRY(hazard(c, &acc, &wr, 1));
    vkCmdFillBuffer(c->cb, dst->buffer, acc.off, size, word);
    return VKSLM_OK;
}

vkslm_status vkslm_cmd_update(vkslm_cmd *c, const vkslm_buf *dst, uint64_t off, const void *data, uint64_t size) {
    if (!c->recording || off > dst->size || size > dst->size - off || size == 0 || size > 65536 ||
        ((dst->offset + off) | size) & 3)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "update: bad range or not recording");
    if (c->dry)
        return VKSLM_OK;
    range acc = {dst->buffer, dst->offset + off, size};
    int wr = 1;
    VKSLM_TRY(hazard(c, &acc, &wr, 1));
    vkCmdUpdateBuffer(c->cb, dst->buffer, acc.off, size, data);
    return VKSLM_OK;
}

vkslm_status vkslm_cmd_submit_wait(vkslm_cmd *c) {
    if (!c->recording)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "submit: not recording");
    c->recording = 0;
    if (c->dry)
        return VKSLM_OK;
    /* make every write visible to the host (mapped readback on UMA devices) and to later submissions */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VKSLM_VK_TRY(vkEndCommandBuffer(c->cb));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c->cb};
    pthread_mutex_lock(&c->vk->lock);
    VkResult r = vkQueueSubmit(c->vk->queue, 1, &si, c->fence);
    pthread_mutex_unlock(&c->vk->lock);
    if (r != VK_SUCCESS)
        return vkslm_vk_fail(r, "vkQueueSubmit");
    r = vkWaitForFences(c->vk->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    VkResult r2 = vkResetFences(c->vk->device, 1, &c->fence);
    if (r != VK_SUCCESS)
        return vkslm_vk_fail(r, "vkWaitForFences");
    if (r2 != VK_SUCCESS)
        return vkslm_vk_fail(r2, "vkResetFences");
    c->n_timings = 0;
    if (c->queries && c->n_timed) {
        uint64_t *ts = VKSLM_MALLOC(2 * c->n_timed * sizeof *ts);
        if (!ts)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        r = vkGetQueryPoolResults(c->vk->device, c->queries, 0, 2 * c->n_timed, 2 * c->n_timed * sizeof *ts, ts,
                                  sizeof *ts, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (r == VK_SUCCESS)
            for (uint32_t i = 0; i < c->n_timed; i++)
                c->timings[c->n_timings++] = (vkslm_timing){
                    c->labels[i], (double)(ts[2 * i + 1] - ts[2 * i]) * c->vk->caps.timestamp_period_ns * 1e-6,
                    c->costs[2 * i], c->costs[2 * i + 1]};
        VKSLM_FREE(ts);
        if (r != VK_SUCCESS)
            return vkslm_vk_fail(r, "vkGetQueryPoolResults");
    }
    return VKSLM_OK;
}
