"""Cleaning a streamed reply so a character says only its own line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable

__all__ = ["ReplyFilter"]

GENERIC_SPEAKERS = ("User", "Someone", "Human", "Assistant", "Player", "You", "Narrator")
_SENTENCE_END = re.compile(r"""[.!?…](?:["'”’)*\]]*)(?=\s|$)""")
_MAX_TAG = 40


class ReplyFilter:
    """Streams a reply through, cutting it where the model starts someone else's line.

    A leading ``Speaker:`` prefix of the speaker itself is dropped; a line that begins with
    another participant's name and a colon ends the reply (``interrupted_by`` tells who).
    A trailing unfinished sentence is dropped when at least one sentence is complete, and
    the reply stops after ``max_lines`` non-empty lines. ``text`` is what was let through.
    """

    def __init__(self, *, speaker: str, others: Iterable[str], max_lines: int = 3) -> None:
        self._own = re.compile(rf"^\s*\**{re.escape(speaker)}\**\s*:\s*", re.IGNORECASE)
        names = sorted({*others, *GENERIC_SPEAKERS} - {speaker}, key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in names if name.strip())
        self._other = re.compile(rf"^\s*[*\[(]*(?P<name>{alternatives})[*\])]*\s*:", re.IGNORECASE)
        self._names = {name.lower(): name for name in names}
        self._max_lines = max_lines
        self.text = ""
        self.interrupted_by: str | None = None

    async def filter(self, fragments: AsyncIterator[str]) -> AsyncIterator[str]:
        """The cleaned reply, yielded sentence by sentence as the fragments arrive."""
        pending = ""
        lines = 0
        line_open = False
        finished = False
        async for fragment in fragments:
            pending += fragment
            while "\n" in pending and not finished:
                line, pending = pending.split("\n", 1)
                kept = self._line(line)
                if kept is None:
                    finished = True
                    break
                if kept.strip():
                    lines += 1
                    yield self._emit(("\n" if self.text else "") + kept.strip())
                    line_open = False
                    if lines >= self._max_lines:
                        finished = True
            if finished:
                break
            if not line_open and len(pending) >= _MAX_TAG:
                head = self._line(pending)
                if head is None:
                    finished = True
                    break
                pending = head.lstrip()
                if self.text:
                    pending = "\n" + pending
                line_open = True
                lines += 1
            if line_open:
                cut = self._last_sentence_end(pending)
                if cut:
                    yield self._emit(pending[:cut])
                    pending = pending[cut:]
        if finished:
            return
        if not line_open:
            head = self._line(pending)
            if head is None or not head.strip():
                return
            pending = ("\n" if self.text else "") + head.strip()
        tail = pending.rstrip()
        if tail.strip() and (not self.text or self._last_sentence_end(tail) == len(tail)):
            yield self._emit(tail)

    def _line(self, line: str) -> str | None:
        """The line without the speaker's own name prefix, or None if it is another's line."""
        match = self._other.match(line)
        if match:
            self.interrupted_by = self._names.get(match.group("name").lower())
            return None
        return self._own.sub("", line, count=1)

    def _emit(self, text: str) -> str:
        if not self.text:
            text = text.lstrip()
        self.text += text
        return text

    @staticmethod
    def _last_sentence_end(text: str) -> int:
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]
        return ends[-1] if ends else 0
