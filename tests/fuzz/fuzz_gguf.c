/* libFuzzer target: opens the input as a GGUF image (vkslm_gguf_open_memory) and, when it parses,
 * walks every key, every array element and every tensor, touching the first and last byte of each
 * tensor's data, and checks that name lookups find what the walk found. ASan/UBSan report the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/hparams.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf.h"

static volatile uint64_t sink;

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

static void walk_kv(const vkslm_gguf *g, uint64_t i, char *name) {
    vkslm_str key = vkslm_gguf_kv_key(g, i);
    check(key.ptr != NULL && key.len > 0 && key.len <= 65535);
    memcpy(name, key.ptr, key.len);
    name[key.len] = '\0';
    check(vkslm_gguf_find_key(g, name) == (int64_t)i);
    uint64_t u;
    int64_t s;
    double f;
    int b;
    vkslm_str str;
    if (vkslm_gguf_kv_u64(g, i, &u) == VKSLM_OK) sink += u;
    if (vkslm_gguf_kv_i64(g, i, &s) == VKSLM_OK) sink += (uint64_t)s;
    if (vkslm_gguf_kv_f64(g, i, &f) == VKSLM_OK) sink += f == f;
    if (vkslm_gguf_kv_bool(g, i, &b) == VKSLM_OK) sink += (uint64_t)b;
    if (vkslm_gguf_kv_str(g, i, &str) == VKSLM_OK && str.len) sink += (uint8_t)str.ptr[str.len - 1];
    if (vkslm_gguf_kv_type(g, i) != VKSLM_GGUF_ARRAY)
        return;
    uint64_t n = vkslm_gguf_kv_arr_len(g, i);
    int is_str = vkslm_gguf_kv_arr_type(g, i) == VKSLM_GGUF_STRING;
    check(is_str == (vkslm_gguf_arr_data(g, i) == NULL));
    for (uint64_t j = 0; j < n; j++) {
        if (is_str) {
            check(vkslm_gguf_arr_str(g, i, j, &str) == VKSLM_OK);
            if (str.len) sink += (uint8_t)str.ptr[0] + (uint8_t)str.ptr[str.len - 1];
        } else {
            if (vkslm_gguf_arr_i64(g, i, j, &s) == VKSLM_OK) sink += (uint64_t)s;
            /* every numeric element converts to double; bools convert to nothing */
            int is_bool = vkslm_gguf_kv_arr_type(g, i) == VKSLM_GGUF_BOOL;
            check((vkslm_gguf_arr_f64(g, i, j, &f) == VKSLM_OK) != is_bool);
        }
    }
    check(vkslm_gguf_arr_str(g, i, n, &str) != VKSLM_OK); /* one past the end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkslm_gguf *g = NULL;
    if (vkslm_gguf_open_memory(data, size, &g) != VKSLM_OK) {
        check(g == NULL && vkslm_last_error()[0] != '\0');
        return 0;
    }
    char *name = malloc(65536);
    if (!name)
        return 0;
    uint64_t a = vkslm_gguf_alignment(g);
    check(a && (a & (a - 1)) == 0);
    for (uint64_t i = 0; i < vkslm_gguf_kv_count(g); i++)
        walk_kv(g, i, name);
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        check(t && t->n_dims >= 1 && t->n_dims <= 4 && vkslm_type_info(t->type));
        check(t->data >= data && t->size <= size && t->data + t->size <= data + size);
        check(t->offset % a == 0);
        sink += t->data[0] + t->data[t->size - 1];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = '\0';
        check(vkslm_gguf_find_tensor(g, name) == t);
    }
    vkslm_hparams hp;
    if (vkslm_hparams_load(g, &hp) == VKSLM_OK) {
        sink += hp.n_layer + hp.n_vocab;
        if (hp.arch != VKSLM_ARCH_UNKNOWN && hp.has_arch_params) /* the key check of every model load */
            sink += vkslm_hparams_check_supported(g, &hp) == VKSLM_OK;
    }
    free(name);
    vkslm_gguf_close(g);
    return 0;
}
