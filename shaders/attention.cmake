# attention (attn.comp: flash attention over an f32 or f16 KV cache; attn_combine.comp: merges the
# key splits of flash-decoding). *_p16 reads an f16 cache as packed 32-bit words and needs no 16-bit
# storage feature; *_1sg is for workgroups that are exactly one subgroup (no workgroup barrier).
foreach(one "" "_1sg")
  if(one)
    set(d ONE_SUBGROUP=1)
  else()
    set(d "")
  endif()
  vkslm_shader(NAME attn_f32${one} SOURCE attn.comp DEFINES ${d})
  vkslm_shader(NAME attn_f16${one} SOURCE attn.comp DEFINES KV_F16=1 STORAGE16=1 ${d})
  vkslm_shader(NAME attn_f16_p16${one} SOURCE attn.comp DEFINES KV_F16=1 ${d})
endforeach()
vkslm_shader(NAME attn_combine SOURCE attn_combine.comp)
