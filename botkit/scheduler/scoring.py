"""The scoring policy: a fast estimate of how much a turn invites each character to speak."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from botkit.characters.model import Character
from botkit.scheduler.address import addressed
from botkit.scheduler.base import Decision, TurnContext
from botkit.scheduler.text import (
    addresses_room,
    content_words,
    is_aside,
    is_question,
    name_key,
    speaks_to,
)
from botkit.transcript import Turn

__all__ = ["ScoringPolicy", "ScoringWeights"]


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How much each signal counts, and the bar a character must clear to speak.

    A character's score is ``address`` if it is addressed, plus ``talkativeness`` times its
    talkativeness, ``relevance`` times how much the turn is about it (0..1), ``question``
    if the turn asks something, ``group`` if it speaks to the whole room, ``continuity``
    if a person answers right after it spoke, and up to ``initiative`` of chance, minus
    ``fairness`` times how far its share of the character turns among the last ``window``
    turns exceeds an even split of the cast (once they hold a turn per cast member), and
    minus ``aside`` when a person speaks to
    another person by name or out of character ("brb", "lol"). It speaks when the score
    reaches ``threshold`` plus ``hop_step`` for every character turn since a human spoke.

    With the defaults, talkativeness and chance alone never reach the bar: an unaddressed
    character speaks only when the turn relates to it, asks something or calls the room.
    After one character turn a plain question no longer suffices; from the fourth on only
    direct address does.
    """

    address: float = 10.0
    talkativeness: float = 0.8
    relevance: float = 2.0
    question: float = 0.6
    group: float = 1.5
    continuity: float = 1.2
    aside: float = 3.0
    fairness: float = 2.5
    initiative: float = 0.3
    threshold: float = 1.3
    hop_step: float = 1.2
    window: int = 12
    """How many recent turns count towards fairness."""
    max_group_speakers: int = 2
    """How many characters may answer a turn addressed to the whole room."""

    def __post_init__(self) -> None:
        if self.window < 1 or self.max_group_speakers < 1:
            raise ValueError("window and max_group_speakers must be at least 1")


@dataclass(frozen=True, slots=True)
class _Profile:
    """What a character's texts are about, as stems (``keys`` also inside ``words``)."""

    words: frozenset[str]
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Score:
    total: float
    character_id: str
    rank: int
    reason: str


class ScoringPolicy:
    """Scores every cast member and lets the best (for the whole room, the best few) speak.

    ``rng`` drives a small initiative term that also breaks ties; pass a seeded
    ``random.Random`` for reproducible choices.
    """

    name = "scoring"

    def __init__(
        self, *, weights: ScoringWeights | None = None, rng: random.Random | None = None
    ) -> None:
        self.weights = weights or ScoringWeights()
        self._rng = rng or random.Random()
        self._profiles: dict[str, tuple[Character, _Profile]] = {}

    async def decide(self, context: TurnContext) -> Decision:
        """Who clears the bar: the addressed in order, then the best scores; else nobody."""
        weights = self.weights
        trigger = context.trigger
        spoken_to = addressed(context)
        words = content_words(trigger.text)
        question = is_question(trigger.text)
        room = addresses_room(trigger.text)
        aside = not trigger.is_character and _is_aside(context)
        previous = _previous_character(context)
        shares = _shares(context.transcript[-weights.window :], minimum=len(context.cast))
        even = 1 / max(len(context.cast), 1)
        bar = weights.threshold + weights.hop_step * max(context.hops, 0)
        scores: list[_Score] = []
        seen = {trigger.speaker_id} if trigger.is_character else set()
        for rank, character in enumerate(context.cast):
            if character.id in seen:
                continue
            seen.add(character.id)
            relevance = self._relevance(character, words)
            answered = character.id == previous and not aside
            excess = max(0.0, shares.get(character.id, 0.0) - even)
            total = (
                weights.address * (character.id in spoken_to)
                + weights.talkativeness * character.talkativeness
                + weights.relevance * relevance
                + weights.question * question
                + weights.group * room
                + weights.continuity * answered
                - weights.fairness * excess
                - weights.aside * aside
                + weights.initiative * self._rng.random()
            )
            reason = _reason(
                character.id in spoken_to, relevance, question, room, excess, answered, aside
            )
            scores.append(_Score(total, character.id, rank, reason))
        passing = [s for s in scores if s.total >= bar]
        chosen = [s for cid in spoken_to for s in passing if s.character_id == cid]
        limit = weights.max_group_speakers if room and not trigger.is_character else 1
        others = sorted(
            (s for s in passing if s.character_id not in spoken_to),
            key=lambda s: (-s.total, s.rank),
        )
        chosen += others[: max(0, limit - len(chosen))]
        if not chosen:
            best = max(scores, key=lambda s: (s.total, -s.rank), default=None)
            closest = f"; best {best.character_id} {best.total:.2f}" if best else ""
            return Decision((), f"nobody reached {bar:.2f}{closest}")
        return Decision(
            tuple(s.character_id for s in chosen),
            "; ".join(f"{s.character_id} {s.total:.2f} ({s.reason})" for s in chosen)
            + f" ≥ {bar:.2f}",
        )

    def _relevance(self, character: Character, words: frozenset[str]) -> float:
        """How much of the turn is about the character (0..1); knowledge keys count twice."""
        if not words:
            return 0.0
        cached = self._profiles.get(character.id)
        if cached is None or cached[0] is not character:
            cached = (character, _profile(character))
            self._profiles[character.id] = cached
        profile = cached[1]
        hits = len(words & profile.words) + len(words & profile.keys)
        return min(1.0, hits / math.sqrt(len(words)))


def _profile(character: Character) -> _Profile:
    """The stems of a character's persona, summary, style and knowledge, minus its names."""
    texts = [character.summary, character.style, *character.persona]
    keys: set[str] = set()
    for entry in character.knowledge:
        texts.append(entry.text)
        for key in entry.keys:
            keys |= content_words(key)
    words: set[str] = set(keys)
    for text in texts:
        words |= content_words(text)
    own = content_words(" ".join(character.names))
    return _Profile(frozenset(words - own), frozenset(keys - own))


def _shares(turns: Sequence[Turn], *, minimum: int) -> dict[str, float]:
    """Each character's share of the character turns in ``turns`` (none below ``minimum``)."""
    spoken = Counter(t.speaker_id for t in turns if t.is_character)
    count = spoken.total()
    if count < minimum:
        return {}
    return {cid: n / count for cid, n in spoken.items()}


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


def _previous_character(context: TurnContext) -> str | None:
    """The character whose turn a person's turn directly follows, if any."""
    if context.trigger.is_character or len(context.transcript) < 2:
        return None
    before = context.transcript[-2]
    return before.speaker_id if before.is_character else None


def _reason(
    spoken_to: bool,
    relevance: float,
    question: bool,
    room: bool,
    excess: float,
    answered: bool,
    aside: bool,
) -> str:
    parts = [
        label
        for label, present in (
            ("addressed", spoken_to),
            (f"relevance {relevance:.2f}", relevance > 0),
            ("question", question),
            ("to the room", room),
            ("answered after it spoke", answered),
            (f"over its share by {excess:.2f}", excess > 0),
            ("an aside between people", aside),
        )
        if present
    ]
    return ", ".join(parts) or "talkativeness"
