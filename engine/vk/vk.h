/* The Vulkan compute runtime: instance and device choice, capabilities, memory, transfers, pipelines and
 * command recording. Everything the ops and the model need from Vulkan goes through this header. */
#ifndef VKSLM_VK_H
#define VKSLM_VK_H

#include <stdint.h>
#include <vulkan/vulkan.h>

#include "vkslm.h"
#include "vkslm_shader_ids.h"

/* ---- capabilities --------------------------------------------------------------------------------- */
typedef struct vkslm_vk_caps {
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    char driver_name[VK_MAX_DRIVER_NAME_SIZE];
    char driver_info[VK_MAX_DRIVER_INFO_SIZE];
    VkPhysicalDeviceType type;
    uint32_t vendor_id, device_id, api_version, driver_version;
    uint32_t driver_id;                     /* VkDriverId (Vulkan 1.2), 0 if unknown */
    uint8_t device_uuid[VK_UUID_SIZE], driver_uuid[VK_UUID_SIZE], pipeline_cache_uuid[VK_UUID_SIZE];

    /* subgroups */
    uint32_t subgroup_size;                 /* the default size */
    uint32_t subgroup_size_min, subgroup_size_max;
    int subgroup_size_control;              /* VK_EXT_subgroup_size_control / Vulkan 1.3 */
    int compute_full_subgroups;
    VkSubgroupFeatureFlags subgroup_ops;    /* in compute shaders */

    /* arithmetic and storage features (what the device has; *_enabled: what vkslm turned on) */
    int fp16, int8, storage16, storage8;
    int integer_dot_product, integer_dot_4x8_accel; /* VK_KHR_shader_integer_dot_product */
    int coopmat_nv, coopmat_khr;                    /* cooperative matrix: queried only */
    int timestamps;                                 /* compute queue supports timestamps */

    /* limits (bytes unless said) */
    uint64_t max_storage_buffer_range;      /* as the device reports it */
    uint64_t max_memory_allocation_size;
    uint32_t max_shared_memory;             /* maxComputeSharedMemorySize */
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_size[3];
    uint32_t max_workgroup_count[3];
    uint32_t max_push_constants;
    uint64_t min_storage_offset_align;
    float timestamp_period_ns;
    /* uniform texel buffers of 16-byte texels (VK_FORMAT_R32G32B32A32_UINT): how CPU devices' mat-vec reads */
    int texel_rgba32ui;                     /* the format supports VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT */
    uint64_t max_texel_elements;            /* maxTexelBufferElements */
    uint64_t min_texel_offset_align;        /* minTexelBufferOffsetAlignment */

    /* memory */
    VkPhysicalDeviceMemoryProperties mem;
    uint64_t device_local_bytes;
    int uma;                                /* a device-local type is also host-visible */

    /* what narrowed the values above (profiles.c, quirks.c): the profile's name ("" none) and its own
     * subgroup sizes (which a driver cannot take from us: compare with subgroup_size), and the quirks applied */
    char profile[32];
    uint32_t profile_subgroup_size, profile_subgroup_min, profile_subgroup_max;
    char quirks[256];                       /* comma-separated names of the quirk entries applied, "" none */
    uint32_t quirk_mask;                    /* VKSLM_QUIRK_* workarounds in force */
} vkslm_vk_caps;

/* ---- device profiles (profiles.c) ---------------------------------------------------------------- */
typedef struct vkslm_vk_profile {
    const char *name, *description;
    uint32_t subgroup_size, subgroup_min, subgroup_max;
    int subgroup_size_control;
    uint64_t max_storage_buffer_range, max_memory_allocation_size;
    uint32_t max_shared_memory, max_workgroup_invocations, max_workgroup_size[3];
    int fp16, int8, storage16, storage8, integer_dot_product;
    uint64_t device_local_bytes;
} vkslm_vk_profile;
uint32_t vkslm_vk_profile_count(void);
const vkslm_vk_profile *vkslm_vk_profile_at(uint32_t i);
/* The profile named `name` (*out NULL for NULL or ""); an unknown name fails with VKSLM_ERR_INVALID_ARG and
 * a message listing the names. */
