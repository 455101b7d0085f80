# RMSNorm over f32 rows (the weight optional at run time through a push-constant flag), and the same with
# the residual add fused in front.
vkslm_shader(NAME norm_rms SOURCE norm.comp)
vkslm_shader(NAME norm_rms_add SOURCE norm.comp DEFINES RESIDUAL=1)
# the same in groups of 4 (rows a multiple of 4, every tensor on a 16-byte boundary)
vkslm_shader(NAME norm_rms_v4 SOURCE norm.comp DEFINES VEC4=1)
vkslm_shader(NAME norm_rms_add_v4 SOURCE norm.comp DEFINES RESIDUAL=1 VEC4=1)
