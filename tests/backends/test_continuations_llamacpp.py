"""Continuation scoring on the embedded backend with the real SmolLM2 model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from botkit.backends.base import (
    BackendError,
    BackendTimeout,
    ChatMessage,
    ChatRequest,
    ContinuationRequest,
    ContinuationScorer,
    Sampling,
)
from botkit.backends.llamacpp import LlamaCppBackend

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

SYSTEM = ChatMessage(
    "system",
    "A group chat among the characters Mira, Bram, Wren and Nell and the people with them. "
    "Continue the script with the next line.",
)
LINES = (
    "Ann: Evening all.",
    "Mira: Welcome to the Salt Lantern, Ann!",
    "Ann: Is the soup on?",
    "Mira: Fish soup, fresh today.",
    "Wren: I found a new cave this morning.",
    "Ann: Which one?",
    "Wren: Cave eleven, past the cliff.",
    "Nell: The lamp flickered again last night.",
)
TAGS = ("Mira:", "Bram:", "Wren:", "Nell:", "Sir Aldric:")


def script(lines: int) -> ContinuationRequest:
    """The first ``lines`` lines of the chat, to be continued by a name tag."""
    return ContinuationRequest((SYSTEM, ChatMessage("user", "\n".join(LINES[:lines]))), TAGS)


async def fresh() -> LlamaCppBackend:
    """A newly loaded backend: nothing evaluated, nothing kept."""
    backend = LlamaCppBackend(context_window=2048, threads=2, seed=11)
    await backend.load()
    return backend


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def backend() -> AsyncIterator[LlamaCppBackend]:
    model = await fresh()
    yield model
    await model.aclose()


async def test_the_embedded_backend_is_a_continuation_scorer(backend: LlamaCppBackend) -> None:
    assert isinstance(backend, ContinuationScorer)
    assert await backend.score_continuations(ContinuationRequest(script(2).messages, ())) == ()


async def test_scores_match_a_cold_evaluation_after_other_prompts(
    backend: LlamaCppBackend,
) -> None:
    unrelated = ContinuationRequest(
        (ChatMessage("user", "Name a colour."),), ("Blue", "Red", "The colour is")
    )
    await backend.score_continuations(unrelated)
    for lines in (3, 5, 6):
        await backend.score_continuations(script(lines))
    reply = ChatRequest(script(4).messages, Sampling(max_tokens=12, temperature=0.0))
    assert "".join([fragment async for fragment in backend.stream(reply)])
    await backend.score_continuations(unrelated)
    warm = await backend.score_continuations(script(8))
    again = await backend.score_continuations(script(8))

    cold_backend = await fresh()
    try:
        cold = await cold_backend.score_continuations(script(8))
    finally:
        await cold_backend.aclose()
    assert len(warm) == len(TAGS)
    assert all(score < 0 for score in cold)
    assert warm == pytest.approx(cold, abs=1e-3)
    assert again == pytest.approx(cold, abs=1e-3)


async def test_the_person_spoken_to_is_likelier_than_a_stranger(
    backend: LlamaCppBackend,
) -> None:
    chat = "Ann: Hi everyone.\nMira: Hello Ann, welcome in!\nAnn: Bram, pass the salt."
    request = ContinuationRequest((SYSTEM, ChatMessage("user", chat)), ("Bram:", "Wren:"))
    bram, wren = await backend.score_continuations(request)
    assert bram > wren


async def test_generation_after_scoring_is_what_it_would_have_been() -> None:
    replies = (
        ChatRequest(script(8).messages, Sampling(max_tokens=24, temperature=0.8)),
        ChatRequest(script(8).messages, Sampling(max_tokens=24, temperature=0.8), prefix="Bram:"),
    )
    texts: list[list[str]] = []
    for score_first in (False, True):
        model = await fresh()
        try:
            generated = []
            for reply in replies:
                if score_first:
                    await model.score_continuations(script(7))
                    await model.score_continuations(script(8))
                generated.append("".join([f async for f in model.stream(reply)]))
            texts.append(generated)
        finally:
            await model.aclose()
    assert texts[0] == texts[1]
    assert all(text.strip() for text in texts[0])


async def test_scoring_and_generation_never_interleave(backend: LlamaCppBackend) -> None:
    reply = ChatRequest(script(8).messages, Sampling(max_tokens=16, temperature=0.0))
    alone = await backend.score_continuations(script(6))

    async def generate() -> str:
        return "".join([fragment async for fragment in backend.stream(reply)])

    together = await asyncio.gather(generate(), backend.score_continuations(script(6)), generate())
    assert together[1] == pytest.approx(alone, abs=1e-3)
    assert together[0] == together[2]


async def test_a_caller_that_stops_waiting_leaves_the_model_consistent(
    backend: LlamaCppBackend,
) -> None:
    expected = await backend.score_continuations(script(7))
    await backend.score_continuations(ContinuationRequest((ChatMessage("user", "Hi"),), TAGS))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(backend.score_continuations(script(7)), timeout=0.001)
    reply = ChatRequest(script(7).messages, Sampling(max_tokens=8, temperature=0.0))
    assert "".join([fragment async for fragment in backend.stream(reply)])
    assert await backend.score_continuations(script(7)) == pytest.approx(expected, abs=1e-3)


async def test_its_own_timeout_is_a_backend_timeout() -> None:
    model = LlamaCppBackend(context_window=2048, threads=2, timeout=0.001)
    await model.load()
    try:
        with pytest.raises(BackendTimeout, match="no scores within"):
            await model.score_continuations(script(8))
    finally:
        await model.aclose()


async def test_a_prompt_beyond_the_context_window_is_an_error() -> None:
    model = LlamaCppBackend(context_window=64, threads=2)
    await model.load()
    try:
        with pytest.raises(BackendError, match="more than the context window of 64"):
            await model.score_continuations(script(8))
    finally:
        await model.aclose()
