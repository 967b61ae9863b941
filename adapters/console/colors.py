"""ANSI colours for character names in the terminal."""

from __future__ import annotations

import re

__all__ = ["DIM", "RESET", "ansi_color"]

RESET = "\x1b[0m"
DIM = "\x1b[2m"
_BASIC = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_HEX = re.compile(r"^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$")


def ansi_color(name: str | None) -> str:
    """The escape sequence that starts bold text in colour ``name`` (a basic or bright_
    colour name, or ``#rrggbb``); plain bold when the name is unknown or missing."""
    if not name:
        return "\x1b[1m"
    bright = name.startswith("bright_")
    base = name.removeprefix("bright_")
    if base in _BASIC:
        return f"\x1b[1;{(90 if bright else 30) + _BASIC.index(base)}m"
    match = _HEX.match(name)
    if match:
        red, green, blue = (int(part, 16) for part in match.groups())
        return f"\x1b[1;38;2;{red};{green};{blue}m"
    return "\x1b[1m"
