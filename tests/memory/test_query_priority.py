"""Indexing never holds up a recall: queries have their own way through the embedder and
the vector index, and a forget in the middle of indexing leaves no stale vector behind.

Indexing is held at a gate the test opens, so every assertion is about what happened
before what, never about how long anything took.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from botkit.events import Author, ChannelKey
from botkit.memory.embeddings import LocalEmbedder
from botkit.memory.minilm import MiniLMEncoder
from botkit.memory.records import Memory, Scope
from botkit.memory.vectors import VectorIndex

from .conftest import MemoryApp, said

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
GATE_SECONDS = 60
"""How long a held call waits for the gate before giving up (only if the test fails)."""


class GatedEncoder(MiniLMEncoder):
    """The real encoder, except that texts mentioning "backlog" wait until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()
        self.gate = threading.Event()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Any:
        if any("backlog" in text for text in texts):
            self.held.set()
            self.gate.wait(GATE_SECONDS)
        return super().encode(texts, batch_size=batch_size)


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, GATE_SECONDS)


async def test_a_query_is_embedded_while_the_backlog_is_held() -> None:
    encoder = GatedEncoder()
    embedder = LocalEmbedder(encoder=encoder, threads=1)
    happened: list[str] = []

    async def index() -> Any:
        vectors = await embedder.embed_backlog([f"backlog line {n}" for n in range(100)])
        happened.append("backlog embedded")
        return vectors

    try:
        backlog = asyncio.create_task(index())
        await wait_for(encoder.held)
        happened.append("indexing held")
        query = await embedder.embed(["Where did the lighthouse keeper go?"])
        happened.append("query embedded")
        encoder.gate.set()
        vectors = await backlog
    finally:
        encoder.gate.set()
        await embedder.aclose()
    assert happened == ["indexing held", "query embedded", "backlog embedded"]
    assert query.shape == (1, 384)
    assert vectors.shape == (100, 384)
    assert float(np.abs(vectors[7] - encoder.encode(["backlog line 7"])[0]).max()) < 1e-5


async def test_a_recall_finishes_while_its_server_is_being_indexed(memory_app: MemoryApp) -> None:
    encoder = GatedEncoder()
    embedder = LocalEmbedder(encoder=encoder)
    line = "The backlog of lamp oil sits in the cellar of the lighthouse."
    try:
        async with memory_app(embedder=embedder) as (app, adapter):
            memory = app.memory
            assert memory is not None
            await adapter.push(said(line, ROOM, ANN))
            await app.wait_idle()
            await wait_for(encoder.held)
            found = await memory.recall(
                "Where is the lamp oil kept?",
                Scope.of(ROOM, character="mira", whole_server=False),
                now=datetime.now(UTC),
            )
            waiting = await memory.ledger.backlog()
            encoder.gate.set()
            await memory.flush()
            assert await memory.ledger.backlog() == 0
    finally:
        encoder.gate.set()
    assert [r.memory.text for r in found] == [line]
    assert waiting == 1


async def test_a_forget_during_indexing_leaves_no_vector(memory_app: MemoryApp) -> None:
    encoder = GatedEncoder()
    embedder = LocalEmbedder(encoder=encoder)
    try:
        async with memory_app(embedder=embedder) as (app, adapter):
            memory = app.memory
            assert memory is not None
            await adapter.push(said("My backlog of secrets: I was born in Vellhaven.", ROOM, ANN))
            await app.wait_idle()
            await wait_for(encoder.held)
            forgetting = asyncio.create_task(memory.forget_author(ROOM, ANN.id))
            await asyncio.sleep(0)
            encoder.gate.set()
            forgotten = await forgetting
            await memory.flush()
            assert await memory.vectors.ids(Scope("test", "guild-1")) == set()
            assert await memory.ledger.backlog() == 0
    finally:
        encoder.gate.set()
    assert (forgotten.turns, forgotten.memories) == (1, 1)


class HeldCollection:
    """A Chroma collection double whose writes wait at a gate; queries answer at once."""

    def __init__(self) -> None:
        self.writing = threading.Event()
        self.gate = threading.Event()

    def upsert(self, **_: Any) -> None:
        self.writing.set()
        self.gate.wait(GATE_SECONDS)

    def query(self, **_: Any) -> dict[str, list[list[Any]]]:
        return {"ids": [["7"]], "distances": [[0.25]]}


async def test_a_vector_query_does_not_wait_for_a_write() -> None:
    collection = HeldCollection()
    index = VectorIndex(
        None,
        ThreadPoolExecutor(max_workers=1),
        embedder="test",
        collections={f"{ROOM.platform}:{ROOM.server}": collection},
    )
    memory = Memory(
        id=7,
        kind="turn",
        channel=ROOM,
        speaker_id=ANN.id,
        speaker_name=ANN.name,
        text="The lamp oil is in the cellar.",
        time=datetime.now(UTC),
        importance=0.5,
        witnesses=frozenset({"mira"}),
    )
    try:
        writing = asyncio.create_task(index.upsert([memory], np.zeros((1, 384), dtype=np.float32)))
        await wait_for(collection.writing)
        found = await index.query(np.zeros(384, dtype=np.float32), Scope("test", "guild-1"), 5)
        written_first = writing.done()
        collection.gate.set()
        await writing
    finally:
        collection.gate.set()
        await index.aclose()
    assert found == [(7, 0.75)]
    assert not written_first
