# Weight products (engine/ops/matmul.c), one variant per weight type, named <kernel>_<type> (lower case):
# matmul_vec_* (matmul_vec.comp: mat-vec for decode, and the register-tiled prefill),
# matmul_vec_texel_* (the same reading weights and x as texel buffers: what CPU devices take),
# matmul_* (matmul.comp: shared-memory tiles for prefill on GPUs), matmul_plain_* (matmul_plain.comp:
# plain float rows that are no multiple of 32 elements). Weights are read as raw 32-bit words
# (quant_blocks.glsl, plain_weights.glsl), so no variant needs 8/16-bit storage or fp16 arithmetic.
set(VKSLM_WEIGHT_TYPES F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS)
foreach(t ${VKSLM_WEIGHT_TYPES})
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME matmul_vec_${lt} SOURCE matmul_vec.comp DEFINES WTYPE_${t}=1)
  vkslm_shader(NAME matmul_vec_texel_${lt} SOURCE matmul_vec.comp DEFINES WTYPE_${t}=1 QB_TEXEL=1)
  vkslm_shader(NAME matmul_${lt} SOURCE matmul.comp DEFINES WTYPE_${t}=1)
endforeach()
foreach(t F32 F16 BF16)
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME matmul_plain_${lt} SOURCE matmul_plain.comp DEFINES WTYPE_${t}=1)
endforeach()
# quantize_x8.comp: f32 rows in 8 bits (vkslm_x8), for a product taking x so where no producer writes it
vkslm_shader(NAME quantize_x8 SOURCE quantize_x8.comp)
