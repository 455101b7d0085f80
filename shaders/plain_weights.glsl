// Plain float weights (WTYPE_F32, WTYPE_F16 or WTYPE_BF16) whose rows are no multiple of 32 elements, which
// the blocked kernels need (shaders/matmul_plain.comp and get_rows_plain.comp; small models only). Weights
// are bound as 32-bit words (binding 0) and addressed in 16-bit halves, so an F16/BF16 row may start in
// the middle of a word. The push constants, declared identically as vkslm_plain_push in engine/ops/matmul.h:
#ifndef VKSLM_PLAIN_WEIGHTS_GLSL
#define VKSLM_PLAIN_WEIGHTS_GLSL
#include "half.glsl"

layout(push_constant) uniform Push {
    uint k;          // elements per row
    uint rows;       // weight rows bound
    uint w_half;     // 16-bit offset of row 0 in the bound weights
    uint row_halves; // 16-bit units between rows
    uint x_off;      // float offset of x[0] (matmul) or int offset of ids[0] (get_rows)
    uint x_stride;   // floats between vectors of x
    uint n_vec;      // vectors (matmul) or ids (get_rows) of this dispatch
    uint d_off;      // float offset of d[0][0]
    uint d_stride;   // floats between vectors (rows) of d
    uint b_off;      // float offset of bias[0]
    uint has_bias;
    uint pad;
} pc;

layout(std430, binding = 0) readonly buffer BufW { uint W[]; };

// the weight at 16-bit offset h; EH: halves per element
#if defined(WTYPE_F32)
#define EH 2u
float wload(uint h) { return uintBitsToFloat(W[h >> 1]); }
#elif defined(WTYPE_F16)
#define EH 1u
float wload(uint h) { return half_unpack2(W[h >> 1])[h & 1u]; }
#else // BF16
#define EH 1u
float wload(uint h) { uint w = W[h >> 1]; return uintBitsToFloat(((h & 1u) != 0u ? w >> 16 : w & 0xffffu) << 16); }
#endif
#endif
