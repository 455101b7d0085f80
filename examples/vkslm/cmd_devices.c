/* vkslm devices [--json] [--device D]: every Vulkan device, its features and limits, and the choice;
 * vkslm devices --profiles | --quirks [--json]: the device profiles (env VKSLM_DEVICE_PROFILE), the driver quirk table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "vkslm.h"

static const struct {
    uint32_t bit;
    const char *name;
} subgroup_ops[] = {
    {VKSLM_SUBGROUP_BASIC, "basic"},         {VKSLM_SUBGROUP_VOTE, "vote"},
    {VKSLM_SUBGROUP_ARITHMETIC, "arithmetic"}, {VKSLM_SUBGROUP_BALLOT, "ballot"},
    {VKSLM_SUBGROUP_SHUFFLE, "shuffle"},     {VKSLM_SUBGROUP_SHUFFLE_RELATIVE, "shuffle_relative"},
    {VKSLM_SUBGROUP_CLUSTERED, "clustered"}, {VKSLM_SUBGROUP_QUAD, "quad"},
};

/* "major.minor.patch" of a VK_MAKE_API_VERSION number (7, 10 and 12 bits above the 3-bit variant). */
static void api_str(char *buf, size_t n, uint32_t v) {
    snprintf(buf, n, "%u.%u.%u", (v >> 22) & 0x7Fu, (v >> 12) & 0x3FFu, v & 0xFFFu);
}

static const char *yn(int b) { return b ? "yes" : "no"; }
static const char *tf(int b) { return b ? "true" : "false"; }

static void print_text(const vkslm_device_details *d, uint32_t i, int chosen) {
    const vkslm_device_info *c = &d->info;
    char api[32];
    api_str(api, sizeof api, c->api_version);
    printf("%s %u: %s [%s]%s\n", (int)i == chosen ? "*" : " ", i, c->name, vkslm_device_type_str(c->type),
           (int)i == chosen ? (c->type == VKSLM_DEVICE_CPU
                                   ? "  <- chosen (a CPU implementation of Vulkan: expect CPU speed, not GPU speed)"
                                   : "  <- chosen")
                            : "");
    printf("    driver: %s %s, Vulkan %s, vendor 0x%04x device 0x%04x\n", c->driver_name, c->driver_info, api,
           c->vendor_id, c->device_id);
    for (uint32_t h = 0; h < d->n_memory_heaps; h++)
        printf("    memory heap %u: %.1f GiB%s\n", h, (double)d->memory_heaps[h].bytes / (1 << 30),
               d->memory_heaps[h].device_local ? " device-local" : "");
    printf("    UMA (device-local memory the CPU can map): %s\n", yn(c->uma));
    printf("    subgroup size: %u (range %u..%u), size control: %s, ops:", c->subgroup_size, c->subgroup_size_min,
           c->subgroup_size_max, yn(d->subgroup_size_control));
    for (size_t k = 0; k < sizeof subgroup_ops / sizeof *subgroup_ops; k++)
        if (d->subgroup_ops & subgroup_ops[k].bit)
            printf(" %s", subgroup_ops[k].name);
    printf("\n    features: fp16 %s, int8 %s, 16-bit storage %s, 8-bit storage %s, integer dot product %s"
           " (4x8 accelerated %s), cooperative matrix NV %s / KHR %s\n",
           yn(c->fp16), yn(c->int8), yn(c->storage16), yn(c->storage8), yn(c->integer_dot_product),
           yn(d->integer_dot_4x8_accelerated), yn(d->cooperative_matrix_nv), yn(d->cooperative_matrix_khr));
    printf("    limits: maxStorageBufferRange %llu, maxMemoryAllocationSize %llu, maxComputeSharedMemorySize %u\n",
           (unsigned long long)c->max_storage_buffer_range, (unsigned long long)c->max_memory_allocation_size,
           d->max_compute_shared_memory);
    printf("            workgroup invocations %u, size %ux%ux%u, count %ux%ux%u, push constants %u, "
           "storage offset alignment %llu\n",
           d->max_workgroup_invocations, d->max_workgroup_size[0], d->max_workgroup_size[1], d->max_workgroup_size[2],
           d->max_workgroup_count[0], d->max_workgroup_count[1], d->max_workgroup_count[2], d->max_push_constants,
           (unsigned long long)d->min_storage_offset_alignment);
    printf("    timestamps: %s, period %g ns\n", yn(d->timestamps), d->timestamp_period_ns);
    if (d->profile[0]) {
        printf("    profile: %s (VKSLM_DEVICE_PROFILE): the limits and features above are narrowed to it\n", d->profile);
        if (d->profile_subgroup_size != c->subgroup_size)
            printf("    profile subgroup size: %u (range %u..%u) differs from this device's %u, which a driver fixes "
                   "(lavapipe: LP_NATIVE_VECTOR_WIDTH)\n",
                   d->profile_subgroup_size, d->profile_subgroup_size_min, d->profile_subgroup_size_max,
                   c->subgroup_size);
    }
    printf("    driver quirks applied: %s\n", d->quirks[0] ? d->quirks : "none");
}

