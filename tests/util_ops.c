#include "tests/util_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/elementwise.h"
#include "engine/cpu/matmul.h"
#include "engine/model/weight_tiles.h"
#include "engine/ops/matmul.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"
#include "tests/util_weights.h"

static vkslm_buf *framed(vkslm_vk *vk, uint64_t pad, uint64_t bytes) {
    vkslm_buf *b = malloc(sizeof *b);
    uint64_t size = (pad + bytes + OT_GUARD + 3) & ~3ull;
    CU_ASSERT_FATAL(b && vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, size, b) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_fill(vk, b, 0, size, OT_POISON) == VKSLM_OK);
    return b;
}

ot_tensor ot_raw(vkslm_vk *vk, const void *data, uint64_t bytes, uint32_t type, uint64_t ne0, uint64_t ne1,
                 uint64_t pad) {
    ot_tensor t = {.bytes = bytes};
    t.buf = framed(vk, pad, bytes);
    if (data && bytes)
        CU_ASSERT_FATAL(vkslm_vk_upload(vk, t.buf, pad, data, bytes) == VKSLM_OK);
    t.t = (vkslm_tensor){t.buf, pad, type, {ne0, ne1, 1, 1}};
    return t;
}

ot_tensor ot_weights(vkslm_vk *vk, const uint8_t *w, uint32_t type, uint64_t k, uint64_t n, uint32_t t) {
    return ot_weights_at(vk, w, type, k, n, t, vkslm_type_info(type)->block_elems == 1 ? 4 : 2);
}

ot_tensor ot_weights_at(vkslm_vk *vk, const uint8_t *w, uint32_t type, uint64_t k, uint64_t n, uint32_t t,
                        uint64_t pad) {
    uint64_t bytes = test_row_bytes(type, k) * n;
    uint8_t *tiled = NULL;
    if (t > 1) {
        CU_ASSERT_FATAL(vkslm_tile_ok(type, k, n, t));
        tiled = malloc(bytes);
        CU_ASSERT_FATAL(tiled != NULL);
        vkslm_tile_pack(tiled, w, type, k, n, t);
    }
    ot_tensor tw = ot_raw(vk, tiled ? tiled : w, bytes, type, k, n, pad);
    tw.t.tile = t;
    free(tiled);
    return tw;
}

ot_tensor ot_floats(vkslm_vk *vk, const float *x, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                    uint64_t pad) {
    uint64_t n = ne0 * ne1 * ne2;
    ot_tensor t;
    if (type == VKSLM_TYPE_F16) {
        uint16_t *h = malloc(n * 2 + 2);
        CU_ASSERT_FATAL(h != NULL);
        vkslm_cpu_f32_to_f16(h, x, n);
        t = ot_raw(vk, h, n * 2, type, ne0, ne1, pad);
        free(h);
    } else {
        t = ot_raw(vk, x, n * 4, type, ne0, ne1, pad);
    }
    t.t.ne[2] = ne2;
    return t;
}

ot_tensor ot_out(vkslm_vk *vk, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2, uint64_t pad) {
    ot_tensor t = ot_raw(vk, NULL, ne0 * ne1 * ne2 * (type == VKSLM_TYPE_F16 ? 2 : 4), type, ne0, ne1, pad);
    t.t.ne[2] = ne2;
    return t;
}

int ot_read(vkslm_vk *vk, const ot_tensor *t, void *x, uint64_t n, const char *what) {
    uint64_t pad = t->t.offset, total = t->buf->size;
    uint8_t *all = malloc(total);
    CU_ASSERT_FATAL(all != NULL);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, t->buf, 0, all, total) == VKSLM_OK);
    if (t->t.type == VKSLM_TYPE_F16)
        vkslm_cpu_f16_to_f32(x, (const uint16_t *)(all + pad), n);
    else
        memcpy(x, all + pad, n * 4);
    /* the guard bytes: poison everywhere outside [pad, pad + bytes) */
    static const uint8_t poison[4] = {0xc0, 0x7f, 0xc0, 0x7f};
    int intact = 1;
    for (uint64_t i = 0; i < total && intact; i++)
        if ((i < pad || i >= pad + t->bytes) && all[i] != poison[i % 4])
            intact = 0;
    if (!intact)
        fprintf(stderr, "%s: wrote outside its output\n", what);
    CU_ASSERT(intact);
    free(all);
    return intact;
}

void ot_free(vkslm_vk *vk, ot_tensor *t) {
    vkslm_vk_free(vk, t->buf);
    free(t->buf);
    t->buf = NULL;
}

void test_random_floats(vkslm_rng *r, float *x, uint64_t n, float lo, float hi, uint32_t type) {
    for (uint64_t i = 0; i < n; i++)
        x[i] = vkslm_rng_range(r, lo, hi);
    if (type == VKSLM_TYPE_F16)
        vkslm_cpu_round_f16(x, n);
}

vkslm_cmd *ot_begin(vkslm_vk *vk) {
    vkslm_cmd *c;
    CU_ASSERT_FATAL(vkslm_cmd_create(vk, &c) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_cmd_begin(c) == VKSLM_OK);
    return c;
}

