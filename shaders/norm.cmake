# RMSNorm over f32 rows (the weight optional at run time through a push-constant flag), and the same with
# the residual add fused in front.
vkslm_shader(NAME norm_rms SOURCE norm.comp)
vkslm_shader(NAME norm_rms_add SOURCE norm.comp DEFINES RESIDUAL=1)