static void print_json_device(const vkslm_device_details *d, uint32_t i, int chosen) {
    const vkslm_device_info *c = &d->info;
    char api[32];
    api_str(api, sizeof api, c->api_version);
    printf("    {\"index\": %u, \"name\": ", i);
    json_str(stdout, c->name, strlen(c->name));
    printf(", \"type\": \"%s\", \"chosen\": %s, \"driver_name\": ", vkslm_device_type_str(c->type), tf((int)i == chosen));
    json_str(stdout, c->driver_name, strlen(c->driver_name));
    printf(", \"driver_info\": ");
    json_str(stdout, c->driver_info, strlen(c->driver_info));
    printf(", \"driver_version\": %u, \"api_version\": \"%s\", \"vendor_id\": %u, \"device_id\": %u,\n", c->driver_version,
           api, c->vendor_id, c->device_id);
    printf("     \"memory_heaps\": [");
    for (uint32_t h = 0; h < d->n_memory_heaps; h++)
        printf("%s{\"bytes\": %llu, \"device_local\": %s}", h ? ", " : "", (unsigned long long)d->memory_heaps[h].bytes,
               tf(d->memory_heaps[h].device_local));
    printf("], \"device_local_bytes\": %llu, \"uma\": %s,\n", (unsigned long long)c->device_local_bytes, tf(c->uma));
    printf("     \"subgroup_size\": %u, \"subgroup_size_min\": %u, \"subgroup_size_max\": %u, "
           "\"subgroup_size_control\": %s, \"subgroup_ops\": [",
           c->subgroup_size, c->subgroup_size_min, c->subgroup_size_max, tf(d->subgroup_size_control));
    int first = 1;
    for (size_t k = 0; k < sizeof subgroup_ops / sizeof *subgroup_ops; k++)
        if (d->subgroup_ops & subgroup_ops[k].bit) {
            printf("%s\"%s\"", first ? "" : ", ", subgroup_ops[k].name);
            first = 0;
        }
    printf("],\n     \"fp16\": %s, \"int8\": %s, \"storage16\": %s, \"storage8\": %s, \"integer_dot_product\": %s, "
           "\"integer_dot_4x8_accelerated\": %s, \"cooperative_matrix_nv\": %s, \"cooperative_matrix_khr\": %s,\n",
           tf(c->fp16), tf(c->int8), tf(c->storage16), tf(c->storage8), tf(c->integer_dot_product),
           tf(d->integer_dot_4x8_accelerated), tf(d->cooperative_matrix_nv), tf(d->cooperative_matrix_khr));
    printf("     \"max_storage_buffer_range\": %llu, \"max_memory_allocation_size\": %llu, "
           "\"max_compute_shared_memory\": %u, \"max_workgroup_invocations\": %u,\n",
           (unsigned long long)c->max_storage_buffer_range, (unsigned long long)c->max_memory_allocation_size,
           d->max_compute_shared_memory, d->max_workgroup_invocations);
    printf("     \"max_workgroup_size\": [%u, %u, %u], \"max_workgroup_count\": [%u, %u, %u], "
           "\"max_push_constants\": %u, \"min_storage_offset_alignment\": %llu, \"timestamps\": %s, "
           "\"timestamp_period_ns\": %g",
           d->max_workgroup_size[0], d->max_workgroup_size[1], d->max_workgroup_size[2], d->max_workgroup_count[0],
           d->max_workgroup_count[1], d->max_workgroup_count[2], d->max_push_constants,
           (unsigned long long)d->min_storage_offset_alignment, tf(d->timestamps), d->timestamp_period_ns);
    printf(",\n     \"profile\": ");
    if (d->profile[0]) {
        json_str(stdout, d->profile, strlen(d->profile));
        printf(", \"profile_subgroup_size\": %u, \"profile_subgroup_size_min\": %u, \"profile_subgroup_size_max\": %u, "
               "\"profile_subgroup_size_differs\": %s",
               d->profile_subgroup_size, d->profile_subgroup_size_min, d->profile_subgroup_size_max,
               tf(d->profile_subgroup_size != c->subgroup_size));
    } else
        printf("null");
    printf(", \"quirks\": [");
    for (const char *q = d->quirks; *q;) {
        size_t n = strcspn(q, ",");
        printf("%s", q == d->quirks ? "" : ", ");
        json_str(stdout, q, n);
        q += n;
        if (*q == ',')
            q++;
    }
    printf("]}");
}

