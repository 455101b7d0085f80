/* Reading a parsed GGUF file: header facts, metadata values with checked integer conversions, array
 * elements, tensors. Everything here reads bytes the parser has already bounds-checked. */
#include <string.h>

#include "engine/util/error.h"
#include "engine/util/stb_ds_names.h"
#include "loaders/gguf_internal.h"

uint32_t vkslm_gguf_version(const vkslm_gguf *g) { return g ? g->version : 0; }
uint64_t vkslm_gguf_alignment(const vkslm_gguf *g) { return g ? g->alignment : 0; }
uint64_t vkslm_gguf_data_offset(const vkslm_gguf *g) { return g ? g->data_offset : 0; }
uint64_t vkslm_gguf_file_size(const vkslm_gguf *g) { return g ? g->size : 0; }
uint64_t vkslm_gguf_kv_count(const vkslm_gguf *g) { return g ? g->n_kv : 0; }
uint64_t vkslm_gguf_tensor_count(const vkslm_gguf *g) { return g ? g->n_tensors : 0; }

const char *vkslm_gguf_vtype_name(uint32_t type) {
    static const char *const names[] = {"uint8",  "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                        "bool",   "string", "array",  "uint64", "int64", "float64"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

int vkslm_str_eq(vkslm_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && (n == 0 || memcmp(s.ptr, cstr, n) == 0);
}

int64_t vkslm_gguf_find_key(const vkslm_gguf *g, const char *key) {
    if (!g || !key)
        return -1;
    gguf_name_index *m = g->kv_index; /* shgeti assigns the map pointer (unchanged by a lookup) */
    ptrdiff_t i = shgeti(m, key);
    return i < 0 ? -1 : m[i].value;
}

static const gguf_kv *kv_at(const vkslm_gguf *g, uint64_t i) { return g && i < g->n_kv ? &g->kv[i] : NULL; }

vkslm_str vkslm_gguf_kv_key(const vkslm_gguf *g, uint64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : (vkslm_str){NULL, 0};
}
vkslm_gguf_vtype vkslm_gguf_kv_type(const vkslm_gguf *g, uint64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? (vkslm_gguf_vtype)kv->type : VKSLM_GGUF_UINT8;
}
vkslm_gguf_vtype vkslm_gguf_kv_arr_type(const vkslm_gguf *g, uint64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? (vkslm_gguf_vtype)kv->arr_type : VKSLM_GGUF_UINT8;
}
uint64_t vkslm_gguf_kv_arr_len(const vkslm_gguf *g, uint64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->arr_len : 0;
}

/* ---- numbers ---------------------------------------------------------------------------------- */
typedef enum num_kind { NUM_UNSIGNED, NUM_SIGNED, NUM_FLOAT, NUM_NONE } num_kind;
typedef struct num {
    num_kind kind;
    uint64_t u;
    int64_t i;
    double f;
} num;

static num read_num(const vkslm_gguf *g, uint32_t type, uint64_t off) {
    const uint8_t *p = g->base + off;
    num n = {NUM_NONE, 0, 0, 0};
    switch (type) {
    case VKSLM_GGUF_UINT8: n.kind = NUM_UNSIGNED; n.u = p[0]; break;
    case VKSLM_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); n.kind = NUM_UNSIGNED; n.u = v; break; }
    case VKSLM_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); n.kind = NUM_UNSIGNED; n.u = v; break; }
    case VKSLM_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); n.kind = NUM_UNSIGNED; n.u = v; break; }
    case VKSLM_GGUF_INT8: { int8_t v; memcpy(&v, p, 1); n.kind = NUM_SIGNED; n.i = v; break; }
    case VKSLM_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); n.kind = NUM_SIGNED; n.i = v; break; }
    case VKSLM_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); n.kind = NUM_SIGNED; n.i = v; break; }
    case VKSLM_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); n.kind = NUM_SIGNED; n.i = v; break; }
    case VKSLM_GGUF_FLOAT32: { float v; memcpy(&v, p, 4); n.kind = NUM_FLOAT; n.f = v; break; }
    case VKSLM_GGUF_FLOAT64: { double v; memcpy(&v, p, 8); n.kind = NUM_FLOAT; n.f = v; break; }
    default: break;
    }
    return n;
}

