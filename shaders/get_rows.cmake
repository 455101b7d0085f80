# Embedding lookups (engine/ops/get_rows.c): get_rows_<type> (get_rows.comp) for every weight type of
# shaders/matmul.cmake, and get_rows_plain_<type> (get_rows_plain.comp) for plain float rows that are no
# multiple of 32 elements.
foreach(t F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS)
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME get_rows_${lt} SOURCE get_rows.comp DEFINES WTYPE_${t}=1)
endforeach()
foreach(t F32 F16 BF16)
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME get_rows_plain_${lt} SOURCE get_rows_plain.comp DEFINES WTYPE_${t}=1)
endforeach()
