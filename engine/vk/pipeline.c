/* Compute pipelines from embedded SPIR-V, specialised with constants, created once per (variant,
 * constants) and kept for the context's life. Descriptor layout: bindings 0..n-1, all storage buffers. */
#include <stdio.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/spirv_index.h"
#include "engine/vk/vk_internal.h"

#define MAX_SPEC 16
#define MAX_BINDINGS 16

static void make_key(char *key, size_t cap, const char *variant, uint32_t nb, uint32_t push, const uint32_t *spec,
                     uint32_t n_spec) {
    int len = snprintf(key, cap, "%s/%u/%u", variant, nb, push);
    for (uint32_t i = 0; i < n_spec && len > 0 && (size_t)len < cap; i++)
        len += snprintf(key + len, cap - (size_t)len, ":%u", spec[i]);
}

static vkslm_status create_pipeline(vkslm_vk *vk, const vkslm_spirv_entry *e, uint32_t nb, uint32_t push,
                                    const uint32_t *spec, uint32_t n_spec, vkslm_pipeline *p) {
    VkDevice dev = vk->device;
    VkDescriptorSetLayoutBinding b[MAX_BINDINGS];
    for (uint32_t i = 0; i < nb; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dl = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = nb, .pBindings = b,
    };
    VKSLM_VK_TRY(vkCreateDescriptorSetLayout(dev, &dl, NULL, &p->set_layout));
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push};
    VkPipelineLayoutCreateInfo pl = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = push ? 1u : 0u, .pPushConstantRanges = &pr,
    };
    VKSLM_VK_TRY(vkCreatePipelineLayout(dev, &pl, NULL, &p->layout));
    VkShaderModuleCreateInfo smi = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = *e->size, .pCode = e->code,
    };
    VkShaderModule mod;
    VKSLM_VK_TRY(vkCreateShaderModule(dev, &smi, NULL, &mod));
    VkSpecializationMapEntry map[MAX_SPEC];
    for (uint32_t i = 0; i < n_spec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4u, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = n_spec, .pMapEntries = map, .dataSize = n_spec * 4u, .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = mod, .pName = "main", .pSpecializationInfo = n_spec ? &si : NULL,
        },
        .layout = p->layout,
    };
    VkResult r = vkCreateComputePipelines(dev, vk->pipeline_cache, 1, &ci, NULL, &p->pipeline);
    vkDestroyShaderModule(dev, mod, NULL);
    if (r != VK_SUCCESS)
        return vkslm_fail_context(vkslm_vk_fail(r, "vkCreateComputePipelines"), "pipeline %s", e->name);
    p->n_bindings = nb;
    p->push_size = push;
    p->local_size[0] = n_spec > 0 ? spec[0] : 1;
    p->local_size[1] = n_spec > 1 ? spec[1] : 1;
    p->local_size[2] = n_spec > 2 ? spec[2] : 1;
    return VKSLM_OK;
}

static void pipeline_release(VkDevice dev, vkslm_pipeline *p) {
    if (p->pipeline)
        vkDestroyPipeline(dev, p->pipeline, NULL);
    if (p->layout)
        vkDestroyPipelineLayout(dev, p->layout, NULL);
    if (p->set_layout)
        vkDestroyDescriptorSetLayout(dev, p->set_layout, NULL);
    memset(p, 0, sizeof *p);
}

vkslm_status vkslm_vk_pipeline(vkslm_vk *vk, const char *variant, uint32_t n_bindings, uint32_t push_size,
                               const uint32_t *spec, uint32_t n_spec, const vkslm_pipeline **out) {
    *out = NULL;
    if (n_bindings == 0 || n_bindings > MAX_BINDINGS || n_spec > MAX_SPEC)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "pipeline %s: %u bindings, %u constants", variant, n_bindings, n_spec);
    if (push_size > vk->caps.max_push_constants || push_size % 4)
        return vkslm_fail(VKSLM_ERR_LIMIT, "pipeline %s: %u bytes of push constants (device maximum %u)", variant,
                          push_size, vk->caps.max_push_constants);
    char key[160];
    make_key(key, sizeof key, variant, n_bindings, push_size, spec, n_spec);
    pthread_mutex_lock(&vk->lock);
    for (uint32_t i = 0; i < vk->n_pipes; i++)
        if (strcmp(vk->pipes[i]->key, key) == 0) {
            *out = &vk->pipes[i]->p;
            pthread_mutex_unlock(&vk->lock);
            return VKSLM_OK;
        }
    vkslm_status st = VKSLM_OK;
    const vkslm_spirv_entry *e = vkslm_spirv_find(variant);
    if (!e) {
        st = vkslm_fail(VKSLM_ERR_UNSUPPORTED, "no embedded shader variant named '%s'", variant);
        goto done;
    }
    if (vk->n_pipes == vk->cap_pipes) {
        uint32_t cap = vk->cap_pipes ? vk->cap_pipes * 2 : 64;
        vkslm_pipeline_entry **np = VKSLM_REALLOC(vk->pipes, cap * sizeof *np);
        if (!np) {
            st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
            goto done;
        }
        vk->pipes = np;
        vk->cap_pipes = cap;
    }
    vkslm_pipeline_entry *pe = VKSLM_CALLOC(1, sizeof *pe);
    if (!pe) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    snprintf(pe->key, sizeof pe->key, "%s", key);
    st = create_pipeline(vk, e, n_bindings, push_size, spec, n_spec, &pe->p);
    if (st != VKSLM_OK) {
        pipeline_release(vk->device, &pe->p);
        VKSLM_FREE(pe);
        goto done;
    }
    vk->pipes[vk->n_pipes] = pe;
    vk->n_pipes++;
    *out = &pe->p;
done:
    pthread_mutex_unlock(&vk->lock);
    return st;
}

void vkslm_vk_pipelines_destroy(vkslm_vk *vk) {
    for (uint32_t i = 0; i < vk->n_pipes; i++) {
        pipeline_release(vk->device, &vk->pipes[i]->p);
        VKSLM_FREE(vk->pipes[i]);
    }
    VKSLM_FREE(vk->pipes);
    vk->pipes = NULL;
    vk->n_pipes = vk->cap_pipes = 0;
    if (vk->pipeline_cache)
        vkDestroyPipelineCache(vk->device, vk->pipeline_cache, NULL);
    vk->pipeline_cache = VK_NULL_HANDLE;
}
