"""Replaying multi-party conversations to measure turn-taking: *who* and *when*, apart.

At every point where the data says what comes next (a character speaks, or a silence is
marked), each policy is asked, given the turns so far:

- *who*: where a character speaks next, is the policy's first-ranked free character the
  one who spoke (``rank``; NOBODY is not an answer here);
- *when*: does the policy's ``decide`` say NOBODY at the marked silences, and only there
  (precision, recall and F1 of NOBODY against points where a character speaks);
- the decision as a whole: its first speaker, or NOBODY, is what the data has next.

Points where a person speaks next are not scored. The policies named run as channels use
them (explicit address first, then the policy, then the rules every policy obeys); the
baselines of :data:`BASELINES` run beside them in the same process.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botkit.evaluation.stats import percentile
from botkit.evaluation.turns_data import TurnsConversation
from botkit.scheduler import Scheduler, TurnContext
from botkit.transcript import Turn

__all__ = [
    "PolicyScore",
    "TurnsEvalResult",
    "evaluate_turns",
    "format_turns_result",
    "turns_result_json",
]

_START = datetime(2026, 1, 1, tzinfo=UTC)
_PROGRESS_STEPS = 10


@dataclass(frozen=True, slots=True)
class DecisionPoint:
    """A place to ask a policy: the context after a turn, and what the data has next."""

    context: TurnContext
    expected: str | None
    """The character id that speaks next, or None at a marked silence."""


@dataclass(frozen=True, slots=True)
class PolicyScore:
    """One policy's results over the whole dataset; None where nothing divides."""

    name: str
    decisions: int
    who_accuracy: float | None
    accuracy: float | None
    nobody_precision: float | None
    nobody_recall: float | None
    nobody_f1: float | None
    top_share: float | None
    """The average share of a conversation's picks that go to its most picked character."""
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class TurnsEvalResult:
    """Every policy's score, and the size of the dataset."""

    conversations: int
    turns: int
    decisions: int
    silences: int
    data_top_share: float | None
    scores: list[PolicyScore]


def decision_points(conversation: TurnsConversation) -> list[DecisionPoint]:
    """Every scored point of ``conversation``, in order."""
    turns: list[Turn | None] = []
    for index, line in enumerate(conversation.turns):
        if line.speaker is None:
            turns.append(None)
            continue
        character = conversation.character_named(line.speaker)
        speaker_id = character.id if character else f"human:{line.speaker}"
        turns.append(
            Turn(
                speaker_id,
                line.speaker,
                line.text,
                character is not None,
                _START + timedelta(minutes=index),
                message_id=f"m{index}",
                reply_to=None if line.reply_to is None else f"m{line.reply_to}",
            )
        )
    points: list[DecisionPoint] = []
    so_far: list[Turn] = []
    for index, turn in enumerate(turns[:-1]):
        if turn is None:
            continue
        so_far.append(turn)
        following = turns[index + 1]
        if following is not None and not following.is_character:
            continue
        replied = conversation.turns[index].reply_to
        target = turns[replied] if replied is not None else None
        context = TurnContext(
            cast=conversation.characters,
            transcript=tuple(so_far),
            trigger=turn,
            hops=_hops(so_far),
            reply_to_character=(
                target.speaker_id if target is not None and target.is_character else None
            ),
        )
        points.append(DecisionPoint(context, following.speaker_id if following else None))
    return points


def _hops(turns: Sequence[Turn]) -> int:
    """Character turns since the last person's turn."""
    hops = 0
    for turn in reversed(turns):
        if not turn.is_character:
            break
        hops += 1
    return hops


