"""ctypes declarations of the parts of include/vkslm.h that the binding calls, and the loading of libvkslm.

The structures mirror the C header field by field (same order, same types): ctypes lays them out as the C
compiler does, so a change to a mirrored struct in vkslm.h must be made here too. Every function is called
through ctypes.CDLL, which releases the GIL for the duration of each foreign call: other Python threads run
while the device works, and callbacks from the library take the GIL back while they run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_size_t, c_uint32, c_uint64, c_void_p)

OK = 0
ERR_INVALID_ARG = 100
ERR_LIMIT = 402
TOP_K_MAX = 64
POOLING_DEFAULT = 0


class DeviceInfo(Structure):
    """vkslm_device_info."""
    _fields_ = [
        ("name", c_char * 256), ("driver_name", c_char * 256), ("driver_info", c_char * 256),
        ("type", c_int), ("vendor_id", c_uint32), ("device_id", c_uint32), ("api_version", c_uint32),
        ("driver_version", c_uint32), ("subgroup_size", c_uint32), ("subgroup_size_min", c_uint32),
        ("subgroup_size_max", c_uint32), ("max_storage_buffer_range", c_uint64),
        ("max_memory_allocation_size", c_uint64), ("device_local_bytes", c_uint64), ("uma", c_int),
        ("fp16", c_int), ("int8", c_int), ("storage16", c_int), ("storage8", c_int),
        ("integer_dot_product", c_int), ("cooperative_matrix", c_int),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(c_bool, c_float, c_void_p)


class ModelParams(Structure):
    """vkslm_model_params."""
    _fields_ = [
        ("device", c_char_p), ("validate", c_bool), ("profile", c_bool), ("progress", PROGRESS_FN),
        ("progress_user_data", c_void_p), ("share_device", c_void_p), ("vocab_only", c_bool),
    ]


class SessionParams(Structure):
    """vkslm_session_params."""
    _fields_ = [("n_ctx", c_uint32), ("n_batch", c_uint32), ("kv_f32", c_bool), ("n_seq", c_uint32)]


class LogitBias(Structure):
    """vkslm_logit_bias."""
    _fields_ = [("token", c_int32), ("bias", c_float)]


ON_TOKEN_FN = ctypes.CFUNCTYPE(c_bool, c_char_p, c_void_p)
# (piece, ids, logprobs, n, user): logprobs is never asked for by the binding, so it stays an opaque pointer
ON_TOKENS_FN = ctypes.CFUNCTYPE(c_bool, c_char_p, POINTER(c_int32), c_void_p, c_size_t, c_void_p)


class GenerateParams(Structure):
    """vkslm_generate_params."""
    _fields_ = [
        ("max_tokens", c_int32), ("temperature", c_float), ("top_k", c_int32), ("top_p", c_float),
        ("min_p", c_float), ("repeat_penalty", c_float), ("frequency_penalty", c_float),
        ("presence_penalty", c_float), ("penalty_last_n", c_int32), ("seed", c_uint64),
        ("stop", POINTER(c_char_p)), ("n_stop", c_size_t), ("add_bos", c_int), ("parse_special", c_bool),
        ("on_token", ON_TOKEN_FN), ("user_data", c_void_p), ("logprobs", c_bool), ("top_logprobs", c_int32),
        ("logit_bias", POINTER(LogitBias)), ("n_logit_bias", c_size_t), ("on_tokens", ON_TOKENS_FN),
        ("grammar", c_char_p), ("grammar_root", c_char_p),
    ]


class GenerateResult(Structure):
    """vkslm_generate_result."""
    _fields_ = [
        ("stop_reason", c_int), ("prompt_tokens", POINTER(c_int32)), ("n_prompt_tokens", c_size_t),
        ("n_cached_tokens", c_size_t), ("tokens", POINTER(c_int32)), ("n_tokens", c_size_t),
        ("text", POINTER(c_char)), ("text_len", c_size_t), ("prefill_ms", c_double), ("decode_ms", c_double),
        ("pp_tps", c_double), ("tg_tps", c_double), ("logprobs", c_void_p),
    ]


def _find_library() -> str:
    """The path or soname to load: VKSLM_LIBRARY when set, else the installed libvkslm."""
    path = os.environ.get("VKSLM_LIBRARY")
    if path:
        if not os.path.isfile(path):
            raise ImportError(f"vkslm: VKSLM_LIBRARY={path!r} is not a file")
        return path
    found = ctypes.util.find_library("vkslm")
    # find_library reads the ld.so cache; a library just installed under /usr/local/lib may not be in it yet
    return found or "libvkslm.so.0"


def _declare(lib: ctypes.CDLL) -> None:
    """Sets argtypes and restype of every function the binding calls (so ctypes converts and checks them)."""
    model_p, session_p, sampler_p, batch_p = c_void_p, c_void_p, c_void_p, c_void_p
    i32_p = POINTER(c_int32)
    table = {
        "vkslm_status_str": (c_char_p, [c_int]),
        "vkslm_last_error": (c_char_p, []),
        "vkslm_version": (c_char_p, []),
        "vkslm_devices_list": (c_int, [POINTER(DeviceInfo), c_int, POINTER(c_int), POINTER(c_int)]),
        "vkslm_device_type_str": (c_char_p, [c_int]),
        "vkslm_model_default_params": (ModelParams, []),
        "vkslm_model_load": (c_int, [c_char_p, POINTER(ModelParams), POINTER(model_p)]),
        "vkslm_model_free": (None, [model_p]),
        "vkslm_model_arch": (c_char_p, [model_p]),
        "vkslm_model_device_name": (c_char_p, [model_p]),
        "vkslm_model_n_vocab": (c_int32, [model_p]),
        "vkslm_model_n_embd": (c_int32, [model_p]),
        "vkslm_model_tokenize_special": (c_int, [model_p, c_char_p, c_size_t, c_bool, c_bool, i32_p, c_size_t,
                                                 POINTER(c_size_t)]),
        "vkslm_model_detokenize": (c_int, [model_p, i32_p, c_size_t, c_char_p, c_size_t, POINTER(c_size_t)]),
        "vkslm_session_default_params": (SessionParams, []),
        "vkslm_session_create": (c_int, [model_p, POINTER(SessionParams), POINTER(session_p)]),
        "vkslm_session_free": (None, [session_p]),
        "vkslm_session_n_ctx": (c_uint32, [session_p]),
        "vkslm_session_rewind": (c_int, [session_p, c_uint32]),
        "vkslm_generate_default_params": (GenerateParams, []),
        "vkslm_generate": (c_int, [session_p, c_char_p, POINTER(GenerateParams), POINTER(GenerateResult)]),
        "vkslm_stop_reason_str": (c_char_p, [c_int]),
        "vkslm_batch_init": (batch_p, [c_uint32]),
        "vkslm_batch_free": (None, [batch_p]),
        "vkslm_batch_add": (c_int, [batch_p, c_int32, c_uint32, c_int32, c_bool]),
        "vkslm_decode_top": (c_int, [session_p, batch_p, c_uint32]),
        "vkslm_top_ith": (c_uint32, [session_p, c_int32, POINTER(i32_p), POINTER(POINTER(c_float))]),
        "vkslm_seq_clear": (c_int, [session_p, c_int32]),
        "vkslm_embed": (c_int, [session_p, c_int32, c_char_p, c_int, POINTER(c_float), POINTER(c_size_t)]),
    }
    for name, (restype, argtypes) in table.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def load() -> ctypes.CDLL:
    """Loads libvkslm (see _find_library) and declares its functions; ImportError when it cannot."""
    where = _find_library()
    try:
        lib = ctypes.CDLL(where)
    except OSError as e:
        raise ImportError(f"vkslm: cannot load the vkslm library {where!r} ({e}); set VKSLM_LIBRARY to the path "
                          "of libvkslm.so or install vkslm (cmake --install)") from e
    _declare(lib)
    return lib


lib = load()