static void print_quirks(int json) {
    vkslm_device_quirk q[32];
    int n = 0;
    vkslm_device_quirks_list(q, 32, &n);
    if (n > 32)
        n = 32;
    if (json)
        printf("{\"quirks\": [\n");
    else
        printf("%d driver quirk entries (env VKSLM_FORCE_QUIRK=NAME[,NAME] forces them; see docs/devices.md):\n", n);
    for (int i = 0; i < n; i++) {
        if (json) {
            printf("  {\"name\": ");
            json_str(stdout, q[i].name, strlen(q[i].name));
            printf(", \"description\": ");
            json_str(stdout, q[i].description, strlen(q[i].description));
            printf(", \"link\": ");
            json_str(stdout, q[i].link, strlen(q[i].link));
            printf(", \"vendor_id\": %u, \"driver_id\": %u, \"driver_version_min\": %u, \"driver_version_max\": %u, "
                   "\"workarounds\": [",
                   q[i].vendor_id, q[i].driver_id, q[i].driver_version_min, q[i].driver_version_max);
            for (const char *w = q[i].workarounds; *w;) {
                size_t k = strcspn(w, ",");
                printf("%s", w == q[i].workarounds ? "" : ", ");
                json_str(stdout, w, k);
                w += k;
                if (*w == ',')
                    w++;
            }
            printf("]}%s\n", i + 1 < n ? "," : "");
        } else {
            printf("  %-24s vendor 0x%04x, driver id %u: %s\n      workarounds: %s\n      %s\n", q[i].name,
                   q[i].vendor_id, q[i].driver_id, q[i].description, q[i].workarounds, q[i].link);
        }
    }
    if (json)
        printf("]}\n");
}

static void print_profiles(int json) {
    int n = 0;
    vkslm_device_profiles_list(NULL, 0, &n);
    vkslm_device_profile p[32];
    if (n > 32)
        n = 32;
    vkslm_device_profiles_list(p, n, &n);
    if (json)
        printf("{\"profiles\": [\n");
    else
        printf("%d device profiles (env VKSLM_DEVICE_PROFILE=NAME; see docs/devices.md):\n", n);
    for (int i = 0; i < n; i++) {
        const vkslm_device_profile *d = &p[i];
        if (json) {
            printf("  {\"name\": ");
            json_str(stdout, d->name, strlen(d->name));
            printf(", \"description\": ");
            json_str(stdout, d->description, strlen(d->description));
            printf(", \"subgroup_size\": %u, \"subgroup_size_min\": %u, \"subgroup_size_max\": %u, "
                   "\"subgroup_size_control\": %s, \"max_storage_buffer_range\": %llu, "
                   "\"max_memory_allocation_size\": %llu, \"max_compute_shared_memory\": %u, "
                   "\"max_workgroup_invocations\": %u, \"max_workgroup_size\": [%u, %u, %u], \"fp16\": %s, "
                   "\"int8\": %s, \"storage16\": %s, \"storage8\": %s, \"integer_dot_product\": %s, "
                   "\"device_local_bytes\": %llu}%s\n",
                   d->subgroup_size, d->subgroup_size_min, d->subgroup_size_max, tf(d->subgroup_size_control),
                   (unsigned long long)d->max_storage_buffer_range, (unsigned long long)d->max_memory_allocation_size,
                   d->max_compute_shared_memory, d->max_workgroup_invocations, d->max_workgroup_size[0],
                   d->max_workgroup_size[1], d->max_workgroup_size[2], tf(d->fp16), tf(d->int8), tf(d->storage16),
                   tf(d->storage8), tf(d->integer_dot_product), (unsigned long long)d->device_local_bytes,
                   i + 1 < n ? "," : "");
        } else {
            printf("  %-14s %s\n", d->name, d->description);
            printf("      subgroup %u (%u..%u, size control %s), storage range %llu MiB, allocation %llu MiB, shared "
                   "%u KiB, workgroup %u (%ux%ux%u)\n",
                   d->subgroup_size, d->subgroup_size_min, d->subgroup_size_max, yn(d->subgroup_size_control),
                   (unsigned long long)(d->max_storage_buffer_range >> 20),
                   (unsigned long long)(d->max_memory_allocation_size >> 20), d->max_compute_shared_memory >> 10,
                   d->max_workgroup_invocations, d->max_workgroup_size[0], d->max_workgroup_size[1],
                   d->max_workgroup_size[2]);
            printf("      fp16 %s, int8 %s, 16-bit storage %s, 8-bit storage %s, integer dot product %s, "
                   "device-local heap %.1f GiB\n",
                   yn(d->fp16), yn(d->int8), yn(d->storage16), yn(d->storage8), yn(d->integer_dot_product),
                   (double)d->device_local_bytes / (1 << 30));
        }
    }
    if (json)
        printf("]}\n");
}

