"""Ranking recalled memories: relevance, recency and importance, after Generative Agents.

Relevance fuses the dense (vector) and lexical (BM25) rankings by reciprocal rank, so a
rare name or date found only by words still surfaces. Each part is scaled to 0..1 over the
candidates, then the weighted sum orders them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from botkit.memory.records import Memory, Recollection

__all__ = ["RankingWeights", "follow_sources", "fuse", "rank"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """How much relevance, recency and importance count, and how recency fades.

    ``half_life_hours``: after that long a memory's recency is half a new one's.
    ``dense`` and ``lexical`` weigh the two rankings inside relevance (0 turns one off);
    ``rrf_k`` is the reciprocal-rank constant (larger flattens the top). Inside the
    lexical ranking, ``neighbours`` weighs the words of the turns just before and after a
    memory against its own, and ``named_speaker`` is the BM25 points a memory gains when
    the query names its speaker; ``timely`` is added to the relevance (0..1) of a memory
    said within a time the query names ("in May 2023", "last week"). The defaults were
    fitted on LoCoMo conversations 0–4.
    """

    relevance: float = 1.0
    recency: float = 0.15
    importance: float = 0.15
    half_life_hours: float = 24.0 * 7
    dense: float = 1.0
    lexical: float = 3.0
    rrf_k: int = 5
    neighbours: float = 0.5
    named_speaker: float = 3.0
    timely: float = 0.15

    def __post_init__(self) -> None:
        values = (
            self.relevance,
            self.recency,
            self.importance,
            self.dense,
            self.lexical,
            self.neighbours,
            self.named_speaker,
            self.timely,
        )
        if min(values) < 0 or self.half_life_hours <= 0 or self.rrf_k < 1:
            raise ValueError("memory weights must be >= 0, half_life_hours and rrf_k > 0")
        if self.dense == 0 and self.lexical == 0:
            raise ValueError("memory ranking needs dense or lexical weight above 0")


def fuse(rankings: Sequence[tuple[float, Sequence[int]]], k: int) -> dict[int, float]:
    """Reciprocal-rank fusion: each (weight, ids best first) adds weight / (k + rank)."""
    scores: dict[int, float] = {}
    for weight, ids in rankings:
        if weight <= 0:
            continue
        for rank, memory_id in enumerate(ids, start=1):
            scores[memory_id] = scores.get(memory_id, 0.0) + weight / (k + rank)
    return scores


def _scaled(values: Mapping[int, float]) -> dict[int, float]:
    """Min-max scaling to 0..1 (all equal gives 1)."""
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high - low < 1e-12:
        return dict.fromkeys(values, 1.0)
    return {key: (value - low) / (high - low) for key, value in values.items()}


def rank(
    memories: Sequence[Memory],
    relevance: Mapping[int, float],
    *,
    now: datetime,
    weights: RankingWeights,
    timely: Collection[int] = (),
) -> list[Recollection]:
    """``memories`` ordered by their weighted score, best first; ``timely`` are the ids of
    those said within the time the query names."""
    if not memories:
        return []
    ages = {m.id: max(0.0, (now - m.time).total_seconds() / 3600.0) for m in memories}
    recency = _scaled({i: 0.5 ** (age / weights.half_life_hours) for i, age in ages.items()})
    importance = _scaled({m.id: m.importance for m in memories})
    related = _scaled({m.id: relevance.get(m.id, 0.0) for m in memories})
    for memory_id in timely:
        if memory_id in related:
            related[memory_id] += weights.timely
    found = [
        Recollection(
            memory=m,
            score=weights.relevance * related[m.id]
            + weights.recency * recency[m.id]
            + weights.importance * importance[m.id],
            relevance=related[m.id],
            recency=recency[m.id],
            importance=importance[m.id],
        )
        for m in memories
    ]
    found.sort(key=lambda r: (-r.score, -r.memory.id))
    return found


def follow_sources(
    found: Sequence[Recollection],
    sources: Mapping[int, Sequence[int]],
    memories: Mapping[int, Memory],
    limit: int,
) -> list[Recollection]:
    """``found`` (best first) with each observation followed by its sources, cut to ``limit``.

    An observation keeps its place and counts as one; the turn memories it was drawn
    from (``sources``, best first; only those in ``memories``, the ones the recall may
    show) take the places right after it, with its scores, and leave any later place
    they held. A source already placed above its observation stays where it is.
    """
    placed: set[int] = set()
    followed: list[Recollection] = []
    for recollection in found:
        if len(followed) >= limit:
            break
        if recollection.memory.id in placed:
            continue
        followed.append(recollection)
        placed.add(recollection.memory.id)
        for source_id in sources.get(recollection.memory.id, ()):
            source = memories.get(source_id)
            if source is not None and source_id not in placed:
                followed.append(replace(recollection, memory=source, via=recollection.memory.id))
                placed.add(source_id)
    return followed[:limit]
