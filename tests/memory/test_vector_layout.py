"""An index written under an older metadata layout is replaced and filled anew at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import chromadb
import numpy as np
from chromadb.config import Settings

from botkit.events import Author, ChannelKey
from botkit.memory.records import Scope
from botkit.store import Store

from .conftest import MemoryApp, said

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
LINES = [
    "The ferry to Saltmarsh leaves at dawn on Thursdays.",
    "My cousin keeps goats behind the old mill.",
]


async def test_an_index_of_an_older_layout_is_rebuilt(
    tmp_path: Path, memory_app: MemoryApp
) -> None:
    async with memory_app() as (app, adapter):
        for line in LINES:
            await adapter.push(said(line, ROOM, ANN))
        await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()

    data = tmp_path / "data"
    client = chromadb.PersistentClient(
        path=str(data / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    (current,) = [c.name for c in client.list_collections()]
    old = client.create_collection(
        "botkit-memories-all-minilm-l6-v2",
        embedding_function=None,
        metadata={"embedder": "all-minilm-l6-v2"},
    )
    old.add(ids=["1"], embeddings=np.ones((1, 384), dtype=np.float32), metadatas=[{"w:mira": True}])
    client.delete_collection(current)
    async with await Store.open(data / "botkit.sqlite3") as store:
        await store.set_setting("memory", "embedder", "all-minilm-l6-v2")

    async with memory_app() as (app, _adapter):
        memory = app.memory
        assert memory is not None
        await memory.flush()
        scope = Scope.of(ROOM, character="mira", whole_server=False)
        assert len(await memory.vectors.ids(scope)) == len(LINES)
        found = await memory.recall("when does the ferry go?", scope, now=datetime.now(UTC))
        assert found[0].memory.text == LINES[0]
    client = chromadb.PersistentClient(
        path=str(data / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    assert [c.name for c in client.list_collections()] == [current]
