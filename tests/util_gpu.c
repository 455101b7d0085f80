#include "tests/util_gpu.h"

#include <stdlib.h>

#include "engine/cpu/elementwise.h"
#include "loaders/ggml_types.h"
#include "tests/harness.h"

vkslm_buf test_upload_bytes(vkslm_vk *vk, const void *data, uint64_t size) {
    vkslm_buf b;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, (size + 3) & ~3ull, &b) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_upload(vk, &b, 0, data, size) == VKSLM_OK);
    return b;
}

vkslm_buf test_upload_floats(vkslm_vk *vk, const float *x, uint64_t n, uint32_t type) {
    if (type != VKSLM_TYPE_F16)
        return test_upload_bytes(vk, x, n * 4);
    uint16_t *h = malloc(n * 2 + 2);
    CU_ASSERT_FATAL(h != NULL);
    vkslm_cpu_f32_to_f16(h, x, n);
    vkslm_buf b = test_upload_bytes(vk, h, n * 2);
    free(h);
    return b;
}

vkslm_buf test_alloc_poisoned(vkslm_vk *vk, uint64_t bytes) {
    vkslm_buf b;
    uint64_t size = (bytes + 3) & ~3ull;
    CU_ASSERT_FATAL(vkslm_vk_alloc(vk, VKSLM_MEM_DEVICE, size, &b) == VKSLM_OK);
    CU_ASSERT_FATAL(vkslm_vk_fill(vk, &b, 0, size, 0x7fc07fc0u) == VKSLM_OK);
    return b;
}

void test_download_floats(vkslm_vk *vk, const vkslm_buf *b, uint64_t offset, float *x, uint64_t n, uint32_t type) {
    if (type != VKSLM_TYPE_F16) {
        CU_ASSERT_FATAL(vkslm_vk_download(vk, b, offset, x, n * 4) == VKSLM_OK);
        return;
    }
    uint16_t *h = malloc(n * 2 + 2);
    CU_ASSERT_FATAL(h != NULL);
    CU_ASSERT_FATAL(vkslm_vk_download(vk, b, offset, h, n * 2) == VKSLM_OK);
    vkslm_cpu_f16_to_f32(x, h, n);
    free(h);
}

void test_random_floats(vkslm_rng *r, float *x, uint64_t n, float lo, float hi, uint32_t type) {
    for (uint64_t i = 0; i < n; i++)
        x[i] = vkslm_rng_range(r, lo, hi);
    if (type == VKSLM_TYPE_F16)
        vkslm_cpu_round_f16(x, n);
}
