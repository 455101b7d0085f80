#include "tests/util_weights.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/half.h"
#include "loaders/ggml_types.h"
#include "loaders/quant.h"
#include "tests/harness.h"

const uint32_t test_weight_types[] = {
    VKSLM_TYPE_F32,  VKSLM_TYPE_F16,  VKSLM_TYPE_BF16, VKSLM_TYPE_Q4_0, VKSLM_TYPE_Q4_1,
    VKSLM_TYPE_Q5_0, VKSLM_TYPE_Q5_1, VKSLM_TYPE_Q8_0, VKSLM_TYPE_Q2_K, VKSLM_TYPE_Q3_K,
    VKSLM_TYPE_Q4_K, VKSLM_TYPE_Q5_K, VKSLM_TYPE_Q6_K, VKSLM_TYPE_IQ4_NL, VKSLM_TYPE_IQ4_XS,
};
const int test_n_weight_types = (int)(sizeof test_weight_types / sizeof *test_weight_types);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif

int test_quick(void) {
#ifdef TEST_SANITIZED
    return 1;
#else
    const char *e = getenv("VKSLM_TEST_QUICK");
    return e && *e && *e != '0';
#endif
}

int test_weight_type_swept(int t) {
    if (!test_quick())
        return 1;
    uint32_t type = test_weight_types[t];
    return type == VKSLM_TYPE_F16 || type == VKSLM_TYPE_Q4_0 || type == VKSLM_TYPE_Q8_0 || type == VKSLM_TYPE_Q4_K ||
           type == VKSLM_TYPE_Q6_K;
}

uint64_t test_row_bytes(uint32_t type, uint64_t k) { return vkslm_type_row_bytes(type, k); }

/* a random f16 scale in [lo, hi) stored little-endian at p */
static void put_scale(vkslm_rng *r, uint8_t *p, float lo, float hi) {
    uint16_t h = vkslm_f32_to_f16(vkslm_rng_range(r, lo, hi));
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

uint8_t *test_random_weights(vkslm_rng *r, uint32_t type, uint64_t n_rows, uint64_t k) {
    uint64_t rb = vkslm_type_row_bytes(type, k), bytes = rb * n_rows;
    uint8_t *w = calloc(bytes + 4, 1);
    CU_ASSERT_FATAL(w != NULL && rb != 0);
    if (vkslm_can_quantize(type)) {
        float *f = malloc(k * n_rows * sizeof *f);
        CU_ASSERT_FATAL(f != NULL);
        for (uint64_t i = 0; i < k * n_rows; i++)
            f[i] = vkslm_rng_range(r, -1.0f, 1.0f);
        CU_ASSERT_FATAL(vkslm_quantize_rows(type, f, w, n_rows, k) == bytes);
        free(f);
        return w;
    }
    for (uint64_t i = 0; i < bytes; i++)
        w[i] = (uint8_t)(vkslm_rng_u64(r) >> 56);
    const vkslm_type_traits *t = vkslm_type_info(type);
    for (uint64_t b = 0; b < bytes / t->block_bytes; b++) {
        uint8_t *blk = w + b * t->block_bytes;
        switch (type) {
        case VKSLM_TYPE_Q2_K: put_scale(r, blk + 80, 0.002f, 0.02f); put_scale(r, blk + 82, 0.002f, 0.02f); break;
        case VKSLM_TYPE_Q3_K: put_scale(r, blk + 108, 0.001f, 0.01f); break;
        case VKSLM_TYPE_IQ4_NL: put_scale(r, blk, 0.002f, 0.01f); break;
        case VKSLM_TYPE_IQ4_XS: put_scale(r, blk, 0.0002f, 0.001f); break;
        default: CU_FAIL_FATAL("no random block recipe for this type");
        }
    }
    return w;
}
