"""Vectors of recent texts, kept so that a text is embedded once for all who need it.

A turn's vector serves twice: as the query of the recall its reply makes (computed the
moment the turn is stored, while the reply is being prepared) and as the turn's own
vector when the memory writer indexes it soon after.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from botkit.memory.embeddings import BacklogEmbedder, Embedder, LocalEmbedder, Vectors

__all__ = ["VectorCache"]

log = logging.getLogger(__name__)

Way = Callable[[Sequence[str]], Awaitable[Vectors]]


class _Embedding:
    """Texts being embedded together on the query way, and how many callers wait for them."""

    __slots__ = ("owned", "task", "texts", "waiters")

    def __init__(self, texts: list[str], *, owned: bool) -> None:
        self.texts = texts
        self.owned = owned
        """Started ahead of need (:meth:`VectorCache.prefetch`): finished even if nobody waits."""
        self.waiters = 0
        self.task: asyncio.Task[Vectors] | None = None


class VectorCache:
    """An embedder around another that keeps the vectors of the ``size`` texts used last
    and never embeds a text again while it is being embedded.

    :meth:`embed` (queries) and :meth:`prefetch` compute on the wrapped embedder's query
    way and keep what they compute; :meth:`embed_backlog` (indexing) takes what is kept
    or on its way and sends only the rest to the background way, keeping none of it.
    A query whose callers all gave up before it was computed is cancelled, so a skipped
    recall leaves no work behind (unless the text was prefetched: indexing wants it).
    """

    def __init__(self, inner: Embedder, *, size: int = 1024) -> None:
        self.name = inner.name
        self._inner = inner
        self._size = size
        self._kept: OrderedDict[str, Vectors] = OrderedDict()
        self._pending: dict[str, _Embedding] = {}
        self._prefetching: set[asyncio.Task[Vectors]] = set()

    def holds(self, text: str) -> bool:
        """Whether ``text``'s vector is kept or being computed on the query way."""
        return text in self._kept or text in self._pending

    def query_delay(self, text: str) -> float:
        """About how many seconds ``text``'s vector asked for now would take to come: 0
        when kept; else the query way's queue (with ``text``, unless it is in it already);
        0 when the wrapped embedder cannot tell."""
        if text in self._kept or not isinstance(self._inner, LocalEmbedder):
            return 0.0
        return self._inner.query_delay(0 if text in self._pending else 1)

    def prefetch(self, text: str) -> None:
        """Start embedding ``text`` on the query way now, unless it is kept or on its way,
        or the query way has work queued: a vector computed ahead of need must not hold
        up one needed now (the writer computes the rest when it indexes)."""
        if self.holds(text) or self._query_way_busy():
            return
        job = self._start([text], owned=True)
        assert job.task is not None
        self._prefetching.add(job.task)
        job.task.add_done_callback(self._prefetched)

    def _query_way_busy(self) -> bool:
        return isinstance(self._inner, LocalEmbedder) and self._inner.query_delay(0) > 0

    def _prefetched(self, task: asyncio.Task[Vectors]) -> None:
        self._prefetching.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("memory: prefetching a query vector failed: %s", task.exception())

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, in order; those not kept are computed on the
        query way and kept."""
        return await self._vectors(texts, backlog=False)

    async def embed_backlog(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts`` for indexing: kept ones reused, those on the
        query way awaited, the rest computed on the background way (and not kept)."""
        return await self._vectors(texts, backlog=True)

    async def _vectors(self, texts: Sequence[str], *, backlog: bool) -> Vectors:
        if not texts:
            return await self._inner.embed([])
        rows: dict[str, Vectors] = {}
        jobs: dict[int, _Embedding] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            vector = self._kept.get(text)
            if vector is not None:
                self._kept.move_to_end(text)
                rows[text] = vector
            elif (job := self._pending.get(text)) is not None:
                jobs[id(job)] = job
            else:
                missing.append(text)
        computed = (
            asyncio.ensure_future(self._backlog_way(missing)) if backlog and missing else None
        )
        if missing and not backlog:
            job = self._start(missing, owned=False)
            jobs[id(job)] = job
        for job in jobs.values():
            job.waiters += 1
        try:
            for job in jobs.values():
                assert job.task is not None
                vectors = await asyncio.shield(job.task)
                rows.update(zip(job.texts, vectors, strict=True))
            if computed is not None:
                rows.update(zip(missing, await computed, strict=True))
        finally:
            if computed is not None and not computed.done():
                computed.cancel()
            for job in jobs.values():
                self._leave(job)
        return np.stack([rows[text] for text in texts])

    async def _backlog_way(self, texts: Sequence[str]) -> Vectors:
        if isinstance(self._inner, BacklogEmbedder):
            return await self._inner.embed_backlog(texts)
        return await self._inner.embed(texts)

    def _start(self, texts: list[str], *, owned: bool) -> _Embedding:
        """Embed ``texts`` on the query way; callers wait for them with :meth:`_vectors`."""
        job = _Embedding(texts, owned=owned)
        job.task = asyncio.ensure_future(self._compute(job))
        for text in texts:
            self._pending[text] = job
        return job

    async def _compute(self, job: _Embedding) -> Vectors:
        try:
            vectors = await self._inner.embed(job.texts)
        finally:
            self._forget_pending(job)
        for text, vector in zip(job.texts, vectors, strict=True):
            self._kept[text] = vector.copy()
            self._kept.move_to_end(text)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return vectors

    def _leave(self, job: _Embedding) -> None:
        """One caller stopped waiting for ``job``; the last one cancels it, unless owned."""
        job.waiters -= 1
        if job.waiters == 0 and not job.owned and job.task is not None and not job.task.done():
            self._forget_pending(job)
            job.task.cancel()

    def _forget_pending(self, job: _Embedding) -> None:
        for text in job.texts:
            if self._pending.get(text) is job:
                del self._pending[text]

    async def aclose(self) -> None:
        """Stop prefetching and release the wrapped embedder."""
        for task in list(self._prefetching):
            task.cancel()
        await asyncio.gather(*self._prefetching, return_exceptions=True)
        await self._inner.aclose()
