"""A small harbour cast and turn builders shared by the turn-taking tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from botkit.characters.model import Character, KnowledgeEntry
from botkit.scheduler import TurnContext
from botkit.transcript import Turn

__all__ = [
    "BRAM",
    "CAST",
    "MIRA",
    "NELL",
    "WREN",
    "after",
    "context",
    "human",
    "person",
    "said_by",
]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MIRA = Character(
    id="mira",
    name="Mira",
    nicknames=("innkeeper",),
    talkativeness=0.85,
    summary="the innkeeper of the Salt Lantern",
    persona=("Mira runs the inn and loves gossip, soup and stories.",),
)
BRAM = Character(
    id="bram",
    name="Bram",
    nicknames=("Old Bram",),
    talkativeness=0.4,
    persona=("Bram is an old fisherman who talks of nets, boats and storms.",),
)
WREN = Character(
    id="wren",
    name="Wren",
    talkativeness=0.6,
    persona=("Wren maps the sea caves under the cliff.",),
    knowledge=(KnowledgeEntry("Cave eleven has a tunnel.", ("caves", "tunnel")),),
)
NELL = Character(
    id="nell",
    name="Nell",
    talkativeness=0.3,
    style="Speaks softly.",
    persona=("Nell tends the dark lighthouse lamp.",),
)
CAST = (MIRA, BRAM, WREN, NELL)


def person(cid: str, talkativeness: float, persona: str = "Lives in town.") -> Character:
    """A plain character whose only distinguishing trait is how talkative it is."""
    return Character(id=cid, name=cid.capitalize(), persona=(persona,), talkativeness=talkativeness)


def human(text: str, *, who: str = "u-ann", name: str = "Ann") -> Turn:
    """A turn written by a person."""
    return Turn(who, name, text, False, NOW)


def said_by(character: Character, text: str) -> Turn:
    """A turn written by ``character``."""
    return Turn(character.id, character.name, text, True, NOW)


def context(
    trigger: Turn,
    *,
    cast: Sequence[Character] = CAST,
    history: Sequence[Turn] = (),
    hops: int = 0,
    mentions: tuple[str, ...] = (),
    reply_to: str | None = None,
    cued: str | None = None,
    policy: str = "",
    muted: Iterable[str] = (),
) -> TurnContext:
    """The situation right after ``trigger``, which ends the transcript."""
    return TurnContext(
        cast=cast,
        transcript=(*history, trigger),
        trigger=trigger,
        hops=hops,
        mentions=mentions,
        reply_to_character=reply_to,
        cued=cued,
        policy=policy,
        muted=frozenset(muted),
    )


def after(*turns: Turn, cast: Sequence[Character] = CAST, muted: Iterable[str] = ()) -> TurnContext:
    """The situation right after the last of ``turns``, with the others as its history."""
    return context(turns[-1], cast=cast, history=turns[:-1], muted=muted)
