# Gated activations (f32): SwiGLU and GeGLU, gate and up separate or fused in one tensor.
vkslm_shader(NAME act_swiglu SOURCE act.comp DEFINES OP_SWIGLU=1)
vkslm_shader(NAME act_geglu SOURCE act.comp DEFINES OP_GEGLU=1)
