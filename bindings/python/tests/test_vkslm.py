"""The Python binding against the C API: greedy tokens as `vkslm run` gives them, streaming as generate,
errors as exceptions, and two models used from two threads at once."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
import time

import pytest

import vkslm

PROMPT = "Once upon a time"


def c_greedy(model: str, prompt: str, n: int) -> dict:
    """`vkslm run --json` (the C API's vkslm_generate, greedy by default) of prompt: its JSON object."""
    cli = os.environ.get("VKSLM_CLI") or shutil.which("vkslm")
    if not cli:
        if os.environ.get("CI"):
            pytest.fail("VKSLM_CLI is not set and no vkslm is on PATH")
        pytest.skip("no vkslm CLI to compare with")
    out = subprocess.run([cli, "run", "-m", model, "-p", prompt, "-n", str(n), "--ctx", "256", "--json"],
                         check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)


@pytest.mark.parametrize("which", ["stories", "quantized"])
def test_greedy_tokens_equal_the_c_api(which: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(which)
    ref = c_greedy(path, PROMPT, 24)
    with vkslm.Model(path, context=256) as model:
        assert model.tokenize(PROMPT) == ref["prompt_tokens"]
        gen = model.generate(PROMPT, max_tokens=24)
        assert gen.tokens == ref["tokens"]
        assert gen.text == ref["text"]
        assert gen.finish_reason in ("length", "eog")
        assert gen.finish_reason == "length" or len(gen.tokens) < 24
        # the top-1 of scoring the prompt and the generated tokens (vkslm_decode_top) is the greedy choice
        ids = ref["prompt_tokens"] + ref["tokens"]
        rows = model.score(ids, top=3)
        assert len(rows) == len(ids) and all(len(r) == 3 for r in rows)
        n_prompt = len(ref["prompt_tokens"])
        for i, tok in enumerate(ref["tokens"]):
            best = rows[n_prompt - 1 + i]
            assert best[0][0] == tok or math.isclose(best[0][1], dict(best).get(tok, -math.inf), rel_tol=1e-4)
            assert best[0][1] >= best[1][1] >= best[2][1]


def test_tokenize_detokenize(stories_model: vkslm.Model) -> None:
    model = stories_model
    ids = model.tokenize("Hello world")
    assert ids[0] == 1 and model.tokenize("Hello world", add_special=False) == ids[1:]
    assert model.detokenize(ids).strip() == "Hello world"
    assert model.detokenize([]) == ""


def test_stream_equals_generate(stories_model: vkslm.Model) -> None:
    model = stories_model
    for kwargs in ({}, {"temperature": 0.8, "top_p": 0.9, "top_k": 40, "seed": 7}, {"stop": [" park"]}):
        gen = model.generate(PROMPT, max_tokens=48, **kwargs)
        pieces = list(model.stream(PROMPT, max_tokens=48, **kwargs))
        assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
        assert "".join(pieces) == gen.text
    assert gen.finish_reason == "stop" and " park" not in gen.text
    # a stream closed early stops the generation and frees the model for the next call; a call on the model
    # from the thread reading its stream is refused (it would wait for itself)
    it = model.stream(PROMPT, max_tokens=200)
    first = next(it)
    with pytest.raises(vkslm.Error, match="streaming"):
        model.tokenize("x")
    it.close()
    assert model.generate(PROMPT, max_tokens=4).text.startswith(first)


def test_grammar_and_embeddings(stories_model: vkslm.Model) -> None:
    model = stories_model
    gen = model.generate(PROMPT, max_tokens=16, grammar='root ::= " yes" | " no"')
    assert gen.text in (" yes", " no") and gen.finish_reason == "eog"
    a, b = model.embed(["a cat sat", "the dog ran"])
    assert len(a) == model.n_embd and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert a != b and model.embed("a cat sat")[0] == pytest.approx(a, abs=1e-5)


def test_errors(stories: str, tmp_path) -> None:
    with pytest.raises(vkslm.Error) as missing:
        vkslm.Model(tmp_path / "no-such-model.gguf")
    assert missing.value.status == 200 and "no-such-model.gguf" in str(missing.value)
    with vkslm.Model(stories, context=128) as model:
        with pytest.raises(vkslm.Error) as bad:
            model.generate(PROMPT, grammar="root ::= (")
        assert bad.value.status == 100 and "1:" in str(bad.value)
        with pytest.raises(vkslm.Error, match="NaN"):
            model.generate(PROMPT, temperature=float("nan"))
        with pytest.raises(vkslm.Error, match="k 65"):
            model.score([1, 2], top=65)
        with pytest.raises(vkslm.Error):
            model.score([1, model.n_vocab + 5])
        with pytest.raises(vkslm.Error):
            list(model.stream(PROMPT, grammar="root ::= ("))
        with pytest.raises(ValueError):
            model.generate(PROMPT, max_tokens=-1)
        with pytest.raises(ValueError, match="NUL"):
            model.generate("Once\0 upon")
        with pytest.raises(TypeError):
            model.score("not ids")
        # the model still works after the errors
        assert model.generate(PROMPT, max_tokens=4).tokens
    with pytest.raises(vkslm.Error, match="closed"):
        model.tokenize("x")
    with pytest.raises(vkslm.Error):
        vkslm.Model(stories, context=1 << 20)  # beyond the trained context


def test_two_threads_two_models(stories: str, quantized: str) -> None:
    alone = {}
    for path in (stories, quantized):
        with vkslm.Model(path, context=256) as model:
            alone[path] = model.generate(PROMPT, max_tokens=32).tokens
    results: dict = {}
    barrier = threading.Barrier(2)

    def run(path: str) -> None:
        try:
            with vkslm.Model(path, context=256) as model:
                barrier.wait()
                results[path] = [model.generate(PROMPT, max_tokens=32).tokens for _ in range(2)]
        except BaseException as e:
            results[path] = e

    threads = [threading.Thread(target=run, args=(p,)) for p in (stories, quantized)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for path in (stories, quantized):
        assert results[path] == [alone[path], alone[path]]


def test_devices() -> None:
    devs = vkslm.devices()
    assert devs and sum(d["chosen"] for d in devs) == 1
    assert all(d["type"] in ("discrete", "integrated", "virtual", "cpu", "other") and d["name"] for d in devs)


def test_gil_released_during_generation(stories_model: vkslm.Model) -> None:
    """While one thread is inside vkslm_generate, another runs Python: it sees the first thread's frame stopped
    at the foreign call many times (a call holding the GIL would let it run at no point of the call)."""
    import sys
    import vkslm._model as impl

    call_line = next(i for i, line in enumerate(open(impl.__file__), 1) if "lib.vkslm_generate(self._session" in line)
    worker = threading.Thread(target=stories_model.generate, args=(PROMPT,), kwargs={"max_tokens": 200})
    seen = 0
    worker.start()
    while worker.is_alive():
        frame = sys._current_frames().get(worker.ident)
        if frame is not None and frame.f_code.co_name == "_run" and frame.f_lineno == call_line:
            seen += 1
        time.sleep(0.001)
    worker.join()
    assert seen >= 20, f"the main thread ran {seen} times during generation"
