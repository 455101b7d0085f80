/* String pool and pair map (see tok_map.h). */
#include "engine/tokenizer/tok_map.h"

#include <string.h>

#include "engine/util/alloc.h"
#include "engine/util/error.h"

uint64_t vkslm_hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8, n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static vkslm_status oom(const char *what) { return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "tokenizer: out of memory (%s)", what); }

static int32_t pool_lookup(const vkslm_strpool *p, const char *s, size_t n, uint32_t h, uint32_t *slot) {
    uint32_t i = h & p->mask;
    for (;;) {
        const vkslm_strpool_slot *e = &p->slots[i];
        if (e->id < 0) {
            *slot = i;
            return -1;
        }
        if (e->hash == h && p->len[e->id] == n && memcmp(p->bytes + p->off[e->id], s, n) == 0) {
            *slot = i;
            return e->id;
        }
        i = (i + 1) & p->mask;
    }
}

static vkslm_status pool_grow_slots(vkslm_strpool *p) {
    uint32_t cap = p->slots ? (p->mask + 1) * 2 : 1024;
    if (cap == 0 || cap > (1u << 30))
        return oom("string map");
    vkslm_strpool_slot *slots = VKSLM_MALLOC((size_t)cap * sizeof *slots);
    if (!slots)
        return oom("string map");
    for (uint32_t i = 0; i < cap; i++)
        slots[i].id = -1;
    vkslm_strpool_slot *old = p->slots;
    uint32_t old_cap = old ? p->mask + 1 : 0;
    p->slots = slots;
    p->mask = cap - 1;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i].id < 0)
            continue;
        uint32_t j = old[i].hash & p->mask;
        while (slots[j].id >= 0)
            j = (j + 1) & p->mask;
        slots[j] = old[i];
    }
    VKSLM_FREE(old);
    return VKSLM_OK;
}

vkslm_status vkslm_strpool_push(vkslm_strpool *p, const char *s, size_t n, int32_t *id) {
    if (n > UINT32_MAX || p->n_bytes + n > UINT32_MAX || p->n == INT32_MAX)
        return vkslm_fail(VKSLM_ERR_LIMIT, "tokenizer: vocabulary text too large");
    if ((p->used + 1) * 2 > (p->slots ? p->mask + 1 : 0))
        VKSLM_TRY(pool_grow_slots(p));
    if (p->n == p->cap) {
        int32_t cap = p->cap ? (p->cap > INT32_MAX / 2 ? INT32_MAX : p->cap * 2) : 1024;
        uint32_t *off = VKSLM_REALLOC(p->off, (size_t)cap * sizeof *off);
        if (!off)
            return oom("strings");
        p->off = off;
        uint32_t *len = VKSLM_REALLOC(p->len, (size_t)cap * sizeof *len);
        if (!len)
            return oom("strings");
        p->len = len;
        p->cap = cap;
    }
    if (p->n_bytes + n > p->cap_bytes) {
        size_t cap = p->cap_bytes ? p->cap_bytes : 65536;
        while (cap < p->n_bytes + n)
            cap *= 2;
        char *b = VKSLM_REALLOC(p->bytes, cap);
        if (!b)
            return oom("strings");
        p->bytes = b;
        p->cap_bytes = cap;
    }
    if (n)
        memcpy(p->bytes + p->n_bytes, s, n);
    int32_t me = p->n++;
    p->off[me] = (uint32_t)p->n_bytes;
    p->len[me] = (uint32_t)n;
    p->n_bytes += n;
    s = p->bytes + p->off[me]; /* (s must not point into the pool) */
    uint32_t h = (uint32_t)vkslm_hash_bytes(s, n), slot;
    if (pool_lookup(p, s, n, h, &slot) < 0)
        p->used++;
    p->slots[slot].hash = h;
    p->slots[slot].id = me;
    *id = me;
    return VKSLM_OK;
}

int32_t vkslm_strpool_find(const vkslm_strpool *p, const char *s, size_t n) {
    if (!p->slots)
        return -1;
    uint32_t slot;
    return pool_lookup(p, s, n, (uint32_t)vkslm_hash_bytes(s, n), &slot);
}

vkslm_status vkslm_strpool_intern(vkslm_strpool *p, const char *s, size_t n, int32_t *id) {
    int32_t found = vkslm_strpool_find(p, s, n);
    if (found >= 0) {
        *id = found;
        return VKSLM_OK;
    }
    return vkslm_strpool_push(p, s, n, id);
}

void vkslm_strpool_free(vkslm_strpool *p) {
    VKSLM_FREE(p->bytes);
    VKSLM_FREE(p->off);
    VKSLM_FREE(p->len);
    VKSLM_FREE(p->slots);
    memset(p, 0, sizeof *p);
}

static uint32_t pair_hash(uint64_t key) {
    key ^= key >> 31;
    key *= 0x7FB5D329728EA185ull;
    key ^= key >> 27;
    key *= 0x81DADEF4BC2DD44Dull;
    return (uint32_t)(key ^ (key >> 33));
}

static vkslm_status pairmap_grow(vkslm_pairmap *m) {
    uint32_t cap = m->slots ? (m->mask + 1) * 2 : 1024;
    if (cap == 0 || cap > (1u << 30))
        return oom("merge map");
    vkslm_merge *slots = VKSLM_MALLOC((size_t)cap * sizeof *slots);
    if (!slots)
        return oom("merge map");
    for (uint32_t i = 0; i < cap; i++)
        slots[i].key = UINT64_MAX;
    vkslm_merge *old = m->slots;
    uint32_t old_cap = old ? m->mask + 1 : 0;
    m->slots = slots;
    m->mask = cap - 1;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i].key == UINT64_MAX)
            continue;
        uint32_t j = pair_hash(old[i].key) & m->mask;
        while (slots[j].key != UINT64_MAX)
            j = (j + 1) & m->mask;
        slots[j] = old[i];
    }
    VKSLM_FREE(old);
    return VKSLM_OK;
}

vkslm_status vkslm_pairmap_put(vkslm_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result) {
    if ((m->used + 1) * 2 > (m->slots ? m->mask + 1 : 0))
        VKSLM_TRY(pairmap_grow(m));
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t i = pair_hash(key) & m->mask;
    while (m->slots[i].key != UINT64_MAX) {
        if (m->slots[i].key == key)
            return VKSLM_OK;
        i = (i + 1) & m->mask;
    }
    m->slots[i] = (vkslm_merge){key, rank, result};
    m->used++;
    return VKSLM_OK;
}

const vkslm_merge *vkslm_pairmap_get(const vkslm_pairmap *m, int32_t left, int32_t right) {
    if (!m->slots)
        return NULL;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t i = pair_hash(key) & m->mask;
    while (m->slots[i].key != UINT64_MAX) {
        if (m->slots[i].key == key)
            return &m->slots[i];
        i = (i + 1) & m->mask;
    }
    return NULL;
}

void vkslm_pairmap_free(vkslm_pairmap *m) {
    VKSLM_FREE(m->slots);
    memset(m, 0, sizeof *m);
}
