/* GGUF reader on the shared test files: every file in MANIFEST.tsv parses with the listed tensor count,
 * per-type counts, parameter count and hyperparameters; truncated copies of stories260K are rejected;
 * open_fd with an offset and open_memory see the same file as open_file. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/model/hparams.h"
#include "engine/util/error.h"
#include "loaders/ggml_types.h"
#include "loaders/gguf.h"
#include "tests/harness.h"

/* ---- MANIFEST.tsv --------------------------------------------------------------------------------- */
enum { COL_PATH, COL_SIZE, COL_SHA, COL_ARCH, COL_LAYER, COL_EMBD, COL_HEAD, COL_HEAD_KV, COL_FF, COL_CTX,
       COL_VOCAB, COL_TOK, COL_PRE, COL_PARAMS, COL_TENSORS, COL_TYPES, COL_COUNT };

typedef struct manifest_row {
    char *col[COL_COUNT];
} manifest_row;

/* Splits the TSV (header skipped) into rows; returns the row count, rows point into *text. */
static int read_manifest(char **text, manifest_row **rows) {
    char path[1024];
    FILE *f = fopen(test_data_path(path, sizeof path, "MANIFEST.tsv"), "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *text = malloc((size_t)n + 1);
    CU_ASSERT_FATAL(fread(*text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    (*text)[n] = '\0';
    int count = 0, cap = 64;
    *rows = calloc((size_t)cap, sizeof **rows);
    char *line = strchr(*text, '\n'); /* skip the header */
    while (line && *++line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        manifest_row r = {{0}};
        char *p = line;
        for (int c = 0; c < COL_COUNT; c++) {
            r.col[c] = p;
            char *tab = p ? strchr(p, '\t') : NULL;
            if (tab)
                *tab = '\0';
            p = tab ? tab + 1 : NULL;
        }
        CU_ASSERT_FATAL(r.col[COL_TYPES] != NULL); /* every column present */
        if (count == cap)
            *rows = realloc(*rows, (size_t)(cap *= 2) * sizeof **rows);
        (*rows)[count++] = r;
        line = end;
    }
    return count;
}

static void check_types(const vkslm_gguf *g, const char *types, const char *file) {
    uint64_t counts[VKSLM_TYPE_COUNT] = {0}, listed = 0;
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++)
        counts[vkslm_gguf_tensor_at(g, i)->type]++;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", types);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *colon = strchr(tok, ':');
        CU_ASSERT_FATAL(colon != NULL);
        *colon = '\0';
        int type = vkslm_type_from_name(tok);
        CU_ASSERT_FATAL(type >= 0);
        uint64_t want = strtoull(colon + 1, NULL, 10);
        if (counts[type] != want)
            printf("\n  %s: %llu tensors of %s, manifest says %llu\n", file, (unsigned long long)counts[type], tok,
                   (unsigned long long)want);
        CU_ASSERT_EQUAL(counts[type], want);
        listed += want;
    }
    CU_ASSERT_EQUAL(listed, vkslm_gguf_tensor_count(g)); /* no type the manifest does not list */
}

static void check_hparams(const vkslm_gguf *g, const manifest_row *r) {
    vkslm_hparams hp;
    vkslm_status st = vkslm_hparams_load(g, &hp);
    if (st != VKSLM_OK)
        printf("\n  %s: %s\n", r->col[COL_PATH], vkslm_last_error());
    CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
    CU_ASSERT(vkslm_str_eq(hp.arch_name, r->col[COL_ARCH]));
    CU_ASSERT_EQUAL(hp.n_vocab, strtoul(r->col[COL_VOCAB], NULL, 10));
    CU_ASSERT(vkslm_str_eq(hp.tok_model, r->col[COL_TOK]));
    CU_ASSERT(vkslm_str_eq(hp.tok_pre, r->col[COL_PRE]));
    CU_ASSERT_EQUAL(hp.has_arch_params, 1);
    CU_ASSERT_EQUAL(hp.n_layer, strtoul(r->col[COL_LAYER], NULL, 10));
    CU_ASSERT_EQUAL(hp.n_embd, strtoul(r->col[COL_EMBD], NULL, 10));
    CU_ASSERT_EQUAL(hp.n_head, strtoul(r->col[COL_HEAD], NULL, 10));
    if (r->col[COL_HEAD_KV][0]) /* blank where the file has no head_count_kv (then it defaults to n_head) */
        CU_ASSERT_EQUAL(hp.n_head_kv, strtoul(r->col[COL_HEAD_KV], NULL, 10));
    CU_ASSERT_EQUAL(hp.n_ff, strtoul(r->col[COL_FF], NULL, 10));
    CU_ASSERT_EQUAL(hp.n_ctx_train, strtoul(r->col[COL_CTX], NULL, 10));
    if (strncmp(r->col[COL_PATH], "models/", 7) == 0) {
        CU_ASSERT(hp.arch != VKSLM_ARCH_UNKNOWN);
        CU_ASSERT(hp.norm_rms_eps > 0 && hp.norm_rms_eps < 1e-3f);
        CU_ASSERT(hp.n_rot > 0 && hp.n_rot <= hp.n_embd_head_k);
        CU_ASSERT(hp.bos_id >= 0 && (uint32_t)hp.bos_id < hp.n_vocab);
    }
}

static void test_manifest_files(void) {
    TEST_REQUIRE_DATA();
    char *text;
    manifest_row *rows;
    int n = read_manifest(&text, &rows), models = 0, vocabs = 0;
    CU_ASSERT(n >= 30);
    for (int k = 0; k < n; k++) {
        const manifest_row *r = &rows[k];
        char path[1024];
        vkslm_gguf *g = NULL;
        vkslm_status st = vkslm_gguf_open_file(test_data_path(path, sizeof path, r->col[COL_PATH]), &g);
        if (st != VKSLM_OK)
            printf("\n  %s: %s\n", r->col[COL_PATH], vkslm_last_error());
        CU_ASSERT_EQUAL_FATAL(st, VKSLM_OK);
        models += strncmp(r->col[COL_PATH], "models/", 7) == 0;
        vocabs += strncmp(r->col[COL_PATH], "vocab/", 6) == 0;
        CU_ASSERT_EQUAL(vkslm_gguf_file_size(g), strtoull(r->col[COL_SIZE], NULL, 10));
        CU_ASSERT_EQUAL(vkslm_gguf_tensor_count(g), strtoull(r->col[COL_TENSORS], NULL, 10));
        check_types(g, r->col[COL_TYPES], r->col[COL_PATH]);
        uint64_t params = 0;
        for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
            const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
            params += t->n_elems;
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            CU_ASSERT_PTR_EQUAL(vkslm_gguf_find_tensor(g, name), t);
            CU_ASSERT_EQUAL(t->offset % vkslm_gguf_alignment(g), 0);
        }
        CU_ASSERT_EQUAL(params, strtoull(r->col[COL_PARAMS], NULL, 10));
        check_hparams(g, r);
        vkslm_gguf_close(g);
    }
    CU_ASSERT(models >= 22 && vocabs >= 14);
    /* and the manifest lists every GGUF in the folders */
    static const char *const dirs[] = {"models", "models/quant", "vocab"};
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char path[1024];
        DIR *dir = opendir(test_data_path(path, sizeof path, dirs[d]));
        CU_ASSERT_FATAL(dir != NULL);
        for (struct dirent *e; (e = readdir(dir));) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
                continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s/%s", dirs[d], e->d_name);
            int found = 0;
            for (int k = 0; k < n; k++)
                found |= strcmp(rows[k].col[COL_PATH], rel) == 0;
            if (!found)
                printf("\n  %s is not in MANIFEST.tsv\n", rel);
            CU_ASSERT(found);
        }
        closedir(dir);
    }
    free(rows);
    free(text);
}

