/* Known driver bugs and their workarounds, applied at device choice. Each entry names a vendor, a driver
 * (VkDriverId) and a range of driver versions (VkPhysicalDeviceProperties.driverVersion as the driver encodes
 * it), the public issue that shows the bug, and what vkslm does about it: features it does not enable (the
 * kernels then take their fallbacks: f32 arithmetic, packed 16-bit words, no integer dot product) and kernels it
 * chooses. No fix is known for any entry's driver, so every range is open-ended; narrow it when a release
 * fixes the bug. env VKSLM_FORCE_QUIRK=NAME[,NAME] (or "all") applies entries on any device, to test the
 * workarounds on lavapipe. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/error.h"
#include "engine/vk/vk_internal.h"

#define VENDOR_QUALCOMM 0x5143u
#define VENDOR_ARM 0x13B5u
#define VENDOR_IMAGINATION 0x1010u
#define VENDOR_MESA 0x10005u /* VK_VENDOR_ID_MESA: lavapipe */
#if defined(__aarch64__)
#define HOST_AARCH64 1
#else
#define HOST_AARCH64 0
#endif
#define ANY_VERSION 0u, UINT32_MAX

typedef struct quirk {
    const char *name;
    uint32_t vendor_id, driver_id; /* driver_id 0: any driver of the vendor */
    uint32_t version_min, version_max;
    uint32_t mask;                 /* VKSLM_QUIRK_* */
    const char *what, *link;
    int aarch64_host;              /* matches only in a build for an aarch64 host (a CPU driver's bug there) */
} quirk;

static const quirk quirks[] = {
    /* Qualcomm's own Adreno driver: llama.cpp's Vulkan backend gives gibberish on an Adreno 732, and on an
     * Adreno 830 vkCreateComputePipelines fails for its mat-vec variant that reduces through subgroups
     * (llama.cpp issue 28635, cited in 28891). vkslm keeps its mat-vec to a row per invocation (no subgroup
     * reduction) and leaves the 8-bit paths (integer dot product) off. */
    {"adreno-subgroup-matvec", VENDOR_QUALCOMM, VK_DRIVER_ID_QUALCOMM_PROPRIETARY, ANY_VERSION,
     VKSLM_QUIRK_SCALAR_MATVEC | VKSLM_QUIRK_NO_8BIT,
     "Qualcomm Adreno driver: wrong output and failing pipelines in subgroup-reduced mat-vec kernels",
     "https://github.com/ggml-org/llama.cpp/issues/16881", 0},
    /* Mesa turnip on an Adreno 702: llama.cpp's check mode finds MUL_MAT of Q4_0 weights wrong (average error
     * 0.49) while the other ops agree. vkslm takes its row-per-invocation mat-vec and f32 arithmetic there. */
    {"turnip-a7xx-matmul", VENDOR_QUALCOMM, VK_DRIVER_ID_MESA_TURNIP, ANY_VERSION,
     VKSLM_QUIRK_SCALAR_MATVEC | VKSLM_QUIRK_NO_FP16,
     "Mesa turnip (Adreno 7xx): quantized MUL_MAT results wrong", "https://github.com/ggml-org/llama.cpp/issues/25906", 0},
    /* Arm's Mali driver (Mali-G720): 167 of llama.cpp's 860 MUL_MAT tests fail in every data type and output is
     * garbage; ncnn sees wrong detections on the same GPU where its FAQ's first step is to turn fp16 off. vkslm
     * leaves fp16 arithmetic, 16-bit storage and the 8-bit paths off (all-f32 kernels). */
    {"mali-matmul-f16", VENDOR_ARM, VK_DRIVER_ID_ARM_PROPRIETARY, ANY_VERSION,
     VKSLM_QUIRK_NO_FP16 | VKSLM_QUIRK_NO_16BIT_STORAGE | VKSLM_QUIRK_NO_8BIT,
     "Arm Mali driver: MUL_MAT wrong across data types (Mali-G720)", "https://github.com/ggml-org/llama.cpp/issues/23241", 0},
    /* Imagination's PowerVR driver (DXT-48-1536, Pixel 10 Pro): every generated token is 0 until llama.cpp's
     * integer dot product (and cooperative matrix) paths are turned off. */
    {"powervr-integer-dot", VENDOR_IMAGINATION, VK_DRIVER_ID_IMAGINATION_PROPRIETARY, ANY_VERSION,
     VKSLM_QUIRK_NO_8BIT, "Imagination PowerVR driver: garbled output from integer dot product kernels",
     "https://github.com/ggml-org/llama.cpp/issues/28502", 0},
    /* The same driver on PowerVR C-series (subgroup size 128) computes wrong numbers without crashing, with
     * fp16 off too; ExecuTorch finds its FP16 kernels off by +0.5 on a PowerVR D-series. vkslm keeps to f32 data
     * and arithmetic and the default subgroup size there. */
    {"powervr-f16-subgroup", VENDOR_IMAGINATION, VK_DRIVER_ID_IMAGINATION_PROPRIETARY, ANY_VERSION,
     VKSLM_QUIRK_NO_FP16 | VKSLM_QUIRK_NO_16BIT_STORAGE | VKSLM_QUIRK_NO_SIZE_CONTROL,
     "Imagination PowerVR driver: wrong numbers in f16 and large-subgroup kernels",
     "https://github.com/ggml-org/llama.cpp/issues/28214", 0},
    /* lavapipe on an aarch64 host: Debian 12's arm64 Mesa 22.3.6 with LLVM 15 aborts the process compiling any
     * shader that converts between f16 and f32 ("LLVM ERROR: Cannot select: v4f32 = fp_extend v4i16", also on
     * the truncation and the shifts of packHalf2x16): LLVM's AArch64 backend cannot select those vector
     * conversions as llvmpipe emits them. Found by this project under qemu user mode (scripts/aarch64.sh); no
     * public report of it was found, so the link is to our own write-up. The kernels then convert f16 in
     * integer and f32 arithmetic (shaders/half.glsl), which never reaches LLVM's f16 nodes; no fp16 arithmetic
     * and no 16-bit storage. The range is open: the bug is LLVM's, which driverVersion (Mesa's) does not
     * tell. */
    {"lavapipe-aarch64-f16", VENDOR_MESA, VK_DRIVER_ID_MESA_LLVMPIPE, ANY_VERSION,
     VKSLM_QUIRK_SOFT_F16 | VKSLM_QUIRK_NO_FP16 | VKSLM_QUIRK_NO_16BIT_STORAGE,
     "lavapipe on aarch64 (LLVM 15): aborts compiling f16 <-> f32 conversions",
     "docs/devices.md#lavapipe-aarch64-f16 (this project's finding; no public report found)", 1},
};