async def evaluate_turns(
    conversations: Sequence[TurnsConversation],
    policies: Sequence[tuple[str, Scheduler]],
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> TurnsEvalResult:
    """Ask each policy at every decision point of every conversation, and score it."""
    per_conversation = [decision_points(c) for c in conversations]
    points = [p for found in per_conversation for p in found]
    scores = []
    for name, policy in policies:
        scores.append(await _score(name, policy, per_conversation, len(points), progress))
    gold = [Counter(p.expected for p in found if p.expected) for found in per_conversation]
    return TurnsEvalResult(
        conversations=len(conversations),
        turns=sum(1 for c in conversations for t in c.turns if t.speaker is not None),
        decisions=len(points),
        silences=sum(1 for p in points if p.expected is None),
        data_top_share=_top_share(gold),
        scores=scores,
    )


async def _score(
    name: str,
    policy: Scheduler,
    per_conversation: Sequence[Sequence[DecisionPoint]],
    total: int,
    progress: Callable[[str], None],
) -> PolicyScore:
    who_right = who_asked = correct = 0
    said_nobody = right_nobody = gold_nobody = 0
    latencies: list[float] = []
    picks: list[Counter[str]] = []
    step = max(1, total // _PROGRESS_STEPS)
    done = 0
    started_all = time.perf_counter()
    for points in per_conversation:
        picked: Counter[str] = Counter()
        for point in points:
            if point.expected is not None:
                ranking = await policy.rank(point.context)
                who_asked += 1
                who_right += ranking.first == point.expected
            started = time.perf_counter()
            decision = await policy.decide(point.context)
            latencies.append((time.perf_counter() - started) * 1000)
            chosen = decision.speakers[0] if decision.speakers else None
            correct += chosen == point.expected
            said_nobody += chosen is None
            gold_nobody += point.expected is None
            right_nobody += chosen is None and point.expected is None
            if chosen is not None:
                picked[chosen] += 1
            done += 1
            if done % step == 0 and done < total:
                progress(_progress_line(name, done, total, time.perf_counter() - started_all))
        picks.append(picked)
    precision = _ratio(right_nobody, said_nobody)
    recall = _ratio(right_nobody, gold_nobody)
    return PolicyScore(
        name=name,
        decisions=len(latencies),
        who_accuracy=_ratio(who_right, who_asked),
        accuracy=_ratio(correct, len(latencies)),
        nobody_precision=precision,
        nobody_recall=recall,
        nobody_f1=(
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else None
        ),
        top_share=_top_share(picks),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )


def _progress_line(name: str, done: int, total: int, elapsed: float) -> str:
    left = elapsed / done * (total - done)
    return f"turn-taking eval: {name} {done}/{total} decisions, about {left:.0f} s left"


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _top_share(picks: Sequence[Counter[str]]) -> float | None:
    """The mean over conversations of the share of picks the most picked character got."""
    shares = [c.most_common(1)[0][1] / c.total() for c in picks if c]
    return sum(shares) / len(shares) if shares else None


def _cell(value: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.3f}"


def format_turns_result(result: TurnsEvalResult) -> str:
    """The result as a plain-text table for people."""
    lines = [
        f"turn-taking eval: {result.conversations} conversations, {result.turns} turns, "
        f"{result.decisions} decisions ({result.silences} marked silences)",
        f"{'policy':<18}{'who acc':>9}{'accuracy':>9}{'NOBODY P':>10}{'NOBODY R':>10}"
        f"{'NOBODY F1':>10}{'top share':>10}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for score in result.scores:
        lines.append(
            f"{score.name:<18}{_cell(score.who_accuracy, 9)}{_cell(score.accuracy, 9)}"
            f"{_cell(score.nobody_precision, 10)}{_cell(score.nobody_recall, 10)}"
            f"{_cell(score.nobody_f1, 10)}{_cell(score.top_share, 10)}"
            f"{score.p50_ms:>9.2f}{score.p99_ms:>9.2f}"
        )
    lines.append(
        f"{'the data itself':<18}{'':>58}{_cell(result.data_top_share, 10)}"
        "   (top share: the share of a conversation's turns its most frequent speaker takes)"
    )
    return "\n".join(lines)


def turns_result_json(result: TurnsEvalResult) -> dict[str, object]:
    """The result as one JSON-ready object (None where a figure has nothing to divide by)."""
    return {
        "conversations": result.conversations,
        "decisions": result.decisions,
        "policies": [
            {
                "name": s.name,
                "who_accuracy": s.who_accuracy,
                "accuracy": s.accuracy,
                "nobody_precision": s.nobody_precision,
                "nobody_recall": s.nobody_recall,
                "nobody_f1": s.nobody_f1,
                "p50_ms": s.p50_ms,
                "p99_ms": s.p99_ms,
            }
            for s in result.scores
        ],
    }
