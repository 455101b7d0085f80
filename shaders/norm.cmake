# RMSNorm and LayerNorm over f32 rows (weight and bias optional at run time through push-constant flags).
vkslm_shader(NAME rms_norm SOURCE norm.comp DEFINES OP_RMS=1)
vkslm_shader(NAME layer_norm SOURCE norm.comp DEFINES OP_LAYER=1)
vkslm_shader(NAME rms_norm_add SOURCE norm.comp DEFINES OP_RMS=1 RESIDUAL=1)
