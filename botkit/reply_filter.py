"""Cleaning a streamed reply so a character says only its own line."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable

__all__ = ["ReplyFilter"]

log = logging.getLogger(__name__)

GENERIC_SPEAKERS = ("User", "Someone", "Human", "Assistant", "Player", "You", "Narrator")
_SENTENCE_END = re.compile(r"""[.!?…]["'’”*)\]]{0,4}(?=\s|$)""")
_SENTENCE_END_CHARS = 6
"""The most characters a sentence end spans, with the one it looks ahead at."""
_OPENERS = r"""[ \t"'*(\[•-]{0,12}"""
_CLOSERS = r"""[*\])]{0,6}"""
_WORD = r"[A-Z][\w'’-]{0,30}"
_CAPITALISED = rf"{_WORD}(?:[ ]{_WORD}){{0,2}}(?:[ ]\([^)\n]{{0,40}}\))?"
_BOUNDARY = r"""(?:^|(?<=[.!?…])|(?<=[.!?…]["'’”*)\]]))"""
_NAMED_TAG_CHARS = 12 + 6 + 6 + 1 + 6 + 1
"""The most characters a speaker tag spans besides the name: openers, closers, white space,
the colon, closers and the character looked ahead at (see the patterns above)."""
_TAG_CHARS = _NAMED_TAG_CHARS + 3 * 31 + 2 + 43
"""The most characters a tag of up to three invented capitalised words (31 characters
each at most) and a parenthetical spans."""
_LOOKBEHIND = 2
_DECIDE_AFTER = 48


