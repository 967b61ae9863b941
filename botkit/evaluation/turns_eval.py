"""Replaying multi-party conversations to measure who-speaks-next decisions.

At every point where the data says what should happen next (a character speaks, or a
silence is marked), the policy is asked who speaks given the turns so far. The policies
named run as channels use them (explicit address first, then the policy, then the rules
every policy obeys); a random and a plain round-robin baseline run beside them.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botkit.backends.base import ChatBackend
from botkit.evaluation.stats import percentile
from botkit.evaluation.turns_data import TurnsConversation
from botkit.scheduler import (
    NOBODY,
    ComposedScheduler,
    Decision,
    ManualPolicy,
    ModelPolicy,
    RoundRobinPolicy,
    Scheduler,
    ScoringPolicy,
    TurnContext,
)
from botkit.transcript import Turn

__all__ = [
    "BASELINES",
    "PolicyScore",
    "RandomPolicy",
    "TurnsEvalResult",
    "build_policy",
    "evaluate_turns",
    "format_turns_result",
]

BASELINES = ("random", "round-robin baseline")
RANKS = 3
"""How many of a conversation's most picked characters the shares describe."""
_START = datetime(2026, 1, 1, tzinfo=UTC)


class RandomPolicy:
    """A baseline: any cast member but the last speaker, or nobody, with equal chance."""

    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    async def decide(self, context: TurnContext) -> Decision:
        """A uniformly random choice among the free characters and NOBODY."""
        trigger = context.trigger
        free = [
            c.id for c in context.cast if not (trigger.is_character and c.id == trigger.speaker_id)
        ]
        pick = self._rng.randrange(len(free) + 1)
        return NOBODY if pick == len(free) else Decision((free[pick],), "random")


def build_policy(
    name: str, *, seed: int, backend: Callable[[], ChatBackend], timeout: float
) -> Scheduler:
    """The policy called ``name`` as a channel would run it, or one of the :data:`BASELINES`.

    ``backend`` is called only for the model policy.

    Raises:
        ValueError: no policy has that name.
    """
    if name == "random":
        return RandomPolicy(random.Random(seed))
    if name == "round-robin baseline":
        return RoundRobinPolicy()
    scoring = ScoringPolicy(rng=random.Random(seed))
    policies: dict[str, Callable[[], Scheduler]] = {
        "scoring": lambda: scoring,
        "model": lambda: ModelPolicy(backend=backend(), fallback=scoring, timeout=timeout),
        "round-robin": RoundRobinPolicy,
        "manual": ManualPolicy,
    }
    if name not in policies:
        raise ValueError(f"no turn-taking policy called {name!r} ({', '.join(policies)})")
    return ComposedScheduler(policies={name: policies[name]()}, default=name)


@dataclass(frozen=True, slots=True)
class PolicyScore:
    """One policy's results over the whole dataset.

    ``shares`` are the shares of the policy's picks that go to the most picked character,
    the second and the third of each conversation, averaged over conversations
    (``gold_shares`` the same for the data); the first is its dominance. The NOBODY
    figures are None where there is nothing to divide by.
    """

    name: str
    decisions: int
    accuracy: float
    nobody_precision: float | None
    nobody_recall: float | None
    shares: tuple[float, ...]
    gold_shares: tuple[float, ...]
    p50_ms: float
    p99_ms: float

    @property
    def dominance(self) -> float:
        """The average share of picks that goes to a conversation's most picked character."""
        return self.shares[0]


@dataclass(frozen=True, slots=True)
class TurnsEvalResult:
    """Every policy's score, and the size of the dataset."""

    conversations: int
    turns: int
    decisions: int
    silences: int
    scores: list[PolicyScore]


