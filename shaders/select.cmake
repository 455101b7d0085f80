# Top-k (engine/ops/select.c): top-k passes (raw values or (value, id) pairs) for k <= 64; argmax passes (a workgroup per 4096
# entries, coalesced reads, subgroup reductions).
vkslm_shader(NAME select_topk_raw SOURCE select_topk.comp DEFINES KMAX=64)
vkslm_shader(NAME select_topk_pairs SOURCE select_topk.comp DEFINES KMAX=64 PAIRS=1)
vkslm_shader(NAME select_argmax_raw SOURCE select_argmax.comp)
vkslm_shader(NAME select_argmax_pairs SOURCE select_argmax.comp DEFINES PAIRS=1)
# CPU devices: raw rows as 16-byte texels, a whole row per workgroup (one pass)
vkslm_shader(NAME select_argmax_texel SOURCE select_argmax.comp DEFINES TEXEL=1)
