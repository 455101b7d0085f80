# RoPE on f32 q/k: normal (adjacent pairs) and NeoX (halves) orderings.
vkslm_shader(NAME rope_norm SOURCE rope.comp DEFINES ROPE_NORMAL=1)
vkslm_shader(NAME rope_neox SOURCE rope.comp DEFINES ROPE_NEOX=1)
