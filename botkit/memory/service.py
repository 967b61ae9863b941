"""Long-term memory: remembers every turn behind the reply path, recalls within a scope.

Turns are written to SQLite by the store before any reply; this service copies them into
memory records (with their witnesses and importance) and the vector index in the
background, in batches. On start it catches up on whatever a crash left behind; on close
it flushes what is pending.

Indexing never holds up a recall: its texts go to the embedder's background way in
(:class:`BacklogEmbedder`) while a recall's query takes the query way, and the vector
index answers queries on a thread of their own. A human's turn is embedded the moment it
is stored, as the query of the recall its reply will make; the vector is kept
(:class:`VectorCache`) and indexing the turn takes it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from botkit.characters.model import Character
from botkit.events import ChannelKey
from botkit.lore.retrieval import LoreRetriever
from botkit.memory.embeddings import Embedder, EmbeddingError, Vectors
from botkit.memory.importance import importance_of
from botkit.memory.ledger import MemoryLedger, PendingTurn
from botkit.memory.notes import NoteTaker
from botkit.memory.ranking import follow_sources, fuse, rank
from botkit.memory.records import Memory, Recollection, Scope
from botkit.memory.settings import MemorySettings
from botkit.memory.vector_cache import VectorCache
from botkit.memory.vectors import LAYOUT, VectorIndex, VectorIndexError
from botkit.memory.when import time_window
from botkit.store import Store, StoredTurn

__all__ = ["CastLookup", "Forgotten", "MemoryService", "turn_text"]

log = logging.getLogger(__name__)

CastLookup = Callable[[ChannelKey], Awaitable[Sequence[str]]]
"""The ids of the characters present in a channel now."""

REMEMBER_BATCH = 64
"""Stored turns made into memories per transaction: few, since the store's other readers
and writers (replies, recalls) wait while it lasts."""
EMBED_BATCH = 256
"""Memories embedded and written to the vector index (one Chroma call) per round."""
RETRY_SECONDS = (1.0, 5.0, 30.0, 120.0)
QUIET_SECONDS = 2.0
"""Once no turn was stored for this long, the writer remembers, embeds and indexes
whatever waits, :data:`EMBED_BATCH` a round. Embedded Chroma holds Python's GIL while it
writes (about 20 ms a write and 1 ms a vector, on two cores), freezing the event loop
meanwhile; done while the channels are quiet, that costs no reply anything. A turn just
said is still in its channel's prompts, where a recall leaves it out anyway."""
BUSY_SECONDS = 5.0
"""While turns keep coming, the writer remembers, embeds and indexes at most
:data:`BUSY_BATCH` this often (the first such dose this long after the turns began)."""
BUSY_BATCH = 64
"""Turns remembered and memories embedded and indexed in one dose while turns keep
coming (an index write that holds the event loop up for about 80 ms)."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What a forget removed."""

    turns: int
    memories: int


