/* GGUF v2/v3 parser over an untrusted byte image. Layout (all little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 vtype, value },      string = u64 length + bytes (no NUL)
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   padding to general.alignment (default 32), then the data section; tensor offsets are relative to it.
 * Every read is checked against the bytes that remain before it happens, and every product against
 * overflow, so a hostile file gets VKSLM_ERR_FORMAT and one message "gguf: <what> at byte <n>: <why>".
 * Allocations are bounded by the file: each kv record, array element and tensor record occupies at
 * least 8 bytes of the file and costs at most a small constant number of bytes here.
 * Decisions: nested arrays, bool bytes other than 0/1, empty names, names with NUL bytes and names over
 * 65535 bytes are rejected; tensor types known by name but not computable (Q8_K, IQ2_XXS, I32, ...)
 * parse, so `vkslm info` can show them, and the model loader rejects them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"
#include "engine/util/stb_ds_names.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf_internal.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 65535u
#define GGUF_MIN_KV_BYTES 13u     /* u64 key length + u32 type + a 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 32u /* u64 name length + u32 n_dims + one u64 dim + u32 type + u64 offset */

typedef struct parser {
    vkslm_gguf *g;
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
    char what[400]; /* the item being read, for messages: "kv #3 'general.name'" */
    char *tmp;      /* NUL-terminated copy of a name for the hash maps (GGUF_MAX_NAME + 1 bytes) */
} parser;

