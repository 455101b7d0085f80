/* GGUF v3 writer (see gguf_write.h): metadata and tensor infos serialised into memory buffers as they
 * are added, then written in one go by begin_data; tensor bytes are streamed after that. */
#include "loaders/gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "loaders/ggml_types.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_VERSION 3u

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint64_t size;   /* bytes of data */
    uint64_t offset; /* from the start of the data section */
} wtensor;

struct vkslm_gguf_writer {
    FILE *f;
    char *path;
    uint32_t alignment;
    vkslm_status st; /* first failure, sticky */
    bytes meta;      /* serialised key/value pairs */
    bytes infos;     /* serialised tensor infos */
    char **keys;
    uint64_t n_kv;
    wtensor *tensors;
    uint64_t n_tensors;
    uint64_t data_size; /* bytes of the data section so far declared (aligned ends) */
    int writing;        /* begin_data done */
    uint64_t cur;       /* tensor being written */
    uint64_t cur_done;  /* its bytes written so far */
};

static vkslm_status fail(vkslm_gguf_writer *w, vkslm_status st, const char *what) {
    if (w->st == VKSLM_OK)
        w->st = vkslm_fail(st, "gguf write %s: %s", w->path, what);
    return w->st;
}

static int bytes_put(bytes *b, const void *p, size_t n) {
    if (n > SIZE_MAX - b->len)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *np = VKSLM_REALLOC(b->p, cap);
        if (!np)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 1;
}
/* GGUF is little-endian; so are all the hosts vkslm builds for (x86-64, arm64). */
static int put_u32(bytes *b, uint32_t v) { return bytes_put(b, &v, 4); }
static int put_u64(bytes *b, uint64_t v) { return bytes_put(b, &v, 8); }
static int put_str(bytes *b, const char *s, uint64_t n) { return put_u64(b, n) && bytes_put(b, s, (size_t)n); }

vkslm_status vkslm_gguf_writer_open(const char *path, uint32_t alignment, vkslm_gguf_writer **out) {
    if (!path || !out || alignment == 0 || (alignment & (alignment - 1)) != 0)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: bad arguments (alignment %u must be a power of two)",
                          alignment);
    *out = NULL;
    vkslm_gguf_writer *w = VKSLM_CALLOC(1, sizeof *w);
    char *p = VKSLM_MALLOC(strlen(path) + 1);
    if (!w || !p) {
        VKSLM_FREE(w);
        VKSLM_FREE(p);
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    strcpy(p, path);
    w->path = p;
    w->alignment = alignment;
    w->f = fopen(path, "wb");
    if (!w->f) {
        vkslm_status st = vkslm_fail(VKSLM_ERR_IO, "gguf write: cannot create %s: %s", path, strerror(errno));
        VKSLM_FREE(p);
        VKSLM_FREE(w);
        return st;
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    *out = w;
    return VKSLM_OK;
}

static void writer_free(vkslm_gguf_writer *w) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        VKSLM_FREE(w->keys[i]);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        VKSLM_FREE(w->tensors[i].name);
    VKSLM_FREE(w->keys);
    VKSLM_FREE(w->tensors);
    VKSLM_FREE(w->meta.p);
    VKSLM_FREE(w->infos.p);
    VKSLM_FREE(w->path);
    VKSLM_FREE(w);
}

void vkslm_gguf_writer_abort(vkslm_gguf_writer *w) {
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    remove(w->path);
    writer_free(w);
}

