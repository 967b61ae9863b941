"""The memory's vector index in Chroma: embedded on disk, or a Chroma server.

Every query carries its scope as a metadata filter, so Chroma itself never returns a
record from another server, another channel (when scoped to one) or one the character
did not witness. Queries run on a thread of their own, so a recall never waits for a
large write to finish.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from botkit.memory.embeddings import Vectors
from botkit.memory.records import Memory, Scope

__all__ = ["VectorIndex", "VectorIndexError", "witness_key"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class VectorIndexError(Exception):
    """Chroma could not be opened or reached; the one-line message says why."""


def witness_key(character_id: str) -> str:
    """The metadata key that is true on records ``character_id`` witnessed."""
    return f"w:{character_id}"


def _where(scope: Scope) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [{"server": scope.server_key}]
    if scope.channel is not None:
        conditions.append({"channel": str(scope.channel)})
    if scope.character is not None:
        conditions.append({witness_key(scope.character): True})
    return {"$and": conditions} if len(conditions) > 1 else conditions[0]


def _metadata(memory: Memory) -> dict[str, str | int | float | bool]:
    channel = memory.channel
    data: dict[str, str | int | float | bool] = {
        "server": f"{channel.platform}:{channel.server}",
        "channel": str(channel),
        "kind": memory.kind,
        "time": memory.time.timestamp(),
    }
    for character in memory.witnesses:
        data[witness_key(character)] = True
    return data


def _collection_name(embedder: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", embedder).strip("-._")[:40] or "default"
    return f"botkit-memories-{slug}"


class VectorIndex:
    """Memory vectors in one Chroma collection per embedding model, keyed by memory id.

    Open with :meth:`open_local` (a folder) or :meth:`open_server` (host and port).
    Writes run in order on one worker thread, queries on another.
    """

    def __init__(self, client: Any, collection: Any, thread: ThreadPoolExecutor) -> None:
        """Wrap an open client; use :meth:`open_local` or :meth:`open_server`.

        ``thread`` (one worker) takes the writes; queries get a thread of their own.
        """
        self._client = client
        self._collection = collection
        self._thread = thread
        self._query_thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="botkit-chroma-query"
        )

    @classmethod
    async def open_local(cls, path: Path, *, embedder: str) -> VectorIndex:
        """Open (creating if needed) the embedded index under ``path``."""

        def connect() -> Any:
            import chromadb
            from chromadb.config import Settings

            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(
                path=str(path), settings=Settings(anonymized_telemetry=False)
            )

        return await cls._open(connect, embedder, f"Chroma at {path}")

    @classmethod
    async def open_server(
        cls, *, host: str, port: int, embedder: str, ssl: bool = False
    ) -> VectorIndex:
        """Connect to a Chroma server (``chroma run``)."""

        def connect() -> Any:
            import chromadb
            from chromadb.config import Settings

            return chromadb.HttpClient(
                host=host, port=port, ssl=ssl, settings=Settings(anonymized_telemetry=False)
            )

        return await cls._open(connect, embedder, f"Chroma server {host}:{port}")

    @classmethod
    async def _open(cls, connect: Callable[[], Any], embedder: str, where: str) -> VectorIndex:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botkit-chroma")

        def prepare() -> tuple[Any, Any]:
            client = connect()
            collection = client.get_or_create_collection(
                _collection_name(embedder),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedder": embedder},
            )
            return client, collection

        loop = asyncio.get_running_loop()
        try:
            client, collection = await loop.run_in_executor(thread, prepare)
        except Exception as error:
            thread.shutdown(wait=False)
            log.debug("vector index open failure", exc_info=True)
            message = " ".join(str(error).split()) or type(error).__name__
            raise VectorIndexError(f"cannot open {where}: {message}") from error
        return cls(client, collection, thread)

    async def _call(self, work: Callable[[], T], *, query: bool = False) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._query_thread if query else self._thread, work)
        except Exception as error:
            log.debug("vector index failure", exc_info=True)
            message = " ".join(str(error).split()) or type(error).__name__
            raise VectorIndexError(f"vector index: {message}") from error

    async def upsert(self, memories: Sequence[Memory], vectors: Vectors) -> None:
        """Add or replace the vectors of ``memories`` (row ``i`` of ``vectors`` is memory ``i``)."""
        if not memories:
            return
        await self._call(
            lambda: self._collection.upsert(
                ids=[str(m.id) for m in memories],
                embeddings=vectors,
                metadatas=[_metadata(m) for m in memories],
            )
        )

    async def query(self, vector: Vectors, scope: Scope, limit: int) -> list[tuple[int, float]]:
        """The nearest memories inside ``scope``: (memory id, cosine similarity), best first."""

        def search() -> Any:
            return self._collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=limit,
                where=_where(scope),
                include=["distances"],
            )

        found = await self._call(search, query=True)
        ids, distances = found["ids"][0], found["distances"][0]
        return [(int(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    async def delete(self, ids: Sequence[int]) -> None:
        """Remove these memories' vectors (missing ones are ignored)."""
        if ids:
            await self._call(lambda: self._collection.delete(ids=[str(i) for i in ids]))

    async def unwitness(self, ids: Sequence[int], character_id: str) -> None:
        """Stop ``character_id`` from recalling these memories."""
        if ids:
            await self._call(
                lambda: self._collection.update(
                    ids=[str(i) for i in ids],
                    metadatas=[{witness_key(character_id): None} for _ in ids],
                )
            )

    async def ids(self, scope: Scope) -> set[int]:
        """Every memory id inside ``scope`` (for checks and tests)."""
        found = await self._call(
            lambda: self._collection.get(where=_where(scope), include=[]), query=True
        )
        return {int(i) for i in found["ids"]}

    async def aclose(self) -> None:
        """Let pending calls finish and release the client."""
        await asyncio.get_running_loop().run_in_executor(None, self._query_thread.shutdown)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._release)
        self._thread.shutdown(wait=True)

    def _release(self) -> None:
        closer = getattr(self._client, "close", None)
        if callable(closer):
            closer()
