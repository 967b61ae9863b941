"""What a recall costs: nothing when it provably finds nothing, and one vector per turn,
shared by the recall that queries with it and the index that keeps it.

The embedder here counts every text it embeds, by way (query or indexing), so each
assertion is about which work was done, never about how long it took.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from botkit.events import Author, ChannelKey
from botkit.memory import service as memory_service
from botkit.memory.embeddings import LocalEmbedder, Vectors
from botkit.memory.holdings import Holdings
from botkit.memory.minilm import MiniLMEncoder
from botkit.memory.records import Scope
from botkit.memory.service import MemoryService
from botkit.memory.vector_cache import VectorCache
from tests.support.embedders import CountingEmbedder, unit_vectors

from .conftest import MemoryApp, said

ROOM = ChannelKey("test", "guild-1", "tavern")
HALL = ChannelKey("test", "guild-1", "hall")
ELSEWHERE = ChannelKey("test", "guild-2", "tavern")
ANN = Author("u-ann", "Ann")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GATE_SECONDS = 60
"""How long a held call waits for the gate before giving up (only if the test fails)."""


def count_recalls(memory: MemoryService) -> list[str]:
    """Record the query of every recall ``memory`` is asked for from now on."""
    asked: list[str] = []
    recall = memory.recall

    async def counted(query: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(query)
        return await recall(query, *args, **kwargs)

    memory.recall = counted  # type: ignore[method-assign]
    return asked


async def test_a_recall_in_a_new_channel_embeds_and_searches_nothing(
    memory_app: MemoryApp,
) -> None:
    embedder = CountingEmbedder()
    async with memory_app(embedder=embedder) as (app, adapter):
        memory = app.memory
        assert memory is not None
        recalls = count_recalls(memory)
        await adapter.push(said("Mira, is the lamp lit?", ROOM, ANN))
        await app.wait_idle()
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
        assert recalls == []
        assert "Ann: Mira, is the lamp lit?" not in embedder.queries
        await memory.flush()
    assert embedder.backlog["Ann: Mira, is the lamp lit?"] == 1


async def test_what_channels_hold_is_read_again_at_the_next_start(
    memory_app: MemoryApp,
) -> None:
    async with memory_app(embedder=CountingEmbedder(), memory={"share": "server"}) as (
        app,
        adapter,
    ):
        await adapter.push(said("The ferry to Saltmarsh sank last night.", ROOM, ANN))
        await app.wait_idle()
    async with memory_app(embedder=CountingEmbedder(), memory={"share": "server"}) as (
        app,
        adapter,
    ):
        assert app.memory is not None
        recalls = count_recalls(app.memory)
        await adapter.push(said("Mira, what of the ferry?", HALL, ANN))
        await app.wait_idle()
    assert recalls == ["Mira, what of the ferry?"]


async def test_another_channels_memories_are_recalled_with_a_vector_computed_once(
    memory_app: MemoryApp,
) -> None:
    embedder = CountingEmbedder()
    async with memory_app(embedder=embedder, memory={"share": "server"}) as (app, adapter):
        memory = app.memory
        assert memory is not None
        await adapter.push(said("The ferry to Saltmarsh sank last night.", ROOM, ANN))
        await app.wait_idle()
        await memory.flush()
        recalls = count_recalls(memory)
        await adapter.push(said("Mira, what of the ferry?", HALL, ANN))
        await app.wait_idle()
        await memory.flush()
        indexed = await memory.vectors.ids(Scope("test", "guild-1", HALL))
    question = "Ann: Mira, what of the ferry?"
    assert recalls == ["Mira, what of the ferry?"]
    assert embedder.queries[question] == 1
    assert embedder.backlog[question] == 0
    assert len(indexed) == 2
    assert embedder.backlog["Mira: Aye."] == 1


async def wait_for(condition: Any, seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds (failing after ``seconds``)."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def count_index_writes(memory: MemoryService) -> list[int]:
    """Once everything so far is indexed: the sizes of the index writes from then on."""
    await memory.flush()
    writes: list[int] = []
    upsert = memory.vectors.upsert

    async def counted(memories: Sequence[Any], vectors: Vectors) -> None:
        writes.append(len(memories))
        await upsert(memories, vectors)

    memory.vectors.upsert = counted  # type: ignore[method-assign]
    return writes


@pytest.mark.parametrize(
    ("quiet", "busy"), [(0.3, GATE_SECONDS), (GATE_SECONDS, 1.5)], ids=["quiet", "busy"]
)
async def test_new_turns_are_indexed_once_the_channels_go_quiet_or_in_doses_meanwhile(
    memory_app: MemoryApp, monkeypatch: pytest.MonkeyPatch, quiet: float, busy: float
) -> None:
    monkeypatch.setattr(memory_service, "QUIET_SECONDS", quiet)
    monkeypatch.setattr(memory_service, "BUSY_SECONDS", busy)
    async with memory_app(embedder=CountingEmbedder()) as (app, adapter):
        memory = app.memory
        assert memory is not None
        writes = await count_index_writes(memory)
        for text in ("The tide is low.", "Gulls on the pier."):
            await adapter.push(said(text, ROOM, ANN))
        await app.wait_idle()
        assert writes == []
        await wait_for(lambda: sum(writes) == 2)


async def test_turns_said_close_together_are_remembered_and_indexed_in_one_write(
    memory_app: MemoryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_service, "QUIET_SECONDS", GATE_SECONDS)
    monkeypatch.setattr(memory_service, "BUSY_SECONDS", GATE_SECONDS)
    async with memory_app(embedder=CountingEmbedder()) as (app, adapter):
        memory = app.memory
        assert memory is not None
        writes = await count_index_writes(memory)
        for text in ("The tide is low.", "Gulls on the pier.", "Fog by dusk."):
            await adapter.push(said(text, ROOM, ANN))
        await app.wait_idle()
        scope = Scope.of(ROOM, character="mira", whole_server=False)
        assert await memory.ledger.search_text("gulls pier", scope, 5) == []
        assert writes == []
        await memory.flush()
        found = await memory.ledger.search_text("gulls pier", scope, 5)
    assert len(found) == 1
    assert writes == [3]


def test_holdings_promise_a_recall_only_what_the_prompt_does_not_show() -> None:
    holdings = Holdings()
    channel_scope = Scope.of(ROOM, character="mira", whole_server=False)
    server_scope = Scope.of(ROOM, character="mira", whole_server=True)
    earlier = NOW - timedelta(hours=1)
    assert not holdings.may_offer(channel_scope, shown_in=ROOM, shown_since=NOW)
    holdings.add_turn(ROOM, earlier)
    assert not holdings.may_offer(channel_scope, shown_in=ROOM, shown_since=earlier)
    assert holdings.may_offer(channel_scope, shown_in=ROOM, shown_since=NOW)
    holdings.add_turn(HALL, NOW)
    holdings.add_turn(ELSEWHERE, earlier - timedelta(days=1))
    assert not holdings.may_offer(channel_scope, shown_in=ROOM, shown_since=earlier)
    assert holdings.may_offer(server_scope, shown_in=ROOM, shown_since=earlier)
    holdings.add_note(ROOM)
    assert holdings.may_offer(channel_scope, shown_in=ROOM, shown_since=earlier)
    assert holdings.holds_any(Scope.of(HALL, character=None, whole_server=False))
    assert not holdings.holds_any(Scope("test", "guild-3"))


class GatedEncoder(MiniLMEncoder):
    """The real encoder, recording what it encodes; texts with "hold" wait for the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []
        self.held = threading.Event()
        self.gate = threading.Event()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Any:
        self.encoded += texts
        if any("hold" in text for text in texts):
            self.held.set()
            self.gate.wait(GATE_SECONDS)
        return super().encode(texts, batch_size=batch_size)


