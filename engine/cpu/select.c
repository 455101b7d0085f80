#include "engine/cpu/select.h"

#include <math.h>
#include <stddef.h>

double vkslm_cpu_log_softmax_at(const float *a, uint64_t n, uint64_t id) {
    double m = -INFINITY, s = 0;
    /* a comparison, not fmax(): Debian's aarch64 GCC 12.2 crashes vectorizing an fmax reduction (internal
     * compiler error in vect_transform_reduction); NaNs are skipped either way */
    for (uint64_t i = 0; i < n; i++)
        if ((double)a[i] > m)
            m = (double)a[i];
    for (uint64_t i = 0; i < n; i++)
        s += exp((double)a[i] - m);
    return (double)a[id] - m - log(s);
}

static int better(float v, uint64_t i, float w, uint64_t j) { return v > w || (v == w && i < j); }

void vkslm_cpu_topk(int32_t *ids, float *values, const float *a, uint64_t n, uint64_t rows, uint32_t k) {
    for (uint64_t r = 0; r < rows; r++, a += n) {
        int32_t *id = ids + r * k;
        float best[64 + 1];
        uint32_t have = 0;
        for (uint64_t i = 0; i < n; i++) {
            float v = isnan(a[i]) ? -INFINITY : a[i];
            if (have == k && !better(v, i, best[k - 1], (uint64_t)id[k - 1]))
                continue;
            uint32_t p = have < k ? have++ : k - 1;
            while (p > 0 && better(v, i, best[p - 1], (uint64_t)id[p - 1])) {
                best[p] = best[p - 1];
                id[p] = id[p - 1];
                p--;
            }
            best[p] = v;
            id[p] = (int32_t)i;
        }
        if (values)
            for (uint32_t t = 0; t < k; t++)
                values[r * k + t] = best[t];
    }
}