#define MAX_LABELS 8
typedef struct label_count {
    const char *label;
    uint32_t n;
} label_count;
static label_count counted[MAX_LABELS];
static uint32_t n_counted;

vkslm_status ot_submit(vkslm_cmd *c, vkslm_status st, const char *what) {
    if (st != VKSLM_OK)
        fprintf(stderr, "%s: %s\n", what, vkslm_last_error());
    CU_ASSERT_FATAL(vkslm_cmd_submit_wait(c) == VKSLM_OK);
    const vkslm_timing *t;
    uint32_t nt = vkslm_cmd_timings(c, &t);
    n_counted = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t k = 0;
        while (k < n_counted && strcmp(counted[k].label, t[i].label))
            k++;
        if (k == n_counted && n_counted < MAX_LABELS)
            counted[n_counted++] = (label_count){t[i].label, 0};
        if (k < n_counted)
            counted[k].n++;
    }
    vkslm_cmd_destroy(c);
    return st;
}

uint32_t ot_dispatches(const char *label) {
    for (uint32_t k = 0; k < n_counted; k++)
        if (strcmp(counted[k].label, label) == 0)
            return counted[k].n;
    return 0;
}

#define MAX_OPS 16
typedef struct op_seen {
    const char *op;
    double worst;
    uint32_t cases;
} op_seen;
static op_seen seen[MAX_OPS];
static uint32_t n_seen;

void ot_check(const char *op, double nmse, double bound, const char *what) {
    uint32_t k = 0;
    while (k < n_seen && strcmp(seen[k].op, op))
        k++;
    if (k == n_seen && n_seen < MAX_OPS)
        seen[n_seen++] = (op_seen){op, 0, 0};
    if (k < n_seen) {
        seen[k].cases++;
        if (nmse > seen[k].worst && nmse < 1e30)
            seen[k].worst = nmse;
    }
    if (!(nmse <= bound))
        fprintf(stderr, "FAIL %s %s: NMSE %.3g > %.3g\n", op, what, nmse, bound);
    CU_ASSERT(nmse <= bound);
}

void ot_report(void) {
    for (uint32_t k = 0; k < n_seen; k++)
        printf("  %-10s %4u cases, worst NMSE %.3g\n", seen[k].op, seen[k].cases, seen[k].worst);
    n_seen = 0;
}

double ot_read_nmse(vkslm_vk *vk, const ot_tensor *t, float *out, const float *ref, uint64_t n, const char *what) {
    if (!ot_read(vk, t, out, n, what))
        return INFINITY;
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return INFINITY;
    return test_nmse(out, ref, n);
}

/* The 8-bit output q (n_out rows, m vectors) against vkslm_cpu_quantize_x8 of the floats d the dispatch stored
 * (times g when given): each value within one step of the unit's scale, the scales to float rounding, zeros where
 * an odd last vector leaves its pair's second place */
void ot_check_x8(const int32_t *q, const float *d, const float *g, uint64_t n_out, uint64_t m, const char *what) {
    const uint64_t ints = vkslm_x8_pair_ints(n_out) * vkslm_x8_pairs(m);
    float *dg = malloc(n_out * m * 4), *got = malloc(n_out * (m + 1) * 4), *want = malloc(n_out * (m + 1) * 4);
    int32_t *ref = malloc(ints * 4);
    CU_ASSERT_FATAL(dg && got && want && ref);
    for (uint64_t i = 0; i < n_out * m; i++)
        dg[i] = d[i] * (g ? g[i % n_out] : 1.0f);
    vkslm_cpu_quantize_x8(ref, dg, n_out, m);
    const uint64_t mm = m % 2 ? m + 1 : m; /* the odd last vector's partner: all zero */
    vkslm_cpu_dequantize_x8(got, q, n_out, mm);
    vkslm_cpu_dequantize_x8(want, ref, n_out, mm);
    uint64_t bad = 0;
    for (uint64_t v = 0; v < mm; v++)
        for (uint64_t u = 0; u < n_out / 32; u++) {
            float dx_got, dx_want;
            const uint64_t at = v / 2 * vkslm_x8_pair_ints(n_out) + u * 36;
            memcpy(&dx_got, &q[at + 32 + v % 2], 4);
            memcpy(&dx_want, &ref[at + 32 + v % 2], 4);
            bad += fabsf(dx_got - dx_want) > 1e-6f * dx_want || q[at + 34] != 0 || q[at + 35] != 0;
            for (uint64_t e = 0; e < 32; e++) {
                const uint64_t i = v * n_out + u * 32 + e;
                bad += fabsf(got[i] - want[i]) > dx_want * 1.001f + 1e-30f;
            }
        }
    CU_ASSERT_EQUAL(bad, 0);
    if (bad)
        printf("\n  %s: %llu values of the 8-bit output off\n", what, (unsigned long long)bad);
    free(dg), free(got), free(want), free(ref);
}
