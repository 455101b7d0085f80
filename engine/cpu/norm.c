#include "engine/cpu/norm.h"

#include <math.h>
#include <stddef.h>

void vkslm_cpu_rms_norm(float *d, const float *a, const float *w, uint64_t n, uint64_t rows, float eps) {
    for (uint64_t r = 0; r < rows; r++, a += n, d += n) {
        double q = 0;
        for (uint64_t i = 0; i < n; i++)
            q += (double)a[i] * a[i];
        double scale = 1.0 / sqrt(q / (double)n + eps);
        for (uint64_t i = 0; i < n; i++)
            d[i] = (float)(a[i] * scale * (w ? w[i] : 1.0f));
    }
}
