"""The turn-taking seam: given the situation after a turn, who speaks next (or nobody)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from botkit.characters.model import Character
from botkit.transcript import Turn

__all__ = ["NOBODY", "Decision", "Scheduler", "TurnContext"]


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What a policy may look at when deciding who speaks after ``trigger``.

    ``transcript`` is the recent history, oldest first, ending with ``trigger``.
    ``hops`` counts character turns since the last human turn (0 when a human just spoke).
    ``mentions`` are the names the platform resolved as mentions in the trigger;
    ``reply_to_character`` is the id of the character whose message the trigger replies to.
    ``cued`` is the character whose line the trigger's author began to write (the reply was
    cut there), which invites that character as if it had been addressed. ``policy`` names
    the channel's chosen policy (empty for the default) and ``muted`` the characters that
    must stay silent in the channel.
    """

    cast: Sequence[Character]
    transcript: Sequence[Turn]
    trigger: Turn
    hops: int = 0
    mentions: tuple[str, ...] = ()
    reply_to_character: str | None = None
    cued: str | None = None
    policy: str = ""
    muted: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """Character ids that speak next, in order; empty means nobody speaks."""

    speakers: tuple[str, ...]
    reason: str = ""

    @property
    def nobody(self) -> bool:
        """True when no character should answer."""
        return not self.speakers


NOBODY = Decision((), "nothing invites a reply")


@runtime_checkable
class Scheduler(Protocol):
    """A turn-taking policy. Policies may be async (a model policy calls a backend)."""

    name: str

    async def decide(self, context: TurnContext) -> Decision:
        """Choose who speaks after ``context.trigger``."""
        ...
