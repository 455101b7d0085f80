/* Compute pipelines from embedded SPIR-V, specialised with constants, created once per (variant,
 * constants) and kept for the context's life in a table indexed by the variant's id. Descriptor layout:
 * bindings 0..n-1 of set 0, storage buffers, or uniform texel buffers where the SPIR-V declares a sampled
 * buffer image. */
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/vk/spirv_index.h"
#include "engine/vk/vk_internal.h"

#define MAX_BINDINGS 16
#define SOFT_F16_ID 100u /* layout(constant_id = 100) in shaders/half.glsl */

/* The bindings (bit i: binding i < 32) whose variables are sampled buffer images (GLSL samplerBuffer or
 * textureBuffer: uniform texel buffers), read off the SPIR-V's types, variables and decorations. */
static uint32_t texel_bindings(const uint32_t *code, size_t words) {
    enum { OP_TYPE_IMAGE = 25, OP_TYPE_SAMPLED_IMAGE = 27, OP_TYPE_POINTER = 32, OP_VARIABLE = 59,
           OP_DECORATE = 71, DECORATION_BINDING = 33, DIM_BUFFER = 5 };
    if (words < 5)
        return 0;
    uint32_t bound = code[3];
    /* per id: 1 a sampled buffer image type (or a pointer to one, or a variable of one); binding + 1 */
    uint8_t *texel = VKSLM_CALLOC(bound ? bound : 1, 1);
    uint32_t *binding = VKSLM_CALLOC(bound ? bound : 1, sizeof *binding);
    uint32_t mask = 0;
    if (!texel || !binding)
        goto done;
    for (size_t i = 5; i < words;) {
        uint32_t n = code[i] >> 16, op = code[i] & 0xffffu;
        if (n == 0 || i + n > words)
            break;
        const uint32_t *a = code + i + 1; /* operands */
        if (op == OP_TYPE_IMAGE && n >= 9 && a[0] < bound)
            texel[a[0]] = a[2] == DIM_BUFFER && a[6] == 1;
        else if (op == OP_TYPE_SAMPLED_IMAGE && n >= 3 && a[0] < bound && a[1] < bound)
            texel[a[0]] = texel[a[1]];
        else if (op == OP_TYPE_POINTER && n >= 4 && a[0] < bound && a[2] < bound)
            texel[a[0]] = texel[a[2]];
        else if (op == OP_VARIABLE && n >= 4 && a[0] < bound && a[1] < bound)
            texel[a[1]] = texel[a[0]];
        else if (op == OP_DECORATE && n >= 4 && a[1] == DECORATION_BINDING && a[0] < bound)
            binding[a[0]] = a[2] + 1;
        i += n;
    }
    for (uint32_t id = 0; id < bound; id++) /* one pass: a type comes before what uses it (SPIR-V's layout) */
        if (texel[id] && binding[id] && binding[id] <= 32)
            mask |= 1u << (binding[id] - 1);
done:
    VKSLM_FREE(texel);
    VKSLM_FREE(binding);
    return mask;
}

