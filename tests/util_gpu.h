/* GPU test helpers: device buffers from host floats (stored as f32 or f16) and back. */
#ifndef VKSLM_TEST_UTIL_GPU_H
#define VKSLM_TEST_UTIL_GPU_H
#include <stdint.h>

#include "engine/util/rng.h"
#include "engine/vk/vk.h"

/* A device buffer holding x[0..n) stored as `type` (VKSLM_TYPE_F32 or F16); size rounded up to 4 bytes. */
vkslm_buf test_upload_floats(vkslm_vk *vk, const float *x, uint64_t n, uint32_t type);
/* Raw bytes into a fresh device buffer (size rounded up to 4). */
vkslm_buf test_upload_bytes(vkslm_vk *vk, const void *data, uint64_t size);
/* A device buffer of `bytes` (rounded up to 4) filled with NaN bit patterns (poison). */
vkslm_buf test_alloc_poisoned(vkslm_vk *vk, uint64_t bytes);
/* Reads n values stored as `type` back as floats. */
void test_download_floats(vkslm_vk *vk, const vkslm_buf *b, uint64_t offset, float *x, uint64_t n, uint32_t type);
/* Uniform random floats in [lo, hi); rounded to f16 precision when type is F16. */
void test_random_floats(vkslm_rng *r, float *x, uint64_t n, float lo, float hi, uint32_t type);
#endif
