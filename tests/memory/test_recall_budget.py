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
from botkit.memory.provider import MemoryProvider
from botkit.memory.settings import MemorySettings
from botkit.transcript import Turn

ROOM = ChannelKey("test", "guild-1", "tavern")
MIRA = Character(id="mira", name="Mira", persona=("Mira keeps the lighthouse.",))


class StuckMemory:
    """A memory service whose recall never finishes (an index busy with something else)."""

    def __init__(self, budget_ms: float) -> None:
        self.settings = MemorySettings(recall_budget_ms=budget_ms)
        self.asked = 0

    async def recall(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        self.asked += 1
        await asyncio.Event().wait()
        return []


async def test_a_recall_past_its_budget_is_skipped_with_a_debug_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.memory.provider")
    memory = StuckMemory(budget_ms=20)
    provider = MemoryProvider(memory)  # type: ignore[arg-type]
    turn = Turn(
        speaker_id="u-ann",
        speaker_name="Ann",
        text="Mira, the map?",
        is_character=False,
        time=datetime.now(UTC),
    )
    request = ContextRequest(speaker=MIRA, channel=ROOM, transcript=[turn])
    assert await provider.retrieve(request) == []
    assert memory.asked == 1
    assert "recall skipped for mira after 20 ms" in caplog.text
