/* vkslm devices [--json] [--device D]: every Vulkan device, its features and limits, and the choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vk/vk.h"
#include "examples/vkslm/cli.h"
#include "examples/vkslm/json.h"

static const struct {
    VkSubgroupFeatureFlagBits bit;
    const char *name;
} subgroup_ops[] = {
    {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},       {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
    {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"}, {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
    {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},   {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
    {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"}, {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
};

static void api_str(char *buf, size_t n, uint32_t v) {
    snprintf(buf, n, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

static const char *yn(int b) { return b ? "yes" : "no"; }
static const char *tf(int b) { return b ? "true" : "false"; }

static void print_text(const vkslm_vk_caps *c, uint32_t i, int chosen) {
    char api[32];
    api_str(api, sizeof api, c->api_version);
    printf("%s %u: %s [%s]%s\n", (int)i == chosen ? "*" : " ", i, c->name, vkslm_vk_type_name(c->type),
           (int)i == chosen ? (c->type == VK_PHYSICAL_DEVICE_TYPE_CPU
                                   ? "  <- chosen (a CPU implementation of Vulkan: expect CPU speed, not GPU speed)"
                                   : "  <- chosen")
                            : "");
    printf("    driver: %s %s, Vulkan %s, vendor 0x%04x device 0x%04x\n", c->driver_name, c->driver_info, api,
           c->vendor_id, c->device_id);
    for (uint32_t h = 0; h < c->mem.memoryHeapCount; h++)
        printf("    memory heap %u: %.1f GiB%s\n", h, (double)c->mem.memoryHeaps[h].size / (1 << 30),
               c->mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? " device-local" : "");
    printf("    UMA (device-local memory the CPU can map): %s\n", yn(c->uma));
    printf("    subgroup size: %u (range %u..%u), size control: %s, ops:", c->subgroup_size, c->subgroup_size_min,
           c->subgroup_size_max, yn(c->subgroup_size_control));
    for (size_t k = 0; k < sizeof subgroup_ops / sizeof *subgroup_ops; k++)
        if (c->subgroup_ops & subgroup_ops[k].bit)
            printf(" %s", subgroup_ops[k].name);
    printf("\n    features: fp16 %s, int8 %s, 16-bit storage %s, 8-bit storage %s, integer dot product %s"
           " (4x8 accelerated %s), cooperative matrix NV %s / KHR %s\n",
           yn(c->fp16), yn(c->int8), yn(c->storage16), yn(c->storage8), yn(c->integer_dot_product),
           yn(c->integer_dot_4x8_accel), yn(c->coopmat_nv), yn(c->coopmat_khr));
    printf("    limits: maxStorageBufferRange %llu, maxMemoryAllocationSize %llu, maxComputeSharedMemorySize %u\n",
           (unsigned long long)c->max_storage_buffer_range, (unsigned long long)c->max_memory_allocation_size,
           c->max_shared_memory);
    printf("            workgroup invocations %u, size %ux%ux%u, count %ux%ux%u, push constants %u, "
           "storage offset alignment %llu\n",
           c->max_workgroup_invocations, c->max_workgroup_size[0], c->max_workgroup_size[1], c->max_workgroup_size[2],
           c->max_workgroup_count[0], c->max_workgroup_count[1], c->max_workgroup_count[2], c->max_push_constants,
           (unsigned long long)c->min_storage_offset_align);
    printf("    timestamps: %s, period %g ns\n", yn(c->timestamps), c->timestamp_period_ns);
}

static void print_json_device(const vkslm_vk_caps *c, uint32_t i, int chosen) {
    char api[32];
    api_str(api, sizeof api, c->api_version);
    printf("    {\"index\": %u, \"name\": ", i);
    json_str(stdout, c->name, strlen(c->name));
    printf(", \"type\": \"%s\", \"chosen\": %s, \"driver_name\": ", vkslm_vk_type_name(c->type), tf((int)i == chosen));
    json_str(stdout, c->driver_name, strlen(c->driver_name));
    printf(", \"driver_info\": ");
    json_str(stdout, c->driver_info, strlen(c->driver_info));
    printf(", \"driver_version\": %u, \"api_version\": \"%s\", \"vendor_id\": %u, \"device_id\": %u,\n", c->driver_version,
           api, c->vendor_id, c->device_id);
    printf("     \"memory_heaps\": [");
    for (uint32_t h = 0; h < c->mem.memoryHeapCount; h++)
        printf("%s{\"bytes\": %llu, \"device_local\": %s}", h ? ", " : "",
               (unsigned long long)c->mem.memoryHeaps[h].size,
               tf(!!(c->mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)));
    printf("], \"device_local_bytes\": %llu, \"uma\": %s,\n", (unsigned long long)c->device_local_bytes, tf(c->uma));
    printf("     \"subgroup_size\": %u, \"subgroup_size_min\": %u, \"subgroup_size_max\": %u, "
           "\"subgroup_size_control\": %s, \"subgroup_ops\": [",
           c->subgroup_size, c->subgroup_size_min, c->subgroup_size_max, tf(c->subgroup_size_control));
    int first = 1;
    for (size_t k = 0; k < sizeof subgroup_ops / sizeof *subgroup_ops; k++)
        if (c->subgroup_ops & subgroup_ops[k].bit) {
            printf("%s\"%s\"", first ? "" : ", ", subgroup_ops[k].name);
            first = 0;
        }
    printf("],\n     \"fp16\": %s, \"int8\": %s, \"storage16\": %s, \"storage8\": %s, \"integer_dot_product\": %s, "
           "\"integer_dot_4x8_accelerated\": %s, \"cooperative_matrix_nv\": %s, \"cooperative_matrix_khr\": %s,\n",
           tf(c->fp16), tf(c->int8), tf(c->storage16), tf(c->storage8), tf(c->integer_dot_product),
           tf(c->integer_dot_4x8_accel), tf(c->coopmat_nv), tf(c->coopmat_khr));
    printf("     \"max_storage_buffer_range\": %llu, \"max_memory_allocation_size\": %llu, "
           "\"max_compute_shared_memory\": %u, \"max_workgroup_invocations\": %u,\n",
           (unsigned long long)c->max_storage_buffer_range, (unsigned long long)c->max_memory_allocation_size,
           c->max_shared_memory, c->max_workgroup_invocations);
    printf("     \"max_workgroup_size\": [%u, %u, %u], \"max_workgroup_count\": [%u, %u, %u], "
           "\"max_push_constants\": %u, \"min_storage_offset_alignment\": %llu, \"timestamps\": %s, "
           "\"timestamp_period_ns\": %g}",
           c->max_workgroup_size[0], c->max_workgroup_size[1], c->max_workgroup_size[2], c->max_workgroup_count[0],
           c->max_workgroup_count[1], c->max_workgroup_count[2], c->max_push_constants,
           (unsigned long long)c->min_storage_offset_align, tf(c->timestamps), c->timestamp_period_ns);
}

int cmd_devices(int argc, char **argv) {
    int json = 0;
    const char *selector = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "--json"))
            json = 1;
        else if ((v = cli_value(argc, argv, &i, "--device")))
            selector = v;
        else if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            printf("usage: vkslm devices [--json] [--device INDEX|NAME]\n"
                   "Lists every Vulkan device with its features and limits, and marks the one vkslm would use\n"
                   "(discrete > integrated > virtual > CPU; --device or env VKSLM_DEVICE overrides).\n");
            return 0;
        } else {
            fprintf(stderr, "vkslm devices: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    vkslm_vk_caps *caps = NULL;
    uint32_t n = 0;
    int chosen = -1;
    vkslm_status st = vkslm_vk_list_devices(selector, &caps, &n, &chosen);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm devices: %s\n", vkslm_last_error());
        if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE || st == VKSLM_ERR_VULKAN)
            fprintf(stderr, "No usable Vulkan driver was found. Install your GPU's Vulkan driver, or on Debian/Ubuntu\n"
                            "the Mesa drivers (which include lavapipe, a CPU implementation):\n"
                            "    sudo apt-get install libvulkan1 mesa-vulkan-drivers\n");
        return 1;
    }
    if (json) {
        printf("{\n  \"chosen\": %d,\n  \"devices\": [\n", chosen);
        for (uint32_t i = 0; i < n; i++) {
            print_json_device(&caps[i], i, chosen);
            printf("%s\n", i + 1 < n ? "," : "");
        }
        printf("  ]\n}\n");
    } else {
        printf("%u Vulkan device%s:\n", n, n == 1 ? "" : "s");
        for (uint32_t i = 0; i < n; i++)
            print_text(&caps[i], i, chosen);
        if (chosen < 0)
            printf("no device matches --device/VKSLM_DEVICE \"%s\"\n", selector ? selector : getenv("VKSLM_DEVICE"));
    }
    free(caps);
    return chosen < 0 ? 1 : 0;
}
