"""Recall latency with 100,000 memories in one server: bench/results/memory_scale.md.

    python bench/memory_scale.py [--memories 100000] [--queries 200] [--keep DIR]

Builds one server's memory the way the bot does: generated chat turns (people, places,
things and plans across 10 channels, 8 characters, a year of time) are stored as the
router stores members' messages, and the memory service's write-behind remembers and
indexes them (all-MiniLM-L6-v2, embedded Chroma, SQLite FTS5), nothing written around it.
Then ``--queries`` recalls go through ``MemoryService.recall`` as the prompt's memory
provider calls it (the last two turns as the query, a character's own scope), once with
``share: channel`` (the default) and once with ``share: server``; p50/p99 of each, and
of the parts inside a recall. Last, the same recalls while the writer indexes a new
backlog of 2,000 turns.

``--keep DIR`` keeps the built store in DIR and reuses it on the next run (the build
takes a while: indexing runs at a few hundred turns a second on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from encoder_speed import NAMES, chat_turn
from overhead import machine, percentile

from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.memory.embeddings import Embedder
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
BACKLOG = 2000


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


class Timings:
    """Wall time of the calls a recall makes, gathered by wrapping them on the instances."""

    def __init__(self, memory: MemoryService, embedder: Embedder) -> None:
        self.parts: dict[str, list[float]] = {}
        self._wrap(embedder, "embed", "embed the query")
        self._wrap(memory.vectors, "query", "Chroma query")
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
        embedder = build_embedder(settings)
        memory = await open_memory(
            settings, data_dir=folder, store=store, cast_of=cast_of, embedder=embedder
        )
        stack.push_async_callback(memory.aclose)
        await memory.start()
        have = int((await store.fetch_one("SELECT count(*) FROM turns"))[0])
        if have < args.memories:
            print(f"storing and indexing {args.memories - have} turns …", file=sys.stderr)
            started = time.perf_counter()
            await store_turns(store, have, args.memories - have, random.Random(have))
            await memory.flush()
            seconds = time.perf_counter() - started
            lines.append(
                f"Built in this run: {args.memories - have} turns stored and indexed in "
                f"{seconds:.0f} s ({(args.memories - have) / seconds:.0f} turns/s, the "
                "service's write-behind)."
            )
        total = int((await store.fetch_one("SELECT count(*) FROM memories"))[0])
        timings = Timings(memory, embedder)
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
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the store in")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory_scale.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        body = asyncio.run(run(args, args.keep))
    else:
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
