"""Puts a speaker's recalled memories into its prompt as quoted recollections: who said
what, and when."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from botkit.context import ContextRequest, Recollection
from botkit.lore.model import LoreEntry
from botkit.memory.records import Memory, Scope
from botkit.memory.service import MemoryService, turn_text

__all__ = ["MemoryProvider", "describe_age", "recollection_of"]

log = logging.getLogger(__name__)

T = TypeVar("T")

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


def recollection_of(memory: Memory, now: datetime, score: float | None = None) -> Recollection:
    """One memory as the prompt quotes it: what was said, by whom (not for a note), and
    when ("2026-05-01, 3 weeks ago"); ``score``, how well it matched the recall."""
    when = f"{memory.time:%Y-%m-%d}, {describe_age(memory.time, now)}"
    speaker = "" if memory.kind == "note" else memory.speaker_name
    return Recollection(memory.text, speaker=speaker, when=when, score=score)


class MemoryProvider:
    """Recalls what the speaker witnessed that bears on the last turns.

    Memories of turns the prompt already shows (the channel's recent turns) are left out.
    It is also a lore source: the speaker's ``retrievable`` lore entries closest in
    meaning to the newest turn are found with the memory's embedder.
    """

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory

    async def find_lore(self, request: ContextRequest) -> list[LoreEntry]:
        """The speaker's retrievable lore entries that the newest turn is about, best first.

        The newest turn is searched with the vector its recall uses (computed once for both).

        Like a recall, skipped for this turn when its query would hold the reply up longer
        than ``recall_budget_ms`` (at once when the query way is that busy).
        """
        speaker = request.speaker
        if not request.transcript or not any(
            e.retrievable for book in speaker.lorebooks for e in book.entries
        ):
            return []
        query = _dense_query(request)
        found = await self._within_budget(
            "lore by meaning", request, query, lambda: self._memory.lore.find(speaker, query)
        )
        return found or []

    async def retrieve(self, request: ContextRequest) -> list[Recollection]:
        """The speaker's most fitting memories, best first.

        None without a search when the scope holds nothing but the turns the prompt shows;
        none either when recalling would hold the reply up longer than the settings'
        ``recall_budget_ms``: skipped at once when the query's vector would come too late,
        else given up when the budget runs out.
        """
        query = _query(request)
        if not query.strip():
            return []
        memory = self._memory
        now = datetime.now(UTC)
        channel = request.channel
        shown_since = request.transcript[0].time if request.transcript else now
        scope = Scope.of(
            channel, character=request.speaker.id, whole_server=memory.settings.share == "server"
        )
        if not memory.may_find(scope, shown_in=channel, shown_since=shown_since):
            return []

        def shown(memory: Memory) -> bool:
            return (
                memory.channel == channel and memory.kind == "turn" and memory.time >= shown_since
            )

        dense_query = _dense_query(request)
        found = await self._within_budget(
            "recall",
            request,
            dense_query if memory.settings.weights.dense > 0 else None,
            lambda: memory.recall(query, scope, now=now, exclude=shown, dense_query=dense_query),
        )
        if found is None:
            return []
        return [recollection_of(r.memory, now, r.score) for r in found]

    async def _within_budget(
        self,
        what: str,
        request: ContextRequest,
        embedded: str | None,
        search: Callable[[], Awaitable[T]],
    ) -> T | None:
        """What ``search`` finds, or None (with a debug line naming ``what``) when it would
        hold the reply up longer than ``recall_budget_ms``: at once when the vector of
        ``embedded`` (the text it embeds, if any) would come too late, else when the
        budget runs out."""
        budget = self._memory.settings.recall_budget_ms
        speaker = request.speaker.id
        waited = self._memory.expected_delay(embedded) * 1000 if embedded is not None else 0.0
        if waited > budget:
            log.debug(
                "%s: %s skipped for %s: its query would wait %.0f ms (budget %.0f ms)",
                request.channel,
                what,
                speaker,
                waited,
                budget,
            )
            return None
        try:
            async with asyncio.timeout(budget / 1000):
                return await search()
        except TimeoutError:
            log.debug("%s: %s skipped for %s after %.0f ms", request.channel, what, speaker, budget)
            return None


def _query(request: ContextRequest) -> str:
    """What the last :data:`QUERY_TURNS` turns said, as one search text."""
    return "\n".join(turn.text for turn in request.transcript[-QUERY_TURNS:])


def _dense_query(request: ContextRequest) -> str:
    """The newest turn as its memory is embedded: the search by meaning looks for what
    bears on it, with the vector the turn is indexed with (computed once for both)."""
    newest = request.transcript[-1]
    return turn_text(newest.speaker_name, newest.text)
