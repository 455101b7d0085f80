/* GGUF v2/v3 reader. The file is untrusted: every count, length, offset and dimension is checked
 * against the bytes that remain and against overflow; a bad file gets VKSLM_ERR_FORMAT with a message
 * naming what is wrong and the byte offset (vkslm_last_error()). The file is mapped (or borrowed, for
 * memory input), never copied whole; strings are returned as (pointer, length) views into it.
 * Rejected (VKSLM_ERR_FORMAT): bad magic or version (v2 and v3 are read), truncation anywhere, string
 * and array lengths past the end, counts that cannot fit in the bytes left, unknown value types,
 * nested arrays, bools other than 0/1, empty names, names with NUL bytes or over 65535 bytes, duplicate
 * keys or tensor names, n_dims outside 1..4, zero, oversized or overflowing dims, unknown tensor types,
 * rows not a multiple of the type's block, general.alignment not a nonzero power of two, misaligned,
 * overlapping or out-of-file tensor data. Types GGUF defines but vkslm cannot compute (Q8_K, IQ2_XXS,
 * I32, ...) parse; vkslm_type_info(type)->supported says so and the model loader rejects them.
 * Host allocations are linear in the file size (at most a few bytes per byte of file).
 * A handle is read-only after opening, but find_key/find_tensor use stb_ds lookups that write a
 * scratch field in the map: do not look names up in one handle from several threads at once. */
#ifndef VKSLM_LOADERS_GGUF_H
#define VKSLM_LOADERS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

typedef enum vkslm_gguf_vtype {
    VKSLM_GGUF_UINT8 = 0,
    VKSLM_GGUF_INT8 = 1,
    VKSLM_GGUF_UINT16 = 2,
    VKSLM_GGUF_INT16 = 3,
    VKSLM_GGUF_UINT32 = 4,
    VKSLM_GGUF_INT32 = 5,
    VKSLM_GGUF_FLOAT32 = 6,
    VKSLM_GGUF_BOOL = 7,
    VKSLM_GGUF_STRING = 8,
    VKSLM_GGUF_ARRAY = 9,
    VKSLM_GGUF_UINT64 = 10,
    VKSLM_GGUF_INT64 = 11,
    VKSLM_GGUF_FLOAT64 = 12
} vkslm_gguf_vtype;

typedef struct vkslm_gguf vkslm_gguf;

typedef struct vkslm_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} vkslm_str;

typedef struct vkslm_gguf_tensor {
    vkslm_str name;
    uint32_t type;      /* vkslm_ggml_type */
    uint32_t n_dims;    /* 1..4 */
    uint64_t ne[4];     /* elements per dimension, ne[0] fastest; unused dims are 1 */
    uint64_t n_elems;
    uint64_t offset;    /* from the start of the data section */
    uint64_t size;      /* bytes */
    const uint8_t *data;
} vkslm_gguf_tensor;

/* Opening. open_memory borrows `data` (it must outlive the handle); open_fd maps `length` bytes at
 * `offset` of an open file (Android assets: AAsset_openFileDescriptor); length 0 means to the end. */
vkslm_status vkslm_gguf_open_file(const char *path, vkslm_gguf **out);
vkslm_status vkslm_gguf_open_memory(const void *data, size_t size, vkslm_gguf **out);
vkslm_status vkslm_gguf_open_fd(int fd, uint64_t offset, uint64_t length, vkslm_gguf **out);
void vkslm_gguf_close(vkslm_gguf *g);

uint32_t vkslm_gguf_version(const vkslm_gguf *g);
uint64_t vkslm_gguf_alignment(const vkslm_gguf *g);
uint64_t vkslm_gguf_data_offset(const vkslm_gguf *g); /* byte offset of the data section */
uint64_t vkslm_gguf_file_size(const vkslm_gguf *g);

/* ---- metadata --------------------------------------------------------------------------------- */
uint64_t vkslm_gguf_kv_count(const vkslm_gguf *g);
int64_t vkslm_gguf_find_key(const vkslm_gguf *g, const char *key); /* index, or -1 */
vkslm_str vkslm_gguf_kv_key(const vkslm_gguf *g, uint64_t i);
vkslm_gguf_vtype vkslm_gguf_kv_type(const vkslm_gguf *g, uint64_t i);
/* For arrays: the element type and count (0 and VKSLM_GGUF_UINT8 for non-arrays). */
vkslm_gguf_vtype vkslm_gguf_kv_arr_type(const vkslm_gguf *g, uint64_t i);
uint64_t vkslm_gguf_kv_arr_len(const vkslm_gguf *g, uint64_t i);

/* Scalar values by index; integers of any width convert when the value fits, else they fail. */
vkslm_status vkslm_gguf_kv_u64(const vkslm_gguf *g, uint64_t i, uint64_t *out);
vkslm_status vkslm_gguf_kv_i64(const vkslm_gguf *g, uint64_t i, int64_t *out);
vkslm_status vkslm_gguf_kv_f64(const vkslm_gguf *g, uint64_t i, double *out); /* float or integer */
vkslm_status vkslm_gguf_kv_bool(const vkslm_gguf *g, uint64_t i, int *out);
vkslm_status vkslm_gguf_kv_str(const vkslm_gguf *g, uint64_t i, vkslm_str *out);

/* Array elements by index j; numeric elements convert as above. */
vkslm_status vkslm_gguf_arr_str(const vkslm_gguf *g, uint64_t i, uint64_t j, vkslm_str *out);
vkslm_status vkslm_gguf_arr_i64(const vkslm_gguf *g, uint64_t i, uint64_t j, int64_t *out);
vkslm_status vkslm_gguf_arr_f64(const vkslm_gguf *g, uint64_t i, uint64_t j, double *out);
/* Raw little-endian bytes of a numeric array (possibly unaligned: read with memcpy). */
const void *vkslm_gguf_arr_data(const vkslm_gguf *g, uint64_t i);

/* Keyed conveniences: VKSLM_ERR_FORMAT naming the key when it is missing or of the wrong type. */
vkslm_status vkslm_gguf_get_u32(const vkslm_gguf *g, const char *key, uint32_t *out);
vkslm_status vkslm_gguf_get_f32(const vkslm_gguf *g, const char *key, float *out);
vkslm_status vkslm_gguf_get_str(const vkslm_gguf *g, const char *key, vkslm_str *out);

/* ---- tensors ---------------------------------------------------------------------------------- */
uint64_t vkslm_gguf_tensor_count(const vkslm_gguf *g);
const vkslm_gguf_tensor *vkslm_gguf_tensor_at(const vkslm_gguf *g, uint64_t i);
const vkslm_gguf_tensor *vkslm_gguf_find_tensor(const vkslm_gguf *g, const char *name); /* or NULL */

/* ---- additions (not in the first interface draft) --------------------------------------------- */
/* "uint32", "string", ... ("unknown" for an id GGUF does not define). */
const char *vkslm_gguf_vtype_name(uint32_t type);
/* A bool-typed key; VKSLM_ERR_FORMAT naming the key when it is missing or of the wrong type. */
vkslm_status vkslm_gguf_get_bool(const vkslm_gguf *g, const char *key, int *out);

/* Compares a view with a C string. */
int vkslm_str_eq(vkslm_str s, const char *cstr);
#endif
