/* The GGUF writer: every value type, string arrays, copied keys and streamed tensors read back through
 * the hostile-input reader; aligned data offsets; misuse refused and partial files removed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaders/ggml_types.h"
#include "loaders/gguf_write.h"
#include "tests/harness.h"

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/vkslm_test_gw_%s_%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
}

static int64_t key(const vkslm_gguf *g, const char *k) {
    int64_t i = vkslm_gguf_find_key(g, k);
    CU_ASSERT(i >= 0);
    return i;
}

static void write_sample(const char *path, uint32_t alignment) {
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, alignment, &w) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u8(w, "t.u8", 200) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i8(w, "t.i8", -100) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u16(w, "t.u16", 60000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i16(w, "t.i16", -30000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u32(w, "t.u32", 4000000000u) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i32(w, "t.i32", -2000000000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u64(w, "t.u64", 0xfedcba9876543210ull) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i64(w, "t.i64", -0x123456789abcdefll) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_f32(w, "t.f32", 0.1f) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_f64(w, "t.f64", 1e300) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_bool(w, "t.bool", 1) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_str(w, "t.str", "héllo") == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_strn(w, "t.empty", "", 0) == VKSLM_OK);
    const int32_t ints[4] = {1, -2, 3, -4};
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_i32", VKSLM_GGUF_INT32, ints, 4) == VKSLM_OK);
    const double dbl[2] = {0.5, -2.25};
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_f64", VKSLM_GGUF_FLOAT64, dbl, 2) == VKSLM_OK);
    const uint8_t bools[3] = {1, 0, 1};
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_bool", VKSLM_GGUF_BOOL, bools, 3) == VKSLM_OK);
    const char *strs[3] = {"a", "", "a b"};
    CU_ASSERT(vkslm_gguf_write_arr_str(w, "t.arr_str", strs, NULL, 3) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_empty", VKSLM_GGUF_UINT8, NULL, 0) == VKSLM_OK);
    /* misuse: a duplicate key, then nothing more is accepted */
    uint64_t ne_a[2] = {32, 3}, ne_b[1] = {5};
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "a", VKSLM_TYPE_Q8_0, 2, ne_a) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "b", VKSLM_TYPE_F32, 1, ne_b) == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_writer_tensor_bytes(w, 0), 3 * 34);
    CU_ASSERT(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    uint8_t qa[3 * 34];
    for (size_t i = 0; i < sizeof qa; i++)
        qa[i] = (uint8_t)(i * 7);
    /* streamed in odd pieces that straddle the tensor boundary */
    float fb[5] = {1, 2, 3, 4, 5};
    CU_ASSERT(vkslm_gguf_writer_write(w, qa, 50) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, qa + 50, sizeof qa - 50) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, fb, 8) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, fb + 2, 12) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, fb, 1) != VKSLM_OK); /* past the last tensor */
    CU_ASSERT(vkslm_gguf_writer_close(w) != VKSLM_OK);         /* sticky failure: file removed */
    CU_ASSERT(access(path, F_OK) != 0);
    /* again, correctly */
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, alignment, &w) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u8(w, "t.u8", 200) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i8(w, "t.i8", -100) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u16(w, "t.u16", 60000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i16(w, "t.i16", -30000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u32(w, "t.u32", 4000000000u) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i32(w, "t.i32", -2000000000) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u64(w, "t.u64", 0xfedcba9876543210ull) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_i64(w, "t.i64", -0x123456789abcdefll) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_f32(w, "t.f32", 0.1f) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_f64(w, "t.f64", 1e300) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_bool(w, "t.bool", 1) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_str(w, "t.str", "héllo") == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_strn(w, "t.empty", "", 0) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_i32", VKSLM_GGUF_INT32, ints, 4) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_f64", VKSLM_GGUF_FLOAT64, dbl, 2) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_bool", VKSLM_GGUF_BOOL, bools, 3) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr_str(w, "t.arr_str", strs, NULL, 3) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_arr(w, "t.arr_empty", VKSLM_GGUF_UINT8, NULL, 0) == VKSLM_OK);
    if (alignment != 32)
        CU_ASSERT(vkslm_gguf_write_u32(w, "general.alignment", alignment) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "a", VKSLM_TYPE_Q8_0, 2, ne_a) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "b", VKSLM_TYPE_F32, 1, ne_b) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, qa, 50) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, qa + 50, sizeof qa - 50) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, fb, 8) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_write(w, fb + 2, 12) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_close(w) == VKSLM_OK);
}

