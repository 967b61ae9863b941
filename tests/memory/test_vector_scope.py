"""A vector query returns only memories inside its scope, whichever way it asks Chroma.

The index asks Chroma without a filter and keeps what the ledger puts in scope, asks
again for more when the scope's share was small, and falls back to Chroma's filter when
even that finds too few. Here the nearest vectors of all lie outside the scope, so any
leak would come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from botkit.events import ChannelKey
from botkit.memory.records import Memory, Scope
from botkit.memory.vectors import InScope, VectorIndex

HALL = ChannelKey("test", "guild-a", "hall")
YARD = ChannelKey("test", "guild-a", "yard")
ELSEWHERE = ChannelKey("test", "guild-b", "hall")
TARGET = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


def vector(similarity: float) -> np.ndarray:
    """A unit vector with this cosine similarity to :data:`TARGET`."""
    return np.array([similarity, np.sqrt(1 - similarity**2), 0.0, 0.0], dtype=np.float32)


def memory(memory_id: int, channel: ChannelKey, witnesses: set[str]) -> Memory:
    """A memory said in ``channel`` before ``witnesses``."""
    return Memory(
        id=memory_id,
        kind="turn",
        channel=channel,
        speaker_id="u-ann",
        speaker_name="Ann",
        text=f"line {memory_id}",
        time=datetime(2025, 1, 1, tzinfo=UTC),
        importance=0.5,
        witnesses=frozenset(witnesses),
    )


class Ledger:
    """Answers which ids lie in a scope, as the memory ledger does, from the memories given."""

    def __init__(self, memories: Sequence[Memory]) -> None:
        self.memories = {m.id: m for m in memories}
        self.asked: list[int] = []

    def inside(self, scope: Scope) -> InScope:
        """The check :meth:`VectorIndex.query` takes, for ``scope``; counts the ids asked."""

        async def check(ids: Sequence[int]) -> set[int]:
            self.asked.append(len(ids))
            return {i for i in ids if i in self.memories and self.holds(scope, self.memories[i])}

        return check

    @staticmethod
    def holds(scope: Scope, m: Memory) -> bool:
        """Whether ``m`` lies inside ``scope``."""
        return (
            (m.channel.platform, m.channel.server) == (scope.platform, scope.server)
            and scope.channel in (None, m.channel)
            and (scope.character is None or scope.character in m.witnesses)
        )


async def build(tmp_path: Path, memories: list[Memory], similarities: list[float]) -> VectorIndex:
    """An index under ``tmp_path`` holding ``memories`` at these similarities to TARGET."""
    index = await VectorIndex.open_local(tmp_path / "chroma", embedder="test-model")
    await index.upsert(memories, np.stack([vector(s) for s in similarities]))
    return index


async def test_only_witnessed_memories_of_the_scope_come_back(tmp_path: Path) -> None:
    # The 30 nearest are another server's, a channel's mira did not see, or said in
    # the other channel; mira's own lines in the hall are the farthest.
    memories, similarities = [], []
    for n in range(30):
        channel, witnesses = [(ELSEWHERE, {"mira"}), (HALL, {"bram"}), (YARD, {"mira"})][n % 3]
        memories.append(memory(n + 1, channel, witnesses))
        similarities.append(0.99 - n * 0.001)
    for n in range(6):
        memories.append(memory(100 + n, HALL, {"mira", "bram"}))
        similarities.append(0.5 - n * 0.01)
    ledger = Ledger(memories)
    index = await build(tmp_path, memories, similarities)
    try:
        for scope in (
            Scope.of(HALL, character="mira", whole_server=False),
            Scope.of(HALL, character="mira", whole_server=True),
            Scope.of(HALL, character="bram", whole_server=False),
            Scope("test", "guild-a"),
        ):
            for limit in (1, 3, 10, 40):
                found = await index.query(TARGET, scope, limit, inside=ledger.inside(scope))
                expected = sorted(
                    (m for m in memories if Ledger.holds(scope, m)),
                    key=lambda m: -similarities[memories.index(m)],
                )[:limit]
                assert [i for i, _ in found] == [m.id for m in expected], (scope, limit)
                unfiltered = await index.query(TARGET, scope, limit)
                assert [i for i, _ in unfiltered] == [m.id for m in expected], (scope, limit)
    finally:
        await index.aclose()


async def test_another_servers_memories_never_come_back(tmp_path: Path) -> None:
    memories = [memory(n, ELSEWHERE, {"mira"}) for n in range(1, 21)]
    memories.append(memory(50, HALL, {"mira"}))
    index = await build(tmp_path, memories, [0.99] * 20 + [0.1])

    async def anything(ids: Sequence[int]) -> set[int]:
        return set(ids)

    try:
        for scope in (
            Scope.of(HALL, character="mira", whole_server=False),
            Scope.of(HALL, character="mira", whole_server=True),
            Scope("test", "guild-a"),
        ):
            found = await index.query(TARGET, scope, 10, inside=anything)
            assert [i for i, _ in found] == [50]
        assert await index.query(TARGET, Scope("test", "guild-c"), 10, inside=anything) == []
        assert await index.ids(Scope("test", "guild-a")) == {50}
    finally:
        await index.aclose()


async def test_a_small_scope_is_found_by_chromas_filter_after_asking_without(
    tmp_path: Path,
) -> None:
    # 200 nearer lines mira never saw: among the first asked for, none is hers.
    memories = [memory(n, HALL, {"bram"}) for n in range(1, 201)]
    memories += [memory(500, HALL, {"mira"}), memory(501, HALL, {"mira"})]
    similarities = [0.9 + n * 0.0001 for n in range(200)] + [0.2, 0.3]
    ledger = Ledger(memories)
    index = await build(tmp_path, memories, similarities)
    scope = Scope.of(HALL, character="mira", whole_server=False)
    try:
        for _ in range(2):
            ledger.asked.clear()
            found = await index.query(TARGET, scope, 5, inside=ledger.inside(scope))
            assert [i for i, _ in found] == [501, 500]
            assert ledger.asked[0] == 20 and ledger.asked[-1] == 2
    finally:
        await index.aclose()


async def test_a_forgotten_witness_or_memory_is_gone_from_every_query(tmp_path: Path) -> None:
    memories = [memory(n, HALL, {"mira", "bram"}) for n in range(1, 11)]
    index = await build(tmp_path, memories, [0.9 - n * 0.01 for n in range(10)])
    mira = Scope.of(HALL, character="mira", whole_server=False)
    try:
        await index.unwitness([1, 2], HALL, "mira")
        await index.delete([3], HALL)
        assert {i for i, _ in await index.query(TARGET, mira, 10)} == set(range(4, 11))
        bram = Scope.of(HALL, character="bram", whole_server=True)
        assert {i for i, _ in await index.query(TARGET, bram, 10)} == {1, 2, *range(4, 11)}
    finally:
        await index.aclose()
