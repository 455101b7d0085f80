// Loading and storing f32/f16 tensor elements, with or without the 16-bit storage feature.
// Without STORAGE16, an f16 tensor is bound as packed 32-bit words: element i is half (i & 1) of word
// i >> 1. Buffers are declared by the including shader through these macros.
#ifndef VKSLM_TYPES_GLSL
#define VKSLM_TYPES_GLSL

#ifdef STORAGE16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "half.glsl"

// DECLARE_F32(binding, name, qualifiers) / DECLARE_F16(binding, name, qualifiers)
#define DECLARE_F32(B, NAME, Q) layout(std430, binding = B) Q buffer Buf##NAME { float NAME[]; };
#ifdef STORAGE16
#define DECLARE_F16(B, NAME, Q) layout(std430, binding = B) Q buffer Buf##NAME { float16_t NAME[]; };
#define LOAD_F16(NAME, i) float(NAME[i])
#else
#define DECLARE_F16(B, NAME, Q) layout(std430, binding = B) Q buffer Buf##NAME { uint NAME[]; };
#define LOAD_F16(NAME, i) half_unpack2(NAME[(i) >> 1])[(i) & 1u]
#endif
#define LOAD_F32(NAME, i) NAME[i]

#endif
