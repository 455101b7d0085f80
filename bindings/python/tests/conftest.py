"""Shared fixtures of the binding's tests: the shared test data folder and the vkslm CLI (the C reference)."""
from __future__ import annotations

import os
import pathlib

import pytest

TESTDATA = pathlib.Path(os.environ.get("VKSLM_TESTDATA", pathlib.Path(__file__).resolve().parents[3].parent
                                       / "shared" / "testdata"))


def model_path(name: str) -> str:
    """The path of a model under the shared test data; skips (fails under CI) when it is missing."""
    path = TESTDATA / "models" / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"missing test data: {path}")
        pytest.skip(f"no test data: {path}")
    return str(path)


@pytest.fixture(scope="session")
def stories() -> str:
    return model_path("stories260K.gguf")


@pytest.fixture(scope="session")
def stories_model(stories: str):
    """stories260K loaded once for the tests that need no model of their own (each call starts afresh)."""
    import vkslm
    with vkslm.Model(stories, context=256) as model:
        yield model


@pytest.fixture(scope="session")
def quantized() -> str:
    return model_path("quant/tiny-llama-256-random-Q4_K_M.gguf")
