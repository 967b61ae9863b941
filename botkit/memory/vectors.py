"""The memory's vector index in Chroma: embedded on disk, or a Chroma server.

Each server's memories have a collection of their own, so a query never even looks at
another server's vectors. Inside a server, a recall's scope (a channel or the whole
server, and always a witness) is checked against the memory ledger, SQLite, which holds
the truth about every memory's place and witnesses: the index asks Chroma for the nearest
vectors without a filter, more of them than wanted, and keeps those the ledger puts in
scope. Chroma's own metadata filter costs time in proportion to how many records it
matches (about a millisecond per hundred, on two cores), while a query without one costs
about the same at any size; so the filter is used only when the scope turns out to be a
small part of the server, where it is cheap. Queries run on a thread of their own, so a
recall never waits for a large write to finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from botkit.events import ChannelKey
from botkit.memory.embeddings import Vectors
from botkit.memory.records import Memory, Scope

__all__ = ["LAYOUT", "InScope", "VectorIndex", "VectorIndexError", "witness_keys"]

log = logging.getLogger(__name__)

T = TypeVar("T")

LAYOUT = "3"
"""The version of the collections' layout; vectors written under another are indexed anew."""

InScope = Callable[[Sequence[int]], Awaitable[set[int]]]
"""Which of the given memory ids lie inside the scope of the query at hand."""

SLACK = 1.5
"""How many more vectors than the scope's expected share a query without a filter asks for."""
FIRST_ASK = 4
"""Without an estimate of a scope's share yet, a query asks for this many times the limit."""
MOST_ASKED = 1000
"""The most vectors one query without a filter asks for (about 10 ms at 100,000); when a
scope's share is too small to find enough among them, Chroma's filter is cheaper."""
SHARES_KEPT = 10_000
"""Scopes whose share of their server is remembered between queries."""


class VectorIndexError(Exception):
    """Chroma could not be opened or reached; the one-line message says why."""


def _server_key(channel: ChannelKey) -> str:
    return f"{channel.platform}:{channel.server}"


def witness_keys(channel: ChannelKey, character_id: str) -> tuple[str, str]:
    """The metadata keys true on records ``character_id`` witnessed in ``channel``.

    The first scopes a recall to the channel, the second to the channel's server
    (character ids and channel parts hold no ``:``, so no two keys can coincide).
    """
    return f"in:{channel}:{character_id}", f"on:{_server_key(channel)}:{character_id}"


def _where(scope: Scope) -> dict[str, Any] | None:
    """Chroma's filter for ``scope`` inside its server's collection (None: every record)."""
    if scope.character is not None:
        if scope.channel is not None:
            return {witness_keys(scope.channel, scope.character)[0]: True}
        return {f"on:{scope.server_key}:{scope.character}": True}
    if scope.channel is not None:
        return {"channel": str(scope.channel)}
    return None


def _metadata(memory: Memory) -> dict[str, str | int | float | bool]:
    channel = memory.channel
    data: dict[str, str | int | float | bool] = {
        "channel": str(channel),
        "kind": memory.kind,
        "time": memory.time.timestamp(),
    }
    for character in memory.witnesses:
        for key in witness_keys(channel, character):
            data[key] = True
    return data