vkslm_status vkslm_vk_profile_find(const char *name, const vkslm_vk_profile **out);
/* The same for env VKSLM_DEVICE_PROFILE. */
vkslm_status vkslm_vk_profile_from_env(const vkslm_vk_profile **out);
/* Narrows caps to the profile (NULL: nothing): each limit the smaller, each feature on only if both have it. */
void vkslm_vk_profile_apply(const vkslm_vk_profile *p, vkslm_vk_caps *caps);

/* ---- driver quirks (quirks.c) ------------------------------------------------------------------------ */
/* Workarounds a quirk entry turns on (vkslm_vk_caps.quirk_mask). */
#define VKSLM_QUIRK_NO_FP16 0x01u          /* do not enable shaderFloat16 */
#define VKSLM_QUIRK_NO_8BIT 0x02u          /* no int8 arithmetic, 8-bit storage or integer dot product */
#define VKSLM_QUIRK_NO_16BIT_STORAGE 0x04u /* no 16-bit storage: f16 data goes through the packed kernels */
#define VKSLM_QUIRK_NO_SIZE_CONTROL 0x08u  /* do not use subgroup size control */
#define VKSLM_QUIRK_SCALAR_MATVEC 0x10u    /* mat-vec: one row per invocation, no subgroup reduction */
#define VKSLM_QUIRK_SOFT_F16 0x20u         /* f16 <-> f32 in integer and f32 arithmetic (shaders/half.glsl); implies
                                            * NO_FP16 and NO_16BIT_STORAGE */
/* Applies the entries that match caps (vendor, driver ID, driver version) and those env VKSLM_FORCE_QUIRK names
 * (comma-separated; "all": every entry); an unknown name fails with VKSLM_ERR_INVALID_ARG. */
vkslm_status vkslm_vk_quirks_apply(vkslm_vk_caps *caps);
/* Both, as device choice applies them: the profile env VKSLM_DEVICE_PROFILE names, then the quirks. */
vkslm_status vkslm_vk_narrow(vkslm_vk_caps *caps);

/* Lists the devices (temporary instance). *caps is malloc'd (free with free()). *chosen: the index the
 * default rules pick (discrete > integrated > virtual > CPU), or the selector's match; `selector` may
 * be NULL (then env VKSLM_DEVICE applies): a decimal index or a case-insensitive name substring. */
