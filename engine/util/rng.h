/* A small seeded PRNG (splitmix64 seeding a xorshift64*) for tests and synthetic weights. */
#ifndef VKSLM_UTIL_RNG_H
#define VKSLM_UTIL_RNG_H
#include <stdint.h>

typedef struct vkslm_rng {
    uint64_t s;
} vkslm_rng;

static inline void vkslm_rng_seed(vkslm_rng *r, uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->s = (z ^ (z >> 31)) | 1u;
}
static inline uint64_t vkslm_rng_u64(vkslm_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}
/* uniform in [0, 1) */
static inline float vkslm_rng_f32(vkslm_rng *r) { return (float)(vkslm_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
/* uniform in [lo, hi) */
static inline float vkslm_rng_range(vkslm_rng *r, float lo, float hi) { return lo + (hi - lo) * vkslm_rng_f32(r); }
#endif
