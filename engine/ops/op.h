/* Recording an op: the one path from an op's declaration to its dispatches.
 *
 * An op (engine/ops/X.c) declares what it reads and writes, how the work splits, its push constants and
 * its cost, and calls vkslm_op_record(), which checks the tensors, resolves the kernel, splits the work
 * so that every binding fits the bindable storage range (maxStorageBufferRange, or the lower
 * VKSLM_MAX_STORAGE_RANGE) and every group count the device's limits, binds, patches the push constants
 * of each piece and dispatches.
 *
 * The work is a grid of units along up to two split axes (n0 x n1 units; axis 1 is the inner one). An
 * argument binds, for a piece of m0 x m1 units starting at unit (i0, i1), the bytes
 *     [at + i0 * step[0] + i1 * step[1],  + (m0 - 1) * step[0] + (m1 - 1) * step[1] + size)
 * of its tensor (from the tensor's offset); a step of 0 binds the same bytes for every unit along that
 * axis. The shader finds the argument at element `skip / unit` of its binding (vkslm_vk_bind aligns the
 * start down), which vkslm_op_record writes into the push-constant field `off_at` names. */
#ifndef VKSLM_OPS_OP_H
#define VKSLM_OPS_OP_H

#include <stddef.h>

#include "engine/ops/tensor.h"
#include "engine/util/error.h"

#define VKSLM_OP_MAX_ARGS 8
#define VKSLM_OP_MAX_PUSH 128
/* Where vkslm_op_record writes a uint32 into the push constants: field `field` of push struct `type`.
 * (Stored as offset + 1, so that a field left out of a declaration, 0, means "nowhere".) */
#define VKSLM_OP_PUSH(type, field) ((int32_t)offsetof(type, field) + 1)

/* Accepted tensor types: a mask of VKSLM_OP_T(type)s. */
#define VKSLM_OP_T(type) (1u << (type))
#define VKSLM_OP_F32 VKSLM_OP_T(VKSLM_TYPE_F32)
#define VKSLM_OP_F16 VKSLM_OP_T(VKSLM_TYPE_F16)
#define VKSLM_OP_I32 VKSLM_OP_T(VKSLM_TYPE_I32)

typedef struct vkslm_op_arg {
    const char *name;      /* in messages; NULL ends the list */
    const vkslm_tensor *t; /* the tensor */
    int optional;          /* t may be NULL: the binding then repeats the first present argument of its kind
                            * (storage or texel), read-only (unread by the shader) */
    int write;
    int texel;             /* bound as a uniform texel buffer of 16-byte texels (vkslm_vk_bind_texels: the op
                            * checked vkslm_vk_get_enabled()->texel_buffers); read-only */
    uint32_t types;        /* accepted types (a mask), 0: any (the op checked) */
    uint32_t align;        /* the start must be a multiple of this many bytes (0: unit) */
    uint32_t unit;         /* bytes per element of the shader's index into the binding (0: 4) */
    int32_t off_at;        /* VKSLM_OP_PUSH of the uint32 start in the binding (skip / unit), or 0 */
    uint64_t at;           /* bytes from the tensor's offset to unit (0, 0) */
    uint64_t step[2];      /* bytes between consecutive units of axis 0 and axis 1 */
    uint64_t size;         /* bytes of one unit */
} vkslm_op_arg;

typedef struct vkslm_op_axis {
    uint64_t n;            /* units (0 counts as 1) */
    uint64_t multiple;     /* every piece but the last holds a multiple of this many units (0: 1) */
    int whole;             /* and must: a range that holds no multiple fails the op (weights in tiles) */
    uint64_t max;          /* at most this many units per piece (0: no limit of the op's own) */
    int32_t count_at;      /* VKSLM_OP_PUSH of the piece's unit count (uint32), or 0 */
    int32_t first_at;      /* VKSLM_OP_PUSH of the piece's first unit (uint32), or 0 */
} vkslm_op_axis;

/* Workgroups along one dimension: ceil(per * (m0 if axes & 1) * (m1 if axes & 2) / div) for a piece of
 * m0 x m1 units; with axes 0 it is one workgroup. */
typedef struct vkslm_op_grid {
    uint64_t per;          /* invocations (or any quantity) per unit (0: 1) */
    uint64_t div;          /* of those per workgroup (0: 1) */
    uint32_t axes;
} vkslm_op_grid;

typedef struct vkslm_op {
    const char *name;      /* in messages and the profile (a string literal) */
    vkslm_shader_id shader;
    const uint32_t *spec;  /* specialization constants */
    uint32_t n_spec;
    vkslm_op_arg arg[VKSLM_OP_MAX_ARGS];
    vkslm_op_axis axis[2];
    vkslm_op_grid grid[3];
    const void *push;      /* the push constants every piece starts from */
    uint32_t push_size;
    double bytes, flops;   /* the op's cost for the profile: bytes moved and floating-point operations */
} vkslm_op;

/* Records op as one or more dispatches. */
vkslm_status vkslm_op_record(vkslm_cmd *c, const vkslm_op *op);

/* Units one binding holds: the largest n with (n - 1) * step + size <= the bindable range less the
 * alignment slack; 0 when size alone does not fit, UINT64_MAX when step is 0 and it does. */
uint64_t vkslm_op_fit(const vkslm_vk *vk, uint64_t step, uint64_t size);

/* Dimension i of t: a zero in ne counts as 1. */
static inline uint64_t vkslm_dim(const vkslm_tensor *t, int i) { return t->ne[i] ? t->ne[i] : 1; }

/* Fails (VKSLM_ERR_INVALID_ARG) unless every one of the n tensors is present (op reads their shapes
 * before vkslm_op_record checks the rest). */
vkslm_status vkslm_op_present(const char *op, const vkslm_tensor *const *t, int n);
#define VKSLM_OP_PRESENT(op, ...)                                                                                  \
    vkslm_op_present(op, (const vkslm_tensor *const[]){__VA_ARGS__},                                               \
                     (int)(sizeof((const vkslm_tensor *const[]){__VA_ARGS__}) / sizeof(const vkslm_tensor *)))

/* The check vkslm_op_record makes of its arguments, for an op that must check a tensor before it plans:
 * t is present, of one of `types` (a mask), starts on a multiple of its element size, has at least
 * n_elems elements and n_elems elements from its offset fit its buffer. */
vkslm_status vkslm_op_check(const char *op, const char *which, const vkslm_tensor *t, uint32_t types,
                            uint64_t n_elems);

/* Fails (VKSLM_ERR_FEATURE_MISSING) unless the device has the subgroup operations reductions use. */
vkslm_status vkslm_op_need_subgroups(const vkslm_vk *vk, const char *op);

/* The weight types the weight kernels (matmul, get_rows) decode: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS. */
int vkslm_weights_supported(uint32_t type);
/* True when w is a plain float matrix whose rows are no multiple of 32 elements (tiny models): the
 * blocked kernels cannot take it, the *_plain kernels do. */
int vkslm_weights_need_plain(const vkslm_tensor *w);
/* Checks a weight matrix for the blocked kernels (a supported type, rows a multiple of 32 and of the block
 * size) and sets *row_bytes. */
vkslm_status vkslm_weights_check(const char *op, const vkslm_tensor *w, uint64_t *row_bytes);
/* Sets *tile to w's rows per tile (1: GGUF's rows); refuses a tiled weight that is no whole tiles of rows of
 * 32-element units (engine/model/weight_tiles.h). */
vkslm_status vkslm_weights_tile(const char *op, const vkslm_tensor *w, uint32_t *tile);
#endif
