/* Model files edited in memory (see util_forced.h). */
#include "tests/util_forced.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf.h"
#include "tests/harness.h"

int test_forced_open(test_forced_file *f) {
    char path[1024];
    test_data_path(path, sizeof path, "models/stories260K.gguf");
    f->bytes = NULL;
    f->size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->bytes = n > 0 ? malloc((size_t)n) : NULL;
    if (!f->bytes || fread(f->bytes, 1, (size_t)n, fp) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        free(f->bytes);
        f->bytes = NULL;
        fclose(fp);
        return -1;
    }
    fclose(fp);
    f->size = (size_t)n;
    return 0;
}

void test_forced_close(test_forced_file *f) {
    free(f->bytes);
    f->bytes = NULL;
    f->size = 0;
}

int32_t test_forced_token(const test_forced_file *f, const char *text) {
    vkslm_gguf *g = NULL;
    vkslm_tokenizer *t = NULL;
    int32_t id = -1;
    if (vkslm_gguf_open_memory(f->bytes, f->size, &g) == VKSLM_OK && vkslm_tokenizer_load(g, &t) == VKSLM_OK)
        id = vkslm_token_find(t, text, strlen(text));
    vkslm_tokenizer_free(t);
    vkslm_gguf_close(g);
    return id;
}

/* The F32 data of tensor `name` inside the file's bytes (writable), or NULL. */
static float *tensor(test_forced_file *f, vkslm_gguf *g, const char *name, uint64_t *ne0, uint64_t *rows) {
    const vkslm_gguf_tensor *t = vkslm_gguf_find_tensor(g, name);
    if (!t || t->type != VKSLM_TYPE_F32) {
        fprintf(stderr, "no F32 tensor %s\n", name);
        return NULL;
    }
    *ne0 = t->ne[0];
    *rows = t->n_elems / t->ne[0];
    return (float *)(f->bytes + (t->data - (const uint8_t *)f->bytes));
}

static void fill(float *x, uint64_t n, float v) {
    for (uint64_t i = 0; i < n; i++)
        x[i] = v;
}

int test_forced_fill(test_forced_file *f, const char *name, float v) {
    vkslm_gguf *g;
    if (vkslm_gguf_open_memory(f->bytes, f->size, &g) != VKSLM_OK)
        return -1;
    uint64_t ne0, rows;
    float *x = tensor(f, g, name, &ne0, &rows);
    if (x)
        fill(x, ne0 * rows, v);
    vkslm_gguf_close(g);
    return x ? 0 : -1;
}

int test_forced_chain(test_forced_file *f, const int32_t *from, const int32_t *to, size_t n) {
    vkslm_gguf *g;
    if (vkslm_gguf_open_memory(f->bytes, f->size, &g) != VKSLM_OK)
        return -1;
    uint32_t n_layer = 0;
    int rc = vkslm_gguf_get_u32(g, "llama.block_count", &n_layer) == VKSLM_OK ? 0 : -1;
    for (uint32_t l = 0; l < n_layer && rc == 0; l++) {
        static const char *const zeroed[] = {"attn_output", "ffn_down"};
        for (int k = 0; k < 2 && rc == 0; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, zeroed[k]);
            uint64_t ne0, rows;
            float *w = tensor(f, g, name, &ne0, &rows);
            if (w)
                fill(w, ne0 * rows, 0.0f);
            else
                rc = -1;
        }
    }
    uint64_t e_dim = 0, e_rows = 0, o_dim = 0, o_rows = 0, nn = 0, nr = 0;
    float *emb = tensor(f, g, "token_embd.weight", &e_dim, &e_rows);
    float *out = tensor(f, g, "output.weight", &o_dim, &o_rows);
    float *norm = tensor(f, g, "output_norm.weight", &nn, &nr);
    if (rc || !emb || !out || !norm || n > e_dim || e_dim != o_dim) {
        vkslm_gguf_close(g);
        return -1;
    }
    fill(emb, e_dim * e_rows, 0.0f);
    fill(out, o_dim * o_rows, 0.0f);
    fill(norm, nn * nr, 1.0f);
    for (size_t i = 0; i < n; i++) {
        if (from[i] < 0 || (uint64_t)from[i] >= e_rows || to[i] < 0 || (uint64_t)to[i] >= o_rows) {
            vkslm_gguf_close(g);
            return -1;
        }
        emb[(uint64_t)from[i] * e_dim + i] = 1.0f;
        out[(uint64_t)to[i] * o_dim + i] = 1.0f;
    }
    vkslm_gguf_close(g);
    return 0;
}