/* ---- metadata --------------------------------------------------------------------------------- */
static size_t scalar_size(vkslm_gguf_vtype t) {
    switch (t) {
    case VKSLM_GGUF_UINT8: case VKSLM_GGUF_INT8: case VKSLM_GGUF_BOOL: return 1;
    case VKSLM_GGUF_UINT16: case VKSLM_GGUF_INT16: return 2;
    case VKSLM_GGUF_UINT32: case VKSLM_GGUF_INT32: case VKSLM_GGUF_FLOAT32: return 4;
    case VKSLM_GGUF_UINT64: case VKSLM_GGUF_INT64: case VKSLM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Checks the writer state and the key, records the key and writes it with its type. */
static vkslm_status begin_kv(vkslm_gguf_writer *w, const char *key, vkslm_gguf_vtype type) {
    if (!w)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: NULL writer");
    if (w->st != VKSLM_OK)
        return w->st;
    if (w->writing)
        return fail(w, VKSLM_ERR_INVALID_ARG, "metadata added after begin_data");
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 65535)
        return fail(w, VKSLM_ERR_INVALID_ARG, "empty or overlong key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write %s: duplicate key '%s'", w->path, key);
            return w->st = VKSLM_ERR_INVALID_ARG;
        }
    char **nk = VKSLM_REALLOC(w->keys, (size_t)(w->n_kv + 1) * sizeof *nk);
    char *k = VKSLM_MALLOC(n + 1);
    if (nk)
        w->keys = nk;
    if (!nk || !k) {
        VKSLM_FREE(k);
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    memcpy(k, key, n + 1);
    w->keys[w->n_kv++] = k;
    if (!put_str(&w->meta, key, n) || !put_u32(&w->meta, (uint32_t)type))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKSLM_OK;
}

static vkslm_status put_scalar(vkslm_gguf_writer *w, const char *key, vkslm_gguf_vtype type, const void *v) {
    VKSLM_TRY(begin_kv(w, key, type));
    if (!bytes_put(&w->meta, v, scalar_size(type)))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_write_u8(vkslm_gguf_writer *w, const char *k, uint8_t v) { return put_scalar(w, k, VKSLM_GGUF_UINT8, &v); }
vkslm_status vkslm_gguf_write_i8(vkslm_gguf_writer *w, const char *k, int8_t v) { return put_scalar(w, k, VKSLM_GGUF_INT8, &v); }
vkslm_status vkslm_gguf_write_u16(vkslm_gguf_writer *w, const char *k, uint16_t v) { return put_scalar(w, k, VKSLM_GGUF_UINT16, &v); }
vkslm_status vkslm_gguf_write_i16(vkslm_gguf_writer *w, const char *k, int16_t v) { return put_scalar(w, k, VKSLM_GGUF_INT16, &v); }
vkslm_status vkslm_gguf_write_u32(vkslm_gguf_writer *w, const char *k, uint32_t v) { return put_scalar(w, k, VKSLM_GGUF_UINT32, &v); }
vkslm_status vkslm_gguf_write_i32(vkslm_gguf_writer *w, const char *k, int32_t v) { return put_scalar(w, k, VKSLM_GGUF_INT32, &v); }
vkslm_status vkslm_gguf_write_u64(vkslm_gguf_writer *w, const char *k, uint64_t v) { return put_scalar(w, k, VKSLM_GGUF_UINT64, &v); }
vkslm_status vkslm_gguf_write_i64(vkslm_gguf_writer *w, const char *k, int64_t v) { return put_scalar(w, k, VKSLM_GGUF_INT64, &v); }
vkslm_status vkslm_gguf_write_f32(vkslm_gguf_writer *w, const char *k, float v) { return put_scalar(w, k, VKSLM_GGUF_FLOAT32, &v); }
vkslm_status vkslm_gguf_write_f64(vkslm_gguf_writer *w, const char *k, double v) { return put_scalar(w, k, VKSLM_GGUF_FLOAT64, &v); }
vkslm_status vkslm_gguf_write_bool(vkslm_gguf_writer *w, const char *k, int v) {
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, k, VKSLM_GGUF_BOOL, &b);
}

vkslm_status vkslm_gguf_write_strn(vkslm_gguf_writer *w, const char *key, const char *v, uint64_t len) {
    VKSLM_TRY(begin_kv(w, key, VKSLM_GGUF_STRING));
    if (!v && len)
        return fail(w, VKSLM_ERR_INVALID_ARG, "NULL string");
    if (!put_str(&w->meta, v, len))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_write_str(vkslm_gguf_writer *w, const char *key, const char *v) {
    return vkslm_gguf_write_strn(w, key, v, v ? strlen(v) : 0);
}

vkslm_status vkslm_gguf_write_arr(vkslm_gguf_writer *w, const char *key, vkslm_gguf_vtype elem_type,
                                  const void *data, uint64_t n) {
    size_t es = scalar_size(elem_type);
    VKSLM_TRY(begin_kv(w, key, VKSLM_GGUF_ARRAY));
    if (es == 0 || (!data && n))
        return fail(w, VKSLM_ERR_INVALID_ARG, "numeric array of a non-numeric type or without data");
    if (n > SIZE_MAX / es || !put_u32(&w->meta, (uint32_t)elem_type) || !put_u64(&w->meta, n) ||
        !bytes_put(&w->meta, data, (size_t)(n * es)))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_write_arr_str(vkslm_gguf_writer *w, const char *key, const char *const *strs,
                                      const uint64_t *lens, uint64_t n) {
    VKSLM_TRY(begin_kv(w, key, VKSLM_GGUF_ARRAY));
    if (!strs && n)
        return fail(w, VKSLM_ERR_INVALID_ARG, "string array without strings");
    if (!put_u32(&w->meta, VKSLM_GGUF_STRING) || !put_u64(&w->meta, n))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < n; i++) {
        const char *s = strs[i] ? strs[i] : "";
        if (!put_str(&w->meta, s, lens ? lens[i] : strlen(s)))
            return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_writer_copy_kv(vkslm_gguf_writer *w, const vkslm_gguf *g, uint64_t i) {
    if (!w || !g || i >= vkslm_gguf_kv_count(g))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: copy of a key that does not exist");
    vkslm_str k = vkslm_gguf_kv_key(g, i);
    char key[65536];
    if (k.len >= sizeof key)
        return fail(w, VKSLM_ERR_INVALID_ARG, "overlong key");
    memcpy(key, k.ptr, k.len);
    key[k.len] = 0;
    vkslm_gguf_vtype t = vkslm_gguf_kv_type(g, i);
    if (t == VKSLM_GGUF_STRING) {
        vkslm_str s;
        VKSLM_TRY(vkslm_gguf_kv_str(g, i, &s));
        return vkslm_gguf_write_strn(w, key, s.ptr, s.len);
    }
    if (t != VKSLM_GGUF_ARRAY) {
        /* scalars: the raw bytes, read through the widest accessor and narrowed back */
        uint8_t raw[8] = {0};
        if (t == VKSLM_GGUF_FLOAT32 || t == VKSLM_GGUF_FLOAT64) {
            double d;
            VKSLM_TRY(vkslm_gguf_kv_f64(g, i, &d));
            float f = (float)d;
            memcpy(raw, t == VKSLM_GGUF_FLOAT32 ? (void *)&f : (void *)&d, scalar_size(t));
        } else if (t == VKSLM_GGUF_BOOL) {
            int b;
            VKSLM_TRY(vkslm_gguf_kv_bool(g, i, &b));
            raw[0] = (uint8_t)(b != 0);
        } else if (t == VKSLM_GGUF_INT8 || t == VKSLM_GGUF_INT16 || t == VKSLM_GGUF_INT32 || t == VKSLM_GGUF_INT64) {
            int64_t v;
            VKSLM_TRY(vkslm_gguf_kv_i64(g, i, &v));
            memcpy(raw, &v, 8); /* little-endian: the low bytes are the narrow value */
        } else {
            uint64_t v;
            VKSLM_TRY(vkslm_gguf_kv_u64(g, i, &v));
            memcpy(raw, &v, 8);
        }
        return put_scalar(w, key, t, raw);
    }
    vkslm_gguf_vtype et = vkslm_gguf_kv_arr_type(g, i);
    uint64_t n = vkslm_gguf_kv_arr_len(g, i);
    if (et != VKSLM_GGUF_STRING)
        return vkslm_gguf_write_arr(w, key, et, vkslm_gguf_arr_data(g, i), n);
    VKSLM_TRY(begin_kv(w, key, VKSLM_GGUF_ARRAY));
    if (!put_u32(&w->meta, VKSLM_GGUF_STRING) || !put_u64(&w->meta, n))
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (uint64_t j = 0; j < n; j++) {
        vkslm_str s;
        if (vkslm_gguf_arr_str(g, i, j, &s) != VKSLM_OK)
            return fail(w, VKSLM_ERR_FORMAT, "unreadable string in a copied array");
        if (!put_str(&w->meta, s.ptr, s.len))
            return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    return VKSLM_OK;
}

/* ---- tensors ---------------------------------------------------------------------------------- */
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

vkslm_status vkslm_gguf_writer_add_tensor(vkslm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                          const uint64_t *ne) {
    if (!w)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: NULL writer");
    if (w->st != VKSLM_OK)
        return w->st;
    if (w->writing)
        return fail(w, VKSLM_ERR_INVALID_ARG, "tensor added after begin_data");
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 65535 || n_dims < 1 || n_dims > 4 || !ne)
        return fail(w, VKSLM_ERR_INVALID_ARG, "tensor without a name or with 0 or more than 4 dimensions");
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) {
            vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write %s: duplicate tensor '%s'", w->path, name);
            return w->st = VKSLM_ERR_INVALID_ARG;
        }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || elems > UINT64_MAX / ne[d])
            return fail(w, VKSLM_ERR_INVALID_ARG, "tensor dimension zero or overflowing");
        elems *= ne[d];
    }
    uint64_t row = vkslm_type_row_bytes(type, ne[0]);
    if (row == 0) {
        vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write %s: tensor '%s': rows of %llu do not fit type %u", w->path, name,
                   (unsigned long long)ne[0], type);
        return w->st = VKSLM_ERR_INVALID_ARG;
    }
    uint64_t size = row * (elems / ne[0]);
    wtensor *nt = VKSLM_REALLOC(w->tensors, (size_t)(w->n_tensors + 1) * sizeof *nt);
    char *nm = VKSLM_MALLOC(n + 1);
    if (nt)
        w->tensors = nt;
    if (!nt || !nm) {
        VKSLM_FREE(nm);
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    memcpy(nm, name, n + 1);
    wtensor *t = &w->tensors[w->n_tensors++];
    *t = (wtensor){nm, type, size, w->data_size};
    w->data_size = align_up(w->data_size + size, w->alignment);
    int ok = put_str(&w->infos, name, n) && put_u32(&w->infos, n_dims);
    for (uint32_t d = 0; d < n_dims && ok; d++)
        ok = put_u64(&w->infos, ne[d]);
    ok = ok && put_u32(&w->infos, type) && put_u64(&w->infos, t->offset);
    return ok ? VKSLM_OK : fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
}

uint64_t vkslm_gguf_writer_tensor_bytes(const vkslm_gguf_writer *w, uint64_t i) {
    return w && i < w->n_tensors ? w->tensors[i].size : 0;
}

static vkslm_status put_file(vkslm_gguf_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n)
        return fail(w, VKSLM_ERR_IO, strerror(errno));
    return VKSLM_OK;
}