def _collection_name(embedder: str, server_key: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", embedder).strip("-._")[:40] or "default"
    digest = hashlib.sha256(server_key.encode()).hexdigest()[:16]
    return f"botkit-memories-v{LAYOUT}-{slug}-{digest}"


def _nearest(
    collection: Any, vector: Vectors, count: int, where: dict[str, Any] | None = None
) -> list[tuple[int, float]]:
    """Up to ``count`` records nearest ``vector``: (memory id, cosine similarity), best first."""
    found = collection.query(
        query_embeddings=vector.reshape(1, -1),
        n_results=count,
        where=where,
        include=["distances"],
    )
    ids, distances = found["ids"][0], found["distances"][0]
    return [(int(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]


class VectorIndex:
    """Memory vectors in one Chroma collection per server and embedding model, keyed by id.

    Open with :meth:`open_local` (a folder) or :meth:`open_server` (host and port).
    Writes run in order on one worker thread, queries on another.
    """

    def __init__(
        self,
        client: Any,
        thread: ThreadPoolExecutor,
        *,
        embedder: str,
        collections: dict[str, Any] | None = None,
    ) -> None:
        """Wrap an open client; use :meth:`open_local` or :meth:`open_server`.

        ``collections`` are the servers' collections found so far, by ``platform:server``;
        ``thread`` (one worker) takes the writes; queries get a thread of their own.
        """
        self._client = client
        self._embedder = embedder
        self._collections: dict[str, Any] = dict(collections or {})
        self._shares: dict[tuple[str, str, str], float] = {}
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

        def prepare() -> tuple[Any, dict[str, Any]]:
            client = connect()
            collections = {}
            for found in client.list_collections():
                metadata = found.metadata or {}
                if metadata.get("embedder") != embedder:
                    continue
                if metadata.get("layout") == LAYOUT and "server" in metadata:
                    collections[str(metadata["server"])] = found
                else:
                    log.info("removing %s, written under an older vector layout", found.name)
                    client.delete_collection(found.name)
            return client, collections

        loop = asyncio.get_running_loop()
        try:
            client, collections = await loop.run_in_executor(thread, prepare)
        except Exception as error:
            thread.shutdown(wait=False)
            log.debug("vector index open failure", exc_info=True)
            message = " ".join(str(error).split()) or type(error).__name__
            raise VectorIndexError(f"cannot open {where}: {message}") from error
        return cls(client, thread, embedder=embedder, collections=collections)

    async def _call(self, work: Callable[[], T], *, query: bool = False) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._query_thread if query else self._thread, work)
        except Exception as error:
            log.debug("vector index failure", exc_info=True)
            message = " ".join(str(error).split()) or type(error).__name__
            raise VectorIndexError(f"vector index: {message}") from error

    def _collection_of(self, server_key: str) -> Any:
        """The server's collection, created on its first vector (on the writer thread)."""
        collection = self._collections.get(server_key)
        if collection is None:
            collection = self._client.get_or_create_collection(
                _collection_name(self._embedder, server_key),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedder": self._embedder, "layout": LAYOUT, "server": server_key},
            )
            self._collections = {**self._collections, server_key: collection}
        return collection

    async def upsert(self, memories: Sequence[Memory], vectors: Vectors) -> None:
        """Add or replace the vectors of ``memories`` (row ``i`` of ``vectors`` is memory ``i``)."""
        rows: dict[str, list[int]] = {}
        for row, memory in enumerate(memories):
            rows.setdefault(_server_key(memory.channel), []).append(row)

        def write() -> None:
            for server_key, chosen in rows.items():
                self._collection_of(server_key).upsert(
                    ids=[str(memories[i].id) for i in chosen],
                    embeddings=vectors[chosen],
                    metadatas=[_metadata(memories[i]) for i in chosen],
                )

        if rows:
            await self._call(write)

    async def query(
        self, vector: Vectors, scope: Scope, limit: int, *, inside: InScope | None = None
    ) -> list[tuple[int, float]]:
        """The nearest memories inside ``scope``: (memory id, cosine similarity), best first.

        ``inside`` says which ids lie in ``scope`` (the ledger's answer). With it, Chroma is
        asked without a filter for more than ``limit`` (as many as the scope's share of its
        server suggests) and only the ids ``inside`` keeps are returned; where too few are
        found that way, Chroma's filter finds the rest. Without it, every query is filtered
        by the records' metadata.
        """
        collection = self._collections.get(scope.server_key)
        if collection is None or limit <= 0:
            return []
        where = _where(scope)
        if where is None:
            return await self._call(lambda: _nearest(collection, vector, limit), query=True)
        if inside is None:
            return await self._call(lambda: _nearest(collection, vector, limit, where), query=True)
        share_key = (scope.server_key, str(scope.channel or ""), scope.character or "")
        share = self._shares.get(share_key)
        ask = max(limit, limit * FIRST_ASK if share is None else math.ceil(limit * SLACK / share))
        while ask <= MOST_ASKED:
            nearest = await self._call(partial(_nearest, collection, vector, ask), query=True)
            kept = await inside([i for i, _ in nearest])
            found = [(i, s) for i, s in nearest if i in kept]
            if len(found) >= limit or len(nearest) < ask:
                if nearest:
                    self._remember_share(share_key, len(found) / len(nearest))
                return found[:limit]
            share = max(len(found) / len(nearest), 1 / MOST_ASKED)
            ask = max(2 * ask, math.ceil(limit * SLACK / share))
        self._shares.pop(share_key, None)
        filtered = await self._call(lambda: _nearest(collection, vector, limit, where), query=True)
        kept = await inside([i for i, _ in filtered])
        return [(i, s) for i, s in filtered if i in kept]

    def _remember_share(self, key: tuple[str, str, str], share: float) -> None:
        """Keep a scope's share of its server's nearest vectors for its next query."""
        if len(self._shares) >= SHARES_KEPT and key not in self._shares:
            self._shares.clear()
        self._shares[key] = max(share, 1 / MOST_ASKED)

    async def delete(self, ids: Sequence[int], channel: ChannelKey) -> None:
        """Remove these memories' vectors, all from ``channel``'s server (missing ones: ignored)."""
        collection = self._collections.get(_server_key(channel))
        if ids and collection is not None:
            await self._call(lambda: collection.delete(ids=[str(i) for i in ids]))

    async def unwitness(self, ids: Sequence[int], channel: ChannelKey, character_id: str) -> None:
        """Stop ``character_id`` from recalling these memories, all said in ``channel``."""
        collection = self._collections.get(_server_key(channel))
        if ids and collection is not None:
            removed = dict.fromkeys(witness_keys(channel, character_id))
            await self._call(
                lambda: collection.update(
                    ids=[str(i) for i in ids], metadatas=[removed for _ in ids]
                )
            )

    async def ids(self, scope: Scope) -> set[int]:
        """Every memory id inside ``scope`` (for checks and tests)."""
        collection = self._collections.get(scope.server_key)
        if collection is None:
            return set()
        found = await self._call(
            lambda: collection.get(where=_where(scope), include=[]), query=True
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