static void check_sample(const char *path, uint32_t alignment) {
    vkslm_gguf *g;
    vkslm_status st = vkslm_gguf_open_file(path, &g);
    if (st != VKSLM_OK)
        fprintf(stderr, "%s\n", vkslm_last_error());
    CU_ASSERT_FATAL(st == VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_version(g), 3);
    CU_ASSERT_EQUAL(vkslm_gguf_alignment(g), alignment);
    uint64_t u;
    int64_t i;
    double d;
    int b;
    vkslm_str s;
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.u8")) == VKSLM_GGUF_UINT8);
    CU_ASSERT(vkslm_gguf_kv_u64(g, key(g, "t.u8"), &u) == VKSLM_OK && u == 200);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.i8")) == VKSLM_GGUF_INT8);
    CU_ASSERT(vkslm_gguf_kv_i64(g, key(g, "t.i8"), &i) == VKSLM_OK && i == -100);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.u16")) == VKSLM_GGUF_UINT16);
    CU_ASSERT(vkslm_gguf_kv_u64(g, key(g, "t.u16"), &u) == VKSLM_OK && u == 60000);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.i16")) == VKSLM_GGUF_INT16);
    CU_ASSERT(vkslm_gguf_kv_i64(g, key(g, "t.i16"), &i) == VKSLM_OK && i == -30000);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.u32")) == VKSLM_GGUF_UINT32);
    CU_ASSERT(vkslm_gguf_kv_u64(g, key(g, "t.u32"), &u) == VKSLM_OK && u == 4000000000u);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.i32")) == VKSLM_GGUF_INT32);
    CU_ASSERT(vkslm_gguf_kv_i64(g, key(g, "t.i32"), &i) == VKSLM_OK && i == -2000000000);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.u64")) == VKSLM_GGUF_UINT64);
    CU_ASSERT(vkslm_gguf_kv_u64(g, key(g, "t.u64"), &u) == VKSLM_OK && u == 0xfedcba9876543210ull);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.i64")) == VKSLM_GGUF_INT64);
    CU_ASSERT(vkslm_gguf_kv_i64(g, key(g, "t.i64"), &i) == VKSLM_OK && i == -0x123456789abcdefll);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.f32")) == VKSLM_GGUF_FLOAT32);
    CU_ASSERT(vkslm_gguf_kv_f64(g, key(g, "t.f32"), &d) == VKSLM_OK && (float)d == 0.1f);
    CU_ASSERT(vkslm_gguf_kv_type(g, key(g, "t.f64")) == VKSLM_GGUF_FLOAT64);
    CU_ASSERT(vkslm_gguf_kv_f64(g, key(g, "t.f64"), &d) == VKSLM_OK && d == 1e300);
    CU_ASSERT(vkslm_gguf_kv_bool(g, key(g, "t.bool"), &b) == VKSLM_OK && b == 1);
    CU_ASSERT(vkslm_gguf_kv_str(g, key(g, "t.str"), &s) == VKSLM_OK && vkslm_str_eq(s, "héllo"));
    CU_ASSERT(vkslm_gguf_kv_str(g, key(g, "t.empty"), &s) == VKSLM_OK && s.len == 0);
    int64_t k = key(g, "t.arr_i32");
    CU_ASSERT(vkslm_gguf_kv_arr_type(g, k) == VKSLM_GGUF_INT32 && vkslm_gguf_kv_arr_len(g, k) == 4);
    CU_ASSERT(vkslm_gguf_arr_i64(g, k, 3, &i) == VKSLM_OK && i == -4);
    k = key(g, "t.arr_f64");
    CU_ASSERT(vkslm_gguf_arr_f64(g, k, 1, &d) == VKSLM_OK && d == -2.25);
    k = key(g, "t.arr_bool");
    CU_ASSERT(vkslm_gguf_kv_arr_type(g, k) == VKSLM_GGUF_BOOL && vkslm_gguf_kv_arr_len(g, k) == 3);
    k = key(g, "t.arr_str");
    CU_ASSERT(vkslm_gguf_kv_arr_type(g, k) == VKSLM_GGUF_STRING && vkslm_gguf_kv_arr_len(g, k) == 3);
    CU_ASSERT(vkslm_gguf_arr_str(g, k, 1, &s) == VKSLM_OK && s.len == 0);
    CU_ASSERT(vkslm_gguf_arr_str(g, k, 2, &s) == VKSLM_OK && vkslm_str_eq(s, "a b"));
    CU_ASSERT(vkslm_gguf_kv_arr_len(g, key(g, "t.arr_empty")) == 0);
    CU_ASSERT_FATAL(vkslm_gguf_tensor_count(g) == 2);
    const vkslm_gguf_tensor *a = vkslm_gguf_find_tensor(g, "a"), *t = vkslm_gguf_find_tensor(g, "b");
    CU_ASSERT_FATAL(a && t);
    CU_ASSERT(a->type == VKSLM_TYPE_Q8_0 && a->n_dims == 2 && a->ne[0] == 32 && a->ne[1] == 3 && a->size == 102);
    CU_ASSERT(t->type == VKSLM_TYPE_F32 && t->n_dims == 1 && t->ne[0] == 5);
    CU_ASSERT((vkslm_gguf_data_offset(g) + t->offset) % alignment == 0);
    for (int j = 0; j < 102; j++)
        CU_ASSERT(a->data[j] == (uint8_t)(j * 7));
    float fb[5];
    memcpy(fb, t->data, sizeof fb);
    CU_ASSERT(fb[0] == 1 && fb[1] == 2 && fb[2] == 3 && fb[3] == 4 && fb[4] == 5);
    vkslm_gguf_close(g);
}