static vkslm_status type_error(const gguf_kv *kv, uint32_t type, const char *expected) {
    return vkslm_fail(VKSLM_ERR_FORMAT, "gguf: key '%.*s' has type %s, expected %s", (int)(kv->key.len > 200 ? 200 : kv->key.len),
                      kv->key.ptr, vkslm_gguf_vtype_name(type), expected);
}
static vkslm_status range_error(const gguf_kv *kv, const char *what) {
    return vkslm_fail(VKSLM_ERR_FORMAT, "gguf: key '%.*s': value does not fit %s", (int)(kv->key.len > 200 ? 200 : kv->key.len),
                      kv->key.ptr, what);
}

static vkslm_status num_u64(const gguf_kv *kv, uint32_t type, num n, uint64_t *out) {
    if (n.kind == NUM_UNSIGNED)
        *out = n.u;
    else if (n.kind == NUM_SIGNED && n.i >= 0)
        *out = (uint64_t)n.i;
    else if (n.kind == NUM_SIGNED)
        return range_error(kv, "an unsigned integer");
    else
        return type_error(kv, type, "an integer");
    return VKSLM_OK;
}
static vkslm_status num_i64(const gguf_kv *kv, uint32_t type, num n, int64_t *out) {
    if (n.kind == NUM_SIGNED)
        *out = n.i;
    else if (n.kind == NUM_UNSIGNED && n.u <= (uint64_t)INT64_MAX)
        *out = (int64_t)n.u;
    else if (n.kind == NUM_UNSIGNED)
        return range_error(kv, "a signed 64-bit integer");
    else
        return type_error(kv, type, "an integer");
    return VKSLM_OK;
}
static vkslm_status num_f64(const gguf_kv *kv, uint32_t type, num n, double *out) {
    switch (n.kind) {
    case NUM_FLOAT: *out = n.f; return VKSLM_OK;
    case NUM_SIGNED: *out = (double)n.i; return VKSLM_OK;
    case NUM_UNSIGNED: *out = (double)n.u; return VKSLM_OK;
    default: return type_error(kv, type, "a number");
    }
}