#define N_QUIRKS (sizeof quirks / sizeof *quirks)

uint32_t vkslm_vk_quirk_count(void) { return (uint32_t)N_QUIRKS; }

/* The workarounds of each entry's mask in words, as vkslm_device_quirk.workarounds names them: made once. */
static const char *const mask_names[] = {"no-fp16", "no-8bit", "no-16bit-storage", "no-subgroup-size-control",
                                         "scalar-matvec", "soft-f16"};
_Static_assert(sizeof mask_names / sizeof *mask_names == 6 && VKSLM_QUIRK_SOFT_F16 == 1u << 5,
               "one name per VKSLM_QUIRK_* bit");

static char workaround_text[N_QUIRKS][128];
static pthread_once_t workaround_once = PTHREAD_ONCE_INIT;

static void make_workaround_text(void) {
    for (size_t i = 0; i < N_QUIRKS; i++) {
        size_t len = 0;
        for (size_t b = 0; b < sizeof mask_names / sizeof *mask_names && len < sizeof workaround_text[i]; b++)
            if (quirks[i].mask >> b & 1)
                len += (size_t)snprintf(workaround_text[i] + len, sizeof workaround_text[i] - len, "%s%s",
                                        len ? "," : "", mask_names[b]);
    }
}

vkslm_status vkslm_device_quirks_list(vkslm_device_quirk *out, int cap, int *count) {
    if (!count || cap < 0 || (cap > 0 && !out))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_device_quirks_list: NULL output or negative capacity");
    *count = (int)N_QUIRKS;
    pthread_once(&workaround_once, make_workaround_text);
    for (size_t i = 0; i < N_QUIRKS && (int)i < cap; i++) {
        const quirk *q = &quirks[i];
        out[i] = (vkslm_device_quirk){.name = q->name, .description = q->what, .link = q->link,
                                      .vendor_id = q->vendor_id, .driver_id = q->driver_id,
                                      .driver_version_min = q->version_min, .driver_version_max = q->version_max,
                                      .workarounds = workaround_text[i]};
    }
    return VKSLM_OK;
}

static int matches(const quirk *q, const vkslm_vk_caps *c) {
    return q->vendor_id == c->vendor_id && (!q->driver_id || q->driver_id == c->driver_id) &&
           c->driver_version >= q->version_min && c->driver_version <= q->version_max &&
           (!q->aarch64_host || HOST_AARCH64);
}

/* Sets forced[i] for each entry env VKSLM_FORCE_QUIRK names. */
static vkslm_status read_forced(int *forced) {
    const char *env = getenv("VKSLM_FORCE_QUIRK");
    if (!env || !*env)
        return VKSLM_OK;
    const char *s = env;
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = 0;
        for (size_t i = 0; i < N_QUIRKS; i++)
            if ((strlen(quirks[i].name) == n && strncmp(quirks[i].name, s, n) == 0) || (n == 3 && !strncmp(s, "all", 3)))
                forced[i] = found = 1;
        if (!found) {
            char names[512] = "";
            size_t len = 0;
            for (size_t i = 0; i < N_QUIRKS && len < sizeof names; i++)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", quirks[i].name);
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "VKSLM_FORCE_QUIRK: unknown quirk '%.*s'; quirks: %s, all",
                              (int)(n > 64 ? 64 : n), s, names);
        }
        s += n;
        if (*s == ',')
            s++;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_vk_quirks_apply(vkslm_vk_caps *c) {
    int forced[N_QUIRKS] = {0};
    VKSLM_TRY(read_forced(forced));
    size_t len = strlen(c->quirks);
    for (size_t i = 0; i < N_QUIRKS; i++) {
        if (!forced[i] && !matches(&quirks[i], c))
            continue;
        c->quirk_mask |= quirks[i].mask;
        if (len < sizeof c->quirks)
            len += (size_t)snprintf(c->quirks + len, sizeof c->quirks - len, "%s%s", len ? "," : "", quirks[i].name);
    }
    uint32_t m = c->quirk_mask;
    if (m & (VKSLM_QUIRK_NO_FP16 | VKSLM_QUIRK_SOFT_F16))
        c->fp16 = 0;
    if (m & VKSLM_QUIRK_NO_8BIT)
        c->int8 = c->storage8 = c->integer_dot_product = c->integer_dot_4x8_accel = 0;
    if (m & (VKSLM_QUIRK_NO_16BIT_STORAGE | VKSLM_QUIRK_SOFT_F16))
        c->storage16 = 0;
    if (m & VKSLM_QUIRK_NO_SIZE_CONTROL)
        c->subgroup_size_control = c->compute_full_subgroups = 0;
    return VKSLM_OK;
}
