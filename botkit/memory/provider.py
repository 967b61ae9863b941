"""Puts a speaker's recalled memories into its prompt as quoted recollections: who said
what, and when."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from botkit.context import ContextRequest, Recollection
from botkit.lore.model import LoreEntry
from botkit.memory.records import Memory, Scope
from botkit.memory.service import MemoryService

__all__ = ["MemoryProvider", "describe_age", "recollection_of"]

log = logging.getLogger(__name__)

QUERY_TURNS = 2


def describe_age(then: datetime, now: datetime) -> str:
    """How long ago ``then`` was, in words ("3 weeks ago")."""
    seconds = max(0.0, (now - then).total_seconds())
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("week", 604_800)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    days = int(seconds // 86_400)
    if days:
        return "yesterday" if days == 1 else f"{days} days ago"
    hours = int(seconds // 3600)
    if hours:
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    minutes = int(seconds // 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''} ago" if minutes else "just now"


def recollection_of(memory: Memory, now: datetime) -> Recollection:
    """One memory as the prompt quotes it: what was said, by whom (not for a note), and
    when ("2026-05-01, 3 weeks ago")."""
    when = f"{memory.time:%Y-%m-%d}, {describe_age(memory.time, now)}"
    speaker = "" if memory.kind == "note" else memory.speaker_name
    return Recollection(memory.text, speaker=speaker, when=when)


class MemoryProvider:
    """Recalls what the speaker witnessed that bears on the last turns.

    Memories of turns the prompt already shows (the channel's recent turns) are left out.
    It is also a lore source: the speaker's ``retrievable`` lore entries closest in
    meaning to the last turns are found with the memory's embedder.
    """

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory

    async def find_lore(self, request: ContextRequest) -> list[LoreEntry]:
        """The speaker's retrievable lore entries that the last turns are about, best first."""
        return await self._memory.lore.find(request.speaker, _query(request))

    async def retrieve(self, request: ContextRequest) -> list[Recollection]:
        """The speaker's most fitting memories, best first; none when recalling them would
        hold the reply up longer than the settings' ``recall_budget_ms``."""
        query = _query(request)
        if not query.strip():
            return []
        now = datetime.now(UTC)
        channel = request.channel
        shown_since = request.transcript[0].time if request.transcript else now

        def shown(memory: Memory) -> bool:
            return (
                memory.channel == channel and memory.kind == "turn" and memory.time >= shown_since
            )

        scope = Scope.of(
            channel,
            character=request.speaker.id,
            whole_server=self._memory.settings.share == "server",
        )
        budget = self._memory.settings.recall_budget_ms
        try:
            async with asyncio.timeout(budget / 1000):
                found = await self._memory.recall(query, scope, now=now, exclude=shown)
        except TimeoutError:
            log.debug(
                "%s: recall skipped for %s after %.0f ms", channel, request.speaker.id, budget
            )
            return []
        return [recollection_of(r.memory, now) for r in found]


def _query(request: ContextRequest) -> str:
    """What the last :data:`QUERY_TURNS` turns said, as one search text."""
    return "\n".join(turn.text for turn in request.transcript[-QUERY_TURNS:])
