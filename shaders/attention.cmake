# Attention (engine/ops/attention.c): attention.comp, flash attention over an f32 or f16 KV cache, and
# attention_combine.comp, which merges the key splits of flash-decoding. *_p16 reads an f16 cache as packed
# 32-bit words and needs no 16-bit storage feature; *_1sg is for workgroups that are exactly one subgroup
# (no workgroup barrier).
foreach(one "" "_1sg")
  if(one)
    set(d ONE_SUBGROUP=1)
  else()
    set(d "")
  endif()
  vkslm_shader(NAME attention_f32${one} SOURCE attention.comp DEFINES ${d})
  vkslm_shader(NAME attention_f16${one} SOURCE attention.comp DEFINES KV_F16=1 STORAGE16=1 ${d})
  vkslm_shader(NAME attention_f16_p16${one} SOURCE attention.comp DEFINES KV_F16=1 ${d})
endforeach()
vkslm_shader(NAME attention_combine SOURCE attention_combine.comp)