int cmd_devices(int argc, char **argv) {
    int json = 0, profiles = 0;
    const char *selector = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv[i], "--json"))
            json = 1;
        else if (cli_flag(argv[i], "--profiles"))
            profiles = 1;
        else if (cli_flag(argv[i], "--quirks"))
            profiles = 2;
        else if ((v = cli_value(argc, argv, &i, "--device")))
            selector = v;
        else if (cli_flag(argv[i], "--help") || cli_flag(argv[i], "-h")) {
            printf("usage: vkslm devices [--json] [--device INDEX|NAME]\n"
                   "       vkslm devices --profiles [--json]\n"
                   "       vkslm devices --quirks [--json]\n"
                   "Lists every Vulkan device with its features and limits, and marks the one vkslm would use\n"
                   "(discrete > integrated > virtual > CPU; --device or env VKSLM_DEVICE overrides). Under env\n"
                   "VKSLM_DEVICE_PROFILE the values are narrowed to the profile's; the driver quirks applied are\n"
                   "shown. --profiles lists the device profiles instead, --quirks the driver quirk table.\n");
            return 0;
        } else {
            fprintf(stderr, "vkslm devices: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (profiles) {
        if (selector) {
            fprintf(stderr, "vkslm devices: --profiles and --quirks list tables, not devices: drop --device\n");
            return 2;
        }
        if (profiles == 2)
            print_quirks(json);
        else
            print_profiles(json);
        return 0;
    }
    vkslm_device_details *caps = NULL;
    int n = 0, chosen = -1;
    vkslm_status st = vkslm_devices_list_details(selector, NULL, 0, &n, &chosen);
    if (st == VKSLM_OK && n > 0 && !(caps = calloc((size_t)n, sizeof *caps)))
        return fprintf(stderr, "vkslm devices: out of memory\n"), 1;
    if (st == VKSLM_OK && n > 0)
        st = vkslm_devices_list_details(selector, caps, n, &n, &chosen);
    if (st != VKSLM_OK) {
        free(caps);
        fprintf(stderr, "vkslm devices: %s\n", vkslm_last_error());
        if (st == VKSLM_ERR_NO_VULKAN || st == VKSLM_ERR_NO_DEVICE || st == VKSLM_ERR_VULKAN)
            fprintf(stderr, "No usable Vulkan driver was found. Install your GPU's Vulkan driver, or on Debian/Ubuntu\n"
                            "the Mesa drivers (which include lavapipe, a CPU implementation):\n"
                            "    sudo apt-get install libvulkan1 mesa-vulkan-drivers\n");
        return 1;
    }
    if (json) {
        printf("{\n  \"chosen\": %d,\n  \"devices\": [\n", chosen);
        for (int i = 0; i < n; i++) {
            print_json_device(&caps[i], (uint32_t)i, chosen);
            printf("%s\n", i + 1 < n ? "," : "");
        }
        printf("  ]\n}\n");
    } else {
        printf("%d Vulkan device%s:\n", n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++)
            print_text(&caps[i], (uint32_t)i, chosen);
        if (chosen < 0)
            printf("no device matches --device/VKSLM_DEVICE \"%s\"\n", selector ? selector : getenv("VKSLM_DEVICE"));
    }
    free(caps);
    return chosen < 0 ? 1 : 0;
}
