/* Tensor element types as GGUF numbers them, with their block geometry: the enum and the lookups are public
 * (include/vkslm_gguf.h, "tensor types"). The block layouts themselves live in loaders/quant_blocks.h. */
#ifndef VKSLM_LOADERS_GGML_TYPES_H
#define VKSLM_LOADERS_GGML_TYPES_H
#include <stddef.h>
#include <stdint.h>

#include "vkslm_gguf.h"
#endif
