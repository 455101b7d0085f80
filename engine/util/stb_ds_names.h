/* stb_ds (dynamic arrays and string hash maps) with its functions renamed into vkslm's prefix: libvkslm.a
 * exports only vkslm_ symbols, and a static library cannot hide names (a program that links its own
 * stb_ds, or another library that does, would otherwise clash with ours). stb_ds's macros call these
 * functions by their stbds_ names, so every file that uses stb_ds includes this header instead of
 * <stb_ds.h>; engine/util/stb_ds_impl.c holds the implementation. */
#ifndef VKSLM_UTIL_STB_DS_NAMES_H
#define VKSLM_UTIL_STB_DS_NAMES_H

#define stbds_arrgrowf vkslm_stbds_arrgrowf
#define stbds_arrfreef vkslm_stbds_arrfreef
#define stbds_hash_bytes vkslm_stbds_hash_bytes
#define stbds_hash_string vkslm_stbds_hash_string
#define stbds_hmdel_key vkslm_stbds_hmdel_key
#define stbds_hmfree_func vkslm_stbds_hmfree_func
#define stbds_hmget_key vkslm_stbds_hmget_key
#define stbds_hmget_key_ts vkslm_stbds_hmget_key_ts
#define stbds_hmput_default vkslm_stbds_hmput_default
#define stbds_hmput_key vkslm_stbds_hmput_key
#define stbds_rand_seed vkslm_stbds_rand_seed
#define stbds_shmode_func vkslm_stbds_shmode_func
#define stbds_stralloc vkslm_stbds_stralloc
#define stbds_strreset vkslm_stbds_strreset
#define stbds_unit_tests vkslm_stbds_unit_tests

#include <stb_ds.h>
#endif
