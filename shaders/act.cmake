# Activations (f32): SiLU, GELU (tanh form) and the gated forms SwiGLU, GeGLU (separate or fused gate|up).
foreach(op SILU GELU SWIGLU GEGLU)
  string(TOLOWER ${op} n)
  vkslm_shader(NAME ${n} SOURCE act.comp DEFINES OP_${op}=1)
endforeach()
