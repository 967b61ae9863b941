"""Cleaning a streamed reply so a character says only its own line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable

__all__ = ["ReplyFilter"]

GENERIC_SPEAKERS = ("User", "Someone", "Human", "Assistant", "Player", "You", "Narrator")
_SENTENCE_END = re.compile(r"""[.!?…]["'’”*)\]]*(?=\s|$)""")
_OPENERS = r"""[ \t"'*(\[•-]*"""
_CLOSERS = r"""[*\])]*"""
_CAPITALISED = r"[A-Z][\w'’-]*(?:[ ][A-Z][\w'’-]*){0,2}(?:[ ]\([^)\n]{0,40}\))?"
_BOUNDARY = r"""(?:^|(?<=[.!?…])|(?<=[.!?…]["'’”*)\]]))"""
_DECIDE_AFTER = 48


class ReplyFilter:
    """Streams a reply through, cutting it where the model starts someone else's line.

    A speaker tag — a participant's name, or one to three capitalised words (with an
    optional parenthetical), then a colon — at the start of a line or right after a
    sentence ends the reply; ``interrupted_by`` names the participant it was, if any.
    The speaker's own tag at the very start is dropped instead. The reply also stops after
    ``max_lines`` lines, and a trailing unfinished sentence is dropped once a sentence is
    complete. ``text`` is what was let through.
    """

    def __init__(self, *, speaker: str, others: Iterable[str], max_lines: int = 3) -> None:
        self._speaker = speaker
        self._own = re.compile(rf"^\s*{_OPENERS}{re.escape(speaker)}{_CLOSERS}\s*:\s*", re.I)
        names = sorted({*others, *GENERIC_SPEAKERS} - {speaker}, key=len, reverse=True)
        known = "|".join(re.escape(name) for name in names if name.strip())
        self._tag = re.compile(
            rf"{_BOUNDARY}{_OPENERS}(?:(?i:(?P<known>{known}))|(?P<tag>{_CAPITALISED})){_CLOSERS}"
            rf"\s*:{_CLOSERS}(?=\s|$)",
            re.MULTILINE,
        )
        self._names = {name.casefold(): name for name in names}
        self._max_lines = max_lines
        self.text = ""
        self.interrupted_by: str | None = None

    async def filter(self, fragments: AsyncIterator[str]) -> AsyncIterator[str]:
        """The cleaned reply, yielded sentence by sentence as the fragments arrive."""
        buffer = ""
        started = False
        async for fragment in fragments:
            buffer += fragment
            if not started:
                if len(buffer) < _DECIDE_AFTER and not _SENTENCE_END.search(buffer):
                    continue
                buffer = self._own.sub("", buffer, count=1).lstrip()
                started = True
            cut = self._cut(buffer)
            if cut is not None:
                buffer = buffer[:cut]
                break
            safe = _last_sentence_end(buffer)
            if safe > len(self.text):
                yield self._emit(buffer[len(self.text) : safe])
        else:
            if not started:
                buffer = self._own.sub("", buffer, count=1).lstrip()
                cut = self._cut(buffer)
                buffer = buffer if cut is None else buffer[:cut]
        tail = buffer[len(self.text) :].rstrip()
        complete = _last_sentence_end(tail) == len(tail)
        if tail.strip() and (complete or not self.text.strip()):
            yield self._emit(tail)

    def _cut(self, text: str) -> int | None:
        """Where the reply must end, if it already holds another speaker or too many lines."""
        match = self._tag.search(text)
        cut = None
        if match:
            cut = match.start()
            known = match.group("known")
            self.interrupted_by = self._names.get(known.casefold()) if known else None
        lines = [m.start() for m in re.finditer(r"\n(?=[^\n]*\S)", text)]
        if len(lines) >= self._max_lines:
            end = lines[self._max_lines - 1]
            if cut is None or end < cut:
                cut, self.interrupted_by = end, None
        return cut

    def _emit(self, text: str) -> str:
        if not self.text:
            text = text.lstrip()
        self.text += text
        return text


def _last_sentence_end(text: str) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return ends[-1] if ends else 0
