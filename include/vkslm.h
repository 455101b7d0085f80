/* vkslm.h: the public C API of vkslm, a Vulkan compute inference engine for small language models.
 *
 * Example (list the Vulkan devices vkslm sees and the one it would choose):
 *
 *     #include <stdio.h>
 *     #include <vkslm.h>
 *     int main(void) {
 *         vkslm_device_info info[8];
 *         int n = 0, chosen = -1;
 *         vkslm_status st = vkslm_devices_list(info, 8, &n, &chosen);
 *         if (st != VKSLM_OK) { fprintf(stderr, "%s\n", vkslm_last_error()); return 1; }
 *         for (int i = 0; i < n; i++)
 *             printf("%d: %s%s\n", i, info[i].name, i == chosen ? " (chosen)" : "");
 *         return 0;
 *     }
 *
 * Build: cc example.c $(pkg-config --cflags --libs vkslm)
 *
 * Conventions: every fallible call returns a vkslm_status; vkslm_status_str() names it and
 * vkslm_last_error() (per thread) says what failed and where. Handles are opaque, created and destroyed
 * in pairs, and destroy(NULL) is a no-op. The library never exits the process and prints nothing unless a
 * log callback is set. */
#ifndef VKSLM_H
#define VKSLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define VKSLM_API __declspec(dllexport)
#else
#define VKSLM_API __attribute__((visibility("default")))
#endif

/* Status codes. Ranges: 0 success, 1xx caller errors, 2xx input data, 3xx device/Vulkan, 4xx resources. */
typedef enum vkslm_status {
    VKSLM_OK = 0,
    VKSLM_ERR_INVALID_ARG = 100,    /* a caller passed a bad argument */
    VKSLM_ERR_IO = 200,             /* a file could not be opened, read, mapped or written */
    VKSLM_ERR_FORMAT = 201,         /* malformed input data (a corrupt GGUF file, say) */
    VKSLM_ERR_UNSUPPORTED = 202,    /* valid input that this build does not support */
    VKSLM_ERR_NO_VULKAN = 300,      /* no Vulkan loader or driver */
    VKSLM_ERR_NO_DEVICE = 301,      /* no (matching) Vulkan device */
    VKSLM_ERR_VULKAN = 302,         /* a Vulkan call failed; the message names it and its VkResult */
    VKSLM_ERR_FEATURE_MISSING = 303,/* the device lacks a required feature */
    VKSLM_ERR_DEVICE_LOST = 304,
    VKSLM_ERR_OUT_OF_HOST_MEMORY = 400,
    VKSLM_ERR_OUT_OF_DEVICE_MEMORY = 401,
    VKSLM_ERR_LIMIT = 402           /* a size exceeds a device or format limit */
} vkslm_status;

VKSLM_API const char *vkslm_status_str(vkslm_status status);
/* The message of the last failing call on this thread ("" if none). */
VKSLM_API const char *vkslm_last_error(void);
VKSLM_API const char *vkslm_version(void);

/* Logging: nothing is printed unless a callback is set. level: 0 error, 1 warning, 2 info, 3 debug. */
typedef void (*vkslm_log_fn)(int level, const char *message, void *user_data);
VKSLM_API void vkslm_set_log(vkslm_log_fn fn, int max_level, void *user_data);

/* ---- devices ---------------------------------------------------------------------------------- */
typedef enum vkslm_device_type {
    VKSLM_DEVICE_OTHER = 0,
    VKSLM_DEVICE_INTEGRATED_GPU = 1,
    VKSLM_DEVICE_DISCRETE_GPU = 2,
    VKSLM_DEVICE_VIRTUAL_GPU = 3,
    VKSLM_DEVICE_CPU = 4
} vkslm_device_type;

typedef struct vkslm_device_info {
    char name[256];
    char driver_name[256];
    char driver_info[256];
    vkslm_device_type type;
    uint32_t vendor_id, device_id;
    uint32_t api_version;              /* VK_MAKE_API_VERSION encoding */
    uint32_t driver_version;
    uint32_t subgroup_size;            /* default subgroup size */
    uint32_t subgroup_size_min, subgroup_size_max;
    uint64_t max_storage_buffer_range; /* bytes */
    uint64_t max_memory_allocation_size;
    uint64_t device_local_bytes;       /* sum of device-local heaps */
    int uma;                           /* a memory type is both device-local and host-visible */
    int fp16, int8, storage16, storage8, integer_dot_product, cooperative_matrix;
} vkslm_device_info;

/* Fills up to `cap` entries; *count gets the number of devices, *chosen the index that the default
 * choice (discrete > integrated > virtual > CPU, or VKSLM_DEVICE) would take. */
VKSLM_API vkslm_status vkslm_devices_list(vkslm_device_info *info, int cap, int *count, int *chosen);

#ifdef __cplusplus
}
#endif
#endif /* VKSLM_H */