static vkslm_status scalar(const vkslm_gguf *g, uint64_t i, const void *out, const gguf_kv **kv, num *n) {
    *kv = kv_at(g, i);
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: NULL output");
    if (!*kv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: kv index %llu out of range", (unsigned long long)i);
    *n = read_num(g, (*kv)->type, (*kv)->val_off);
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_kv_u64(const vkslm_gguf *g, uint64_t i, uint64_t *out) {
    const gguf_kv *kv;
    num n = {NUM_NONE, 0, 0, 0};
    VKSLM_TRY(scalar(g, i, out, &kv, &n));
    return num_u64(kv, kv->type, n, out);
}
vkslm_status vkslm_gguf_kv_i64(const vkslm_gguf *g, uint64_t i, int64_t *out) {
    const gguf_kv *kv;
    num n = {NUM_NONE, 0, 0, 0};
    VKSLM_TRY(scalar(g, i, out, &kv, &n));
    return num_i64(kv, kv->type, n, out);
}
vkslm_status vkslm_gguf_kv_f64(const vkslm_gguf *g, uint64_t i, double *out) {
    const gguf_kv *kv;
    num n = {NUM_NONE, 0, 0, 0};
    VKSLM_TRY(scalar(g, i, out, &kv, &n));
    return num_f64(kv, kv->type, n, out);
}
vkslm_status vkslm_gguf_kv_bool(const vkslm_gguf *g, uint64_t i, int *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: NULL output");
    if (!kv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: kv index %llu out of range", (unsigned long long)i);
    if (kv->type != VKSLM_GGUF_BOOL)
        return type_error(kv, kv->type, "bool");
    *out = g->base[kv->val_off] != 0;
    return VKSLM_OK;
}

static vkslm_str str_at(const vkslm_gguf *g, uint64_t off) {
    uint64_t len;
    memcpy(&len, g->base + off, 8);
    return (vkslm_str){(const char *)g->base + off + 8, len};
}

vkslm_status vkslm_gguf_kv_str(const vkslm_gguf *g, uint64_t i, vkslm_str *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: NULL output");
    if (!kv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: kv index %llu out of range", (unsigned long long)i);
    if (kv->type != VKSLM_GGUF_STRING)
        return type_error(kv, kv->type, "string");
    *out = str_at(g, kv->val_off);
    return VKSLM_OK;
}

/* ---- arrays ----------------------------------------------------------------------------------- */
static vkslm_status element(const vkslm_gguf *g, uint64_t i, uint64_t j, const void *out, const gguf_kv **kv) {
    *kv = kv_at(g, i);
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: NULL output");
    if (!*kv)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: kv index %llu out of range", (unsigned long long)i);
    if ((*kv)->type != VKSLM_GGUF_ARRAY)
        return type_error(*kv, (*kv)->type, "array");
    if (j >= (*kv)->arr_len)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: key '%.*s': element %llu of %llu out of range",
                          (int)((*kv)->key.len > 200 ? 200 : (*kv)->key.len), (*kv)->key.ptr, (unsigned long long)j,
                          (unsigned long long)(*kv)->arr_len);
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_arr_str(const vkslm_gguf *g, uint64_t i, uint64_t j, vkslm_str *out) {
    const gguf_kv *kv;
    VKSLM_TRY(element(g, i, j, out, &kv));
    if (kv->arr_type != VKSLM_GGUF_STRING)
        return type_error(kv, kv->arr_type, "an array of strings");
    *out = str_at(g, kv->str_offs[j]);
    return VKSLM_OK;
}

static num arr_num(const vkslm_gguf *g, const gguf_kv *kv, uint64_t j) {
    return read_num(g, kv->arr_type, kv->val_off + j * vkslm_gguf_vtype_size(kv->arr_type));
}

vkslm_status vkslm_gguf_arr_i64(const vkslm_gguf *g, uint64_t i, uint64_t j, int64_t *out) {
    const gguf_kv *kv;
    VKSLM_TRY(element(g, i, j, out, &kv));
    return num_i64(kv, kv->arr_type, arr_num(g, kv, j), out);
}

vkslm_status vkslm_gguf_arr_f64(const vkslm_gguf *g, uint64_t i, uint64_t j, double *out) {
    const gguf_kv *kv;
    VKSLM_TRY(element(g, i, j, out, &kv));
    return num_f64(kv, kv->arr_type, arr_num(g, kv, j), out);
}

const void *vkslm_gguf_arr_data(const vkslm_gguf *g, uint64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != VKSLM_GGUF_ARRAY || kv->arr_type == VKSLM_GGUF_STRING)
        return NULL;
    return g->base + kv->val_off;
}

/* ---- keyed conveniences ----------------------------------------------------------------------- */
static vkslm_status find_required(const vkslm_gguf *g, const char *key, const void *out, uint64_t *i) {
    if (!out)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "gguf: NULL output");
    int64_t k = vkslm_gguf_find_key(g, key);
    if (k < 0)
        return vkslm_fail(VKSLM_ERR_FORMAT, "gguf: key '%s' is missing", key ? key : "(null)");
    *i = (uint64_t)k;
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_get_u32(const vkslm_gguf *g, const char *key, uint32_t *out) {
    uint64_t i = 0, v = 0;
    VKSLM_TRY(find_required(g, key, out, &i));
    VKSLM_TRY(vkslm_gguf_kv_u64(g, i, &v));
    if (v > UINT32_MAX)
        return range_error(&g->kv[i], "32 bits");
    *out = (uint32_t)v;
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_get_f32(const vkslm_gguf *g, const char *key, float *out) {
    uint64_t i = 0;
    double v;
    VKSLM_TRY(find_required(g, key, out, &i));
    VKSLM_TRY(vkslm_gguf_kv_f64(g, i, &v));
    *out = (float)v;
    return VKSLM_OK;
}

vkslm_status vkslm_gguf_get_str(const vkslm_gguf *g, const char *key, vkslm_str *out) {
    uint64_t i = 0;
    VKSLM_TRY(find_required(g, key, out, &i));
    return vkslm_gguf_kv_str(g, i, out);
}

vkslm_status vkslm_gguf_get_bool(const vkslm_gguf *g, const char *key, int *out) {
    uint64_t i = 0;
    VKSLM_TRY(find_required(g, key, out, &i));
    return vkslm_gguf_kv_bool(g, i, out);
}

/* ---- tensors ---------------------------------------------------------------------------------- */
const vkslm_gguf_tensor *vkslm_gguf_tensor_at(const vkslm_gguf *g, uint64_t i) {
    return g && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const vkslm_gguf_tensor *vkslm_gguf_find_tensor(const vkslm_gguf *g, const char *name) {
    if (!g || !name)
        return NULL;
    gguf_name_index *m = g->tensor_index;
    ptrdiff_t i = shgeti(m, name);
    return i < 0 ? NULL : &g->tensors[m[i].value];
}