async def test_a_query_nobody_waits_for_any_more_is_never_computed() -> None:
    encoder = GatedEncoder()
    cache = VectorCache(LocalEmbedder(encoder=encoder, threads=1))
    try:
        holding = asyncio.create_task(cache.embed(["hold the line"]))
        assert await asyncio.to_thread(encoder.held.wait, GATE_SECONDS)
        given_up = asyncio.create_task(cache.embed(["Ann: never needed"]))
        await asyncio.sleep(0)
        assert cache.holds("Ann: never needed")
        given_up.cancel()
        await asyncio.gather(given_up, return_exceptions=True)
        encoder.gate.set()
        await holding
        assert not cache.holds("Ann: never needed")
    finally:
        encoder.gate.set()
        await cache.aclose()
    assert encoder.encoded == ["hold the line"]


async def test_nothing_is_computed_ahead_while_a_needed_vector_waits() -> None:
    """A prefetch would queue in front of the next recall's query: it is left to indexing."""
    encoder = GatedEncoder()
    cache = VectorCache(LocalEmbedder(encoder=encoder, threads=1))
    try:
        await cache.embed(["timed once"])
        holding = asyncio.create_task(cache.embed(["hold the line"]))
        assert await asyncio.to_thread(encoder.held.wait, GATE_SECONDS)
        cache.prefetch("Ann: ahead")
        assert not cache.holds("Ann: ahead")
        encoder.gate.set()
        await holding
        cache.prefetch("Ann: ahead")
        assert cache.holds("Ann: ahead")
        await cache.embed(["Ann: ahead"])
    finally:
        encoder.gate.set()
        await cache.aclose()
    assert encoder.encoded.count("Ann: ahead") == 1


async def test_a_prefetched_vector_outlives_its_recall_and_serves_the_index() -> None:
    embedder = CountingEmbedder()
    cache = VectorCache(embedder)
    cache.prefetch("Ann: hello")
    recall = asyncio.create_task(cache.embed(["Ann: hello"]))
    await asyncio.sleep(0)
    recall.cancel()
    await asyncio.gather(recall, return_exceptions=True)
    indexed = await cache.embed_backlog(["Ann: hello", "Bram: other"])
    assert embedder.queries == Counter({"Ann: hello": 1})
    assert embedder.backlog == Counter({"Bram: other": 1})
    assert np.allclose(indexed, unit_vectors(["Ann: hello", "Bram: other"]))
    assert cache.holds("Ann: hello")
    assert not cache.holds("Bram: other")


async def test_texts_asked_for_together_are_embedded_once_and_the_oldest_leave_first() -> None:
    embedder = CountingEmbedder()
    cache = VectorCache(embedder, size=2)
    first, second = await asyncio.gather(cache.embed(["a", "b"]), cache.embed(["b", "a", "a"]))
    assert embedder.queries == Counter({"a": 1, "b": 1})
    assert np.allclose(second, unit_vectors(["b", "a", "a"]))
    await cache.embed(["c"])
    assert not cache.holds("a")
    assert cache.holds("b") and cache.holds("c")
    assert np.allclose(first, unit_vectors(["a", "b"]))


async def test_the_query_way_tells_how_long_a_new_query_would_wait() -> None:
    embedder = LocalEmbedder(threads=1)
    try:
        assert embedder.query_delay(1) == 0.0
        await embedder.embed(["Mira pours the ale."])
        one = embedder.query_delay(1)
        assert one > 0
        assert embedder.query_delay(3) == pytest.approx(3 * one)
    finally:
        await embedder.aclose()
