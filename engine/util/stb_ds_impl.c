/* The one translation unit that holds stb_ds's implementation (dynamic arrays and string hash maps).
 * Every other file includes <stb_ds.h> without STB_DS_IMPLEMENTATION. stb_ds allocates with the C
 * library's realloc/free (its macros expand in the callers' files too, so they are not overridden here). */
#define STB_DS_IMPLEMENTATION
#include <stb_ds.h>
