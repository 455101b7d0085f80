/* GGUF v3 writer. Metadata and tensor infos are collected in memory (they are small); tensor data is
 * then streamed to the file in tensor order, so a model is never held whole in memory:
 *
 *     vkslm_gguf_writer *w;
 *     vkslm_gguf_writer_open("out.gguf", 32, &w);
 *     vkslm_gguf_write_str(w, "general.architecture", "llama");
 *     vkslm_gguf_writer_add_tensor(w, "token_embd.weight", VKSLM_TYPE_Q4_0, 2, ne);
 *     vkslm_gguf_writer_begin_data(w);          header, metadata, tensor infos, padding
 *     vkslm_gguf_writer_write(w, bytes, n);      any number of calls per tensor, in tensor order
 *     vkslm_gguf_writer_close(w);               checks every tensor is complete; frees w
 *
 * Tensor data offsets are aligned to `alignment`; the caller writes the general.alignment key (GGUF
 * readers assume 32 without it). Every call returns a status;
 * after the first failure the writer refuses further calls with that status. vkslm_gguf_writer_abort
 * frees the writer and removes the partial file. */
#ifndef VKSLM_LOADERS_GGUF_WRITE_H
#define VKSLM_LOADERS_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "loaders/gguf.h"

typedef struct vkslm_gguf_writer vkslm_gguf_writer;

vkslm_status vkslm_gguf_writer_open(const char *path, uint32_t alignment, vkslm_gguf_writer **out);

/* ---- metadata (before begin_data); keys must be unique ---------------------------------------- */
vkslm_status vkslm_gguf_write_u8(vkslm_gguf_writer *w, const char *key, uint8_t v);
vkslm_status vkslm_gguf_write_i8(vkslm_gguf_writer *w, const char *key, int8_t v);
vkslm_status vkslm_gguf_write_u16(vkslm_gguf_writer *w, const char *key, uint16_t v);
vkslm_status vkslm_gguf_write_i16(vkslm_gguf_writer *w, const char *key, int16_t v);
vkslm_status vkslm_gguf_write_u32(vkslm_gguf_writer *w, const char *key, uint32_t v);
vkslm_status vkslm_gguf_write_i32(vkslm_gguf_writer *w, const char *key, int32_t v);
vkslm_status vkslm_gguf_write_u64(vkslm_gguf_writer *w, const char *key, uint64_t v);
vkslm_status vkslm_gguf_write_i64(vkslm_gguf_writer *w, const char *key, int64_t v);
vkslm_status vkslm_gguf_write_f32(vkslm_gguf_writer *w, const char *key, float v);
vkslm_status vkslm_gguf_write_f64(vkslm_gguf_writer *w, const char *key, double v);
vkslm_status vkslm_gguf_write_bool(vkslm_gguf_writer *w, const char *key, int v);
vkslm_status vkslm_gguf_write_str(vkslm_gguf_writer *w, const char *key, const char *v);
vkslm_status vkslm_gguf_write_strn(vkslm_gguf_writer *w, const char *key, const char *v, uint64_t len);
/* A numeric array: n elements of elem_type (any scalar type but STRING), little-endian, at data. */
vkslm_status vkslm_gguf_write_arr(vkslm_gguf_writer *w, const char *key, vkslm_gguf_vtype elem_type,
                                  const void *data, uint64_t n);
/* A string array of n NUL-terminated strings; lens may be NULL (then strlen is used). */
vkslm_status vkslm_gguf_write_arr_str(vkslm_gguf_writer *w, const char *key, const char *const *strs,
                                      const uint64_t *lens, uint64_t n);
/* Copies key/value number i of an open GGUF file, whatever its type. */
vkslm_status vkslm_gguf_writer_copy_kv(vkslm_gguf_writer *w, const vkslm_gguf *g, uint64_t i);

/* ---- tensors ---------------------------------------------------------------------------------- */
/* Declares the next tensor (before begin_data): ne[0] fastest, n_dims 1..4, names unique. */
vkslm_status vkslm_gguf_writer_add_tensor(vkslm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                          const uint64_t *ne);
/* Bytes of tensor i as declared. */
uint64_t vkslm_gguf_writer_tensor_bytes(const vkslm_gguf_writer *w, uint64_t i);
vkslm_status vkslm_gguf_writer_begin_data(vkslm_gguf_writer *w);
/* Appends n bytes of data: to the current tensor, then the next (padding is inserted between). */
vkslm_status vkslm_gguf_writer_write(vkslm_gguf_writer *w, const void *data, size_t n);
/* Finishes the file; VKSLM_ERR_INVALID_ARG if a tensor is incomplete (the file is then removed).
 * Always frees w. */
vkslm_status vkslm_gguf_writer_close(vkslm_gguf_writer *w);
void vkslm_gguf_writer_abort(vkslm_gguf_writer *w);
#endif
