"""Converting the packaged model to a faster weight format, once, on real llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit.backends.llamacpp import LlamaCppBackend
from botkit.backends.model_convert import ModelConversionError, converted_model
from botkit.backends.model_files import locate_model

pytestmark = pytest.mark.model


def test_the_packaged_model_is_converted_once_and_reused(tmp_path: Path) -> None:
    source = locate_model()
    first = converted_model(source, "q8_0", folder=tmp_path)
    assert first.is_file() and first != source
    assert first.read_bytes()[:4] == b"GGUF"
    written = first.stat().st_mtime_ns
    assert converted_model(source, "q8_0", folder=tmp_path) == first
    assert first.stat().st_mtime_ns == written
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_none_loads_the_model_as_it_is(tmp_path: Path) -> None:
    source = locate_model()
    assert converted_model(source, "none", folder=tmp_path) == source
    assert not list(tmp_path.iterdir())


def test_a_file_llama_cpp_cannot_read_is_refused_without_leftovers(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model at all")
    cache = tmp_path / "cache"
    with pytest.raises(ModelConversionError, match=r"broken\.gguf.*Q8_0"):
        converted_model(broken, "q8_0", folder=cache)
    assert not list(cache.iterdir())


def test_an_unknown_format_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelConversionError, match="'q2_k'"):
        converted_model(locate_model(), "q2_k", folder=tmp_path)


def test_progress_names_the_format_the_model_is_loaded_in() -> None:
    packaged = LlamaCppBackend()
    assert packaged.conversion == "q8_0"
    assert packaged.model_label == f"{locate_model().name} as Q8_0"
    configured = LlamaCppBackend(model_path=locate_model())
    assert configured.conversion == "none"
    assert configured.model_label == locate_model().name
    assert LlamaCppBackend(model_path=locate_model(), convert="q8_0").conversion == "q8_0"