class ReplyFilter:
    """Streams a reply through, cutting it where the model starts someone else's line.

    A speaker tag — a participant's name, or one to three capitalised words (with an
    optional parenthetical), then a colon — at the start of a line or right after a
    sentence ends the reply; ``interrupted_by`` names the participant it was, if any.
    The speaker's own tag at the very start is dropped instead. The reply also stops after
    ``max_lines`` lines or ``max_chars`` characters (a cut that is logged), and a trailing
    unfinished sentence is dropped once a sentence is complete. ``text`` is what was let
    through.

    The work is linear in the reply's length: each fragment is searched together with only
    the few characters before it that a speaker tag or sentence end could span, never the
    whole reply again. ``scanned`` counts the characters examined so far.
    """

    def __init__(
        self,
        *,
        speaker: str,
        others: Iterable[str],
        max_lines: int = 3,
        max_chars: int | None = None,
    ) -> None:
        self._speaker = speaker
        self._own = re.compile(rf"^\s*{_OPENERS}{re.escape(speaker)}{_CLOSERS}\s*:\s*", re.I)
        names = sorted({*others, *GENERIC_SPEAKERS} - {speaker}, key=len, reverse=True)
        known = "|".join(re.escape(name) for name in names if name.strip())
        self._tag = re.compile(
            rf"{_BOUNDARY}{_OPENERS}(?:(?i:(?P<known>{known}))|(?P<tag>{_CAPITALISED})){_CLOSERS}"
            rf"\s{{0,6}}:{_CLOSERS}(?=\s|$)",
            re.MULTILINE,
        )
        longest = max(map(len, names), default=0)
        self._reach = max(_TAG_CHARS, _NAMED_TAG_CHARS + longest) + _LOOKBEHIND
        self._names = {name.casefold(): name for name in names}
        self._max_lines = max_lines
        self._max_chars = max_chars
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._recent = ""
        self._end = 0
        self._emitted_to = 0
        self._safe = 0
        self._said = False
        self._newlines: list[int] = []
        self._open_newline: int | None = None
        self.interrupted_by: str | None = None
        self.scanned = 0

    @property
    def text(self) -> str:
        """What the filter has let through so far."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    async def filter(self, fragments: AsyncIterator[str]) -> AsyncIterator[str]:
        """The cleaned reply, yielded sentence by sentence as the fragments arrive.

        Once the reply is cut, ``fragments`` is closed so the backend stops generating.
        """
        opening = ""
        started = False
        cut: int | None = None
        try:
            async for fragment in fragments:
                if not started:
                    opening += fragment
                    self.scanned += len(opening)
                    if len(opening) < _DECIDE_AFTER and not _SENTENCE_END.search(opening):
                        continue
                    fragment = self._own.sub("", opening, count=1).lstrip()
                    started = True
                cut = self._take(fragment)
                if cut is not None:
                    break
                if self._safe > self._emitted_to:
                    yield self._emit(self._pop(self._safe))
            if not started:
                cut = self._take(self._own.sub("", opening, count=1).lstrip())
        finally:
            close = getattr(fragments, "aclose", None)
            if cut is not None and close is not None:
                await close()
        end = self._end if cut is None else cut
        tail = self._pop(end).rstrip() if end > self._emitted_to else ""
        self.scanned += len(tail)
        complete = _last_sentence_end(tail) == len(tail)
        if tail.strip() and (complete or not self._said):
            yield self._emit(tail)

    def _take(self, fragment: str) -> int | None:
        """Add ``fragment``; where the reply must end, if it now holds another speaker,
        too many lines or too many characters."""
        capped = None
        if self._max_chars is not None and self._end + len(fragment) > self._max_chars:
            capped = self._max_chars
            fragment = fragment[: self._max_chars - self._end + 1]
        start = self._end
        before = self._recent
        window = before + fragment
        origin = start - len(before)
        self._pending.append(fragment)
        self._end += len(fragment)
        self._recent = window[-(self._reach + _SENTENCE_END_CHARS) :]
        self._find_sentence_end(window, origin, max(0, len(before) - _SENTENCE_END_CHARS))
        cut = self._find_tag(window, origin, max(0, len(before) - self._reach))
        lines = self._find_line_end(fragment, start)
        if lines is not None and (cut is None or lines < cut):
            cut, self.interrupted_by = lines, None
        if capped is not None and (cut is None or capped < cut):
            cut, self.interrupted_by = capped, None
            log.warning(
                "%s's reply reached max_reply_chars (%d) and was cut there", self._speaker, capped
            )
        return cut

    def _find_tag(self, window: str, origin: int, pos: int) -> int | None:
        """Where the first speaker tag starts that begins at ``pos`` of ``window`` or later
        (``window`` begins at ``origin`` of the reply), if one does."""
        self.scanned += len(window) - pos
        match = self._tag.search(window, pos)
        if match is None:
            return None
        known = match.group("known")
        self.interrupted_by = self._names.get(known.casefold()) if known else None
        return origin + match.start()

    def _find_sentence_end(self, window: str, origin: int, pos: int) -> None:
        """Move ``_safe`` to the last sentence end found from ``pos`` of ``window`` on."""
        self.scanned += len(window) - pos
        ends = [m.end() for m in _SENTENCE_END.finditer(window, pos)]
        if ends:
            self._safe = max(self._safe, origin + ends[-1])

    def _find_line_end(self, fragment: str, start: int) -> int | None:
        """Where the reply passes ``max_lines`` lines, counting the lines ``fragment`` adds
        (a line counts once it holds more than white space)."""
        self.scanned += len(fragment)
        position = start
        for index, piece in enumerate(fragment.split("\n")):
            if index:
                self._open_newline = position
                position += 1
            if self._open_newline is not None and piece and not piece.isspace():
                self._newlines.append(self._open_newline)
                self._open_newline = None
            position += len(piece)
        if len(self._newlines) >= self._max_lines:
            return self._newlines[self._max_lines - 1]
        return None

    def _pop(self, until: int) -> str:
        """The text not yet let through, up to ``until``; the rest stays pending."""
        pending = "".join(self._pending)
        taken, rest = pending[: until - self._emitted_to], pending[until - self._emitted_to :]
        self._pending = [rest] if rest else []
        self._emitted_to = until
        return taken

    def _emit(self, text: str) -> str:
        if not self._said:
            text = text.lstrip()
            self._said = bool(text)
        self._parts.append(text)
        return text


def _last_sentence_end(text: str) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return ends[-1] if ends else 0