/* ---- whole-file helpers ------------------------------------------------------------------------- */
static uint8_t *read_file(const char *rel, size_t *size) {
    char path[1024];
    FILE *f = fopen(test_data_path(path, sizeof path, rel), "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*size);
    CU_ASSERT_FATAL(fread(p, 1, *size, f) == *size);
    fclose(f);
    return p;
}

/* Opens an exact-size heap copy of the first len bytes (so ASan sees any read past them). */
static vkslm_status open_prefix(const uint8_t *file, size_t len, vkslm_gguf **g) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, file, len);
    vkslm_status st = vkslm_gguf_open_memory(copy, len, g);
    if (st == VKSLM_OK)
        vkslm_gguf_close(*g);
    free(copy);
    return st;
}

static void test_truncations(void) {
    TEST_REQUIRE_DATA();
    size_t size;
    uint8_t *file = read_file("models/stories260K.gguf", &size);
    vkslm_gguf *g;
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(file, size, &g), VKSLM_OK);
    uint64_t data_off = vkslm_gguf_data_offset(g), data_end = data_off;
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *t = vkslm_gguf_tensor_at(g, i);
        if (data_off + t->offset + t->size > data_end)
            data_end = data_off + t->offset + t->size;
    }
    vkslm_gguf_close(g);
    CU_ASSERT(data_off > 1000 && data_end <= size);
    int bad = 0;
    for (size_t len = 0; len < data_off; len++) { /* header, metadata, tensor infos, padding */
        vkslm_clear_error();
        vkslm_status st = open_prefix(file, len, &g);
        if (st != VKSLM_ERR_FORMAT || vkslm_last_error()[0] == '\0') {
            if (bad++ < 5)
                printf("\n  prefix %zu: status %d, '%s'\n", len, st, vkslm_last_error());
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    vkslm_rng rng;
    test_rng(&rng, 17);
    for (int k = 0; k < 1000; k++) { /* inside the tensor data */
        size_t len = (size_t)(data_off + vkslm_rng_u64(&rng) % (data_end - data_off));
        vkslm_clear_error();
        vkslm_status st = open_prefix(file, len, &g);
        CU_ASSERT_EQUAL(st, VKSLM_ERR_FORMAT);
        CU_ASSERT(strstr(vkslm_last_error(), "outside the file") != NULL);
    }
    CU_ASSERT_EQUAL(open_prefix(file, (size_t)data_end, &g), VKSLM_OK); /* trailing padding is optional */
    free(file);
}

/* ---- opening from fd and memory ------------------------------------------------------------------ */
static void test_open_fd_offset(void) {
    TEST_REQUIRE_DATA();
    size_t size;
    uint8_t *file = read_file("models/stories260K.gguf", &size);
    char tmpl[] = "/tmp/vkslm_test_gguf_XXXXXX";
    int fd = mkstemp(tmpl);
    CU_ASSERT_FATAL(fd >= 0);
    unlink(tmpl);
    const uint64_t junk = 12345; /* not a multiple of the page size */
    uint8_t filler[12345];
    memset(filler, 0xAB, sizeof filler);
    CU_ASSERT_FATAL(write(fd, filler, sizeof filler) == (ssize_t)sizeof filler);
    CU_ASSERT_FATAL(write(fd, file, size) == (ssize_t)size);
    CU_ASSERT_FATAL(write(fd, "trailing", 8) == 8);

    vkslm_gguf *g = NULL, *ref = NULL;
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(file, size, &ref), VKSLM_OK);
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_fd(fd, junk, size, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_file_size(g), size);
    CU_ASSERT_EQUAL(vkslm_gguf_tensor_count(g), vkslm_gguf_tensor_count(ref));
    CU_ASSERT_EQUAL(vkslm_gguf_kv_count(g), vkslm_gguf_kv_count(ref));
    for (uint64_t i = 0; i < vkslm_gguf_tensor_count(g); i++) {
        const vkslm_gguf_tensor *a = vkslm_gguf_tensor_at(g, i), *b = vkslm_gguf_tensor_at(ref, i);
        CU_ASSERT_EQUAL(a->size, b->size);
        CU_ASSERT(memcmp(a->data, b->data, (size_t)a->size) == 0);
    }
    vkslm_gguf_close(g);
    /* length 0 means to the end: the 8 trailing bytes are inside, which is allowed after the data */
    CU_ASSERT_EQUAL(vkslm_gguf_open_fd(fd, junk, 0, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_file_size(g), size + 8);
    vkslm_gguf_close(g);
    /* the junk in front is not a GGUF file; a window past the end is an argument error */
    CU_ASSERT_EQUAL(vkslm_gguf_open_fd(fd, 0, 0, &g), VKSLM_ERR_FORMAT);
    CU_ASSERT(strstr(vkslm_last_error(), "bad magic") != NULL);
    CU_ASSERT_EQUAL(vkslm_gguf_open_fd(fd, junk, size + 9, &g), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(vkslm_gguf_open_fd(fd, junk, size - 1, &g), VKSLM_ERR_FORMAT); /* last tensor cut */
    close(fd);
    vkslm_gguf_close(ref);
    free(file);
}

static void test_open_memory_values(void) {
    TEST_REQUIRE_DATA();
    size_t size;
    uint8_t *file = read_file("models/stories260K.gguf", &size);
    vkslm_gguf *g;
    CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_memory(file, size, &g), VKSLM_OK);
    CU_ASSERT_EQUAL(vkslm_gguf_version(g), 3);
    CU_ASSERT_EQUAL(vkslm_gguf_alignment(g), 32);
    vkslm_str s;
    CU_ASSERT_EQUAL(vkslm_gguf_get_str(g, "general.architecture", &s), VKSLM_OK);
    CU_ASSERT(vkslm_str_eq(s, "llama"));
    int64_t tok = vkslm_gguf_find_key(g, "tokenizer.ggml.tokens");
    CU_ASSERT_FATAL(tok >= 0);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_type(g, (uint64_t)tok), VKSLM_GGUF_ARRAY);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_arr_type(g, (uint64_t)tok), VKSLM_GGUF_STRING);
    CU_ASSERT_EQUAL(vkslm_gguf_kv_arr_len(g, (uint64_t)tok), 512);
    CU_ASSERT_EQUAL(vkslm_gguf_arr_str(g, (uint64_t)tok, 0, &s), VKSLM_OK);
    CU_ASSERT(vkslm_str_eq(s, "<unk>"));
    CU_ASSERT_EQUAL(vkslm_gguf_arr_str(g, (uint64_t)tok, 1, &s), VKSLM_OK);
    CU_ASSERT(vkslm_str_eq(s, "<s>"));
    CU_ASSERT_EQUAL(vkslm_gguf_arr_str(g, (uint64_t)tok, 512, &s), VKSLM_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(vkslm_gguf_arr_data(g, (uint64_t)tok));
    int64_t scores = vkslm_gguf_find_key(g, "tokenizer.ggml.scores");
    CU_ASSERT_FATAL(scores >= 0);
    double sc;
    CU_ASSERT_EQUAL(vkslm_gguf_arr_f64(g, (uint64_t)scores, 511, &sc), VKSLM_OK);
    float raw;
    memcpy(&raw, (const uint8_t *)vkslm_gguf_arr_data(g, (uint64_t)scores) + 511 * 4, 4);
    CU_ASSERT_EQUAL(sc, (double)raw);
    uint32_t u;
    CU_ASSERT_EQUAL(vkslm_gguf_get_u32(g, "llama.block_count", &u), VKSLM_OK);
    CU_ASSERT_EQUAL(u, 5);
    CU_ASSERT_EQUAL(vkslm_gguf_get_u32(g, "llama.no_such_key", &u), VKSLM_ERR_FORMAT);
    CU_ASSERT(strstr(vkslm_last_error(), "'llama.no_such_key' is missing") != NULL);
    CU_ASSERT_EQUAL(vkslm_gguf_get_u32(g, "general.architecture", &u), VKSLM_ERR_FORMAT);
    CU_ASSERT(strstr(vkslm_last_error(), "has type string, expected an integer") != NULL);
    const vkslm_gguf_tensor *t = vkslm_gguf_find_tensor(g, "token_embd.weight");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT_EQUAL(t->type, VKSLM_TYPE_F32);
    CU_ASSERT_EQUAL(t->n_dims, 2);
    CU_ASSERT_EQUAL(t->ne[0], 64);
    CU_ASSERT_EQUAL(t->ne[1], 512);
    CU_ASSERT_EQUAL(t->size, 64 * 512 * 4);
    CU_ASSERT_PTR_EQUAL(t->data, file + vkslm_gguf_data_offset(g) + t->offset);
    CU_ASSERT_PTR_NULL(vkslm_gguf_find_tensor(g, "token_embd"));
    vkslm_gguf_close(g);
    vkslm_gguf_close(NULL);
    free(file);
}

