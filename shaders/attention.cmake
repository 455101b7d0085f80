# attention (attn.comp: flash attention over an f32 or f16 KV cache; attn_combine.comp: merges the
# key splits of flash-decoding). The *_p16 variant reads an f16 cache as packed 32-bit words and needs
# no 16-bit storage feature.
vkslm_shader(NAME attn_f32 SOURCE attn.comp)
vkslm_shader(NAME attn_f16 SOURCE attn.comp DEFINES KV_F16=1 STORAGE16=1)
vkslm_shader(NAME attn_f16_p16 SOURCE attn.comp DEFINES KV_F16=1)
vkslm_shader(NAME attn_combine SOURCE attn_combine.comp)
