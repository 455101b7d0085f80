/* GGUF v2/v3 reader: its API is public (include/vkslm_gguf.h, "reading a GGUF file": opening, header,
 * metadata, tensors, with the checks every hostile file gets). This header adds what only the engine uses. */
#ifndef VKSLM_LOADERS_GGUF_H
#define VKSLM_LOADERS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "vkslm_gguf.h"

/* Compares a view with a C string. */
int vkslm_str_eq(vkslm_str s, const char *cstr);
#endif
