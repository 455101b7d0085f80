"""vkslm.Model: a loaded model with one session, and the calls Python code makes on it."""
from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import threading
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_size_t, c_void_p
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional, Sequence, Union

from . import _lib
from ._lib import lib


class Error(RuntimeError):
    """A vkslm call failed. str(error) is the library's message (vkslm_last_error); status is the
    vkslm_status code (100 a bad argument, 200 a file that cannot be read, 3xx the device, ...) and
    status_name its name ("invalid argument", ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.status_name = lib.vkslm_status_str(status).decode()


def _check(status: int) -> None:
    """Raises Error with this thread's last library message when status is not VKSLM_OK."""
    if status != _lib.OK:
        raise Error(status, _last_error(status))


def _last_error(status: int) -> str:
    message = lib.vkslm_last_error().decode("utf-8", "replace")
    return message or lib.vkslm_status_str(status).decode()


@dataclass
class Generation:
    """What Model.generate returns: the generated text (stop string excluded), the generated token ids, and
    why it stopped: "eog" (an end-of-generation token), "stop" (a stop string), "length" (max_tokens),
    "context" (the context is full) or "callback"."""
    text: str
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = ""
    prompt_tokens: int = 0


def devices() -> list[dict]:
    """The Vulkan devices vkslm sees, one dict each: name, driver_name, driver_info, type ("discrete",
    "integrated", "virtual", "cpu", "other"), vendor_id, device_id, subgroup_size, device_local_bytes, uma
    and chosen (whether the default choice, or VKSLM_DEVICE, takes it). Raises Error without Vulkan."""
    count, chosen = ctypes.c_int(0), ctypes.c_int(-1)
    _check(lib.vkslm_devices_list(None, 0, byref(count), byref(chosen)))
    infos = (_lib.DeviceInfo * max(count.value, 1))()
    _check(lib.vkslm_devices_list(infos, count.value, byref(count), byref(chosen)))
    out = []
    for i in range(count.value):
        d = infos[i]
        out.append({
            "index": i, "name": d.name.decode(errors="replace"), "driver_name": d.driver_name.decode(errors="replace"),
            "driver_info": d.driver_info.decode(errors="replace"), "type": lib.vkslm_device_type_str(d.type).decode(),
            "vendor_id": d.vendor_id, "device_id": d.device_id, "subgroup_size": d.subgroup_size,
            "device_local_bytes": d.device_local_bytes, "uma": bool(d.uma), "chosen": i == chosen.value,
        })
    return out


def version() -> str:
    """The library's version string."""
    return lib.vkslm_version().decode()


