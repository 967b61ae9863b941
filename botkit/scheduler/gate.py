"""The when-gate: after a turn, whether any character should speak at all (never who)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botkit.characters.model import Character
from botkit.scheduler.address import addressed
from botkit.scheduler.base import TurnContext, free_cast
from botkit.scheduler.text import (
    addresses_room,
    content_words,
    is_aside,
    is_question,
    name_key,
    speaks_to,
)

__all__ = ["Opening", "WhenGate"]


@dataclass(frozen=True, slots=True)
class Opening:
    """Whether anyone should speak after the trigger, and how many at most."""

    speakers: int
    reason: str

    @property
    def closed(self) -> bool:
        """True when no character should speak."""
        return self.speakers <= 0


class WhenGate:
    """Decides whether the turn that just happened calls for a character to speak.

    After a person's turn the floor opens when the turn is meant for the cast: it
    addresses a character, calls the room (then up to ``max_group_speakers`` may answer),
    asks something, answers the character who spoke just before, or concerns a free
    character's persona or recent words. It stays closed for asides: a person speaking to
    another person by name, out-of-character chat ("brb", "lol", ``((…))``), or a person's
    statement that concerns no character while people talk among themselves.

    After a character's turn the floor stays open while only characters have spoken in
    the last ``window`` turns — a scene among characters goes on until the conversation's
    hop limit and turn budget end it. When people are present it opens only if the
    character addressed a character, called the room, or asked something in an exchange
    with another character; a question put right after a person's turn is for that
    person, so the people have the floor.
    """

    def __init__(self, *, max_group_speakers: int = 2, window: int = 12) -> None:
        if max_group_speakers < 1 or window < 1:
            raise ValueError("max_group_speakers and window must be at least 1")
        self.max_group_speakers = max_group_speakers
        self.window = window

    def check(self, context: TurnContext) -> Opening:
        """Whether, and how many, characters should speak after ``context.trigger``."""
        available = free_cast(context)
        ids = {c.id for c in available}
        spoken_to = [cid for cid in addressed(context) if cid in ids]
        if spoken_to:
            return Opening(len(spoken_to), "addressed: " + ", ".join(spoken_to))
        free = [c for c in available if c.talkativeness > 0]
        if not free:
            return Opening(0, "nobody is free to speak")
        trigger = context.trigger
        room = addresses_room(trigger.text)
        if trigger.is_character:
            return self._after_character(context, room)
        if _is_aside(context):
            return Opening(0, "an aside between people")
        if room:
            return Opening(min(self.max_group_speakers, len(free)), "to the room")
        if is_question(trigger.text):
            return Opening(1, "a question")
        previous = context.transcript[-2] if len(context.transcript) >= 2 else None
        if previous is not None and previous.is_character:
            return Opening(1, f"answers {previous.speaker_name}")
        concerned = _concerned(trigger.text, free)
        if concerned:
            return Opening(1, f"concerns {concerned}")
        return Opening(0, "people talking among themselves")

    def _after_character(self, context: TurnContext, room: bool) -> Opening:
        recent = context.transcript[-self.window :]
        if all(turn.is_character for turn in recent):
            return Opening(1, "a scene among characters")
        name = context.trigger.speaker_name
        if room:
            return Opening(1, f"{name} spoke to the room")
        before = context.transcript[-2] if len(context.transcript) >= 2 else None
        if before is not None and before.is_character and is_question(context.trigger.text):
            return Opening(1, f"{name} asked {before.speaker_name}")
        return Opening(0, f"{name} answered; the people have the floor")


def _is_aside(context: TurnContext) -> bool:
    """Whether a person's turn is meant for other people: said to one by name, or out of
    character."""
    trigger = context.trigger
    if is_aside(trigger.text):
        return True
    characters = {name_key(n) for c in context.cast for n in c.names}
    people = {
        t.speaker_name
        for t in context.transcript
        if not t.is_character
        and t.speaker_id != trigger.speaker_id
        and name_key(t.speaker_name) not in characters
    }
    return speaks_to(trigger.text, sorted(people))


def _concerned(text: str, free: Sequence[Character]) -> str | None:
    """The name of a free character whose persona shares words with ``text``, if any."""
    words = content_words(text)
    if not words:
        return None
    for character in free:
        persona = " ".join((character.summary, character.style, *character.persona))
        persona += " " + " ".join(key for entry in character.knowledge for key in entry.keys)
        if words & content_words(persona):
            return character.name
    return None