static vkslm_status create_pipeline(vkslm_vk *vk, const vkslm_spirv_entry *e, uint32_t nb, uint32_t push,
                                    const uint32_t *spec, uint32_t n_spec, vkslm_pipeline *p) {
    VkDevice dev = vk->device;
    VkDescriptorSetLayoutBinding b[MAX_BINDINGS];
    p->texel_mask = texel_bindings(e->code, *e->size / 4);
    for (uint32_t i = 0; i < nb; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i, .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
            .descriptorType = p->texel_mask >> i & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                     : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
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
    /* the caller's constants are ids 0..n_spec-1; id SOFT_F16_ID (shaders/half.glsl's SOFT_F16) is the device's
     * soft_f16 for every shader: Vulkan ignores an entry whose id the shader does not declare */
    VkSpecializationMapEntry map[VKSLM_MAX_SPEC + 1];
    uint32_t data[VKSLM_MAX_SPEC + 1];
    for (uint32_t i = 0; i < n_spec; i++) {
        map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4u, .size = 4};
        data[i] = spec[i];
    }
    map[n_spec] = (VkSpecializationMapEntry){.constantID = SOFT_F16_ID, .offset = n_spec * 4u, .size = 4};
    data[n_spec] = vk->enabled.soft_f16 ? VK_TRUE : VK_FALSE;
    VkSpecializationInfo si = {.mapEntryCount = n_spec + 1, .pMapEntries = map, .dataSize = (n_spec + 1) * 4u,
                               .pData = data};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = mod, .pName = "main", .pSpecializationInfo = &si,
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

static const vkslm_kernel_entry *find(const vkslm_kernel_entry *e, uint32_t nb, uint32_t push, const uint32_t *spec,
                                      uint32_t n_spec) {
    for (; e; e = e->next)
        if (e->n_spec == n_spec && e->n_bindings == nb && e->push_size == push &&
            memcmp(e->spec, spec, n_spec * sizeof *spec) == 0)
            return e;
    return NULL;
}

vkslm_status vkslm_vk_kernel(vkslm_vk *vk, vkslm_shader_id shader, uint32_t n_bindings, uint32_t push_size,
                             const uint32_t *spec, uint32_t n_spec, const vkslm_pipeline **out) {
    const vkslm_kernel_entry *hit =
        (unsigned)shader < VKSLM_SHADER_COUNT
            ? find(atomic_load_explicit(&vk->kernels[shader], memory_order_acquire), n_bindings, push_size, spec, n_spec)
            : NULL;
    if (hit) {
        *out = &hit->p;
        return VKSLM_OK;
    }
    *out = NULL;
    if ((unsigned)shader >= VKSLM_SHADER_COUNT || n_bindings == 0 || n_bindings > MAX_BINDINGS ||
        n_spec > VKSLM_MAX_SPEC)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "pipeline %d: %u bindings, %u constants", (int)shader, n_bindings,
                          n_spec);
    const vkslm_spirv_entry *e = &vkslm_spirv_table[shader];
    if (push_size > vk->caps.max_push_constants || push_size % 4)
        return vkslm_fail(VKSLM_ERR_LIMIT, "pipeline %s: %u bytes of push constants (device maximum %u)", e->name,
                          push_size, vk->caps.max_push_constants);
    /* every shader takes local_size_x from constant 0 (y and z are 1): a profile's lower limits hold here even
     * where the driver would take more */
    uint32_t local = n_spec ? spec[0] : 1;
    if (local > vk->caps.max_workgroup_invocations || local > vk->caps.max_workgroup_size[0])
        return vkslm_fail(VKSLM_ERR_LIMIT, "pipeline %s: a workgroup of %u invocations exceeds the device's limit (%u)",
                          e->name, local,
                          vk->caps.max_workgroup_invocations < vk->caps.max_workgroup_size[0]
                              ? vk->caps.max_workgroup_invocations
                              : vk->caps.max_workgroup_size[0]);
    pthread_mutex_lock(&vk->lock);
    vkslm_kernel_entry *head = atomic_load_explicit(&vk->kernels[shader], memory_order_relaxed);
    vkslm_status st = VKSLM_OK;
    if ((hit = find(head, n_bindings, push_size, spec, n_spec))) { /* another thread made it meanwhile */
        *out = &hit->p;
        goto done;
    }
    vkslm_kernel_entry *ke = VKSLM_CALLOC(1, sizeof *ke);
    if (!ke) {
        st = vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        goto done;
    }
    ke->n_spec = n_spec;
    ke->n_bindings = n_bindings;
    ke->push_size = push_size;
    if (n_spec)
        memcpy(ke->spec, spec, n_spec * sizeof *spec);
    st = create_pipeline(vk, e, n_bindings, push_size, spec, n_spec, &ke->p);
    if (st != VKSLM_OK) {
        pipeline_release(vk->device, &ke->p);
        VKSLM_FREE(ke);
        goto done;
    }
    ke->next = head;
    atomic_store_explicit(&vk->kernels[shader], ke, memory_order_release);
    vk->n_kernels++;
    *out = &ke->p;
done:
    pthread_mutex_unlock(&vk->lock);
    return st;
}

vkslm_status vkslm_vk_pipeline(vkslm_vk *vk, const char *variant, uint32_t n_bindings, uint32_t push_size,
                               const uint32_t *spec, uint32_t n_spec, const vkslm_pipeline **out) {
    int id = vkslm_spirv_find(variant);
    if (id < 0) {
        *out = NULL;
        return vkslm_fail(VKSLM_ERR_UNSUPPORTED, "no embedded shader variant named '%s'", variant);
    }
    return vkslm_vk_kernel(vk, (vkslm_shader_id)id, n_bindings, push_size, spec, n_spec, out);
}

uint32_t vkslm_vk_pipeline_count(vkslm_vk *vk) {
    pthread_mutex_lock(&vk->lock);
    uint32_t n = vk->n_kernels;
    pthread_mutex_unlock(&vk->lock);
    return n;
}

void vkslm_vk_pipelines_destroy(vkslm_vk *vk) {
    for (int i = 0; i < VKSLM_SHADER_COUNT; i++) {
        vkslm_kernel_entry *e = atomic_load_explicit(&vk->kernels[i], memory_order_relaxed);
        while (e) {
            vkslm_kernel_entry *next = e->next;
            pipeline_release(vk->device, &e->p);
            VKSLM_FREE(e);
            e = next;
        }
        atomic_store_explicit(&vk->kernels[i], NULL, memory_order_relaxed);
    }
    vk->n_kernels = 0;
    if (vk->pipeline_cache)
        vkDestroyPipelineCache(vk->device, vk->pipeline_cache, NULL);
    vk->pipeline_cache = VK_NULL_HANDLE;
}
