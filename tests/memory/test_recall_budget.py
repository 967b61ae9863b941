"""A recall that would hold a reply up past its budget is skipped for that turn."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from botkit.characters.model import Character
from botkit.context import ContextRequest
from botkit.events import ChannelKey
from botkit.lore import Lorebook, LoreEntry
from botkit.memory.provider import MemoryProvider
from botkit.memory.settings import MemorySettings
from botkit.transcript import Turn

ROOM = ChannelKey("test", "guild-1", "tavern")
MIRA = Character(id="mira", name="Mira", persona=("Mira keeps the lighthouse.",))


class StuckMemory:
    """A memory service whose recall never finishes (an index busy with something else);
    its query way would take ``delay_ms`` to embed a new query."""

    def __init__(self, budget_ms: float, *, delay_ms: float = 0.0) -> None:
        self.settings = MemorySettings(recall_budget_ms=budget_ms)
        self.delay_ms = delay_ms
        self.asked = 0
        self.lore = self

    async def find(self, *_args: Any) -> list[Any]:
        self.asked += 1
        await asyncio.Event().wait()
        return []

    def may_find(self, *_args: Any, **_kwargs: Any) -> bool:
        return True

    def expected_delay(self, _dense_query: str) -> float:
        return self.delay_ms / 1000

    async def recall(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        self.asked += 1
        await asyncio.Event().wait()
        return []


def request(speaker: Character = MIRA) -> ContextRequest:
    turn = Turn(
        speaker_id="u-ann",
        speaker_name="Ann",
        text="Mira, the map?",
        is_character=False,
        time=datetime.now(UTC),
    )
    return ContextRequest(speaker=speaker, channel=ROOM, transcript=[turn])


async def test_a_recall_past_its_budget_is_skipped_with_a_debug_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.memory.provider")
    memory = StuckMemory(budget_ms=20)
    provider = MemoryProvider(memory)  # type: ignore[arg-type]
    assert await provider.retrieve(request()) == []
    assert memory.asked == 1
    assert "recall skipped for mira after 20 ms" in caplog.text


async def test_a_recall_whose_query_would_come_too_late_is_not_even_begun(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.memory.provider")
    memory = StuckMemory(budget_ms=300, delay_ms=450)
    provider = MemoryProvider(memory)  # type: ignore[arg-type]
    assert await provider.retrieve(request()) == []
    assert memory.asked == 0
    assert "recall skipped for mira: its query would wait 450 ms (budget 300 ms)" in caplog.text


async def test_lore_by_meaning_is_skipped_like_a_recall(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.memory.provider")
    soup = LoreEntry(content="Mira's soup is cod and leeks.", retrievable=True)
    cook = Character(
        id="mira", name="Mira", persona=("Mira cooks.",), lorebook=Lorebook(entries=(soup,))
    )
    busy = StuckMemory(budget_ms=300, delay_ms=450)
    assert await MemoryProvider(busy).find_lore(request(cook)) == []  # type: ignore[arg-type]
    assert busy.asked == 0
    stuck = StuckMemory(budget_ms=20)
    assert await MemoryProvider(stuck).find_lore(request(cook)) == []  # type: ignore[arg-type]
    assert stuck.asked == 1
    assert await MemoryProvider(stuck).find_lore(request(MIRA)) == []  # type: ignore[arg-type]
    assert stuck.asked == 1
    assert "lore by meaning skipped for mira: its query would wait 450 ms" in caplog.text
    assert "lore by meaning skipped for mira after 20 ms" in caplog.text