static vkslm_status pad_file(vkslm_gguf_writer *w, uint64_t pos) {
    static const uint8_t zeros[256];
    uint64_t pad = align_up(pos, w->alignment) - pos;
    while (pad > 0) {
        size_t n = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        VKSLM_TRY(put_file(w, zeros, n));
        pad -= n;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_writer_begin_data(vkslm_gguf_writer *w) {
    if (!w)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: NULL writer");
    if (w->st != VKSLM_OK)
        return w->st;
    if (w->writing)
        return fail(w, VKSLM_ERR_INVALID_ARG, "begin_data called twice");
    bytes head = {0};
    int ok = put_u32(&head, GGUF_MAGIC) && put_u32(&head, GGUF_VERSION) && put_u64(&head, w->n_tensors) &&
             put_u64(&head, w->n_kv);
    if (!ok) {
        VKSLM_FREE(head.p);
        return fail(w, VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    vkslm_status st = put_file(w, head.p, head.len);
    VKSLM_FREE(head.p);
    VKSLM_TRY(st);
    VKSLM_TRY(put_file(w, w->meta.p, w->meta.len));
    VKSLM_TRY(put_file(w, w->infos.p, w->infos.len));
    VKSLM_TRY(pad_file(w, 24 + (uint64_t)w->meta.len + w->infos.len));
    w->writing = 1;
    w->cur = 0;
    w->cur_done = 0;
    return VKSLM_OK;
}

/* Moves past tensors that are complete (writing the padding after each). */
static vkslm_status advance(vkslm_gguf_writer *w) {
    while (w->cur < w->n_tensors && w->cur_done == w->tensors[w->cur].size) {
        VKSLM_TRY(pad_file(w, w->tensors[w->cur].offset + w->tensors[w->cur].size));
        w->cur++;
        w->cur_done = 0;
    }
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_writer_write(vkslm_gguf_writer *w, const void *data, size_t n) {
    if (!w)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: NULL writer");
    if (w->st != VKSLM_OK)
        return w->st;
    if (!w->writing)
        return fail(w, VKSLM_ERR_INVALID_ARG, "tensor data written before begin_data");
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_tensors)
            return fail(w, VKSLM_ERR_INVALID_ARG, "more tensor data than the tensors declared");
        uint64_t room = w->tensors[w->cur].size - w->cur_done;
        size_t k = n < room ? n : (size_t)room;
        VKSLM_TRY(put_file(w, p, k));
        p += k;
        n -= k;
        w->cur_done += k;
        VKSLM_TRY(advance(w));
    }
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_writer_close(vkslm_gguf_writer *w) {
    if (!w)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write: NULL writer");
    vkslm_status st = w->st;
    if (st == VKSLM_OK && !w->writing)
        st = vkslm_gguf_writer_begin_data(w);
    if (st == VKSLM_OK)
        st = advance(w); /* zero-size tail: nothing, but keeps the state consistent */
    if (st == VKSLM_OK && w->cur < w->n_tensors)
        st = vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf write %s: tensor '%s' is incomplete (%llu of %llu bytes)", w->path,
                        w->tensors[w->cur].name, (unsigned long long)w->cur_done,
                        (unsigned long long)w->tensors[w->cur].size);
    int closed = fclose(w->f);
    w->f = NULL;
    if (st == VKSLM_OK && closed != 0)
        st = vkslm_fail(VKSLM_ERR_IO, "gguf write %s: %s", w->path, strerror(errno));
    if (st != VKSLM_OK)
        remove(w->path);
    writer_free(w);
    return st;
}
