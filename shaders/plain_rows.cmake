# Plain float weights with rows that are not a multiple of 32 elements (tiny models): plain_rows.comp.
foreach(t F32 F16 BF16)
  string(TOLOWER ${t} lt)
  vkslm_shader(NAME plain_matvec_${lt} SOURCE plain_rows.comp DEFINES WTYPE_${t}=1 OP_MATVEC=1)
  vkslm_shader(NAME plain_get_rows_${lt} SOURCE plain_rows.comp DEFINES WTYPE_${t}=1 OP_GET_ROWS=1)
endforeach()
