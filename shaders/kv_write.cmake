# KV-cache write from f32 rows into an F32 or F16 cache (f16 also as packed words without 16-bit storage).
vkslm_shader(NAME kv_write_f32 SOURCE kv_write.comp)
vkslm_shader(NAME kv_write_f16 SOURCE kv_write.comp DEFINES CACHE_F16=1 STORAGE16=1)
vkslm_shader(NAME kv_write_f16_p16 SOURCE kv_write.comp DEFINES CACHE_F16=1)
