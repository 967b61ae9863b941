"""The scoring policy: a fast estimate of how much a turn invites each character to speak."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from botkit.characters.model import Character
from botkit.scheduler.address import addressed
from botkit.scheduler.base import NOBODY, Decision, TurnContext
from botkit.scheduler.text import GROUP_ADDRESS, content_words, is_question
from botkit.transcript import Turn

__all__ = ["ScoringPolicy", "ScoringWeights"]


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How much each signal counts, and the bar a character must clear to speak.

    With the defaults, talkativeness and chance alone (at most ``talkativeness`` +
    ``initiative``) never clear ``threshold``: a character speaks unaddressed only when the
    turn relates to it, asks a question, or speaks to the whole room.
    """

    address: float = 10.0
    talkativeness: float = 0.8
    relevance: float = 2.0
    question: float = 0.6
    group: float = 1.5
    fairness: float = 1.5
    initiative: float = 0.3
    threshold: float = 1.3
    hop_step: float = 1.2
    """Added to the threshold for every character turn since a human spoke; from the fourth
    such turn on, only direct address clears the bar."""
    window: int = 12
    """Recent turns that count for fairness."""
    max_group_speakers: int = 2


class ScoringPolicy:
    """Scores every cast member and lets the best (or, for the room, the best few) speak.

    ``rng`` adds a small initiative term, so a seeded policy is reproducible.
    """

    name = "scoring"

    def __init__(
        self, *, weights: ScoringWeights | None = None, rng: random.Random | None = None
    ) -> None:
        self.weights = weights or ScoringWeights()
        self._rng = rng or random.Random()
        self._keywords: dict[Character, frozenset[str]] = {}

    async def decide(self, context: TurnContext) -> Decision:
        """Who clears the bar, best first; NOBODY if no one does."""
        weights = self.weights
        trigger = context.trigger
        spoken_to = set(addressed(context))
        words = content_words(trigger.text)
        question = is_question(trigger.text)
        group = bool(GROUP_ADDRESS.search(trigger.text))
        shares = _shares(context.transcript[-weights.window :])
        bar = weights.threshold + weights.hop_step * context.hops
        scored: list[tuple[float, str, str]] = []
        for character in context.cast:
            if trigger.is_character and character.id == trigger.speaker_id:
                continue
            relevance = self._relevance(character, words)
            score = (
                weights.address * (character.id in spoken_to)
                + weights.talkativeness * character.talkativeness
                + weights.relevance * relevance
                + weights.question * question
                + weights.group * group
                - weights.fairness * shares.get(character.id, 0.0)
                + weights.initiative * self._rng.random()
            )
            if score >= bar:
                reason = _reason(character.id in spoken_to, relevance, question, group)
                scored.append((score, character.id, reason))
        if not scored:
            return NOBODY
        scored.sort(reverse=True)
        many = group and not trigger.is_character
        chosen = scored[: weights.max_group_speakers if many else 1]
        return Decision(
            tuple(cid for _, cid, _ in chosen),
            "; ".join(f"{cid}: {reason} ({score:.2f})" for score, cid, reason in chosen),
        )

    def _relevance(self, character: Character, words: frozenset[str]) -> float:
        """Share of the turn's content words that touch the character (0..1)."""
        if not words:
            return 0.0
        keywords = self._keywords.get(character)
        if keywords is None:
            keywords = _character_keywords(character)
            self._keywords[character] = keywords
        overlap = len(words & keywords)
        return min(1.0, overlap / math.sqrt(len(words)))


def _character_keywords(character: Character) -> frozenset[str]:
    texts = [character.summary, character.style, *character.persona]
    for entry in character.knowledge:
        texts.append(entry.text)
        texts.extend(entry.keys)
    words: set[str] = set()
    for text in texts:
        words |= content_words(text)
    return frozenset(words - content_words(" ".join(character.names)))


def _shares(turns: Sequence[Turn]) -> dict[str, float]:
    """Each character's share of the character turns in ``turns``."""
    spoken = [t.speaker_id for t in turns if t.is_character]
    if not spoken:
        return {}
    return {cid: spoken.count(cid) / len(spoken) for cid in set(spoken)}


def _reason(spoken_to: bool, relevance: float, question: bool, group: bool) -> str:
    parts = [
        label
        for label, present in (
            ("addressed", spoken_to),
            (f"relevant {relevance:.2f}", relevance > 0),
            ("question", question),
            ("to the room", group),
        )
        if present
    ]
    return ", ".join(parts) or "talkative"
