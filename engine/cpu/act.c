#include "engine/cpu/act.h"

#include <math.h>
#include <stddef.h>

static float silu(float x) { return (float)(x / (1.0 + exp(-(double)x))); }

static float gelu(float x) {
    const double c = 0.79788456080286535588; /* sqrt(2/pi) */
    double v = x;
    /* 0.5 v (1 + tanh(y)) written as v / (1 + exp(-2y)), which keeps its digits as y -> -inf */
    return (float)(v / (1.0 + exp(-2.0 * c * (v + 0.044715 * v * v * v))));
}

static void glu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows, float (*f)(float)) {
    uint64_t gs = up ? n : 2 * n;
    for (uint64_t r = 0; r < rows; r++) {
        const float *g = gate + r * gs, *u = up ? up + r * n : g + n;
        for (uint64_t i = 0; i < n; i++)
            d[r * n + i] = f(g[i]) * u[i];
    }
}

void vkslm_cpu_swiglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows) {
    glu(d, gate, up, n, rows, silu);
}

void vkslm_cpu_geglu(float *d, const float *gate, const float *up, uint64_t n, uint64_t rows) {
    glu(d, gate, up, n, rows, gelu);
}
