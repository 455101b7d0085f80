/* Private to loaders/gguf*.c: the parsed-file handle. gguf_parse.c fills it (every length checked),
 * gguf_access.c reads from it and trusts what the parser checked. */
#ifndef VKSLM_LOADERS_GGUF_INTERNAL_H
#define VKSLM_LOADERS_GGUF_INTERNAL_H

#include "loaders/gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

typedef struct gguf_kv {
    vkslm_str key;
    uint32_t type;       /* vkslm_gguf_vtype */
    uint32_t arr_type;   /* element type for arrays, else VKSLM_GGUF_UINT8 */
    uint64_t arr_len;    /* element count for arrays, else 0 */
    uint64_t val_off;    /* file offset of the scalar, of a string's length prefix, or of the first element */
    uint64_t *str_offs;  /* string arrays: file offset of each element's length prefix (arr_len entries) */
} gguf_kv;

typedef struct gguf_name_index {
    char *key;     /* NUL-terminated copy owned by the map (sh_new_strdup) */
    int64_t value; /* index into kv[] or tensors[] */
} gguf_name_index;

struct vkslm_gguf {
    const uint8_t *base; /* first byte of the GGUF image */
    uint64_t size;       /* bytes of the image */
    void *map;           /* mmap base to unmap (may precede base for open_fd), or NULL when borrowed */
    size_t map_len;

    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;

    uint64_t n_kv;
    gguf_kv *kv;
    gguf_name_index *kv_index; /* stb_ds string hash map */

    uint64_t n_tensors;
    vkslm_gguf_tensor *tensors;
    gguf_name_index *tensor_index;
};

/* Bytes of one scalar of a fixed-size value type; 0 for string, array and unknown types. */
uint32_t vkslm_gguf_vtype_size(uint32_t type);
/* Parses g->base[0, g->size) into g; on failure g's allocations may be partial (close frees them). */
vkslm_status vkslm_gguf_parse(vkslm_gguf *g);

#endif
