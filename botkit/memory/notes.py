"""Observations: once a channel's session has ended, the model writes down what to keep.

An observation is a memory of its own (kind ``note``), witnessed by the characters
present, linked to the turns it was drawn from (best source first), and written in the
background after the turns are indexed, never on the reply path. A session ends when its
channel falls quiet (no turn for a while); one that goes on for many turns is observed in
parts, so a channel that is never quiet is observed too and each part fits the prompt.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from botkit.backends.base import BackendError, ChatBackend, ChatMessage, ChatRequest, Sampling
from botkit.events import ChannelKey
from botkit.memory.ledger import MemoryLedger, PendingTurn
from botkit.stopwords import STOP_WORDS

__all__ = ["NOTE_SPEAKER", "NoteTaker", "find_sources", "parse_notes", "split_sessions"]

log = logging.getLogger(__name__)

NOTE_SPEAKER = ("botkit:notes", "notes")
"""The speaker id and name observations are stored under."""
NOTE_IMPORTANCE = 0.7
MAX_NOTES = 3
MAX_NOTE_CHARS = 300
MAX_SOURCES = 3
"""Turns an observation links to at most."""
_STEM = 5
"""Words are compared by their first letters, so "painted" matches "painting"."""
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_WORD = re.compile(r"\w+", re.UNICODE)
_INSTRUCTIONS = (
    "You keep the chronicle of a role-play. From the conversation below, write down at "
    f"most {MAX_NOTES} facts worth remembering weeks from now: names, places, dates, "
    "promises, what people said about themselves. One fact per line, each a full sentence "
    "naming who it is about. Write nothing else."
)

Clock = Callable[[], datetime]


def parse_notes(text: str) -> list[str]:
    """The facts in a model's answer: one per non-empty line, bullets removed, at most three."""
    notes: list[str] = []
    for line in text.splitlines():
        note = _BULLET.sub("", line).strip()
        if len(note.split()) >= 3 and len(note) <= MAX_NOTE_CHARS and note not in notes:
            notes.append(note)
    return notes[:MAX_NOTES]


def split_sessions(times: Sequence[datetime], *, quiet: timedelta, every: int) -> list[int]:
    """The lengths of the sessions a channel's turns (their times, in order) fall into.

    A session ends before a turn that came ``quiet`` or more after the one before it, and
    after ``every`` turns. The last session may still be going on.
    """
    lengths: list[int] = []
    length = 0
    for index, time in enumerate(times):
        if length and (length >= every or time - times[index - 1] >= quiet):
            lengths.append(length)
            length = 0
        length += 1
    if length:
        lengths.append(length)
    return lengths


def _stems(text: str, names: frozenset[str]) -> set[str]:
    words = _WORD.findall(text.casefold())
    return {w[:_STEM] for w in words if len(w) > 2 and w not in STOP_WORDS and w not in names}


def find_sources(note: str, turns: Sequence[PendingTurn]) -> list[int]:
    """The seqs of the turns ``note`` was drawn from, best first (at most :data:`MAX_SOURCES`).

    A turn's weight is how many of the note's telling words it shares (speakers' names
    aside: a note names whom it is about); the turns sharing at least half as many as the
    best one are its sources. None when no turn shares a word: the note is not grounded
    in the session.
    """
    names = frozenset(w for t in turns for w in _WORD.findall(t.speaker_name.casefold()))
    wanted = _stems(note, names)
    shared = [(len(wanted & _stems(t.text, names)), i) for i, t in enumerate(turns)]
    best = max((count for count, _ in shared), default=0)
    if best == 0:
        return []
    enough = math.ceil(best / 2)
    chosen = sorted((-count, i) for count, i in shared if count >= enough)[:MAX_SOURCES]
    return [turns[i].seq for _, i in chosen]


class NoteTaker:
    """Asks ``backend`` for observations on each ended session of a channel.

    A session has ended once ``quiet`` passed after its last turn (by a later turn's time,
    or by ``clock``), or after ``every`` turns.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        quiet: timedelta,
        every: int,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._backend = backend
        self._quiet = quiet
        self._every = every
        self._clock = clock
        self._channels: set[ChannelKey] = set()
        self._waiting: dict[ChannelKey, datetime] = {}
        self.sessions_observed = 0
        """Sessions written up so far (with or without an observation to keep)."""

    def saw(self, channels: Sequence[ChannelKey]) -> None:
        """Channels that got new turns since the last call of :meth:`take`."""
        self._channels.update(channels)

    def seconds_until_due(self) -> float | None:
        """How long until a channel's session, still going now, will have ended; None if
        no channel has one."""
        if not self._waiting:
            return None
        return max(0.0, (min(self._waiting.values()) - self._clock()).total_seconds())

    async def take(
        self, ledger: MemoryLedger, cast_of: Callable[[ChannelKey], Awaitable[Sequence[str]]]
    ) -> bool:
        """Write observations on one ended session not yet observed; False when none is."""
        now = self._clock()
        for channel, due in list(self._waiting.items()):
            if due <= now:
                self._channels.add(channel)
        while self._channels:
            channel = self._channels.pop()
            self._waiting.pop(channel, None)
            if await ledger.held_elsewhere(channel):
                continue
            key = f"notes:{channel}"
            mark = int(await ledger.setting(key) or 0)
            turns = await ledger.turns_after(channel, mark, self._every + 1)
            if not turns:
                continue
            times = [turn.time for turn in turns]
            length = split_sessions(times, quiet=self._quiet, every=self._every)[0]
            if length == len(turns) and length < self._every and now - times[-1] < self._quiet:
                self._waiting[channel] = times[-1] + self._quiet
                continue
            session = turns[:length]
            await ledger.set_setting(key, session[-1].seq)
            self._channels.add(channel)
            await self._observe(ledger, channel, session, await cast_of(channel))
            self.sessions_observed += 1
            return True
        return False

    async def _observe(
        self,
        ledger: MemoryLedger,
        channel: ChannelKey,
        session: Sequence[PendingTurn],
        cast: Sequence[str],
    ) -> None:
        """Write the session's observations, each linked to the turns it came from."""
        memory_ids = await ledger.turn_memories(turn.seq for turn in session)
        for note in await self._write(session):
            sources = [memory_ids[s] for s in find_sources(note, session) if s in memory_ids]
            if not sources:
                log.debug("memory: observation left out, no turn says it: %s", note)
                continue
            await ledger.add_note(
                channel=channel,
                speaker_id=NOTE_SPEAKER[0],
                speaker_name=NOTE_SPEAKER[1],
                text=note,
                time=session[-1].time,
                importance=NOTE_IMPORTANCE,
                witnesses=cast,
                sources=sources,
            )

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
            log.warning("memory: no observations on %d turns: %s", len(turns), error)
            return []
        notes = parse_notes(answer)
        seconds = (datetime.now(UTC) - started).total_seconds()
        log.debug(
            "memory: %d observation(s) on %d turns in %.1f s", len(notes), len(turns), seconds
        )
        return notes
