"""Recall latency with 100,000 memories in one server: bench/results/memory_scale.md.

    python bench/memory_scale.py [--memories 100000] [--queries 200] [--cache DIR]

Builds one server's memory the way the bot does: generated chat turns (people, places,
things and plans across 10 channels, 8 characters, a year of time) are stored as the
router stores members' messages, and the memory service's write-behind remembers and
indexes them (all-MiniLM-L6-v2, embedded Chroma, SQLite FTS5), nothing written around it.
Then ``--queries`` recalls go through ``MemoryService.recall`` as the prompt's memory
provider calls it (the last two turns as the query, a character's own scope), once with
``share: channel`` (the default) and once with ``share: server``; p50/p99 of each, and
of the parts inside a recall. Last, the same recalls while the writer indexes a new
backlog of 6,000 turns.

The encoder's vectors of the generated turns are cached in ``--cache`` (under /tmp by
default) and reused by the next run with the same turns and model, so only the first run
waits for the encoder to embed them all (a few hundred turns a second on two cores); the
rest of the build is the write-behind's own work. The recalls' queries and the last row's
backlog are always embedded for real.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from encoder_speed import NAMES, chat_turn
from overhead import machine, percentile

from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.memory.embeddings import BacklogEmbedder, Embedder, Vectors
from botkit.memory.factory import build_embedder, open_memory
from botkit.memory.records import Scope
from botkit.memory.service import MemoryService
from botkit.store import Store

HERE = Path(__file__).parent
SERVER = "guild"
CHANNELS = [ChannelKey("bench", SERVER, f"room-{n}") for n in range(10)]
CHARACTERS = ["mira", "bram", "wren", "tom", "ysolde", "aldric", "hessa", "kit"]
CASTS = {
    channel: random.Random(n).sample(CHARACTERS, 3 + n % 2) for n, channel in enumerate(CHANNELS)
}
START = datetime(2025, 1, 1, tzinfo=UTC)
BACKLOG = 6000


async def cast_of(channel: ChannelKey) -> list[str]:
    """The characters present in ``channel`` (fixed for the run)."""
    return CASTS.get(channel, [])


async def store_turns(store: Store, first: int, count: int, rng: random.Random) -> None:
    """Store ``count`` generated members' messages, numbered from ``first``."""
    for n in range(first, first + count):
        speaker = rng.choice(NAMES)
        await store.record_incoming(
            MessageEvent(
                event_id=f"e{n}",
                channel=rng.choice(CHANNELS),
                author=Author(speaker.lower(), speaker),
                text=chat_turn(rng),
                message_id=f"m{n}",
                time=START + timedelta(minutes=5 * n),
            )
        )


class CachedEmbedder:
    """The bench's embedder: queries go to the real one, indexing may reuse cached vectors.

    While :attr:`cached` is set, :meth:`embed_backlog` looks each text up in the cache
    read from ``path`` and embeds only the texts it lacks; :meth:`save` writes them back.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.name = inner.name
        self.inner = inner
        self.cached = True
        self._path = path
        self._known: dict[str, Vectors] = {}
        self._new = 0
        if path.exists():
            with np.load(path) as saved:
                self._known = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """The real embedder's vectors (the query path)."""
        return await self.inner.embed(texts)

    async def embed_backlog(self, texts: Sequence[str]) -> Vectors:
        """Cached vectors while :attr:`cached`, else the real embedder's background way in."""
        if not self.cached:
            return await self._backlog(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in self._known]
        if missing:
            self._known.update(zip(missing, await self._backlog(missing), strict=True))
            self._new += len(missing)
        return np.stack([self._known[text] for text in texts])

    async def _backlog(self, texts: Sequence[str]) -> Vectors:
        if isinstance(self.inner, BacklogEmbedder):
            return await self.inner.embed_backlog(texts)
        return await self.inner.embed(texts)

    def save(self) -> int:
        """Write the cache back if texts it lacked were embedded; returns how many were."""
        new, self._new = self._new, 0
        if new:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self._known)
            vectors = np.stack([self._known[text] for text in texts])
            np.savez(self._path, texts=np.array(texts), vectors=vectors)
        return new

    async def aclose(self) -> None:
        """Close the real embedder."""
        await self.inner.aclose()


def cache_path(folder: Path, model: str, memories: int) -> Path:
    """The cache file of ``model``'s vectors of ``memories`` generated turns.

    Vectors are looked up by their text, so a cache of other turns only costs misses.
    """
    slug = hashlib.sha1(model.encode()).hexdigest()[:12]
    return folder / f"vectors-{slug}-{memories}.npz"


