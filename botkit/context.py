"""The retrieved-context slot of a prompt: providers add snippets relevant to the next reply."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from botkit.characters.model import Character
from botkit.events import ChannelKey
from botkit.lore.macros import expand_macros, user_name
from botkit.lore.model import LoreEntry
from botkit.transcript import Turn

__all__ = [
    "ContextProvider",
    "ContextRequest",
    "KnowledgeProvider",
    "LoreSource",
    "Recollection",
    "Snippet",
]


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """Who is about to speak, where, and after which turns."""

    speaker: Character
    channel: ChannelKey
    transcript: Sequence[Turn]


@dataclass(frozen=True, slots=True)
class Recollection:
    """Something from an earlier conversation that the speaker remembers.

    Its words are people's, not the operator's, so prompts show it as quoted conversation
    and never among the instructions. ``speaker`` is who said it (empty for a note written
    about a conversation); ``when`` says when, in words.
    """

    text: str
    speaker: str = ""
    when: str = ""
    score: float | None = None
    """How well it matched the recall (0..1), where the recall scored it."""


Snippet = str | Recollection
"""A piece of context: the provider's own text (part of the instructions) or a recollection."""


@runtime_checkable
class ContextProvider(Protocol):
    """Adds snippets (knowledge, memories) to the context of the speaker's prompt.

    Snippets come back most important first; the prompt keeps as many as fit its budget.
    Text people wrote must come back as a :class:`Recollection`, never as a plain string.
    """

    async def retrieve(self, request: ContextRequest) -> Sequence[Snippet]:
        """Snippets worth showing the speaker before its next reply."""
        ...


@runtime_checkable
class LoreSource(Protocol):
    """Finds lore entries by other means than their keys (a provider may also be one).

    The entries found join the speaker's lorebook selection: they go where their
    ``position`` says and count against the lorebook budget, never twice.
    """

    async def find_lore(self, request: ContextRequest) -> list[LoreEntry]:
        """Entries of the speaker's lorebooks that bear on the last turns, best first."""
        ...


class KnowledgeProvider:
    """Adds a character's keyed knowledge entries when a recent turn mentions one of the keys."""

    def __init__(self, *, scan_turns: int = 3) -> None:
        self._scan_turns = scan_turns
        self._patterns: dict[tuple[str, ...], re.Pattern[str]] = {}

    async def retrieve(self, request: ContextRequest) -> list[str]:
        """Keyed knowledge of the speaker that the last few turns touch on, macros resolved."""
        recent = " ".join(turn.text for turn in request.transcript[-self._scan_turns :])
        user = user_name(request.transcript)
        return [
            expand_macros(entry.text, char=request.speaker.name, user=user)
            for entry in request.speaker.knowledge
            if entry.keys and self._pattern(entry.keys).search(recent)
        ]

    def _pattern(self, keys: tuple[str, ...]) -> re.Pattern[str]:
        pattern = self._patterns.get(keys)
        if pattern is None:
            words = "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))
            pattern = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)
            self._patterns[keys] = pattern
        return pattern
