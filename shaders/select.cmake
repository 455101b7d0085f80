# Top-k passes (raw values or (value, id) pairs) for k <= 64; argmax passes (a workgroup per 4096
# entries, coalesced reads, subgroup reductions).
vkslm_shader(NAME topk_raw SOURCE topk.comp DEFINES KMAX=64)
vkslm_shader(NAME topk_pairs SOURCE topk.comp DEFINES KMAX=64 PAIRS=1)
vkslm_shader(NAME argmax_raw SOURCE argmax.comp)
vkslm_shader(NAME argmax_pairs SOURCE argmax.comp DEFINES PAIRS=1)
