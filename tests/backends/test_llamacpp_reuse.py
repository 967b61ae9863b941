"""Prompt prefix reuse on the embedded backend with the real SmolLM2 model."""

from __future__ import annotations

import asyncio

import pytest

from botkit.backends.base import ChatMessage, ChatRequest, ContinuationRequest, Sampling
from botkit.backends.llamacpp import LlamaCppBackend

pytestmark = [pytest.mark.model, pytest.mark.asyncio]

NAMES = ("Mira", "Bram", "Wren", "Nell", "Tom", "Elias", "Ada", "Rook")
LINES = (
    "Ann: Evening all. Is the soup on?",
    "Mira: Fish soup, fresh today, love.",
    "Ann: Has anyone seen the keeper?",
    "Bram: Hmph. Sea took him.",
    "Ann: Bram, what did you see that night?",
)


def request(name: str, lines: int, max_tokens: int = 24) -> ChatRequest:
    """``name``'s reply after the first ``lines`` lines of the chat."""
    system = ChatMessage(
        "system",
        f"You are {name}, who lives in the fishing village of Gullhaven. Stay in character "
        f"and write only {name}'s next line, one or two short sentences.",
    )
    turns = tuple(ChatMessage("user", line) for line in LINES[:lines])
    return ChatRequest(
        (system, *turns), Sampling(max_tokens=max_tokens, temperature=0.8), prefix=f"{name}:"
    )


async def reply(backend: LlamaCppBackend, chat: ChatRequest) -> str:
    """The whole reply to ``chat``."""
    return "".join([fragment async for fragment in backend.stream(chat)])


async def test_reused_prefixes_give_the_replies_of_a_cold_evaluation() -> None:
    chats = [
        request("Mira", 2),
        request("Bram", 3),
        request("Mira", 4),
        request("Bram", 5),
    ]
    warm = LlamaCppBackend(threads=2, seed=5)
    cold = LlamaCppBackend(threads=2, seed=5)
    try:
        warm_replies, reused = [], []
        for chat in chats:
            warm_replies.append(await reply(warm, chat))
            reused.append(warm.reuse.last_reused_tokens)
        # The likelihood of the last reply, read from a reused prompt: a few stale tokens
        # in the model's memory would show here even where the sampled tokens survive them.
        odds = ContinuationRequest(chats[-1].messages, (f"Bram: {warm_replies[-1]}",))
        warm_odds = await warm.score_continuations(odds)
        assert warm.reuse.last_reused_tokens > 40
        cold_replies = []
        for chat in chats:
            await cold.forget_prompts()
            cold_replies.append(await reply(cold, chat))
            assert cold.reuse.last_reused_tokens == 0
        await cold.forget_prompts()
        cold_odds = await cold.score_continuations(odds)
    finally:
        await warm.aclose()
        await cold.aclose()
    # Each character finds its own earlier prompt again although the other spoke between.
    assert reused[2] > 40 and reused[3] > 40
    assert warm.reuse.share > 0.4
    assert warm_replies == cold_replies
    assert warm_odds == pytest.approx(cold_odds, abs=1e-3)
    assert all(text.strip() for text in warm_replies)


async def test_scoring_and_generation_share_the_kept_prefixes() -> None:
    backend = LlamaCppBackend(threads=2, seed=5)
    try:
        await reply(backend, request("Mira", 3, max_tokens=4))
        await reply(backend, request("Bram", 3, max_tokens=4))
        chat = request("Mira", 4)
        await backend.score_continuations(ContinuationRequest(chat.messages, ("Mira:",)))
        assert backend.reuse.last_reused_tokens > 40
    finally:
        await backend.aclose()


async def test_the_kept_prefixes_stay_within_their_memory_bound() -> None:
    bound = 12 << 20
    backend = LlamaCppBackend(threads=2, seed=5, cache_bytes=bound)
    try:
        peak = 0
        for lines in (2, 3):
            for name in NAMES:
                await reply(backend, request(name, lines, max_tokens=2))
                peak = max(peak, backend.kept_bytes)
        assert 0 < peak <= bound
        # The most recent characters are still kept, the oldest were dropped for them.
        await reply(backend, request(NAMES[-2], 4, max_tokens=2))
        assert backend.reuse.last_reused_tokens > 40
        await reply(backend, request(NAMES[0], 4, max_tokens=2))
        assert backend.reuse.last_reused_tokens < 20
    finally:
        await backend.aclose()


async def test_a_prompt_read_ahead_gives_the_reply_of_a_cold_evaluation() -> None:
    chat = request("Bram", 5)
    warm = LlamaCppBackend(threads=2, seed=5)
    cold = LlamaCppBackend(threads=2, seed=5)
    try:
        read = await warm.prepare(chat.messages[:-1])
        assert read > 60 and warm.reuse.prepared_tokens == read
        # Read again, nothing is new.
        assert await warm.prepare(chat.messages[:-1]) == 0
        warm_reply = await reply(warm, chat)
        assert warm.reuse.last_reused_tokens >= read
        cold_reply = await reply(cold, chat)
        assert cold.reuse.last_reused_tokens == 0
    finally:
        await warm.aclose()
        await cold.aclose()
    assert warm_reply == cold_reply and warm_reply.strip()


async def test_reading_ahead_gives_way_to_a_reply() -> None:
    backend = LlamaCppBackend(threads=1, seed=5)
    lines = LINES * 20
    opening = (request("Mira", 1).messages[0], *(ChatMessage("user", line) for line in lines))
    try:
        await backend.load()
        words = backend.token_counter.count("\n".join(lines))
        reading = asyncio.ensure_future(backend.prepare(opening))
        await asyncio.sleep(0)
        answered = await reply(backend, request("Bram", 3))
        read = await reading
        # Asked while a reply is being written, it reads nothing.
        writing = backend.stream(request("Mira", 2))
        first = await anext(writing)
        assert await backend.prepare(opening) == 0
        await writing.aclose()
    finally:
        await backend.aclose()
    assert answered.strip() and first
    # The reply did not wait for the whole opening (over a thousand tokens) to be read.
    assert read < words // 2
