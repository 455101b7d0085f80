/* The table of embedded SPIR-V variants, generated at build time (cmake/shaders.cmake), indexed by
 * vkslm_shader_id (the generated vkslm_shader_ids.h: VKSLM_SHADER_<NAME> for each variant). */
#ifndef VKSLM_VK_SPIRV_INDEX_H
#define VKSLM_VK_SPIRV_INDEX_H
#include <stddef.h>
#include <stdint.h>

#include "vkslm_shader_ids.h"

typedef struct vkslm_spirv_entry {
    const char *name;
    const uint32_t *code;
    const size_t *size; /* bytes */
} vkslm_spirv_entry;

extern const vkslm_spirv_entry vkslm_spirv_table[]; /* [VKSLM_SHADER_COUNT], then one with a NULL name */

/* The id of a variant by name (tests and tools); -1 when absent. */
int vkslm_spirv_find(const char *name);
#endif
