"""Notes: every so many turns in a channel, the model writes down what is worth keeping.

Notes are memories of their own (kind ``note``), witnessed by the characters present,
written in the background after the turns are indexed, never on the reply path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from botkit.backends.base import BackendError, ChatBackend, ChatMessage, ChatRequest, Sampling
from botkit.events import ChannelKey
from botkit.memory.ledger import MemoryLedger, PendingTurn

__all__ = ["NOTE_SPEAKER", "NoteTaker", "parse_notes"]

log = logging.getLogger(__name__)

NOTE_SPEAKER = ("botkit:notes", "notes")
"""The speaker id and name notes are stored under."""
NOTE_IMPORTANCE = 0.7
MAX_NOTES = 3
MAX_NOTE_CHARS = 300
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_INSTRUCTIONS = (
    "You keep the chronicle of a role-play. From the conversation below, write down at "
    f"most {MAX_NOTES} facts worth remembering weeks from now: names, places, dates, "
    "promises, what people said about themselves. One fact per line, each a full sentence "
    "naming who it is about. Write nothing else."
)


def parse_notes(text: str) -> list[str]:
    """The facts in a model's answer: one per non-empty line, bullets removed, at most three."""
    notes: list[str] = []
    for line in text.splitlines():
        note = _BULLET.sub("", line).strip()
        if len(note.split()) >= 3 and len(note) <= MAX_NOTE_CHARS and note not in notes:
            notes.append(note)
    return notes[:MAX_NOTES]


class NoteTaker:
    """Asks ``backend`` for notes on each ``every`` turns of a channel."""

    def __init__(self, backend: ChatBackend, *, every: int) -> None:
        self._backend = backend
        self._every = every
        self._channels: set[ChannelKey] = set()

    def saw(self, channels: Sequence[ChannelKey]) -> None:
        """Channels that got new turns since the last call of :meth:`take`."""
        self._channels.update(channels)

    async def take(
        self, ledger: MemoryLedger, cast_of: Callable[[ChannelKey], Awaitable[Sequence[str]]]
    ) -> bool:
        """Write notes for one channel that has enough new turns; False when none has."""
        while self._channels:
            channel = self._channels.pop()
            key = f"notes:{channel}"
            mark = int(await ledger.setting(key) or 0)
            turns = await ledger.turns_after(channel, mark, self._every)
            if len(turns) < self._every:
                continue
            await ledger.set_setting(key, turns[-1].seq)
            self._channels.add(channel)
            for note in await self._write(turns):
                await ledger.add_note(
                    channel=channel,
                    speaker_id=NOTE_SPEAKER[0],
                    speaker_name=NOTE_SPEAKER[1],
                    text=note,
                    time=turns[-1].time,
                    importance=NOTE_IMPORTANCE,
                    witnesses=await cast_of(channel),
                )
            return True
        return False

    async def _write(self, turns: Sequence[PendingTurn]) -> list[str]:
        counter = self._backend.token_counter
        budget = self._backend.context_window // 2
        lines: list[str] = []
        for turn in reversed(turns):
            line = f"{turn.speaker_name}: {turn.text}"
            budget -= counter.count(line) + 1
            if budget < 0:
                break
            lines.append(line)
        transcript = "\n".join(reversed(lines))
        request = ChatRequest(
            messages=(
                ChatMessage("system", _INSTRUCTIONS),
                ChatMessage("user", transcript),
            ),
            sampling=Sampling(temperature=0.2, max_tokens=160),
        )
        started = datetime.now(UTC)
        try:
            answer = "".join([fragment async for fragment in self._backend.stream(request)])
        except BackendError as error:
            log.warning("memory: no notes for %d turns: %s", len(turns), error)
            return []
        notes = parse_notes(answer)
        seconds = (datetime.now(UTC) - started).total_seconds()
        log.debug("memory: %d note(s) from %d turns in %.1f s", len(notes), len(turns), seconds)
        return notes
