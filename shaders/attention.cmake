# Attention (engine/ops/attention.c): attention.comp, flash attention over an f32 or f16 KV cache, and
# attention_combine.comp, which merges the key splits of flash-decoding. *_p16 reads an f16 cache as packed
# 32-bit words and needs no 16-bit storage feature; *_1sg is for workgroups that are exactly one subgroup
# (no workgroup barrier); *_texel reads K and V as texel buffers (CPU devices).
foreach(one "" "_1sg")
  if(one)
    set(d ONE_SUBGROUP=1)
  else()
    set(d "")
  endif()
  vkslm_shader(NAME attention_f32${one} SOURCE attention.comp DEFINES ${d})
  vkslm_shader(NAME attention_f16${one} SOURCE attention.comp DEFINES KV_F16=1 STORAGE16=1 ${d})
  vkslm_shader(NAME attention_f16_p16${one} SOURCE attention.comp DEFINES KV_F16=1 ${d})
  vkslm_shader(NAME attention_f32_texel${one} SOURCE attention.comp DEFINES KV_TEXEL=1 ${d})
  vkslm_shader(NAME attention_f16_texel${one} SOURCE attention.comp DEFINES KV_F16=1 KV_TEXEL=1 ${d})
endforeach()
vkslm_shader(NAME attention_combine SOURCE attention_combine.comp)
# attention_lane.comp: decode tiles (few rows) on CPU devices, a key per lane (K and V as texel buffers)
vkslm_shader(NAME attention_lane_f32 SOURCE attention_lane.comp)
vkslm_shader(NAME attention_lane_f16 SOURCE attention_lane.comp DEFINES KV_F16=1)
# FUSED_QKV: a decode step's attention from the fused projection's rows (q and k roped on the way, the token's key
# and value written into the cache): kv_cache.comp's qkv write and the attention in one dispatch. The f16 cache is
# written as packed words (no 16-bit storage needed).
foreach(rope norm neox)
  if(rope STREQUAL "norm")
    set(rdef ROPE_NORMAL=1)
  else()
    set(rdef ROPE_NEOX=1)
  endif()
  vkslm_shader(NAME attention_lane_qkv_f32_${rope} SOURCE attention_lane.comp DEFINES FUSED_QKV=1 ${rdef})
  vkslm_shader(NAME attention_lane_qkv_f16_${rope} SOURCE attention_lane.comp DEFINES FUSED_QKV=1 KV_F16=1 ${rdef})
  # X8_OUT: the output in 8 bits (the o product's input), added atomically into integers the op zeroes
  vkslm_shader(NAME attention_lane_qkv_f32_${rope}_x8 SOURCE attention_lane.comp DEFINES FUSED_QKV=1 X8_OUT=1 ${rdef})
  vkslm_shader(NAME attention_lane_qkv_f16_${rope}_x8 SOURCE attention_lane.comp
               DEFINES FUSED_QKV=1 KV_F16=1 X8_OUT=1 ${rdef})
endforeach()
