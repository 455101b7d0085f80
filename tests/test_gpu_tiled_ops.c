/* Weights in tiles of rows (engine/model/weight_tiles.h), the layout models load in on CPU devices: the
 * products and the embedding lookup over tiled weights give bit for bit what they give over GGUF's rows, for
 * every weight type, decode and prefill shapes, the fusions, and weights split over several bindings (whole
 * tiles per binding, refused where one tile does not fit). Layout and refusals checked on the host too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/matmul.h"
#include "engine/model/weight_tiles.h"
#include "engine/ops/get_rows.h"
#include "engine/ops/matmul.h"
#include "engine/vk/vk.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_ops.h"
#include "tests/util_weights.h"

#define F32 VKSLM_TYPE_F32

static const char *tname(uint32_t type) { return vkslm_type_info(type)->name; }

static uint64_t k_of(uint32_t type) { return vkslm_type_info(type)->block_elems == 256 ? 256 : 96; }

/* d = x w^T over w in layout t, read back; the op's status. f: fusions or NULL. */
static vkslm_status product(vkslm_vk *vk, const uint8_t *w, uint32_t type, uint64_t k, uint64_t n, uint32_t t,
                            const float *x, uint64_t m, const vkslm_matmul_fuse *f, const ot_tensor *norm,
                            float *out, const char *what) {
    ot_tensor tw = ot_weights(vk, w, type, k, n, t);
    ot_tensor tx = ot_floats(vk, x, F32, k, m, 1, 16), td = ot_out(vk, F32, n, m, 1, 4);
    vkslm_matmul_fuse ff = f ? *f : (vkslm_matmul_fuse){0};
    if (norm)
        ff.norm = &norm->t;
    vkslm_cmd *c = ot_begin(vk);
    vkslm_status st = f ? vkslm_op_matmul_fused(c, &td.t, &tw.t, &tx.t, NULL, &ff, 0)
                        : vkslm_op_matmul(c, &td.t, &tw.t, &tx.t, NULL);
    CU_ASSERT_EQUAL(ot_submit(c, st, what), st);
    if (st == VKSLM_OK && !ot_read(vk, &td, out, n * m, what))
        st = VKSLM_ERR_DEVICE_LOST;
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &td);
    return st;
}

static void check_same(const float *a, const float *b, uint64_t n, const char *what) {
    int same = memcmp(a, b, n * 4) == 0;
    CU_ASSERT(same);
    if (!same)
        printf("\n  %s: tiled differs from GGUF's rows\n", what);
}

/* Every weight type, 1 to 20 vectors (the mat-vec, two passes of it, the prefill product), tiles of 32 and 8
 * rows; the tiled products against the CPU reference and bit for bit against GGUF's rows. */
static void test_tiled_products(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    static const uint64_t ms[] = {1, 3, 11, 20};
    static const uint32_t tiles[] = {32, 8};
    uint64_t salt = 1;
    for (int ti = 0; ti < test_n_weight_types; ti++) {
        uint32_t type = test_weight_types[ti];
        if (!test_weight_type_swept(ti))
            continue;
        const uint64_t k = k_of(type), n = 96;
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++) {
            const uint64_t m = ms[mi];
            const uint32_t t = tiles[mi % 2];
            vkslm_rng r;
            test_rng(&r, salt++);
            uint8_t *w = test_random_weights(&r, type, n, k);
            float *x = malloc(k * m * 4), *ref = malloc(n * m * 4), *a = malloc(n * m * 4), *b = malloc(n * m * 4);
            CU_ASSERT_FATAL(w && x && ref && a && b);
            test_random_floats(&r, x, k * m, -2.0f, 2.0f, F32);
            CU_ASSERT_FATAL(vkslm_cpu_matmul(ref, type, w, x, NULL, k, n, m) == VKSLM_OK);
            char what[96];
            snprintf(what, sizeof what, "%s k=%llu n=%llu m=%llu tile=%u", tname(type), (unsigned long long)k,
                     (unsigned long long)n, (unsigned long long)m, t);
            CU_ASSERT_EQUAL_FATAL(product(vk, w, type, k, n, 0, x, m, NULL, NULL, a, what), VKSLM_OK);
            CU_ASSERT_EQUAL_FATAL(product(vk, w, type, k, n, t, x, m, NULL, NULL, b, what), VKSLM_OK);
            ot_check("tiled matmul", test_nmse(b, ref, n * m), 1e-6, what);
            check_same(a, b, n * m, what);
            free(w), free(x), free(ref), free(a), free(b);
        }
    }
    ot_report();
}

