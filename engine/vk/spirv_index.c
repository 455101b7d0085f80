#include "engine/vk/spirv_index.h"

#include <string.h>

const vkslm_spirv_entry *vkslm_spirv_find(const char *name) {
    for (const vkslm_spirv_entry *e = vkslm_spirv_table; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}
