# The weight-reading kernels: matrix x vector (decode), matrix x matrix (prefill) and embedding lookup,
# one variant per weight type, named <op>_<type> (lower case). Weights are read as raw 32-bit words
# (quant_blocks.glsl), so no variant needs 8/16-bit storage or fp16 arithmetic.
set(VKSLM_WEIGHT_TYPES F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS)
foreach(t ${VKSLM_WEIGHT_TYPES})
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME matvec_${lt} SOURCE matvec.comp DEFINES WTYPE_${t}=1)
endforeach()
foreach(t ${VKSLM_WEIGHT_TYPES})
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME get_rows_${lt} SOURCE get_rows.comp DEFINES WTYPE_${t}=1)
endforeach()
foreach(t ${VKSLM_WEIGHT_TYPES})
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME matmul_${lt} SOURCE matmul.comp DEFINES WTYPE_${t}=1)
endforeach()
