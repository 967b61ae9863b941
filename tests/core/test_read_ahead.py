"""Reading ahead: while a channel is idle, a backend that keeps what it read is given the
opening of each cast member's next prompt, and that opening is how the prompt then opens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from itertools import count
from typing import Any

import pytest

from botkit.backends.base import ChatMessage, PromptLimits
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend

AppFactory = Callable[..., Any]

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
_ids = count()


class ReadingBackend(InstantBackend):
    """An instant backend that declares a tiny model's limits and records what it is
    given to read ahead, by the character whose prompt it opens."""

    def __init__(self) -> None:
        super().__init__("Aye, that it is.", name="reading")
        self.openings: list[tuple[ChatMessage, ...]] = []

    @property
    def prompt_limits(self) -> PromptLimits:
        return PromptLimits(max_tokens=600, max_examples=1, max_turns=12, context_after_turns=True)

    async def prepare(self, messages: Sequence[ChatMessage]) -> int:
        self.openings.append(tuple(messages))
        return len(messages)


def said(text: str) -> MessageEvent:
    n = next(_ids)
    return MessageEvent(
        event_id=f"ev-{n}", channel=ROOM, author=ANN, text=text, message_id=f"msg-{n}"
    )


def speaker_of(opening: Sequence[ChatMessage]) -> str:
    return opening[0].content.split(",")[0].split(".")[0].removeprefix("You are ")


async def read_ahead_of(backend: ReadingBackend, openings: int) -> None:
    async with asyncio.timeout(10):
        while len(backend.openings) < openings:
            await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_each_next_prompt_opens_as_it_was_read_ahead(make_app: AppFactory) -> None:
    backend = ReadingBackend()
    last_round: list[tuple[ChatMessage, ...]] = []
    async with make_app(backend, cast=["mira", "bram", "wren"], max_hops=0) as (app, adapter):
        for n, text in enumerate(
            ["Mira, is the soup hot?", "Bram, any fish today?", "Wren, a new map?", "Mira, tea?"]
        ):
            before = len(backend.openings)
            await adapter.push(said(text))
            await app.wait_idle()
            await read_ahead_of(backend, before + 3)
            if n:
                request = backend.requests[-1]
                speaker = request.prefix.removesuffix(":")
                opening = next(o for o in last_round if speaker_of(o) == speaker)
                assert request.messages[: len(opening)] == opening
                assert len(opening) >= 2 * n, "the earlier turns are part of the opening"
            last_round = backend.openings[before:]
            # The one who just spoke is the least likely next, so its prompt comes last.
            assert speaker_of(last_round[-1]) == backend.requests[-1].prefix.removesuffix(":")
            assert sorted(speaker_of(o) for o in last_round) == ["Bram", "Mira", "Wren"]
