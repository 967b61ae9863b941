"""Fitting replies into a platform's message length limit."""

from __future__ import annotations

import re

__all__ = ["split_text"]

_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])[\"'’”)\]]*\s+"),
    re.compile(r"\s+"),
)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, in order.

    Cuts prefer paragraph breaks, then line breaks, then sentence ends, then spaces; a
    run of text with no break at all is cut hard. Whitespace at the cuts is dropped.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = None
        for pattern in _BREAKS:
            ends = [m for m in pattern.finditer(window) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1]
                break
        if cut is None:
            pieces.append(rest[:limit])
            rest = rest[limit:].lstrip()
        else:
            pieces.append(rest[: cut.start()].rstrip())
            rest = rest[cut.end() :].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