class MemoryService:
    """Remembers turns in the background and recalls the memories that matter now.

    ``lore`` finds characters' retrievable lore entries by meaning with the same embedder.
    """

    def __init__(
        self,
        *,
        store: Store,
        embedder: Embedder,
        vectors: VectorIndex,
        cast_of: CastLookup,
        settings: MemorySettings,
        notes: NoteTaker | None = None,
        owner: str | None = None,
    ) -> None:
        """``owner``: this process's lease owner where several share the store (see
        :class:`MemoryLedger`)."""
        self.settings = settings
        self.ledger = MemoryLedger(store, owner=owner)
        self.vectors = vectors
        self._embedder = VectorCache(embedder)
        self.lore = LoreRetriever(self._embedder)
        self._lore_ahead: asyncio.Task[int] | None = None
        self._cast_of = cast_of
        self._notes = notes
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._last_turn_at = -QUIET_SECONDS
        """The loop time the last turn was stored."""
        self._busy_dose_at = 0.0
        """While turns keep coming: the loop time the next dose of memories may be indexed."""
        self._deferred = False
        """Turns wait to be remembered and indexed until :meth:`_next_dose_at`."""
        self._progress = asyncio.Condition()
        self._requested = 0
        self._completed = 0
        self._task: asyncio.Task[None] | None = None
        self._dense_failing = False
        self._unwritten: tuple[list[Memory], Vectors] | None = None
        """Memories the writer has embedded but not yet put into the index."""
        store.on_turn(self._turn_stored)

    async def start(self) -> int:
        """Check the index matches the embedding model and layout; start writing in the background.

        Returns how many stored turns and memories were waiting to be indexed.
        """
        indexed_as = f"{self._embedder.name}; vector layout {LAYOUT}"
        if await self.ledger.setting("embedder") != indexed_as:
            await self.ledger.mark_all_unembedded()
            await self.ledger.set_setting("embedder", indexed_as)
        waiting = await self.ledger.backlog()
        await self.ledger.load_holdings()
        if self._notes is not None:
            self._notes.saw(await self.ledger.channels())
        self._task = asyncio.create_task(self._run(), name="botkit-memory-writer")
        self._nudge()
        return waiting

    async def observe_with(self, notes: NoteTaker) -> None:
        """Write observations with ``notes`` from now on, first on the sessions stored so far."""
        self._notes = notes
        notes.saw(await self.ledger.channels())
        self.wake()

    def wake(self) -> None:
        """Tell the writer there is something new to remember, to be done at once."""
        self._urgent.set()
        self._nudge()

    def _nudge(self) -> None:
        """Tell the writer there is something new to remember, in its own time."""
        self._requested += 1
        self._wake.set()

    def _turn_stored(self, turn: StoredTurn) -> None:
        """Have the writer remember and index the turn (in its next dose, see :meth:`_dose`);
        start embedding a human's turn for the recall its reply makes (unless its channel
        holds nothing to recall, or the query way is too busy)."""
        self._nudge()
        now = asyncio.get_running_loop().time()
        if now >= self._last_turn_at + QUIET_SECONDS:
            self._busy_dose_at = now + BUSY_SECONDS
        self._last_turn_at = now
        settings = self.settings
        if (
            turn.is_character
            or self._task is None
            or settings.weights.dense <= 0
            or not self.ledger.holds_any(
                Scope.of(turn.channel, character=None, whole_server=settings.share == "server")
            )
        ):
            return
        text = turn_text(turn.speaker_name, turn.text)
        if self._embedder.query_delay(text) * 1000 <= settings.recall_budget_ms:
            self._embedder.prefetch(text)

    def may_find(self, scope: Scope, *, shown_in: ChannelKey, shown_since: datetime) -> bool:
        """Whether a recall in ``scope`` that leaves out the turns of ``shown_in`` said at
        ``shown_since`` or later could find anything; False only when it certainly could
        not (nothing else was ever remembered there), answered without any search."""
        return self.ledger.may_offer(scope, shown_in=shown_in, shown_since=shown_since)

    def expected_delay(self, query: str) -> float:
        """About how many seconds a search by meaning asked now would wait for the vector
        of ``query`` (see :meth:`VectorCache.query_delay`)."""
        return self._embedder.query_delay(query)

    async def flush(self) -> None:
        """Return once everything stored so far is remembered and indexed."""
        self.wake()
        target = self._requested
        async with self._progress:
            await self._progress.wait_for(lambda: self._completed >= target)

    def prepare_lore(self, characters: Iterable[Character]) -> None:
        """Embed the retrievable lore of ``characters`` in the background, so that no
        reply waits for it (replacing a preparation still running)."""
        if self._lore_ahead is not None:
            self._lore_ahead.cancel()
        self._lore_ahead = asyncio.create_task(
            self.lore.prepare(list(characters)), name="botkit-lore-ahead"
        )
        self._lore_ahead.add_done_callback(_report_lore_ahead)

    async def aclose(self) -> None:
        """Flush pending writes (for at most ``flush_seconds``), then stop."""
        if self._lore_ahead is not None:
            self._lore_ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lore_ahead
            self._lore_ahead = None
        if self._task is not None:
            try:
                await asyncio.wait_for(self.flush(), self.settings.flush_seconds)
            except TimeoutError:
                log.warning(
                    "memory: %d turn(s) not indexed yet; they will be at the next start",
                    await self.ledger.backlog(),
                )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._embedder.aclose()
        await self.vectors.aclose()

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._sleep()
            self._wake.clear()
            target = self._requested
            try:
                await self._drain()
            except (EmbeddingError, VectorIndexError) as error:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("memory: %s; retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            except Exception:
                log.exception("memory writer failed; retrying")
                await asyncio.sleep(RETRY_SECONDS[0])
                self._wake.set()
                continue
            failures = 0
            if self._deferred:
                continue
            async with self._progress:
                self._completed = max(self._completed, target)
                self._progress.notify_all()

    async def _sleep(self) -> None:
        """Wait until woken, until memories are due for their vectors, or until a
        channel's session is due to be observed."""
        delays = [self._notes.seconds_until_due() if self._notes is not None else None]
        if self._deferred:
            delays.append(max(0.0, self._next_dose_at() - asyncio.get_running_loop().time()))
        delay = min((d for d in delays if d is not None), default=None)
        if delay is None:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def _drain(self) -> None:
        """Remember and index everything pending, a bounded batch of each per round.

        A round starts embedding a dose of memories (see :meth:`_dose`) and, while the
        embedder works, turns up to a dose of stored turns into memories (in transactions
        of :data:`REMEMBER_BATCH`) and writes the previous round's vectors to the index;
        so the embedder, the busiest part, never waits for the others. The lock is free
        between rounds: a forget waits one round at most.
        """
        urgent = self._urgent.is_set()
        self._urgent.clear()
        try:
            await self._rounds(urgent=urgent)
        except BaseException:
            if urgent:
                self._urgent.set()
            raise

    async def _rounds(self, *, urgent: bool) -> None:
        """The rounds of :meth:`_drain` (``urgent``: a flush asked, nothing waits)."""
        while True:
            dose = self._dose(urgent)
            self._deferred = not dose
            if self._deferred:
                return
            async with self._lock:
                unwritten = self._unwritten
                memories = [] if unwritten is not None else await self.ledger.unembedded(dose)
                embedding = (
                    asyncio.ensure_future(self._embed_backlog([_indexed_text(m) for m in memories]))
                    if memories
                    else None
                )
                try:
                    remembered = 0
                    while remembered < dose:
                        turns = await self.ledger.pending_turns(min(REMEMBER_BATCH, dose))
                        if not turns:
                            break
                        await self._remember(turns)
                        remembered += len(turns)
                    written = await self._write_unwritten(dose)
                except BaseException:
                    if embedding is not None:
                        embedding.cancel()
                        await asyncio.wait([embedding])
                        if not embedding.cancelled():
                            embedding.exception()
                    raise
                if embedding is not None:
                    self._unwritten = (memories, await embedding)
            if remembered or memories or written:
                self._took_dose()
                continue
            if self._notes is not None and await self._notes.take(self.ledger, self._cast_of):
                continue
            return

    def _dose(self, urgent: bool) -> int:
        """How many turns this round may remember, and memories embed and index:
        :data:`EMBED_BATCH` when a flush asks or no turn came for :data:`QUIET_SECONDS`;
        while turns keep coming, :data:`BUSY_BATCH` once every :data:`BUSY_SECONDS`, else
        none (the writer then waits for the next dose)."""
        now = asyncio.get_running_loop().time()
        if urgent or self._urgent.is_set() or now >= self._last_turn_at + QUIET_SECONDS:
            return EMBED_BATCH
        return BUSY_BATCH if now >= self._busy_dose_at else 0

    def _took_dose(self) -> None:
        """A round did some work; while turns keep coming, the next waits :data:`BUSY_SECONDS`."""
        now = asyncio.get_running_loop().time()
        if now < self._last_turn_at + QUIET_SECONDS:
            self._busy_dose_at = now + BUSY_SECONDS

    def _next_dose_at(self) -> float:
        """The loop time the next dose may be taken, if no flush asks sooner."""
        return min(self._last_turn_at + QUIET_SECONDS, self._busy_dose_at)

    async def _write_unwritten(self, most: int) -> int:
        """Put up to ``most`` of the embedded, not yet indexed memories into the index and
        mark them so; returns how many."""
        if self._unwritten is None or most <= 0:
            return 0
        memories, vectors = self._unwritten
        taken, rest = memories[:most], memories[most:]
        await self.vectors.upsert(taken, vectors[: len(taken)])
        await self.ledger.mark_embedded(taken)
        self._unwritten = (rest, vectors[len(taken) :]) if rest else None
        return len(taken)

    def _drop_unwritten(self) -> None:
        """Discard vectors a forget may make stale; their memories stay queued for new ones."""
        self._unwritten = None

    async def _remember(self, turns: Sequence[PendingTurn]) -> None:
        """Make stored turns memories, witnessed by the characters present when each was said."""
        casts: dict[ChannelKey, frozenset[str]] = {}
        items = []
        for turn in turns:
            if turn.channel not in casts:
                casts[turn.channel] = frozenset(await self._cast_of(turn.channel))
            present = casts[turn.channel]
            if turn.is_character:
                present |= {turn.speaker_id}
            items.append((turn, present, importance_of(turn.text)))
        await self.ledger.remember_turns(items)
        if self._notes is not None:
            self._notes.saw(list(casts))

    async def _embed_backlog(self, texts: list[str]) -> Vectors:
        """Vectors for indexing: those kept from queries, the rest by the background way."""
        return await self._embedder.embed_backlog(texts)

    async def _dense(self, query: str, scope: Scope) -> tuple[list[int], set[int]]:
        """The memories nearest ``query`` in meaning (best first), and those similar enough.

        Runs beside the word search: the query is embedded on the embedder's query thread
        and looked up on the index's query thread, so neither waits for the other search
        or for indexing. Without a working embedder or index it finds nothing.
        """
        settings = self.settings
        if settings.weights.dense <= 0 or not query.strip():
            return [], set()
        try:
            vector = await self._embedder.embed([query])
            found = await self.vectors.query(
                vector[0],
                scope,
                settings.candidates,
                inside=lambda ids: self.ledger.inside(ids, scope),
            )
        except (EmbeddingError, VectorIndexError) as error:
            if not self._dense_failing:
                log.warning("memory: recalling by words only: %s", error)
            self._dense_failing = True
            return [], set()
        self._dense_failing = False
        return [i for i, _ in found], {i for i, s in found if s >= settings.min_similarity}

    async def recall(
        self,
        query: str,
        scope: Scope,
        *,
        now: datetime,
        limit: int | None = None,
        exclude: Callable[[Memory], bool] | None = None,
        dense_query: str | None = None,
    ) -> list[Recollection]:
        """The memories inside ``scope`` that matter most for ``query`` now, best first.

        ``dense_query`` replaces ``query`` in the search by meaning (the words and the
        time named are still those of ``query``).
        """
        settings = self.settings
        weights = settings.weights
        wanted = limit or settings.recall
        dense_search = asyncio.ensure_future(
            self._dense(query if dense_query is None else dense_query, scope)
        )
        lexical: list[int] = []
        try:
            if weights.lexical > 0:
                lexical = await self.ledger.search_text(
                    query,
                    scope,
                    settings.candidates,
                    neighbours=weights.neighbours,
                    named_speaker=weights.named_speaker,
                )
            dense, similar = await dense_search
        finally:
            dense_search.cancel()
        keep = similar | set(lexical) if weights.lexical > 0 else set(dense)
        relevance = fuse([(weights.dense, dense), (weights.lexical, lexical)], weights.rrf_k)
        memories = await self.ledger.get((i for i in relevance if i in keep), scope)
        if exclude is not None:
            memories = [m for m in memories if not exclude(m)]
        window = time_window(query, now) if weights.timely > 0 else None
        timely = {m.id for m in memories if window is not None and window.contains(m.time)}
        found = rank(memories, relevance, now=now, weights=weights, timely=timely)
        return await self._follow_sources(found, scope, exclude, wanted)

    async def _follow_sources(
        self,
        found: Sequence[Recollection],
        scope: Scope,
        exclude: Callable[[Memory], bool] | None,
        limit: int,
    ) -> list[Recollection]:
        """The first ``limit`` of ``found``, each observation among them followed by the
        turns it was drawn from that the recall may show (see :func:`follow_sources`)."""
        notes = [r.memory.id for r in found[:limit] if r.memory.kind == "note"]
        sources = await self.ledger.sources_of(notes)
        if not sources:
            return list(found[:limit])
        linked = await self.ledger.get((i for ids in sources.values() for i in ids), scope)
        shown = {m.id: m for m in linked if exclude is None or not exclude(m)}
        return follow_sources(found, sources, shown, limit)

    async def forget_channel(self, channel: ChannelKey) -> Forgotten:
        """Delete everything said in ``channel``, and the notes drawn from it."""
        async with self._lock:
            self._drop_unwritten()
            turns, ids = await self.ledger.forget_turns("t.channel = ?", (str(channel),))
            scope = Scope(channel.platform, channel.server, channel)
            ids += await self.ledger.forget_notes(scope)
            await self.vectors.delete(ids, channel)
        return Forgotten(turns, len(ids))

    async def forget_author(self, channel: ChannelKey, author_id: str) -> Forgotten:
        """Delete everything ``author_id`` said anywhere on ``channel``'s server."""
        async with self._lock:
            self._drop_unwritten()
            turns, ids = await self.ledger.forget_turns(
                "t.platform = ? AND t.server = ? AND t.speaker_id = ? AND t.is_character = 0",
                (channel.platform, channel.server, author_id),
            )
            await self.vectors.delete(ids, channel)
        return Forgotten(turns, len(ids))

    async def forget_memory(self, channel: ChannelKey, memory_id: int) -> Forgotten:
        """Delete one memory of ``channel``'s server: a line (the turn it remembers, so it
        is not remembered again) or a note."""
        async with self._lock:
            self._drop_unwritten()
            turns, ids = await self.ledger.forget_turns(
                "t.platform = ? AND t.server = ? AND t.seq ="
                " (SELECT m.turn_seq FROM memories m WHERE m.id = ?)",
                (channel.platform, channel.server, memory_id),
            )
            ids += await self.ledger.forget_notes(
                Scope(channel.platform, channel.server), [memory_id]
            )
            await self.vectors.delete(ids, channel)
        return Forgotten(turns, len(ids))

    async def forget_character(self, channel: ChannelKey, character_id: str) -> Forgotten:
        """Make ``character_id`` forget everything it witnessed in ``channel``."""
        async with self._lock:
            self._drop_unwritten()
            scope = Scope(channel.platform, channel.server, channel, character_id)
            ids = await self.ledger.unwitness(scope)
            kept = {
                m.id for m in await self.ledger.get(ids, Scope(channel.platform, channel.server))
            }
            await self.vectors.delete([i for i in ids if i not in kept], channel)
            await self.vectors.unwitness(sorted(kept), channel, character_id)
        return Forgotten(0, len(ids))


def turn_text(speaker_name: str, text: str) -> str:
    """What a turn memory's vector is made from: the line with its speaker, as people
    recall it."""
    return f"{speaker_name}: {text}"


def _indexed_text(memory: Memory) -> str:
    """What a memory's vector is made from (a note's is its text)."""
    return memory.text if memory.kind == "note" else turn_text(memory.speaker_name, memory.text)


def _report_lore_ahead(task: asyncio.Task[int]) -> None:
    """Log how embedding lore ahead ended (it never stops anything else)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.warning("memory: lore not embedded ahead: %s", error)
    elif task.result():
        log.debug("memory: embedded %d lore entries ahead", task.result())