static void test_round_trip(void) {
    char path[512];
    tmp_path(path, sizeof path, "rt");
    write_sample(path, 32);
    check_sample(path, 32);
    write_sample(path, 64); /* a non-default alignment, recorded in general.alignment */
    check_sample(path, 64);
    remove(path);
}

/* Copying every key of a file reproduces them (types, values, string arrays). */
static void test_copy_kv(void) {
    char src[512], dst[512];
    tmp_path(src, sizeof src, "src");
    tmp_path(dst, sizeof dst, "dst");
    write_sample(src, 32);
    vkslm_gguf *g;
    CU_ASSERT_FATAL(vkslm_gguf_open_file(src, &g) == VKSLM_OK);
    vkslm_gguf_writer *w;
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(dst, 32, &w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++)
        CU_ASSERT(vkslm_gguf_writer_copy_kv(w, g, i) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        char name[16];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        CU_ASSERT(vkslm_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == VKSLM_OK);
    }
    CU_ASSERT(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++)
        CU_ASSERT(vkslm_gguf_writer_write(w, vkslm_gguf_tensor_at(g, i)->data, vkslm_gguf_tensor_at(g, i)->size) ==
                  VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_close(w) == VKSLM_OK);
    vkslm_gguf_close(g);
    check_sample(dst, 32);
    /* the two files are byte for byte the same */
    size_t la, lb;
    FILE *fa = fopen(src, "rb"), *fb = fopen(dst, "rb");
    CU_ASSERT_FATAL(fa && fb);
    static uint8_t ba[1 << 14], bb[1 << 14];
    la = fread(ba, 1, sizeof ba, fa);
    lb = fread(bb, 1, sizeof bb, fb);
    CU_ASSERT(la == lb && memcmp(ba, bb, la) == 0);
    fclose(fa);
    fclose(fb);
    remove(src);
    remove(dst);
}

static void test_misuse(void) {
    char path[512];
    tmp_path(path, sizeof path, "bad");
    vkslm_gguf_writer *w;
    CU_ASSERT(vkslm_gguf_writer_open(path, 24, &w) == VKSLM_ERR_INVALID_ARG); /* not a power of two */
    CU_ASSERT(vkslm_gguf_writer_open("/nonexistent-dir/x.gguf", 32, &w) == VKSLM_ERR_IO);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, 32, &w) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u32(w, "k", 1) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_write_u32(w, "k", 2) == VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "duplicate key 'k'"));
    vkslm_gguf_writer_abort(w);
    CU_ASSERT(access(path, F_OK) != 0);
    /* rows that do not fit the block size; an incomplete tensor at close */
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, 32, &w) == VKSLM_OK);
    uint64_t ne[2] = {48, 2};
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "x", VKSLM_TYPE_Q4_0, 2, ne) == VKSLM_ERR_INVALID_ARG);
    vkslm_gguf_writer_abort(w);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, 32, &w) == VKSLM_OK);
    ne[0] = 64;
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "x", VKSLM_TYPE_Q4_0, 2, ne) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "x", VKSLM_TYPE_Q4_0, 2, ne) == VKSLM_ERR_INVALID_ARG);
    vkslm_gguf_writer_abort(w);
    CU_ASSERT_FATAL(vkslm_gguf_writer_open(path, 32, &w) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_add_tensor(w, "x", VKSLM_TYPE_Q4_0, 2, ne) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_begin_data(w) == VKSLM_OK);
    uint8_t blk[18] = {0};
    CU_ASSERT(vkslm_gguf_writer_write(w, blk, sizeof blk) == VKSLM_OK);
    CU_ASSERT(vkslm_gguf_writer_close(w) == VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(vkslm_last_error(), "incomplete"));
    CU_ASSERT(access(path, F_OK) != 0);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every value type, string arrays and streamed tensors read back", test_round_trip},
        {"copying every key and tensor reproduces the file", test_copy_kv},
        {"misuse is refused and partial files are removed", test_misuse},
        {NULL, NULL},
    };
    return test_run_suite("gguf_write", tests);
}
