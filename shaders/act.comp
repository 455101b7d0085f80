#version 450
// Gated activations over f32 rows, one invocation per output element:
//   SWIGLU d = silu(g) * u     silu(x) = x * sigmoid(x)
//   GEGLU  d = gelu(g) * u     gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// Element (r, i) of a dispatch reads G[g_off + r*g_stride + i] and U[u_off + r*u_stride + i] and writes
// D[d_off + r*d_stride + i]; a fused [gate|up] tensor is bound as G and, n elements further, as U.
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint n;        // elements per row
    uint rows;
    uint g_off, u_off, d_off;
    uint g_stride, u_stride, d_stride;
} pc;

layout(std430, binding = 0) readonly buffer BufG { float G[]; };
layout(std430, binding = 1) readonly buffer BufU { float U[]; };
layout(std430, binding = 2) writeonly buffer BufD { float D[]; };

float silu(float x) { return x / (1.0 + exp(-x)); }

// 0.5 x (1 + tanh(y)) == x / (1 + exp(-2y)): no cancellation for negative x and no overflow
// (GLSL's tanh may return NaN for large |y|, and 1 + tanh(y) loses all digits as y -> -inf)
float gelu(float x) {
    const float c = 0.7978845608028654; // sqrt(2/pi)
    float y = c * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * y));
}

void main() {
    uint g = gl_GlobalInvocationID.x;
    if (g >= pc.n * pc.rows)
        return;
    uint r = g / pc.n, i = g - r * pc.n;
    float x = G[pc.g_off + r * pc.g_stride + i];
#ifdef OP_SWIGLU
    float y = silu(x);
#else
    float y = gelu(x);
#endif
    D[pc.d_off + r * pc.d_stride + i] = y * U[pc.u_off + r * pc.u_stride + i];
}
