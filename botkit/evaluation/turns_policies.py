"""The policies ``botkit eval turns`` measures, and the simple baselines beside them."""

from __future__ import annotations

import random
from collections.abc import Callable

from botkit.backends.base import ChatBackend
from botkit.scheduler import (
    NOBODY,
    ComposedScheduler,
    Decision,
    LikelihoodPolicy,
    ManualPolicy,
    ModelPolicy,
    Ranking,
    RoundRobinPolicy,
    Scheduler,
    ScoringPolicy,
    TurnContext,
    free_cast,
)

__all__ = [
    "BASELINES",
    "AlternationBaseline",
    "MostFrequentBaseline",
    "RandomBaseline",
    "build_policy",
]

BACKEND_POLICIES = frozenset({"model", "likelihood"})
"""The policies that call a model backend."""


class RandomBaseline:
    """Any free character, or nobody, with equal chance."""

    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast in a random order."""
        free = [c.id for c in free_cast(context)]
        self._rng.shuffle(free)
        return Ranking(tuple(free), tuple(-float(i) for i in range(len(free))), "random")

    async def decide(self, context: TurnContext) -> Decision:
        """A uniformly random choice among the free characters and NOBODY."""
        free = [c.id for c in free_cast(context)]
        pick = self._rng.randrange(len(free) + 1)
        return NOBODY if pick == len(free) else Decision((free[pick],), "random")


class MostFrequentBaseline:
    """The free character who has spoken most so far (the latest of equals; else the first
    in the cast); never NOBODY."""

    name = "most-frequent"

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast by turns spoken so far, then by how recently, then cast order."""
        free = [c.id for c in free_cast(context)]
        counts = {cid: 0 for cid in free}
        latest = {cid: -1 for cid in free}
        for index, turn in enumerate(context.transcript):
            if turn.speaker_id in counts:
                counts[turn.speaker_id] += 1
                latest[turn.speaker_id] = index
        order = sorted(free, key=lambda cid: (-counts[cid], -latest[cid], free.index(cid)))
        return Ranking(tuple(order), tuple(float(counts[cid]) for cid in order), "most frequent")

    async def decide(self, context: TurnContext) -> Decision:
        """The first of the ranking."""
        return _first(await self.rank(context))


class AlternationBaseline:
    """A-B-A: the speaker before last answers, if free; else the most frequent so far."""

    name = "A-B-A"

    def __init__(self) -> None:
        self._frequent = MostFrequentBaseline()

    async def rank(self, context: TurnContext) -> Ranking:
        """The speaker before last first, then the most frequent ranking."""
        ranking = await self._frequent.rank(context)
        transcript = context.transcript
        before = transcript[-2].speaker_id if len(transcript) >= 2 else None
        if before not in ranking.speakers:
            return ranking
        rest = [cid for cid in ranking.speakers if cid != before]
        scores = dict(zip(ranking.speakers, ranking.scores, strict=True))
        top = max(ranking.scores) + 1.0
        return Ranking(
            (before, *rest), (top, *(scores[cid] for cid in rest)), "speaker before last"
        )

    async def decide(self, context: TurnContext) -> Decision:
        """The first of the ranking."""
        return _first(await self.rank(context))


def _first(ranking: Ranking) -> Decision:
    return NOBODY if ranking.first is None else Decision((ranking.first,), ranking.reason)


BASELINES = ("random", "A-B-A", "most-frequent")
"""The baselines every run of the eval measures beside the policies asked for."""


def build_policy(
    name: str,
    *,
    seed: int,
    backend: Callable[[], ChatBackend],
    timeout: float,
    likelihood_weight: float | None = None,
) -> Scheduler:
    """The policy called ``name`` as a channel would run it, or one of the :data:`BASELINES`.

    ``backend`` is called only for the policies in :data:`BACKEND_POLICIES`;
    ``likelihood_weight`` overrides the shipped weight of the likelihood policy.

    Raises:
        ValueError: no policy has that name.
    """
    baselines: dict[str, Callable[[], Scheduler]] = {
        "random": lambda: RandomBaseline(random.Random(seed)),
        "A-B-A": AlternationBaseline,
        "most-frequent": MostFrequentBaseline,
    }
    if name in baselines:
        return baselines[name]()
    scoring = ScoringPolicy()
    policies: dict[str, Callable[[], Scheduler]] = {
        "scoring": lambda: scoring,
        "likelihood": lambda: LikelihoodPolicy(
            backend=backend(),
            structure=scoring,
            gate=scoring.gate,
            weight=(
                scoring.ranker.likelihood_weight if likelihood_weight is None else likelihood_weight
            ),
            timeout=timeout,
        ),
        "model": lambda: ModelPolicy(backend=backend(), fallback=scoring, timeout=timeout),
        "round-robin": RoundRobinPolicy,
        "manual": ManualPolicy,
    }
    if name not in policies:
        raise ValueError(f"no turn-taking policy called {name!r} ({', '.join(policies)})")
    return ComposedScheduler(policies={name: policies[name]()}, default=name)