uint32_t vkslm_gguf_vtype_size(uint32_t type) {
    switch (type) {
    case VKSLM_GGUF_UINT8: case VKSLM_GGUF_INT8: case VKSLM_GGUF_BOOL: return 1;
    case VKSLM_GGUF_UINT16: case VKSLM_GGUF_INT16: return 2;
    case VKSLM_GGUF_UINT32: case VKSLM_GGUF_INT32: case VKSLM_GGUF_FLOAT32: return 4;
    case VKSLM_GGUF_UINT64: case VKSLM_GGUF_INT64: case VKSLM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* A name made safe for a message: at most 64 bytes, non-printable bytes as \xNN. */
static void quote_name(vkslm_str s, char *buf, size_t cap) {
    size_t o = 0;
    uint64_t n = s.len < 64 ? s.len : 64;
    for (uint64_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (s.len > n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o < cap ? o : cap - 1] = '\0';
}

static vkslm_status perr(parser *ps, uint64_t at, const char *fmt, ...) VKSLM_PRINTF(3, 4);
static vkslm_status perr(parser *ps, uint64_t at, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return vkslm_fail(VKSLM_ERR_FORMAT, "gguf: %s at byte %llu: %s", ps->what, (unsigned long long)at, why);
}

static uint64_t remain(const parser *ps) { return ps->size - ps->pos; }

static vkslm_status need(parser *ps, uint64_t n, const char *field) {
    if (n > remain(ps))
        return perr(ps, ps->pos, "truncated: %s needs %llu bytes but only %llu remain", field,
                    (unsigned long long)n, (unsigned long long)remain(ps));
    return VKSLM_OK;
}

static vkslm_status rd_u32(parser *ps, uint32_t *v, const char *field) {
    VKSLM_TRY(need(ps, 4, field));
    memcpy(v, ps->p + ps->pos, 4);
    ps->pos += 4;
    return VKSLM_OK;
}

static vkslm_status rd_u64(parser *ps, uint64_t *v, const char *field) {
    VKSLM_TRY(need(ps, 8, field));
    memcpy(v, ps->p + ps->pos, 8);
    ps->pos += 8;
    return VKSLM_OK;
}

static vkslm_status rd_str(parser *ps, vkslm_str *s, const char *field) {
    uint64_t at = ps->pos, len;
    VKSLM_TRY(rd_u64(ps, &len, field));
    if (len > remain(ps))
        return perr(ps, at, "%s length %llu runs past the end of the file (%llu bytes remain)", field,
                    (unsigned long long)len, (unsigned long long)remain(ps));
    s->ptr = (const char *)ps->p + ps->pos;
    s->len = len;
    ps->pos += len;
    return VKSLM_OK;
}

/* Keys and tensor names: nonempty, at most GGUF_MAX_NAME bytes, no NUL (they are looked up by C string). */
static vkslm_status check_name(parser *ps, vkslm_str s, uint64_t at, const char *field) {
    if (s.len == 0)
        return perr(ps, at, "empty %s", field);
    if (s.len > GGUF_MAX_NAME)
        return perr(ps, at, "%s of %llu bytes is longer than %u", field, (unsigned long long)s.len, GGUF_MAX_NAME);
    if (memchr(s.ptr, '\0', (size_t)s.len))
        return perr(ps, at, "%s contains a NUL byte", field);
    memcpy(ps->tmp, s.ptr, (size_t)s.len);
    ps->tmp[s.len] = '\0';
    return VKSLM_OK;
}

static vkslm_status check_bools(parser *ps, uint64_t count) {
    for (uint64_t j = 0; j < count; j++)
        if (ps->p[ps->pos + j] > 1)
            return perr(ps, ps->pos + j, "bool value %u is neither 0 nor 1", ps->p[ps->pos + j]);
    return VKSLM_OK;
}

static vkslm_status parse_array(parser *ps, gguf_kv *kv) {
    uint64_t at = ps->pos, count;
    uint32_t et;
    VKSLM_TRY(rd_u32(ps, &et, "array element type"));
    if (et == VKSLM_GGUF_ARRAY)
        return perr(ps, at, "arrays of arrays are not supported");
    if (et != VKSLM_GGUF_STRING && vkslm_gguf_vtype_size(et) == 0)
        return perr(ps, at, "unknown array element type %u", et);
    at = ps->pos;
    VKSLM_TRY(rd_u64(ps, &count, "array length"));
    kv->arr_type = et;
    kv->arr_len = count;
    kv->val_off = ps->pos;
    if (et == VKSLM_GGUF_STRING) {
        if (count > remain(ps) / 8)
            return perr(ps, at, "array of %llu strings cannot fit in the %llu bytes that remain",
                        (unsigned long long)count, (unsigned long long)remain(ps));
        if (count) {
            kv->str_offs = VKSLM_MALLOC((size_t)count * sizeof *kv->str_offs);
            if (!kv->str_offs)
                return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory for %llu string offsets",
                                  (unsigned long long)count);
        }
        for (uint64_t j = 0; j < count; j++) {
            vkslm_str s;
            kv->str_offs[j] = ps->pos;
            VKSLM_TRY(rd_str(ps, &s, "string element"));
        }
        return VKSLM_OK;
    }
    uint32_t esz = vkslm_gguf_vtype_size(et);
    if (count > remain(ps) / esz)
        return perr(ps, at, "array of %llu elements of %u bytes runs past the end of the file (%llu bytes remain)",
                    (unsigned long long)count, esz, (unsigned long long)remain(ps));
    if (et == VKSLM_GGUF_BOOL)
        VKSLM_TRY(check_bools(ps, count));
    ps->pos += count * esz;
    return VKSLM_OK;
}

static vkslm_status parse_kv(parser *ps, uint64_t i) {
    vkslm_gguf *g = ps->g;
    gguf_kv *kv = &g->kv[i];
    uint64_t at = ps->pos;
    snprintf(ps->what, sizeof ps->what, "kv #%llu", (unsigned long long)i);
    VKSLM_TRY(rd_str(ps, &kv->key, "key"));
    VKSLM_TRY(check_name(ps, kv->key, at, "key"));
    char q[300];
    quote_name(kv->key, q, sizeof q);
    snprintf(ps->what, sizeof ps->what, "kv #%llu '%s'", (unsigned long long)i, q);
    int64_t dup = shgeti(g->kv_index, ps->tmp);
    if (dup >= 0)
        return perr(ps, at, "duplicate key (first defined by kv #%lld)", (long long)g->kv_index[dup].value);
    shput(g->kv_index, ps->tmp, (int64_t)i);

    uint64_t tat = ps->pos;
    VKSLM_TRY(rd_u32(ps, &kv->type, "value type"));
    kv->arr_type = VKSLM_GGUF_UINT8;
    kv->val_off = ps->pos;
    if (kv->type == VKSLM_GGUF_ARRAY)
        return parse_array(ps, kv);
    if (kv->type == VKSLM_GGUF_STRING) {
        vkslm_str s;
        return rd_str(ps, &s, "string value");
    }
    uint32_t esz = vkslm_gguf_vtype_size(kv->type);
    if (esz == 0)
        return perr(ps, tat, "unknown value type %u", kv->type);
    VKSLM_TRY(need(ps, esz, "value"));
    if (kv->type == VKSLM_GGUF_BOOL)
        VKSLM_TRY(check_bools(ps, 1));
    ps->pos += esz;
    return VKSLM_OK;
}

static vkslm_status parse_alignment(parser *ps) {
    vkslm_gguf *g = ps->g;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = vkslm_gguf_find_key(g, "general.alignment");
    if (i < 0)
        return VKSLM_OK;
    const gguf_kv *kv = &g->kv[i];
    snprintf(ps->what, sizeof ps->what, "kv #%lld 'general.alignment'", (long long)i);
    uint64_t a;
    if (kv->type == VKSLM_GGUF_ARRAY || kv->type == VKSLM_GGUF_STRING || kv->type == VKSLM_GGUF_BOOL ||
        kv->type == VKSLM_GGUF_FLOAT32 || kv->type == VKSLM_GGUF_FLOAT64 ||
        vkslm_gguf_kv_u64(g, (uint64_t)i, &a) != VKSLM_OK)
        return perr(ps, kv->val_off, "alignment must be an unsigned integer");
    if (a == 0 || (a & (a - 1)) != 0)
        return perr(ps, kv->val_off, "alignment %llu is not a nonzero power of two", (unsigned long long)a);
    g->alignment = a;
    return VKSLM_OK;
}

static vkslm_status parse_tensor_info(parser *ps, uint64_t i) {
    vkslm_gguf *g = ps->g;
    vkslm_gguf_tensor *t = &g->tensors[i];
    uint64_t at = ps->pos;
    snprintf(ps->what, sizeof ps->what, "tensor #%llu", (unsigned long long)i);
    VKSLM_TRY(rd_str(ps, &t->name, "tensor name"));
    VKSLM_TRY(check_name(ps, t->name, at, "tensor name"));
    char q[300];
    quote_name(t->name, q, sizeof q);
    snprintf(ps->what, sizeof ps->what, "tensor '%s' (#%llu)", q, (unsigned long long)i);
    int64_t dup = shgeti(g->tensor_index, ps->tmp);
    if (dup >= 0)
        return perr(ps, at, "duplicate tensor name (first defined by tensor #%lld)",
                    (long long)g->tensor_index[dup].value);
    shput(g->tensor_index, ps->tmp, (int64_t)i);

    at = ps->pos;
    VKSLM_TRY(rd_u32(ps, &t->n_dims, "n_dims"));
    if (t->n_dims == 0 || t->n_dims > 4)
        return perr(ps, at, "%u dims (1 to 4 allowed)", t->n_dims);
    t->n_elems = 1;
    for (uint32_t d = 0; d < 4; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        at = ps->pos;
        VKSLM_TRY(rd_u64(ps, &t->ne[d], "dim"));
        if (t->ne[d] == 0)
            return perr(ps, at, "dim %u is zero", d);
        if (t->ne[d] > (uint64_t)INT64_MAX)
            return perr(ps, at, "dim %u (%llu) is too large", d, (unsigned long long)t->ne[d]);
        if (t->n_elems > (uint64_t)INT64_MAX / t->ne[d])
            return perr(ps, at, "dims product overflows");
        t->n_elems *= t->ne[d];
    }
    at = ps->pos;
    VKSLM_TRY(rd_u32(ps, &t->type, "tensor type"));
    const vkslm_type_traits *tr = vkslm_type_info(t->type);
    if (!tr)
        return perr(ps, at, "unknown tensor type %u", t->type);
    if (t->ne[0] % tr->block_elems != 0)
        return perr(ps, at, "row of %llu elements is not a multiple of the %s block size %u",
                    (unsigned long long)t->ne[0], tr->name, tr->block_elems);
    uint64_t blocks_per_row = t->ne[0] / tr->block_elems, rows = t->n_elems / t->ne[0];
    if (blocks_per_row > UINT64_MAX / tr->block_bytes ||
        blocks_per_row * tr->block_bytes > UINT64_MAX / rows)
        return perr(ps, at, "byte size overflows");
    t->size = blocks_per_row * tr->block_bytes * rows;
    at = ps->pos;
    VKSLM_TRY(rd_u64(ps, &t->offset, "data offset"));
    if (t->offset % g->alignment != 0)
        return perr(ps, at, "data offset %llu is not a multiple of the alignment %llu",
                    (unsigned long long)t->offset, (unsigned long long)g->alignment);
    return VKSLM_OK;
}

typedef struct span {
    uint64_t offset, size;
    size_t index;
} span;

static int cmp_span(const void *a, const void *b) {
    uint64_t x = ((const span *)a)->offset, y = ((const span *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Data bounds and overlaps, once every tensor info is known. */
static vkslm_status check_tensor_data(parser *ps) {
    vkslm_gguf *g = ps->g;
    uint64_t avail = g->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        vkslm_gguf_tensor *t = &g->tensors[i];
        char q[300];
        quote_name(t->name, q, sizeof q);
        snprintf(ps->what, sizeof ps->what, "tensor '%s' (#%llu)", q, (unsigned long long)i);
        if (t->offset > avail || t->size > avail - t->offset) {
            uint64_t at = t->offset > UINT64_MAX - g->data_offset ? UINT64_MAX : g->data_offset + t->offset;
            return perr(ps, at, "data of %llu bytes at offset %llu lies outside the file (%llu bytes; data section starts at byte %llu)",
                        (unsigned long long)t->size, (unsigned long long)t->offset,
                        (unsigned long long)g->size, (unsigned long long)g->data_offset);
        }
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2)
        return VKSLM_OK;
    size_t n = (size_t)g->n_tensors;
    span *order = VKSLM_MALLOC(n * sizeof *order);
    if (!order)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory to sort %zu tensors", n);
    for (size_t i = 0; i < n; i++)
        order[i] = (span){g->tensors[i].offset, g->tensors[i].size, i};
    qsort(order, n, sizeof *order, cmp_span);
    vkslm_status st = VKSLM_OK;
    for (size_t k = 1; k < n && st == VKSLM_OK; k++) {
        const span *a = &order[k - 1], *b = &order[k];
        if (a->offset + a->size > b->offset) {
            char qa[300], qb[300];
            quote_name(g->tensors[a->index].name, qa, sizeof qa);
            quote_name(g->tensors[b->index].name, qb, sizeof qb);
            snprintf(ps->what, sizeof ps->what, "tensor '%s' (#%zu)", qb, b->index);
            st = perr(ps, g->data_offset + b->offset, "data overlaps tensor '%s' (#%zu)", qa, a->index);
        }
    }
    VKSLM_FREE(order);
    return st;
}

static vkslm_status parse_header(parser *ps) {
    vkslm_gguf *g = ps->g;
    snprintf(ps->what, sizeof ps->what, "header");
    VKSLM_TRY(need(ps, 4, "magic"));
    if (memcmp(ps->p, "GGUF", 4) != 0)
        return perr(ps, 0, "bad magic (not a GGUF file)");
    ps->pos = 4;
    VKSLM_TRY(rd_u32(ps, &g->version, "version"));
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return perr(ps, 4, "big-endian GGUF files are not supported");
    if (g->version == 1)
        return perr(ps, 4, "GGUF version 1 is not supported (only 2 and 3)");
    if (g->version != 2 && g->version != 3)
        return perr(ps, 4, "unknown GGUF version %u (only 2 and 3)", g->version);
    uint64_t at = ps->pos;
    VKSLM_TRY(rd_u64(ps, &g->n_tensors, "tensor count"));
    VKSLM_TRY(rd_u64(ps, &g->n_kv, "kv count"));
    if (g->n_kv > remain(ps) / GGUF_MIN_KV_BYTES)
        return perr(ps, at + 8, "kv count %llu cannot fit in the %llu bytes that remain",
                    (unsigned long long)g->n_kv, (unsigned long long)remain(ps));
    if (g->n_tensors > remain(ps) / GGUF_MIN_TENSOR_BYTES ||
        g->n_tensors * GGUF_MIN_TENSOR_BYTES + g->n_kv * GGUF_MIN_KV_BYTES > remain(ps))
        return perr(ps, at, "tensor count %llu cannot fit in the %llu bytes that remain",
                    (unsigned long long)g->n_tensors, (unsigned long long)remain(ps));
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_parse(vkslm_gguf *g) {
    parser ps = {.g = g, .p = g->base, .size = g->size};
    VKSLM_TRY(parse_header(&ps));
    if (g->n_kv) {
        g->kv = VKSLM_CALLOC((size_t)g->n_kv, sizeof *g->kv);
        if (!g->kv)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory for %llu keys", (unsigned long long)g->n_kv);
    }
    if (g->n_tensors) {
        g->tensors = VKSLM_CALLOC((size_t)g->n_tensors, sizeof *g->tensors);
        if (!g->tensors)
            return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory for %llu tensors",
                              (unsigned long long)g->n_tensors);
    }
    ps.tmp = VKSLM_MALLOC(GGUF_MAX_NAME + 1);
    if (!ps.tmp)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "gguf: no memory");
    sh_new_strdup(g->kv_index);
    sh_new_strdup(g->tensor_index);
    vkslm_status st = VKSLM_OK;
    for (uint64_t i = 0; i < g->n_kv && st == VKSLM_OK; i++)
        st = parse_kv(&ps, i);
    if (st == VKSLM_OK)
        st = parse_alignment(&ps);
    for (uint64_t i = 0; i < g->n_tensors && st == VKSLM_OK; i++)
        st = parse_tensor_info(&ps, i);
    VKSLM_FREE(ps.tmp);
    VKSLM_TRY(st);

    uint64_t pad = (g->alignment - ps.pos % g->alignment) % g->alignment;
    if (pad > UINT64_MAX - ps.pos || ps.pos + pad > g->size) {
        if (g->n_tensors) {
            snprintf(ps.what, sizeof ps.what, "data section");
            return perr(&ps, ps.pos, "truncated: the data section (aligned to %llu) starts past the end of the file (%llu bytes)",
                        (unsigned long long)g->alignment, (unsigned long long)g->size);
        }
        g->data_offset = g->size; /* no tensors: the data section may be absent */
    } else {
        g->data_offset = ps.pos + pad;
    }
    return check_tensor_data(&ps);
}
