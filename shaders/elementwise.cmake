# Elementwise ops: add (b broadcast), scale, softcap, over f32 and f16 storage in any pairing.
# The *_p16 variants read and write f16 as packed 32-bit words and need no 16-bit storage feature.
foreach(op ADD SCALE SOFTCAP)
  string(TOLOWER ${op} lop)
  foreach(ta F32 F16)
    foreach(td F32 F16)
      string(TOLOWER "elementwise_${lop}_${ta}_${td}" n)
      vkslm_shader(NAME ${n} SOURCE elementwise.comp DEFINES OP_${op}=1 TYPE_A_${ta}=1 TYPE_D_${td}=1 STORAGE16=1)
      vkslm_shader(NAME ${n}_p16 SOURCE elementwise.comp DEFINES OP_${op}=1 TYPE_A_${ta}=1 TYPE_D_${td}=1)
    endforeach()
  endforeach()
endforeach()
