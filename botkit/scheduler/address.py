"""The explicit-address policy: characters answer when they are spoken to, and only then."""

from __future__ import annotations

from botkit.scheduler.base import NOBODY, Decision, TurnContext
from botkit.scheduler.text import find_names, name_key

__all__ = ["AddressPolicy", "addressed"]


def addressed(context: TurnContext) -> list[str]:
    """Ids of the characters the trigger addresses: reply-to first, then in text order.

    A character is addressed by a reply to its message, a platform mention, or its name,
    id or nickname in the text. When a human writes, any mention of a name counts: people
    who talk about a character in front of it usually want it to join in. When a character
    writes, only direct address counts (the name said to someone: "Bram, ...", "Hello
    Bram", "..., Bram?", "@Bram", or the name inside a question), so one character telling
    a story about another does not hand it the turn. Platform mentions that cannot be
    found in the text follow, in the platform's order. A character the trigger's author
    began to speak for (``cued``) counts as addressed, right after a reply-to. A character
    never answers itself.
    """
    trigger = context.trigger
    own = trigger.speaker_id if trigger.is_character else None
    cast = [c for c in context.cast if c.id != own]
    ids = {c.id for c in cast}
    positions: dict[str, int] = {}
    if context.reply_to_character in ids:
        positions[context.reply_to_character] = -2
    if context.cued in ids:
        positions.setdefault(context.cued, -1)
    named: dict[str, int] = {}
    for match in find_names(trigger.text, cast):
        named.setdefault(match.character_id, match.position)
        if match.vocative or not trigger.is_character:
            positions.setdefault(match.character_id, match.position)
    end = len(trigger.text)
    for offset, mention in enumerate(context.mentions):
        key = name_key(mention)
        for character in cast:
            if key and key in {name_key(n) for n in character.names}:
                positions.setdefault(character.id, named.get(character.id, end + offset))
    return sorted(positions, key=positions.__getitem__)


class AddressPolicy:
    """Lets exactly the characters who are spoken to answer; NOBODY when no one is."""

    name = "address"

    async def decide(self, context: TurnContext) -> Decision:
        """The addressed characters, in the order they were addressed."""
        speakers = addressed(context)
        if not speakers:
            return NOBODY
        return Decision(tuple(speakers), "addressed: " + ", ".join(speakers))