class Timings:
    """Wall time of the calls a recall makes, gathered by wrapping them on the instances."""

    def __init__(self, memory: MemoryService, embedder: Embedder) -> None:
        self.parts: dict[str, list[float]] = {}
        self._wrap(embedder, "embed", "embed the query")
        self._wrap(memory.vectors, "query", "vector query (Chroma and the scope check)")
        self._wrap(memory.ledger, "inside", "scope check in SQLite")
        self._wrap(memory.ledger, "search_text", "FTS5 search")
        self._wrap(memory.ledger, "get", "read memories")

    def _wrap(self, owner: Any, method: str, label: str) -> None:
        inner: Callable[..., Awaitable[Any]] = getattr(owner, method)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                self.parts.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        setattr(owner, method, timed)

    def clear(self) -> None:
        """Forget the calls timed so far."""
        self.parts = {}


async def ask(
    memory: MemoryService, queries: list[tuple[str, Scope]], now: datetime
) -> list[float]:
    """Each query's recall time in milliseconds."""
    times = []
    for query, scope in queries:
        started = time.perf_counter()
        await memory.recall(query, scope, now=now)
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    """p50 / p99 / max of ``times`` (ms) as table cells."""
    return f"{percentile(times, 0.5):.1f} | {percentile(times, 0.99):.1f} | {max(times):.1f}"


async def run(args: argparse.Namespace, folder: Path) -> str:
    """Build (or reopen) the store, ask the queries and return the results as markdown."""
    settings = parse_config({}).memory
    rng = random.Random(11)
    lines = []
    async with AsyncExitStack() as stack:
        store = await Store.open(folder / "scale.sqlite3")
        stack.push_async_callback(store.close)
        real = build_embedder(settings)
        embedder = CachedEmbedder(real, cache_path(args.cache, real.name, args.memories))
        memory = await open_memory(
            settings, data_dir=folder, store=store, cast_of=cast_of, embedder=embedder
        )
        stack.push_async_callback(memory.aclose)
        await memory.start()
        print(f"storing and indexing {args.memories} turns …", file=sys.stderr)
        started = time.perf_counter()
        await store_turns(store, 0, args.memories, random.Random(0))
        await memory.flush()
        seconds = time.perf_counter() - started
        embedded = embedder.save()
        embedder.cached = False
        lines.append(
            f"Built: {args.memories} turns stored, remembered and indexed by the service's "
            f"write-behind in {seconds:.0f} s; the encoder embedded {embedded} of them in "
            "this run, the others' vectors came from the cache."
        )
        total = int((await store.fetch_one("SELECT count(*) FROM memories"))[0])
        timings = Timings(memory, real)
        now = START + timedelta(minutes=5 * args.memories + 60)
        rows = []
        asked: dict[str, list[tuple[str, Scope]]] = {}
        for share in ("channel", "server"):
            queries = []
            for _ in range(args.queries):
                channel = rng.choice(CHANNELS)
                character = rng.choice(CASTS[channel])
                query = chat_turn(rng) + "\n" + chat_turn(rng)
                queries.append(
                    (query, Scope.of(channel, character=character, whole_server=share == "server"))
                )
            asked[share] = queries
            await ask(memory, queries[:10], now)
            timings.clear()
            times = await ask(memory, queries, now)
            rows.append(f"| share: {share}, idle | recall | {summary(times)} |")
            rows.extend(
                f"| | {label} | {summary(values)} |" for label, values in timings.parts.items()
            )
        first = int((await store.fetch_one("SELECT count(*) FROM turns"))[0])
        backlog_rng = random.Random(first)
        await store_turns(store, first, BACKLOG // 4, backlog_rng)
        writing = asyncio.create_task(
            store_turns(store, first + BACKLOG // 4, BACKLOG - BACKLOG // 4, backlog_rng)
        )
        timings.clear()
        times = await ask(memory, asked["channel"], now)
        waiting = await memory.ledger.backlog()
        rows.append(f"| share: channel, while indexing | recall | {summary(times)} |")
        rows.extend(f"| | {label} | {summary(values)} |" for label, values in timings.parts.items())
        await writing
        await memory.flush()
    lines.append(
        f"{total} memories in one server ({len(CHANNELS)} channels, {len(CHARACTERS)} "
        f"characters, 3-4 present in each channel); {args.queries} recalls per row, each "
        "as a character present in a random channel, the query being two generated chat "
        "turns (as the prompt's memory provider asks with the last two turns). "
        "Times in ms. The last row's recalls ran while the writer indexed a backlog of "
        f"{BACKLOG} new turns ({waiting} still waiting when they ended)."
    )
    table = "\n".join(["| scope | part | p50 | p99 | max |", "|---|---|---:|---:|---:|", *rows])
    return "\n\n".join(lines) + "\n\n" + table + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "botkit-memory-scale",
        help="folder keeping the encoder's vectors of the generated turns between runs",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory_scale.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="botkit-scale-") as folder:
        body = asyncio.run(run(args, Path(folder)))
    command = f"python bench/memory_scale.py --memories {args.memories} --queries {args.queries}"
    report = (
        "# Memory recall at scale (bench/memory_scale.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`. "
        f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        "the end.\n\n" + body
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
