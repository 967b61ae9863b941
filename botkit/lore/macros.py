"""The ``{{char}}`` and ``{{user}}`` macros of character cards, resolved at prompt time."""

from __future__ import annotations

import re
from collections.abc import Sequence

from botkit.transcript import Turn

__all__ = ["NO_USER", "expand_macros", "user_name"]

NO_USER = "you"
"""What ``{{user}}`` becomes when no person has spoken yet."""

_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(bot|user)>", re.IGNORECASE)


def expand_macros(text: str, *, char: str, user: str = NO_USER) -> str:
    """``text`` with ``{{char}}``/``<BOT>`` as ``char`` and ``{{user}}``/``<USER>`` as ``user``.

    Matching ignores case, as SillyTavern's does (``{{Char}}``, ``<bot>``).
    """
    if "{" not in text and "<" not in text:
        return text

    def name(match: re.Match[str]) -> str:
        which = (match.group(1) or match.group(2)).lower()
        return user if which == "user" else char

    return _MACRO.sub(name, text)


def user_name(transcript: Sequence[Turn]) -> str:
    """Whom ``{{user}}`` names: the author of the last human turn, or "you" when none."""
    return next((t.speaker_name for t in reversed(transcript) if not t.is_character), NO_USER)