/* The fused products (norm in the loads, add in the stores) over tiles, where the device has them. */
static void test_tiled_fused(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    const uint32_t type = VKSLM_TYPE_Q4_0;
    const uint64_t k = 64, n = 64, m = 5;
    vkslm_rng r;
    test_rng(&r, 77);
    uint8_t *w = test_random_weights(&r, type, n, k);
    float x[64 * 5], g[64], a[64 * 5], b[64 * 5];
    CU_ASSERT_FATAL(w != NULL);
    test_random_floats(&r, x, k * m, -2.0f, 2.0f, F32);
    test_random_floats(&r, g, k, 0.5f, 1.5f, F32);
    ot_tensor tg = ot_floats(vk, g, F32, k, 1, 1, 16);
    ot_tensor probe = ot_weights(vk, w, type, k, n, 32);
    const int fusable = vkslm_op_matmul_glu_fusable(vk, &probe.t);
    ot_free(vk, &probe);
    const vkslm_matmul_fuse fn = {.eps = 1e-5f};
    vkslm_status sa = product(vk, w, type, k, n, 0, x, m, &fn, &tg, a, "norm, rows");
    vkslm_status sb = product(vk, w, type, k, n, 32, x, m, &fn, &tg, b, "norm, tiles");
    CU_ASSERT_EQUAL(sa, fusable ? VKSLM_OK : VKSLM_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(sb, sa);
    if (sa == VKSLM_OK && sb == VKSLM_OK)
        check_same(a, b, n * m, "Q4_0 norm-fused product");
    ot_free(vk, &tg);
    free(w);
}

/* Embedding rows out of tiles: the same floats as out of GGUF's rows, ids out of range zero. */
static void test_tiled_get_rows(void) {
    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    uint64_t salt = 300;
    for (int ti = 0; ti < test_n_weight_types; ti++) {
        uint32_t type = test_weight_types[ti];
        if (!test_weight_type_swept(ti))
            continue;
        const uint64_t k = k_of(type), n = 64, n_ids = 9;
        vkslm_rng r;
        test_rng(&r, salt++);
        uint8_t *w = test_random_weights(&r, type, n, k);
        int32_t ids[9] = {0, 63, 31, 32, 5, -1, 64, 40, 7};
        float *a = malloc(k * n_ids * 4), *b = malloc(k * n_ids * 4);
        CU_ASSERT_FATAL(w && a && b);
        for (int pass = 0; pass < 2; pass++) {
            ot_tensor tw = ot_weights(vk, w, type, k, n, pass ? 32 : 0);
            ot_tensor ti_ = ot_raw(vk, ids, sizeof ids, VKSLM_TYPE_I32, n_ids, 1, 4);
            ot_tensor td = ot_out(vk, F32, k, n_ids, 1, 4);
            vkslm_cmd *c = ot_begin(vk);
            vkslm_status st = vkslm_op_get_rows(c, &td.t, &tw.t, &ti_.t);
            CU_ASSERT_EQUAL(ot_submit(c, st, tname(type)), VKSLM_OK);
            CU_ASSERT(ot_read(vk, &td, pass ? b : a, k * n_ids, tname(type)));
            ot_free(vk, &tw), ot_free(vk, &ti_), ot_free(vk, &td);
        }
        char what[64];
        snprintf(what, sizeof what, "get_rows %s", tname(type));
        check_same(a, b, k * n_ids, what);
        free(w), free(a), free(b);
    }
}

/* Weights larger than a binding split into whole tiles (8 KiB bindings: 32 rows of 144 bytes per piece, where
 * GGUF's rows split every 56); a tile larger than a binding is refused, never computed in part. */
static void test_tiled_split(void) {
    const char *env[] = {"VKSLM_MAX_STORAGE_RANGE=8192", NULL};
    vkslm_vk *vk = test_gpu_open_env(env, 0);
    TEST_REQUIRE_GPU(vk);
    const uint32_t type = VKSLM_TYPE_Q4_0;
    const uint64_t k = 256, n = 256, m = 3;
    vkslm_rng r;
    test_rng(&r, 500);
    uint8_t *w = test_random_weights(&r, type, n, k);
    float *x = malloc(k * m * 4), *a = malloc(n * m * 4), *b = malloc(n * m * 4);
    CU_ASSERT_FATAL(w && x && a && b);
    test_random_floats(&r, x, k * m, -2.0f, 2.0f, F32);
    CU_ASSERT_EQUAL(product(vk, w, type, k, n, 0, x, m, NULL, NULL, a, "split rows"), VKSLM_OK);
    CU_ASSERT_EQUAL(product(vk, w, type, k, n, 32, x, m, NULL, NULL, b, "split tiles"), VKSLM_OK);
    check_same(a, b, n * m, "Q4_0 split over bindings");
    CU_ASSERT_EQUAL(product(vk, w, type, k, n, 64, x, m, NULL, NULL, b, "a tile over the range"), VKSLM_ERR_LIMIT);
    free(w), free(x), free(a), free(b);
    test_gpu_assert_clean(vk);
    vkslm_vk_close(vk);
}

/* Refused: the shared-memory kernel over tiles, rows that are no whole tiles; and the host layout itself. */
static void test_tiled_refusals(void) {
    /* the layout: block b of row r at block b * t + r % t of its tile */
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_Q4_0, 64, 64, 32), 1);
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_Q4_0, 64, 48, 32), 0); /* no whole tiles */
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_Q4_0, 64, 64, 1), 0);
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_F32, 40, 64, 32), 0);  /* plain rows of no 32-element units */
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_Q4_K, 128, 64, 32), 0); /* half a block */
    CU_ASSERT_EQUAL(vkslm_tile_ok(VKSLM_TYPE_I32, 64, 64, 32), 0);
    CU_ASSERT_EQUAL(vkslm_tile_block_bytes(VKSLM_TYPE_F16), 64u);
    CU_ASSERT_EQUAL(vkslm_tile_block_bytes(VKSLM_TYPE_Q4_0), 18u);
    uint8_t src[4 * 2 * 18], dst[sizeof src];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)i;
    vkslm_tile_pack(dst, src, VKSLM_TYPE_Q4_0, 64, 4, 2); /* 4 rows of 2 blocks, tiles of 2 rows */
    static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7}; /* source block (row * 2 + b) at each place */
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(memcmp(dst + i * 18, src + order[i] * 18, 18), 0);

    vkslm_vk *vk = test_gpu();
    TEST_REQUIRE_GPU(vk);
    const uint64_t k = 64, n = 64;
    vkslm_rng r;
    test_rng(&r, 600);
    uint8_t *w = test_random_weights(&r, VKSLM_TYPE_Q4_0, n, k);
    float x[64 * 40] = {0};
    CU_ASSERT_FATAL(w != NULL);
    ot_tensor tw = ot_weights(vk, w, VKSLM_TYPE_Q4_0, k, n, 32);
    ot_tensor tx = ot_floats(vk, x, F32, k, 40, 1, 16), td = ot_out(vk, F32, n, 40, 1, 4);
    vkslm_cmd *c = ot_begin(vk);
    CU_ASSERT_EQUAL(vkslm_op_matmul_ex(c, &td.t, &tw.t, &tx.t, NULL, VKSLM_MATMUL_TILED, 0), VKSLM_ERR_UNSUPPORTED);
    tw.t.tile = 48; /* 64 rows are no whole tiles of 48 */
    CU_ASSERT_EQUAL(vkslm_op_matmul(c, &td.t, &tw.t, &tx.t, NULL), VKSLM_ERR_INVALID_ARG);
    int32_t ids[1] = {3};
    ot_tensor ti_ = ot_raw(vk, ids, sizeof ids, VKSLM_TYPE_I32, 1, 1, 4), tr = ot_out(vk, F32, k, 1, 1, 4);
    CU_ASSERT_EQUAL(vkslm_op_get_rows(c, &tr.t, &tw.t, &ti_.t), VKSLM_ERR_INVALID_ARG);
    ot_submit(c, VKSLM_ERR_INVALID_ARG, "refusals");
    ot_free(vk, &tw), ot_free(vk, &tx), ot_free(vk, &td), ot_free(vk, &ti_), ot_free(vk, &tr);
    free(w);
    test_gpu_assert_clean(vk);
}

int main(void) {
    static const vkslm_test tests[] = {
        {"products over tiled weights: every type, bit for bit GGUF's rows", test_tiled_products},
        {"fused products over tiled weights", test_tiled_fused},
        {"embedding rows out of tiled weights", test_tiled_get_rows},
        {"tiled weights split over bindings in whole tiles", test_tiled_split},
        {"tiles refused where a kernel or a shape does not take them", test_tiled_refusals},
        {NULL, NULL},
    };
    return test_run_suite("gpu_tiled_ops", tests);
}
