/* The op-test harness behind tests/test_gpu_ops.c, after llama.cpp's test-backend-ops: every op runs on
 * the device over tensors placed at odd offsets between poison, its output is compared with engine/cpu
 * by NMSE, and the poison around every tensor must survive (inputs are framed by NaN, so reading outside
 * one shows in the output too). */
#ifndef VKSLM_TEST_UTIL_OPS_H
#define VKSLM_TEST_UTIL_OPS_H
#include <stdint.h>

#include "engine/ops/tensor.h"
#include "engine/util/rng.h"

#define OT_POISON 0x7fc07fc0u /* NaN as f32, and as each f16 half */
#define OT_GUARD 64u          /* bytes of poison after every tensor */

typedef struct ot_tensor {
    vkslm_buf *buf;  /* on the heap: copies of the struct share it */
    vkslm_tensor t;  /* `pad` bytes into buf, OT_GUARD bytes of poison after its data */
    uint64_t bytes;  /* of its data */
} ot_tensor;

/* n = ne0 * ne1 * ne2 floats stored as type (F32 or F16) pad bytes into a fresh buffer. */
ot_tensor ot_floats(vkslm_vk *vk, const float *x, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                    uint64_t pad);
/* bytes of raw data (weights, I32 ids) as a tensor of type and shape {ne0, ne1}. */
ot_tensor ot_raw(vkslm_vk *vk, const void *data, uint64_t bytes, uint32_t type, uint64_t ne0, uint64_t ne1,
                 uint64_t pad);
/* Weights w (n rows of k elements of type, GGUF's layout) as a tensor in GGUF's rows (t < 2) or in tiles of t rows
 * (engine/model/weight_tiles.h), 2 bytes into a fresh buffer (4 for plain floats). */
ot_tensor ot_weights(vkslm_vk *vk, const uint8_t *w, uint32_t type, uint64_t k, uint64_t n, uint32_t t);
/* the same, pad bytes into its buffer (ot_weights: 2, or 4 for plain floats: off 16 bytes, as blocks may be) */
ot_tensor ot_weights_at(vkslm_vk *vk, const uint8_t *w, uint32_t type, uint64_t k, uint64_t n, uint32_t t,
                        uint64_t pad);
/* An output of type (F32, F16 or I32) and shape, all poison. */
ot_tensor ot_out(vkslm_vk *vk, uint32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2, uint64_t pad);
/* Reads the first n values back as floats (F32/F16; I32 as raw words into x); returns 0 (and says so) when
 * the poison before or after the tensor was touched. */
int ot_read(vkslm_vk *vk, const ot_tensor *t, void *x, uint64_t n, const char *what);
void ot_free(vkslm_vk *vk, ot_tensor *t);
/* Reads n floats of t back into out; their NMSE against ref, INFINITY when the read fails (poison touched)
 * or an output is not finite. */
double ot_read_nmse(vkslm_vk *vk, const ot_tensor *t, float *out, const float *ref, uint64_t n, const char *what);

/* Uniform random floats in [lo, hi); rounded to f16 precision when type is F16. */
void test_random_floats(vkslm_rng *r, float *x, uint64_t n, float lo, float hi, uint32_t type);

/* A fresh recording, begun. */
vkslm_cmd *ot_begin(vkslm_vk *vk);
/* Submits c (whatever st is), destroys it, prints the error when st is not VKSLM_OK; returns st. */
vkslm_status ot_submit(vkslm_cmd *c, vkslm_status st, const char *what);
/* Dispatches of the last ot_submit labelled `label` (counted when the context profiles). */
uint32_t ot_dispatches(const char *label);

/* Records the NMSE of one run of `op` against its bound: prints the case when it fails, keeps the worst. */
void ot_check(const char *op, double nmse, double bound, const char *what);
/* One line per op: its cases and worst NMSE. */
void ot_report(void);
/* The 8-bit output q (engine/ops/matmul.h, vkslm_x8: n_out rows, m vectors) against vkslm_cpu_quantize_x8 of the
 * floats d (times g when given: n_out weights), as a device rounds (asserts): each value within one step of its
 * unit's scale, the scales to float rounding, zeros where an odd last vector leaves its pair's second place. */
void ot_check_x8(const int32_t *q, const float *d, const float *g, uint64_t n_out, uint64_t m, const char *what);
#endif
