"""The explicit-address policy: characters answer when they are spoken to, and only then."""

from __future__ import annotations

from botkit.scheduler.base import NOBODY, Decision, TurnContext
from botkit.scheduler.text import find_names

__all__ = ["AddressPolicy", "addressed"]


def addressed(context: TurnContext) -> list[str]:
    """Ids of the characters the trigger addresses, in order (reply-to first).

    A character is addressed by a reply to its message, a platform mention, or its name,
    id or nickname in the text. When a human writes, any mention of a name counts: players
    who talk about a character usually want it to join in. When a character writes, only
    direct address counts (the name opening or closing a sentence, or inside a question),
    so one character telling a story about another does not hand it the turn. A character
    never answers itself.
    """
    trigger = context.trigger
    speaker = trigger.speaker_id if trigger.is_character else None
    cast = [c for c in context.cast if c.id != speaker]
    ids = {c.id for c in cast}
    order: list[str] = []
    if context.reply_to_character in ids:
        order.append(context.reply_to_character)
    wanted = {m.lower().lstrip("@") for m in context.mentions}
    for character in cast:
        if wanted & {name.lower() for name in character.names} and character.id not in order:
            order.append(character.id)
    for match in find_names(trigger.text, cast):
        if (match.vocative or not trigger.is_character) and match.character_id not in order:
            order.append(match.character_id)
    return order


class AddressPolicy:
    """Answers only when addressed; NOBODY otherwise."""

    name = "address"

    async def decide(self, context: TurnContext) -> Decision:
        """The addressed characters, in the order they were addressed."""
        speakers = addressed(context)
        if not speakers:
            return NOBODY
        return Decision(tuple(speakers), "addressed")