async def evaluate_turns(
    conversations: Sequence[TurnsConversation],
    policies: Sequence[tuple[str, Scheduler]],
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> TurnsEvalResult:
    """Ask each policy at every decision point of every conversation, and score it."""
    scores = []
    for name, policy in policies:
        progress(f"turn-taking eval: {name} …")
        scores.append(await _score(name, policy, conversations))
    points = [p for c in conversations for p in _decision_points(c)]
    return TurnsEvalResult(
        conversations=len(conversations),
        turns=sum(1 for c in conversations for t in c.turns if t.speaker is not None),
        decisions=len(points),
        silences=sum(1 for p in points if p[1] is None),
        scores=scores,
    )


def _turns(conversation: TurnsConversation) -> list[Turn | None]:
    """The conversation as botkit turns, with None where a silence is marked."""
    found: list[Turn | None] = []
    for index, turn in enumerate(conversation.turns):
        if turn.speaker is None:
            found.append(None)
            continue
        character = conversation.character_named(turn.speaker)
        speaker_id = character.id if character else f"human:{turn.speaker}"
        when = _START + timedelta(minutes=index)
        found.append(Turn(speaker_id, turn.speaker, turn.text, character is not None, when))
    return found


def _decision_points(
    conversation: TurnsConversation,
) -> list[tuple[list[Turn], str | None]]:
    """Each (turns so far, what should come next: a character id, or None for nobody)."""
    turns = _turns(conversation)
    points: list[tuple[list[Turn], str | None]] = []
    so_far: list[Turn] = []
    for index, turn in enumerate(turns):
        if turn is None or index + 1 == len(turns):
            continue
        so_far.append(turn)
        following = turns[index + 1]
        if following is None:
            points.append((list(so_far), None))
        elif following.is_character:
            points.append((list(so_far), following.speaker_id))
    return points


async def _score(
    name: str, policy: Scheduler, conversations: Sequence[TurnsConversation]
) -> PolicyScore:
    correct = said_nobody = right_nobody = gold_nobody = 0
    decided = 0
    latencies: list[float] = []
    shares: list[tuple[float, ...]] = []
    gold_shares: list[tuple[float, ...]] = []
    for conversation in conversations:
        picked: Counter[str] = Counter()
        gold: Counter[str] = Counter()
        for so_far, expected in _decision_points(conversation):
            trigger = so_far[-1]
            hops = 0
            for turn in reversed(so_far):
                if not turn.is_character:
                    break
                hops += 1
            context = TurnContext(
                cast=conversation.characters, transcript=so_far, trigger=trigger, hops=hops
            )
            started = time.perf_counter()
            decision = await policy.decide(context)
            latencies.append((time.perf_counter() - started) * 1000)
            chosen = decision.speakers[0] if decision.speakers else None
            decided += 1
            correct += chosen == expected
            said_nobody += chosen is None
            gold_nobody += expected is None
            right_nobody += chosen is None and expected is None
            if chosen is not None:
                picked[chosen] += 1
            if expected is not None:
                gold[expected] += 1
        if picked:
            shares.append(_ranked_shares(picked))
        if gold:
            gold_shares.append(_ranked_shares(gold))
    return PolicyScore(
        name=name,
        decisions=decided,
        accuracy=correct / decided if decided else 0.0,
        nobody_precision=right_nobody / said_nobody if said_nobody else None,
        nobody_recall=right_nobody / gold_nobody if gold_nobody else None,
        shares=_mean_shares(shares),
        gold_shares=_mean_shares(gold_shares),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )


def _ranked_shares(picked: Counter[str]) -> tuple[float, ...]:
    """The shares of the most picked characters, largest first (zeros where fewer)."""
    counts = [n for _, n in picked.most_common(RANKS)]
    counts += [0] * (RANKS - len(counts))
    return tuple(n / picked.total() for n in counts)


def _mean_shares(rows: Sequence[tuple[float, ...]]) -> tuple[float, ...]:
    if not rows:
        return (0.0,) * RANKS
    return tuple(statistics.fmean(row[rank] for row in rows) for rank in range(RANKS))


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_turns_result(result: TurnsEvalResult) -> str:
    """The result as a plain-text table."""
    lines = [
        f"turn-taking eval: {result.conversations} conversations, {result.turns} turns, "
        f"{result.decisions} decisions ({result.silences} marked silences)",
        f"{'policy':<22}{'accuracy':>9}{'NOBODY P':>10}{'NOBODY R':>10}"
        f"{'top share':>11}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for score in result.scores:
        lines.append(
            f"{score.name:<22}{score.accuracy:>9.3f}{_ratio(score.nobody_precision):>10}"
            f"{_ratio(score.nobody_recall):>10}{score.dominance:>11.3f}"
            f"{score.p50_ms:>9.2f}{score.p99_ms:>9.2f}"
        )
    if not result.scores:
        return "\n".join(lines)
    lines += [
        "",
        "share of picks going to each conversation's most, second and third most picked "
        "character (averaged over conversations; the top share is the first):",
        f"  {'the data itself':<20} " + _shares_text(result.scores[0].gold_shares),
    ]
    lines += [f"  {s.name:<20} " + _shares_text(s.shares) for s in result.scores]
    return "\n".join(lines)


def _shares_text(shares: Sequence[float]) -> str:
    return " / ".join(f"{share:.2f}" for share in shares)
