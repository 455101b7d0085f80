/* The one translation unit that holds stb_ds's implementation (dynamic arrays and string hash maps), under
 * vkslm_stbds_ names: every other user includes engine/util/stb_ds_names.h without STB_DS_IMPLEMENTATION.
 * stb_ds allocates with the C library's realloc/free (its macros expand in the callers' files too, so they
 * are not overridden here). */
#define STB_DS_IMPLEMENTATION
#include "engine/util/stb_ds_names.h"
