# LoRA (engine/ops/lora.c): the scaled scatter-add of an adapter's product into rows of a projection.
vkslm_shader(NAME lora_scatter_add SOURCE lora_scatter_add.comp)
