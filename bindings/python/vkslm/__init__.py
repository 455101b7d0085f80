"""vkslm: Python binding of the vkslm inference engine (Vulkan compute, small language models).

Pure Python over libvkslm.so through ctypes: nothing to compile and nothing outside the standard library.
The library is the file named by the environment's VKSLM_LIBRARY, else the installed libvkslm.so.0.

    import vkslm
    with vkslm.Model("stories260K.gguf") as model:
        for piece in model.stream("Once upon a time", max_tokens=64):
            print(piece, end="", flush=True)

Errors of the library raise vkslm.Error, whose message is the library's (vkslm_last_error).
"""
from ._model import Error, Generation, Model, devices, version

__all__ = ["Error", "Generation", "Model", "devices", "version"]