/* Values only the architecture-specific keys or llama.cpp's defaults give. */
static void test_hparams_details(void) {
    TEST_REQUIRE_DATA();
    static const struct {
        const char *file;
        vkslm_arch arch;
        uint32_t head_k, rot, swa;
        float rope_base, attn_cap, final_cap;
        int chat;
    } cases[] = {
        {"models/stories260K.gguf", VKSLM_ARCH_LLAMA, 8, 8, 0, 10000.0f, 0, 0, 0},
        {"models/tiny-llama3-random.gguf", VKSLM_ARCH_LLAMA, 16, 16, 0, 500000.0f, 0, 0, -1},
        {"models/tiny-mistral-style-random.gguf", VKSLM_ARCH_LLAMA, 8, 8, 0, 1000000.0f, 0, 0, -1},
        {"models/tiny-gemma-random.gguf", VKSLM_ARCH_GEMMA, 32, 32, 0, 10000.0f, 0, 0, -1},
        {"models/tiny-gemma2-random.gguf", VKSLM_ARCH_GEMMA2, 32, 32, 64, 10000.0f, 50.0f, 30.0f, 0},
        {"models/tiny-qwen2-random.gguf", VKSLM_ARCH_QWEN2, 16, 16, 0, 1000000.0f, 0, 0, 1},
        {"models/tiny-phi3-random.gguf", VKSLM_ARCH_PHI3, 16, 16, 2047, 10000.0f, 0, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char path[1024];
        vkslm_gguf *g;
        CU_ASSERT_EQUAL_FATAL(vkslm_gguf_open_file(test_data_path(path, sizeof path, cases[k].file), &g), VKSLM_OK);
        vkslm_hparams hp;
        CU_ASSERT_EQUAL_FATAL(vkslm_hparams_load(g, &hp), VKSLM_OK);
        CU_ASSERT_EQUAL(hp.arch, cases[k].arch);
        if (cases[k].head_k)
            CU_ASSERT_EQUAL(hp.n_embd_head_k, cases[k].head_k);
        if (cases[k].rot)
            CU_ASSERT_EQUAL(hp.n_rot, cases[k].rot);
        CU_ASSERT_EQUAL(hp.n_swa, cases[k].swa);
        if (cases[k].rope_base > 0)
            CU_ASSERT_DOUBLE_EQUAL(hp.rope_freq_base, cases[k].rope_base, 1e-3);
        CU_ASSERT_DOUBLE_EQUAL(hp.attn_softcap, cases[k].attn_cap, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(hp.final_softcap, cases[k].final_cap, 1e-6);
        if (cases[k].chat >= 0)
            CU_ASSERT_EQUAL(hp.has_chat_template, cases[k].chat);
        CU_ASSERT(hp.eos_id >= 0);
        vkslm_gguf_close(g);
    }
}

int main(void) {
    static const vkslm_test tests[] = {
        {"every manifest file parses with its tensors, types and hyperparameters", test_manifest_files},
        {"stories260K prefixes are rejected", test_truncations},
        {"open_fd with an offset", test_open_fd_offset},
        {"open_memory and value accessors", test_open_memory_values},
        {"hyperparameter details and defaults", test_hparams_details},
        {NULL, NULL},
    };
    return test_run_suite("gguf", tests);
}
