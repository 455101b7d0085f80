#include "engine/cpu/norm.h"

#include <math.h>
#include <stddef.h>

static void finish(float *d, const float *a, const float *w, const float *b, uint64_t n, double mean, double scale) {
    for (uint64_t i = 0; i < n; i++) {
        double y = (a[i] - mean) * scale;
        if (w)
            y *= w[i];
        if (b)
            y += b[i];
        d[i] = (float)y;
    }
}

void vkslm_cpu_rms_norm(float *d, const float *a, const float *w, uint64_t n, uint64_t rows, float eps) {
    for (uint64_t r = 0; r < rows; r++, a += n, d += n) {
        double q = 0;
        for (uint64_t i = 0; i < n; i++)
            q += (double)a[i] * a[i];
        finish(d, a, w, NULL, n, 0.0, 1.0 / sqrt(q / (double)n + eps));
    }
}

void vkslm_cpu_layer_norm(float *d, const float *a, const float *w, const float *b, uint64_t n, uint64_t rows,
                          float eps) {
    for (uint64_t r = 0; r < rows; r++, a += n, d += n) {
        double s = 0, q = 0;
        for (uint64_t i = 0; i < n; i++)
            s += a[i];
        double mean = s / (double)n;
        for (uint64_t i = 0; i < n; i++)
            q += (a[i] - mean) * (a[i] - mean);
        finish(d, a, w, b, n, mean, 1.0 / sqrt(q / (double)n + eps));
    }
}
