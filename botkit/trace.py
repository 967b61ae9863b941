"""Why a character spoke: what the conversation decided, and what went into each reply.

A conversation given a :class:`TraceLog` records, for every decision on who speaks, the
policy, its reason and each candidate's score with the features behind it; and for every
reply, the recollections and lore in its prompt, the token cost of each prompt part and
the backend's timing. The web playground shows these beside the chat; nothing is
recomputed there.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botkit.context import Recollection, Snippet
from botkit.events import ChannelKey
from botkit.prompt import Prompt
from botkit.scheduler.base import Ranking, Scheduler, TurnContext
from botkit.scheduler.ranker import WhoRanker

__all__ = [
    "Candidate",
    "Recalled",
    "ReplyTrace",
    "TraceLog",
    "TurnTrace",
    "candidates_of",
    "prompt_parts",
    "recalled_of",
]

KEPT_PER_CHANNEL = 100
"""Decisions a channel's trace keeps (the oldest are dropped first)."""
FEATURES_SHOWN = 6
"""The largest feature contributions kept for each candidate."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A cast member the policy weighed: its score (the policy's own scale) and the
    features that made it, largest contribution first."""

    character_id: str
    score: float
    features: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Recalled:
    """Something put into a prompt besides the transcript: a memory or a lore entry."""

    kind: str
    """"memory", "note", "lore" or "context" (knowledge, the scene)."""
    text: str
    score: float | None = None
    detail: str = ""
    """Who said it and when (memories), or what triggered it (lore)."""


@dataclass(frozen=True, slots=True)
class ReplyTrace:
    """One character's reply: its prompt's make-up and the backend's timing."""

    character_id: str
    message_id: str | None
    backend: str
    prompt_tokens: tuple[tuple[str, int], ...]
    """Tokens of each prompt part, in prompt order."""
    recalled: tuple[Recalled, ...]
    first_token_seconds: float | None
    seconds: float


@dataclass(slots=True)
class TurnTrace:
    """A decision on who speaks after ``trigger`` and the replies it led to."""

    id: int
    channel: ChannelKey
    trigger_id: str | None
    trigger_text: str
    policy: str
    reason: str
    speakers: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    replies: list[ReplyTrace] = field(default_factory=list)

    @property
    def nobody(self) -> bool:
        """Whether the decision was that nobody speaks."""
        return not self.speakers


class TraceLog:
    """The last decisions of every channel, newest last."""

    def __init__(self, per_channel: int = KEPT_PER_CHANNEL) -> None:
        """Keep ``per_channel`` decisions of each channel."""
        self._per_channel = per_channel
        self._channels: dict[ChannelKey, deque[TurnTrace]] = {}
        self._ids = itertools.count(1)

    def begin(
        self,
        *,
        channel: ChannelKey,
        trigger_id: str | None,
        trigger_text: str,
        policy: str,
        reason: str,
        speakers: tuple[str, ...],
        candidates: tuple[Candidate, ...],
    ) -> TurnTrace:
        """Record a decision; its replies are added to the returned trace as they come."""
        trace = TurnTrace(
            next(self._ids),
            channel,
            trigger_id,
            trigger_text,
            policy,
            reason,
            speakers,
            candidates,
        )
        kept = self._channels.setdefault(channel, deque(maxlen=self._per_channel))
        kept.append(trace)
        return trace

    def of_channel(self, channel: ChannelKey) -> list[TurnTrace]:
        """The channel's recorded decisions, oldest first."""
        return list(self._channels.get(channel, ()))

    def of_reply(self, channel: ChannelKey, message_id: str) -> tuple[TurnTrace, ReplyTrace] | None:
        """The decision and reply behind the message ``message_id`` of ``channel``."""
        for trace in reversed(self._channels.get(channel, ())):
            for reply in trace.replies:
                if reply.message_id == message_id:
                    return trace, reply
        return None


def candidates_of(
    ranking: Ranking, policy: Scheduler, context: TurnContext
) -> tuple[Candidate, ...]:
    """The ranking's candidates with their scores and, where the policy scores with the
    structural ranker, each one's largest feature contributions (weight × value)."""
    ranker = getattr(policy, "ranker", None)
    contributions: dict[str, tuple[tuple[str, float], ...]] = {}
    if isinstance(ranker, WhoRanker) and ranking.speakers:
        cast = {character.id: character for character in context.cast}
        ranked = [cast[cid] for cid in ranking.speakers if cid in cast]
        weights = ranker.weights
        for character, row in zip(ranked, ranker.features(context, ranked), strict=True):
            parts = [
                (name, weights[name] * float(value))
                for name, value in zip(weights, row, strict=True)
                if value and weights[name]
            ]
            parts.sort(key=lambda part: -abs(part[1]))
            contributions[character.id] = tuple(parts[:FEATURES_SHOWN])
    scores = list(ranking.scores) + [0.0] * (len(ranking.speakers) - len(ranking.scores))
    return tuple(
        Candidate(cid, float(score), contributions.get(cid, ()))
        for cid, score in zip(ranking.speakers, scores, strict=True)
    )


def prompt_parts(prompt: Prompt) -> tuple[tuple[str, int], ...]:
    """The token cost of each part of ``prompt``, in the order the prompt has them."""
    return (
        ("character", prompt.character_tokens),
        ("lore", prompt.lore_tokens),
        ("context", prompt.context_tokens),
        ("transcript", prompt.turn_tokens),
        ("closing", prompt.closing_tokens),
    )


def recalled_of(snippets: Sequence[Snippet], prompt: Prompt) -> tuple[Recalled, ...]:
    """The context ``snippets`` (a character's knowledge, the scene, recollections) and the
    lore ``prompt`` carries."""
    found: list[Recalled] = []
    for snippet in snippets:
        if isinstance(snippet, Recollection):
            kind = "memory" if snippet.speaker else "note"
            detail = ", ".join(part for part in (snippet.speaker, snippet.when) if part)
            found.append(Recalled(kind, snippet.text, snippet.score, detail))
        else:
            found.append(Recalled("context", snippet))
    for activation in (*prompt.lore.before_char, *prompt.lore.after_char):
        found.append(Recalled("lore", activation.text, None, activation.trigger.name.lower()))
    return tuple(found)
