"""The turn-taking seam: given the situation after a turn, who speaks next (or nobody)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from botkit.characters.model import Character
from botkit.transcript import Turn

__all__ = ["NOBODY", "Decision", "Ranking", "Scheduler", "TurnContext", "free_cast"]


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


@dataclass(frozen=True, slots=True)
class Ranking:
    """The cast members free to speak next, the likeliest first, with the policy's scores.

    ``scores`` run parallel to ``speakers`` (higher is likelier; their scale is the
    policy's own). A ranking never says NOBODY: whether anyone speaks is the policy's
    ``decide``.
    """

    speakers: tuple[str, ...]
    scores: tuple[float, ...] = ()
    reason: str = ""

    @property
    def first(self) -> str | None:
        """The likeliest next speaker, or None when nobody is free."""
        return self.speakers[0] if self.speakers else None


def free_cast(context: TurnContext) -> list[Character]:
    """The cast members who may speak next: not muted and not the trigger's own speaker
    (each once, in cast order)."""
    trigger = context.trigger
    taken = {trigger.speaker_id} if trigger.is_character else set()
    taken |= context.muted
    free: list[Character] = []
    for character in context.cast:
        if character.id not in taken:
            taken.add(character.id)
            free.append(character)
    return free


@runtime_checkable
class Scheduler(Protocol):
    """A turn-taking policy: *who* is likeliest to speak next (``rank``) and *whether*
    anyone should (``decide``, a when-gate in front of the ranking).

    Policies may be async (a model policy calls a backend).
    """

    name: str

    async def rank(self, context: TurnContext) -> Ranking:
        """Order the free cast (:func:`free_cast`) by how likely each speaks next."""
        ...

    async def decide(self, context: TurnContext) -> Decision:
        """Choose who speaks after ``context.trigger``, or nobody."""
        ...
