/* The table of embedded SPIR-V variants, generated at build time (cmake/shaders.cmake). */
#ifndef VKSLM_VK_SPIRV_INDEX_H
#define VKSLM_VK_SPIRV_INDEX_H
#include <stddef.h>
#include <stdint.h>

typedef struct vkslm_spirv_entry {
    const char *name;
    const uint32_t *code;
    const size_t *size; /* bytes */
} vkslm_spirv_entry;

extern const vkslm_spirv_entry vkslm_spirv_table[]; /* ends with a NULL name */

/* Looks a variant up by name; NULL when absent. */
const vkslm_spirv_entry *vkslm_spirv_find(const char *name);
#endif
