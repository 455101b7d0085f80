#include "engine/vk/spirv_index.h"

#include <string.h>

int vkslm_spirv_find(const char *name) {
    for (int i = 0; i < VKSLM_SHADER_COUNT; i++)
        if (strcmp(vkslm_spirv_table[i].name, name) == 0)
            return i;
    return -1;
}