vkslm_status vkslm_vk_list_devices(const char *selector, vkslm_vk_caps **caps, uint32_t *count, int *chosen);
vkslm_status vkslm_vk_choose(const vkslm_vk_caps *caps, uint32_t count, const char *selector, int *chosen);
const char *vkslm_vk_type_name(VkPhysicalDeviceType type);
const char *vkslm_vk_result_name(VkResult r);
/* Maps a failed VkResult to a status and records "<call> failed: VK_ERROR_...". */
vkslm_status vkslm_vk_fail(VkResult r, const char *call);
#define VKSLM_VK_TRY(call)                                  \
    do {                                                    \
        VkResult vk_r_ = (call);                            \
        if (vk_r_ != VK_SUCCESS)                            \
            return vkslm_vk_fail(vk_r_, #call);             \
    } while (0)

/* ---- the device context --------------------------------------------------------------------------- */
typedef struct vkslm_vk vkslm_vk;

typedef struct vkslm_vk_options {
    const char *device;   /* selector; NULL: env VKSLM_DEVICE, else the default choice */
    int validate;         /* 1 on, 0 off, -1 (or 0-initialised with validate_from_env) */
    int validate_from_env;/* nonzero: VKSLM_VALIDATE=1 turns validation on */
    int profile;          /* timestamp queries per dispatch */
} vkslm_vk_options;

/* Environment switches read at open: VKSLM_DEVICE, VKSLM_DEVICE_PROFILE and VKSLM_FORCE_QUIRK (profiles.c,
 * quirks.c: an unknown name fails the open with VKSLM_ERR_INVALID_ARG), VKSLM_VALIDATE, VKSLM_MAX_STORAGE_RANGE (bytes; lowers
 * the range vkslm binds), VKSLM_DISABLE_F16 / _8BIT / _16BIT (do not enable those features),
 * VKSLM_DISABLE_TEXEL (no texel-buffer bindings: the kernels that use them fall back to storage buffers),
 * VKSLM_DISABLE_X8 (the texel mat-vec keeps x in floats for every weight type), VKSLM_DISABLE_RUNS (it fetches
 * each row's blocks alone),
 * VKSLM_DISABLE_UMA (always stage uploads), VKSLM_STAGING_BYTES, VKSLM_DEVICE_MEMORY_LIMIT, VKSLM_CACHE_DIR,
 * VKSLM_NO_PIPELINE_CACHE, VKSLM_MATVEC_RPL (engine/ops/matmul.c). Byte counts are read strictly (engine/util/env.h): a bad value fails the open
 * with VKSLM_ERR_INVALID_ARG. */
vkslm_status vkslm_vk_open(const vkslm_vk_options *opt, vkslm_vk **out);
/* Lets go of the context: it closes when the last holder (vkslm_vk_open, or each vkslm_vk_retain) closes. */
void vkslm_vk_close(vkslm_vk *vk);
/* One more holder of an open context (a model loaded onto another model's device). */
void vkslm_vk_retain(vkslm_vk *vk);

const vkslm_vk_caps *vkslm_vk_get_caps(const vkslm_vk *vk);
/* The device as the public API describes it (vkslm_device_info: devices_api.c). */
void vkslm_vk_device_info(const vkslm_vk *vk, vkslm_device_info *out);
VkDevice vkslm_vk_device(const vkslm_vk *vk);
/* Features vkslm enabled (device has them and no env switch turned them off), and tuning forced by env
 * (read once, at open). */
typedef struct vkslm_vk_enabled {
    int fp16, int8, storage16, storage8, subgroup_size_control, integer_dot_product;
    int soft_f16;        /* shaders never use the device's f16 conversions (quirk soft-f16): every pipeline gets
                          * specialization constant 100 (SOFT_F16 in shaders/half.glsl) = this */
    int texel_buffers;   /* bindings as uniform texel buffers (vkslm_vk_bind_texels): a CPU device, the format
                          * is there, a view spans the whole storage range, VKSLM_DISABLE_TEXEL is unset */
    int x8_products;     /* the texel mat-vec takes 4- to 6-bit weights times x in 8 bits, summed in integers
                          * (engine/ops/matmul.c): texel_buffers, subgroup shuffles in compute, VKSLM_DISABLE_X8
                          * unset */
    int weight_runs;     /* the texel mat-vec fetches the blocks of an invocation's rows once, as one run of texels
                          * (engine/ops/matmul.c, run_ok): texel_buffers, VKSLM_DISABLE_RUNS unset */
    uint32_t matvec_rpl; /* VKSLM_MATVEC_RPL (1..32): rows per invocation of the mat-vec kernel (at most 4 in
                          * its storage-buffer variant); 0: its choice */
    uint32_t weight_tile; /* rows per tile of the weight matrices models load (engine/model/weight_tiles.h): 32
                           * where texel_buffers (CPU devices), else 0 (GGUF's rows); VKSLM_WEIGHT_TILE sets it
                           * (0 or 1: off) */
} vkslm_vk_enabled;
const vkslm_vk_enabled *vkslm_vk_get_enabled(const vkslm_vk *vk);
/* The largest range vkslm binds as one storage buffer (device limit, or the env override if lower). */
uint64_t vkslm_vk_max_range(const vkslm_vk *vk);
/* Validation messages counted since open (errors and warnings). */
void vkslm_vk_validation_counts(const vkslm_vk *vk, uint32_t *errors, uint32_t *warnings);
/* Whether recordings created from now on write timestamps (a context opened with `profile`; recordings
 * already made keep theirs). Timestamps cost time: on lavapipe a third of a decode step. */
void vkslm_vk_set_profile(vkslm_vk *vk, int on);
int vkslm_vk_is_cpu(const vkslm_vk *vk);

/* ---- memory ------------------------------------------------------------------------------------- */
typedef enum vkslm_mem_intent {
    VKSLM_MEM_DEVICE = 0,  /* device-local: weights, activations, KV cache */
    VKSLM_MEM_UPLOAD = 1,  /* host-visible, coherent, write-combined: staging */
    VKSLM_MEM_READBACK = 2,/* host-visible, cached: results read by the CPU */
    VKSLM_MEM_INTENTS = 3
} vkslm_mem_intent;

/* A suballocation: bind as (buffer, offset + x, range). `mapped` is non-NULL when host-visible (on UMA
 * devices also for VKSLM_MEM_DEVICE, unless VKSLM_DISABLE_UMA). */
typedef struct vkslm_buf {
    VkBuffer buffer;
    VkDeviceSize offset, size;
    void *mapped;
    uint32_t intent, block, coherent;
} vkslm_buf;

vkslm_status vkslm_vk_alloc(vkslm_vk *vk, vkslm_mem_intent intent, uint64_t size, vkslm_buf *out);
void vkslm_vk_free(vkslm_vk *vk, vkslm_buf *b);
/* Bytes of device memory vkslm may use: the device-local heaps, or env VKSLM_DEVICE_MEMORY_LIMIT (read at
 * open) if lower.
 * Loading refuses a model (and session creation a KV cache) that would not fit, before any work. */
uint64_t vkslm_vk_memory_budget(const vkslm_vk *vk);
/* Device-local memory (VKSLM_MEM_DEVICE) in use (live suballocations) and reserved (blocks), bytes. */
void vkslm_vk_memory_usage(const vkslm_vk *vk, uint64_t *used, uint64_t *reserved);

/* ---- transfers (synchronous; chunked through the staging ring) ----------------------------------- */
vkslm_status vkslm_vk_upload(vkslm_vk *vk, const vkslm_buf *dst, uint64_t offset, const void *src, uint64_t size);
vkslm_status vkslm_vk_download(vkslm_vk *vk, const vkslm_buf *src, uint64_t offset, void *dst, uint64_t size);
/* Fills with a repeated 32-bit word (offset and size multiples of 4). */
vkslm_status vkslm_vk_fill(vkslm_vk *vk, const vkslm_buf *dst, uint64_t offset, uint64_t size, uint32_t word);

/* ---- pipelines ---------------------------------------------------------------------------------- */
typedef struct vkslm_pipeline {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    uint32_t n_bindings, push_size;
    uint32_t local_size[3];
    uint32_t texel_mask; /* bindings the shader declares as uniform texel buffers (bit i: binding i) */
} vkslm_pipeline;

/* The pipeline of the embedded SPIR-V variant `shader` (VKSLM_SHADER_<NAME>, vkslm_shader_ids.h)
 * specialised with spec[i] as constant i (uint32; by convention constant 0 is local_size_x). Its bindings
 * 0..n_bindings-1 are storage buffers, or uniform texel buffers where the SPIR-V declares a buffer image
 * (a `usamplerBuffer`, read with texelFetch). The first
 * call for a (variant, constants) creates it under the context's lock; later calls find it in the
 * variant's table without a lock, a string or an allocation. Pipelines live as long as the context. */
vkslm_status vkslm_vk_kernel(vkslm_vk *vk, vkslm_shader_id shader, uint32_t n_bindings, uint32_t push_size,
                             const uint32_t *spec, uint32_t n_spec, const vkslm_pipeline **out);
/* Pipelines the context has made so far (tests: resolution at model load). */
uint32_t vkslm_vk_pipeline_count(vkslm_vk *vk);
/* The same by variant name (tests and tools; VKSLM_ERR_UNSUPPORTED for an unknown name). */
vkslm_status vkslm_vk_pipeline(vkslm_vk *vk, const char *variant, uint32_t n_bindings, uint32_t push_size,
                               const uint32_t *spec, uint32_t n_spec, const vkslm_pipeline **out);

/* ---- command recording ----------------------------------------------------------------------------- */
typedef struct vkslm_cmd vkslm_cmd;

/* One buffer binding of a dispatch: range must be <= vkslm_vk_max_range(); offset aligned to
 * min_storage_offset_align (vkslm_vk_bind computes both). texel: bound as a uniform texel buffer of 16-byte
 * texels (VK_FORMAT_R32G32B32A32_UINT) through a view the recording makes, for a binding the pipeline
 * declares so (vkslm_vk_bind_texels computes offset and range for it). */
typedef struct vkslm_binding {
    VkBuffer buffer;
    VkDeviceSize offset, range;
    int write;
    int texel;
} vkslm_binding;

/* Makes a binding for bytes [byte_off, byte_off + size) of buf: aligns the offset down and returns in
 * *skip the bytes between the bound offset and byte_off (shaders add skip / element size). Fails with
 * VKSLM_ERR_LIMIT if the range exceeds the bindable maximum: callers split larger tensors. */
vkslm_status vkslm_vk_bind(const vkslm_vk *vk, const vkslm_buf *buf, uint64_t byte_off, uint64_t size, int write,
                           vkslm_binding *out, uint64_t *skip);
/* The same as a read-only uniform texel buffer of 16-byte texels (needs vkslm_vk_get_enabled()->texel_buffers):
 * the offset aligned down to the texel offset alignment and 16 bytes, the range rounded up to whole texels
 * (inside the allocation's padding). Texel t of the binding holds bytes [16 t, 16 t + 16). */
vkslm_status vkslm_vk_bind_texels(const vkslm_vk *vk, const vkslm_buf *buf, uint64_t byte_off, uint64_t size,
                                  vkslm_binding *out, uint64_t *skip);

vkslm_status vkslm_cmd_create(vkslm_vk *vk, vkslm_cmd **out);
/* A recording that records nothing: dispatches are checked and dropped, copies, fills and updates ignored,
 * bindings not made (buffers may be placeholders with a size and no VkBuffer), and submitting does nothing.
 * Recording a step into it resolves the pipelines the step needs (engine/model/graph.c at model load). */
vkslm_status vkslm_cmd_create_dry(vkslm_vk *vk, vkslm_cmd **out);
int vkslm_cmd_is_dry(const vkslm_cmd *c);
void vkslm_cmd_destroy(vkslm_cmd *c);
vkslm_status vkslm_cmd_begin(vkslm_cmd *c);
/* Records a dispatch; inserts a buffer barrier first when it reads or writes what an earlier dispatch
 * of this recording wrote (or writes what one read). `label` names it in the profile. */
vkslm_status vkslm_cmd_dispatch(vkslm_cmd *c, const vkslm_pipeline *p, const vkslm_binding *bindings,
                                uint32_t n_bindings, const void *push, uint32_t gx, uint32_t gy, uint32_t gz,
                                const char *label);
vkslm_status vkslm_cmd_copy(vkslm_cmd *c, const vkslm_buf *src, uint64_t src_off, const vkslm_buf *dst,
                            uint64_t dst_off, uint64_t size);
vkslm_status vkslm_cmd_fill(vkslm_cmd *c, const vkslm_buf *dst, uint64_t off, uint64_t size, uint32_t word);
/* Writes `size` bytes (a multiple of 4, at most 65536) of host data into dst at record time (inline in
 * the command buffer: no staging, no extra submit). */
vkslm_status vkslm_cmd_update(vkslm_cmd *c, const vkslm_buf *dst, uint64_t off, const void *data, uint64_t size);
/* Ends, submits once, waits on one fence. */
vkslm_status vkslm_cmd_submit_wait(vkslm_cmd *c);
vkslm_vk *vkslm_cmd_vk(const vkslm_cmd *c);

typedef struct vkslm_timing {
    const char *label;   /* the dispatch's label */
    double gpu_ms;       /* from the end of the previous command to the end of this one */
    double bytes, flops; /* the cost given to vkslm_cmd_cost before this dispatch (0 on the op's others) */
} vkslm_timing;
/* The bytes moved and floating-point operations done by the op whose first dispatch comes next (for the
 * profile's GB/s and GFLOP/s); the ops report their own (engine/ops/op.c). */
void vkslm_cmd_cost(vkslm_cmd *c, double bytes, double flops);
/* Per-dispatch GPU times of the last submitted recording (empty unless the context profiles). */
uint32_t vkslm_cmd_timings(const vkslm_cmd *c, const vkslm_timing **out);
/* Number of barriers recorded in the current/last recording (for tests). */
uint32_t vkslm_cmd_barrier_count(const vkslm_cmd *c);
#endif