def _cstr(text: str, what: str) -> bytes:
    """text as the NUL-terminated UTF-8 the C API reads; ValueError for an embedded NUL (C would stop there)."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL character")
    return text.encode("utf-8")


def _ids_array(ids: Sequence[int]) -> "ctypes.Array[c_int32]":
    if isinstance(ids, (str, bytes)):
        raise TypeError("token ids must be a sequence of integers, not a string")
    try:
        return (c_int32 * len(ids))(*ids)
    except TypeError as e:
        raise TypeError(f"token ids must be integers: {e}") from None


class Model:
    """A GGUF model loaded onto a Vulkan device, with one session (a KV cache of `context` tokens).

    Model(path, context=0, device=None): context 0 takes the model's trained context, at most 4096 tokens;
    device is a device index or a case-insensitive name substring (None: env VKSLM_DEVICE, else the default
    choice). Use it as a context manager, or call close(); the device memory is freed then.

    One model serves one call at a time (a lock orders calls from several threads); load one Model per
    thread to run in parallel. Every device call releases the GIL.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], context: int = 0,
                 device: Optional[Union[str, int]] = None) -> None:
        self._model = c_void_p()
        self._session = c_void_p()
        self._lock = threading.Lock()
        self._streaming: Optional[int] = None  # the thread reading a stream, while one runs
        path = os.fspath(path)
        if not isinstance(context, int) or context < 0:
            raise ValueError(f"context must be a whole number >= 0, not {context!r}")
        params = lib.vkslm_model_default_params()
        self._device_arg = None if device is None else str(device).encode()
        params.device = self._device_arg
        _check(lib.vkslm_model_load(path.encode(), byref(params), byref(self._model)))
        sp = lib.vkslm_session_default_params()
        sp.n_ctx = context
        status = lib.vkslm_session_create(self._model, byref(sp), byref(self._session))
        if status != _lib.OK:
            message = _last_error(status)
            lib.vkslm_model_free(self._model)
            self._model = c_void_p()
            raise Error(status, message)
        self.path = path
        self.arch: str = lib.vkslm_model_arch(self._model).decode()
        self.n_vocab: int = lib.vkslm_model_n_vocab(self._model)
        self.n_embd: int = lib.vkslm_model_n_embd(self._model)
        self.context: int = lib.vkslm_session_n_ctx(self._session)
        self.device_name: str = lib.vkslm_model_device_name(self._model).decode(errors="replace")

    # ---- lifetime ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Frees the session and the model (idempotent). Later calls raise Error."""
        with self._locked():
            if self._session:
                lib.vkslm_session_free(self._session)
                self._session = c_void_p()
            if self._model:
                lib.vkslm_model_free(self._model)
                self._model = c_void_p()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_model", None) is not None:
            self.close()

    def __repr__(self) -> str:
        if not self._model:
            return "vkslm.Model(closed)"
        return f"vkslm.Model({self.path!r}, arch={self.arch!r}, context={self.context}, device={self.device_name!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Holds the model for one call. A call from the thread that is reading a stream of this model would
        wait for itself: it is refused instead."""
        if self._streaming == threading.get_ident():
            raise Error(_lib.ERR_INVALID_ARG, "the model is streaming on this thread: finish or close the stream "
                                              "before the next call")
        with self._lock:
            yield

    def _live(self) -> None:
        if not self._model:
            raise Error(_lib.ERR_INVALID_ARG, "the model is closed")

    # ---- tokens ------------------------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        """The token ids of text, with the vocabulary's start and end tokens (BOS, ...) when add_special.
        Control tokens written in the text are read as plain text."""
        raw = text.encode("utf-8")
        with self._locked():
            self._live()
            cap = len(raw) + 8
            for _ in range(2):
                ids = (c_int32 * cap)()
                n = c_size_t(0)
                status = lib.vkslm_model_tokenize_special(self._model, raw, len(raw), add_special, False, ids, cap,
                                                          byref(n))
                if status == _lib.ERR_LIMIT and n.value > cap:
                    cap = n.value
                    continue
                _check(status)
                return list(ids[:n.value])
            raise Error(_lib.ERR_LIMIT, "tokenize: the token count kept growing")

    def detokenize(self, ids: Sequence[int]) -> str:
        """The text of token ids (control tokens left out; bytes that form no character become U+FFFD)."""
        arr = _ids_array(ids)
        with self._locked():
            self._live()
            cap = 4 * len(arr) + 16
            for _ in range(2):
                buf = ctypes.create_string_buffer(cap)
                n = c_size_t(0)
                _check(lib.vkslm_model_detokenize(self._model, arr, len(arr), buf, cap, byref(n)))
                if n.value < cap:
                    return buf.raw[:n.value].decode("utf-8")
                cap = n.value + 1
            raise Error(_lib.ERR_LIMIT, "detokenize: the text kept growing")

    # ---- generation --------------------------------------------------------------------------------
    def _params(self, max_tokens: int, temperature: float, top_p: float, top_k: int, seed: int,
                stop: Optional[Union[str, Iterable[str]]], grammar: Optional[str]) -> "_lib.GenerateParams":
        """vkslm_generate_params for these settings; the stop strings and grammar it points to live with it."""
        if not isinstance(max_tokens, int) or max_tokens < 0:
            raise ValueError(f"max_tokens must be a whole number >= 0, not {max_tokens!r}")
        if not isinstance(seed, int) or not 0 <= seed < 2 ** 64:
            raise ValueError(f"seed must be a whole number in [0, 2**64), not {seed!r}")
        p = lib.vkslm_generate_default_params()
        p.max_tokens = max_tokens
        p.temperature = float(temperature)
        p.top_p = float(top_p)
        p.top_k = int(top_k)
        p.seed = seed
        keep: list = []
        if stop is not None:
            stops = [stop] if isinstance(stop, str) else list(stop)
            if any(not isinstance(s, str) or not s for s in stops):
                raise ValueError("stop must be a non-empty string or a list of them")
            arr = (c_char_p * len(stops))(*[_cstr(s, "a stop string") for s in stops])
            keep.append(arr)
            p.stop = ctypes.cast(arr, POINTER(c_char_p))
            p.n_stop = len(stops)
        if grammar is not None:
            g = _cstr(grammar, "grammar")
            keep.append(g)
            p.grammar = g
        p._vkslm_keep = keep  # the C struct holds raw pointers into these
        return p

    def _run(self, prompt: str, p: "_lib.GenerateParams") -> Generation:
        """vkslm_generate from a fresh context (the session is rewound first); the caller holds the lock."""
        self._live()
        _check(lib.vkslm_session_rewind(self._session, 0))
        r = _lib.GenerateResult()
        _check(lib.vkslm_generate(self._session, _cstr(prompt, "prompt"), byref(p), byref(r)))
        return Generation(text=ctypes.string_at(r.text, r.text_len).decode("utf-8"),
                          tokens=list(r.tokens[:r.n_tokens]),
                          finish_reason=lib.vkslm_stop_reason_str(r.stop_reason).decode(),
                          prompt_tokens=r.n_prompt_tokens)

    def generate(self, prompt: str, max_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0,
                 top_k: int = 0, seed: int = 0, stop: Optional[Union[str, Iterable[str]]] = None,
                 grammar: Optional[str] = None) -> Generation:
        """Continues prompt (BOS added as the vocabulary says) from an empty context and returns a Generation.

        max_tokens: at most this many tokens (0: until the context is full). temperature <= 0 is greedy;
        top_p (1: off), top_k (0: off) and seed (same seed and settings: same text) shape sampling. stop: a
        string or strings that end the text (not included). grammar: a GBNF-style grammar (docs/grammar.md)
        the output must follow. Raises Error for settings the library refuses (a NaN temperature, a bad
        grammar, ...)."""
        p = self._params(max_tokens, temperature, top_p, top_k, seed, stop, grammar)
        with self._locked():
            return self._run(prompt, p)

    def stream(self, prompt: str, max_tokens: int = 128, temperature: float = 0.0, top_p: float = 1.0,
               top_k: int = 0, seed: int = 0, stop: Optional[Union[str, Iterable[str]]] = None,
               grammar: Optional[str] = None) -> Iterator[str]:
        """As generate, yielding the text piece by piece as the tokens come (whole UTF-8 characters; text
        that might begin a stop string is held back until it cannot). The pieces join to generate's text.
        Closing the iterator early (break) stops the generation within a token. Errors are raised from the
        iterator."""
        p = self._params(max_tokens, temperature, top_p, top_k, seed, stop, grammar)
        pieces: "queue.Queue[object]" = queue.Queue()
        cancel = threading.Event()
        done = object()

        def on_token(piece: bytes, user: object) -> bool:
            # runs on the worker thread inside vkslm_generate, with the GIL taken back for the call
            if piece:
                pieces.put(piece.decode("utf-8"))
            return not cancel.is_set()

        p.on_token = _lib.ON_TOKEN_FN(on_token)  # the struct keeps the callback object alive

        def worker() -> None:
            try:
                self._run(prompt, p)
                pieces.put(done)
            except BaseException as e:  # handed to the consumer, raised there
                pieces.put(e)

        def iterate() -> Iterator[str]:
            # nothing runs (and the model stays free) until the first piece is asked for
            with self._locked():
                thread = threading.Thread(target=worker, name="vkslm-stream", daemon=True)
                thread.start()
                self._streaming = threading.get_ident()
                try:
                    while True:
                        item = pieces.get()
                        if item is done:
                            return
                        if isinstance(item, BaseException):
                            raise item
                        yield item  # type: ignore[misc]
                finally:
                    cancel.set()  # a consumer that stopped early: the callback says stop at the next token
                    thread.join()
                    self._streaming = None

        return iterate()

    # ---- embeddings and scores ---------------------------------------------------------------------
    def embed(self, texts: Union[str, Sequence[str]]) -> list[list[float]]:
        """One L2-normalised embedding (n_embd floats, the model's pooling) per text; a single string gives
        a list of one. Raises Error for a text that gives no token or is longer than the context."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        with self._locked():
            self._live()
            for text in texts:
                vec = (c_float * self.n_embd)()
                _check(lib.vkslm_embed(self._session, 0, _cstr(text, "text"), _lib.POOLING_DEFAULT, vec, None))
                out.append(list(vec))
        return out

    def score(self, ids: Sequence[int], top: int = 5) -> list[list[tuple[int, float]]]:
        """Feeds ids (from an empty context) in one batch and returns, for every position, the `top` most
        likely next tokens as (id, logit), best first (ties to the lower id): what the model predicts after
        ids[0..i]. top is 1 to 64; the top ids are chosen on the device (vkslm_decode_top)."""
        arr = _ids_array(ids)
        if not isinstance(top, int) or isinstance(top, bool):
            raise TypeError(f"top must be an integer, not {top!r}")
        if not arr:
            return []
        with self._locked():
            self._live()
            batch = lib.vkslm_batch_init(len(arr))
            if not batch:
                raise Error(_lib.ERR_INVALID_ARG, _last_error(_lib.ERR_INVALID_ARG))
            try:
                for pos, tok in enumerate(arr):
                    _check(lib.vkslm_batch_add(batch, tok, pos, 0, True))
                _check(lib.vkslm_seq_clear(self._session, 0))
                _check(lib.vkslm_decode_top(self._session, batch, top))
                result = []
                top_ids, top_logits = POINTER(c_int32)(), POINTER(c_float)()
                for i in range(len(arr)):
                    k = lib.vkslm_top_ith(self._session, i, byref(top_ids), byref(top_logits))
                    result.append([(top_ids[j], top_logits[j]) for j in range(k)])
                return result
            finally:
                lib.vkslm_batch_free(batch)
