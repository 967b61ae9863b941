"""MiniLM encoder and memory indexing speed, before and after: bench/results/encoder.md.

    python bench/encoder_speed.py [--baseline 7a940ed] [--turns 6000] [--no-baseline-index]

Encoder: 512 generated chat lines of 10-40 words are encoded by the encoder of the
baseline commit (its botkit/ is read with ``git archive``) and by the current one, alone
on one calling thread; the current one also through the path indexing takes
(``LocalEmbedder.embed_backlog``, one thread per CPU; the baseline's is timed end to end
below). Each figure is the best of three runs. Also the time to embed one query
sentence, and the largest difference between the two encoders' vectors.

Indexing end to end: turns are stored as the router stores members' messages, and the
memory service's write-behind remembers and indexes them (embedded Chroma); the time runs
from the first turn stored until ``flush()`` returns, as ``botkit eval memory`` counts
it. On bench/data/memory-dev.json (416 turns) and on a generated set of ``--turns`` chat
turns, each in a fresh process, with the baseline's botkit and with the current one.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from overhead import machine

HERE = Path(__file__).parent
REPO = HERE.parent
DEV_SET = HERE / "data" / "memory-dev.json"
BASELINE = "7a940ed"
"""The last commit with the first numpy encoder and write-behind."""

NAMES = ["Ann", "Bram", "Mira", "Tomas", "Wren", "Edvin", "Hessa", "Jules", "Kai", "Priya"]
NAMES += ["Sven", "Lena", "Omar", "Rosa", "Yuki", "Dmitri", "Aiyana", "Chidi", "Marta", "Nils"]
PLACES = ["the harbour", "the old mill", "Saltmarsh", "the lighthouse", "the market"]
PLACES += ["the north pass", "the bakery", "the station", "the library", "the gym", "Lisbon"]
PLACES += ["the lake house", "the office", "my aunt's farm", "the night market", "Kyoto"]
PLACES += ["the climbing wall", "the vet", "the ferry", "the museum", "the new cafe"]
THINGS = ["a blue scarf", "the map", "my bike", "a lemon cake", "the spare keys"]
THINGS += ["a new guitar", "the ferry tickets", "my grandmother's ring", "old letters"]
THINGS += ["the lantern", "two kittens", "a cracked phone", "the wedding photos"]
THINGS += ["a box of tools", "a sourdough starter", "concert tickets", "the red kayak"]
TIMES = ["yesterday", "last week", "on Tuesday", "tomorrow morning", "next spring"]
TIMES += ["three years ago", "tonight", "after the storm", "on my birthday", "last summer"]
TIMES += ["in March", "at dawn", "before the exams", "over the holidays", "on Friday night"]
FEELINGS = ["tired", "excited", "nervous", "thrilled", "a bit lost", "so proud", "annoyed"]
FEELINGS += ["relieved", "homesick", "curious", "overwhelmed", "hopeful"]
ACTIVITIES = ["painting the fence", "learning to sail", "training for a marathon"]
ACTIVITIES += ["baking bread", "fixing the roof", "reading about dragons", "planning a trip"]
ACTIVITIES += ["volunteering at the shelter", "writing a novel", "studying for exams"]
ACTIVITIES += ["learning Portuguese", "restoring an old boat", "looking for a new flat"]
REACTIONS = ["ok", "lol", "yes", "no way!", "haha true", "sure", "thanks!", "brb", "same"]
REACTIONS += ["good night", "really?", "wow", "omg 😂", "see you then", "sounds good 👍"]
TEMPLATES = [
    "I went to {place} {time} and found {thing}.",
    "Did you ever get {thing} back from {name}?",
    "{name} said we should meet at {place} {time}.",
    "Honestly I'm {feeling} about {activity}, it has taken most of my evenings.",
    "Remember when {name} lost {thing} at {place}? That was {time}.",
    "I've been {activity} since {time}, and I'm {feeling} about how it is going so far.",
    "Can you bring {thing} when you come to {place}?",
    "My sister is moving to {place} {time}, so I'll be {feeling} for a while.",
    "We finally finished {activity} {time}! {name} helped a lot.",
    "Not sure, maybe ask {name}? They were at {place} {time}.",
    "{name} keeps talking about {activity}, I think they're {feeling}.",
    "The weather at {place} was awful {time}, we stayed inside and played cards all day.",
    "I'm thinking of {activity} again; last time at {place} I was {feeling}.",
    "Where did you put {thing}? {name} needs it {time}.",
    "Funny story: {time} I bumped into {name} at {place} and we ended up {activity}.",
    "I bought {thing} {time} for {name}'s birthday, hope they like it.",
    "Is {place} still open {time}? I want to show {name} {thing}.",
    "No idea why, but {name} gave me {thing} {time}.",
]


def sentence(rng: random.Random) -> str:
    """One generated chat sentence about people, places, things and plans."""
    return rng.choice(TEMPLATES).format(
        name=rng.choice(NAMES),
        place=rng.choice(PLACES),
        thing=rng.choice(THINGS),
        time=rng.choice(TIMES),
        feeling=rng.choice(FEELINGS),
        activity=rng.choice(ACTIVITIES),
    )


def chat_turn(rng: random.Random) -> str:
    """A chat message as people write them: a reaction, one sentence, or a few."""
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(REACTIONS)
    if roll < 0.75:
        return sentence(rng)
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 3)))


def chat_lines(count: int, seed: int = 7) -> list[str]:
    """``count`` generated chat lines of 10 to 40 words each."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = rng.randint(10, 40)
        text = sentence(rng)
        while len(text.split()) < words:
            text += " " + sentence(rng)
        lines.append(" ".join(text.split()[:words]))
    return lines


def chat_conversations(turns: int, *, per_conversation: int = 600, seed: int = 3) -> list[Any]:
    """Generated turns as ``[conversation, speaker, text, ISO time]`` rows."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        [
            f"c{n // per_conversation}",
            rng.choice(NAMES),
            chat_turn(rng),
            str(start + timedelta(minutes=3 * n)),
        ]
        for n in range(turns)
    ]


def dev_set_turns() -> list[Any]:
    """bench/data/memory-dev.json's turns as ``[conversation, speaker, text, time]`` rows."""
    data = json.loads(DEV_SET.read_text(encoding="utf-8"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        [c["id"], t["speaker"], t["text"], t.get("time") or str(start + timedelta(minutes=i))]
        for c in data["conversations"]
        for i, t in enumerate(c["turns"])
    ]


def best_rate(work: Callable[[], object], count: int, runs: int = 3) -> float:
    """The best of ``runs`` rates (items per second) of ``work`` over ``count`` items."""
    work()
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


def median_ms(work: Callable[[], object], runs: int = 50) -> float:
    """The median time of ``work`` in milliseconds."""
    work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def sgemm_rate() -> float:
    """GFLOP/s of one float32 product of the encoder's largest shape, on one thread.

    The encoder spends most of its time in such products, so this says how fast the
    machine was during the run (it varies by a fifth between runs on a shared machine).
    """
    rng = np.random.default_rng(0)
    tokens = rng.random((1024, 384), dtype=np.float32)
    weights = rng.random((384, 1536), dtype=np.float32)
    return 2 * 1024 * 384 * 1536 / 1e9 * best_rate(lambda: tokens @ weights, 1, runs=20)


def load_module(path: Path, name: str) -> ModuleType:
    """Import the Python file at ``path`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def extract_baseline(revision: str, into: Path) -> Path:
    """The baseline commit's botkit/ package, unpacked under ``into`` (git archive)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "botkit"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure_encoders(baseline: Path) -> dict[str, float]:
    """Sentences/s and query latency of the baseline and the current encoder."""
    from botkit.memory.embeddings import LocalEmbedder
    from botkit.memory.minilm import MiniLMEncoder

    lines = chat_lines(512)
    old = load_module(baseline / "botkit" / "memory" / "minilm.py", "baseline_minilm")
    before = old.MiniLMEncoder()
    figures = {
        "before_encoder": best_rate(lambda: before.encode(lines), len(lines)),
        "before_query_ms": median_ms(lambda: before.encode(["Where did Ann put the map?"])),
    }
    reference = before.encode(lines)
    print(f"before: {figures['before_encoder']:.0f} sentences/s", file=sys.stderr)

    limit = getattr(old, "limit_blas_threads", None)
    if limit is not None:
        limit(1)
    figures["sgemm"] = sgemm_rate()
    after = MiniLMEncoder()
    figures["after_encoder"] = best_rate(lambda: after.encode(lines), len(lines))
    figures["after_query_ms"] = median_ms(lambda: after.encode(["Where did Ann put the map?"]))
    figures["max_difference"] = float(np.abs(after.encode(lines) - reference).max())

    async def indexing() -> float:
        embedder = LocalEmbedder(encoder=after)
        loop = asyncio.get_running_loop()
        rates = []
        for _ in range(4):
            started = loop.time()
            await embedder.embed_backlog(lines)
            rates.append(len(lines) / (loop.time() - started))
        await embedder.aclose()
        return max(rates[1:])

    figures["after_indexing"] = asyncio.run(indexing())
    print(f"after: {figures['after_indexing']:.0f} sentences/s", file=sys.stderr)
    return figures


async def index_turns(rows: Sequence[Any]) -> dict[str, float]:
    """Store ``rows`` as members' messages and time them until the memory has indexed all."""
    from botkit.config import parse_config
    from botkit.events import Author, ChannelKey, MessageEvent
    from botkit.memory.factory import open_memory
    from botkit.store import Store

    async def cast(_channel: ChannelKey) -> list[str]:
        return ["reader"]

    with tempfile.TemporaryDirectory(prefix="botkit-bench-") as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        memory = await open_memory(
            parse_config({}).memory, data_dir=Path(folder), store=store, cast_of=cast
        )
        await memory.start()
        started, cpu = time.perf_counter(), time.process_time()
        for n, (conversation, speaker, text, when) in enumerate(rows):
            await store.record_incoming(
                MessageEvent(
                    event_id=f"e{n}",
                    channel=ChannelKey("bench", conversation, "main"),
                    author=Author(speaker, speaker),
                    text=text,
                    message_id=f"m{n}",
                    time=datetime.fromisoformat(when),
                )
            )
        await memory.flush()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        await memory.aclose()
        await store.close()
    return {"turns": len(rows), "seconds": seconds, "cpu_seconds": cpu}


def run_indexing(rows: Sequence[Any], botkit_root: Path | None) -> dict[str, float]:
    """Time :func:`index_turns` in a fresh process, with the botkit under ``botkit_root``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(rows, handle)
    env = dict(os.environ)
    if botkit_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(botkit_root), env.get("PYTHONPATH", "")])
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--index-worker", handle.name],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    finally:
        os.unlink(handle.name)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{'baseline' if botkit_root else 'current'}: {result['turns']:.0f} turns in "
        f"{result['seconds']:.1f} s",
        file=sys.stderr,
    )
    return result


def describe(rows: Sequence[Any]) -> str:
    """Mean word pieces per indexed text (``Speaker: text``) and how many texts are unique."""
    from tokenizers import Tokenizer

    from botkit.memory.minilm import bundled_model_dir

    tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()
    texts = [f"{speaker}: {text}" for _, speaker, text, _ in rows]
    pieces = statistics.fmean(len(e.ids) for e in tokenizer.encode_batch(texts))
    return f"{pieces:.1f} word pieces a turn, {len(set(texts))} unique"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare with")
    parser.add_argument("--turns", type=int, default=6000, help="generated turns to index")
    parser.add_argument("--no-baseline-index", action="store_true", help="skip slow baselines")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "encoder.md")
    parser.add_argument("--index-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_worker:
        rows = json.loads(args.index_worker.read_text(encoding="utf-8"))
        print(json.dumps(asyncio.run(index_turns(rows))))
        return

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="botkit-baseline-") as folder:
        baseline = extract_baseline(args.baseline, Path(folder))
        encoders = measure_encoders(baseline)
        sets = [
            ("bench/data/memory-dev.json", dev_set_turns()),
            (f"generated chat, {args.turns} turns", chat_conversations(args.turns)),
        ]
        indexing = []
        for title, rows in sets:
            before = None if args.no_baseline_index else run_indexing(rows, baseline)
            indexing.append((title, rows, before, run_indexing(rows, None)))
    load_after = os.getloadavg()[0]

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    encoder_table = "\n".join(
        [
            f"| 512 chat lines (10-40 words) | before ({args.baseline}) | after |",
            "|---|---:|---:|",
            f"| encoder alone, one calling thread (sentences/s) | "
            f"{encoders['before_encoder']:.0f} | {encoders['after_encoder']:.0f} |",
            f"| indexing path, `embed_backlog` on {threads} threads (sentences/s) | – | "
            f"{encoders['after_indexing']:.0f} |",
            f"| one query sentence (ms, median) | {encoders['before_query_ms']:.1f} | "
            f"{encoders['after_query_ms']:.1f} |",
        ]
    )

    def rate(result: dict[str, float] | None) -> str:
        if result is None:
            return "not run"
        per_second = result["turns"] / result["seconds"]
        return f"{per_second:.0f} ({result['seconds']:.1f} s)"

    index_table = "\n".join(
        [
            "| turns | texts | before: turns/s (time) | after: turns/s (time) |",
            "|---|---|---:|---:|",
            *(
                f"| {title} | {describe(rows)} | {rate(before)} | {rate(after)} |"
                for title, rows, before, after in indexing
            ),
        ]
    )
    command = f"python bench/encoder_speed.py --baseline {args.baseline} --turns {args.turns}"
    if args.no_baseline_index:
        command += " --no-baseline-index"
    report = (
        "# MiniLM encoder and memory indexing speed (bench/encoder_speed.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`. "
        f"Load average (1 min) {load_before:.1f} before, {load_after:.1f} after: other "
        "processes on the machine slow every figure down.\n\n"
        "## Encoder\n\n"
        f"{encoder_table}\n\n"
        f"One float32 product of 1024x384 by 384x1536 on one thread ran at "
        f"{encoders['sgemm']:.0f} GFLOP/s during the run; the encoder needs 21.2 MFLOP a "
        "word piece (6 layers of 384x1152, 384x384, 384x1536 and 1536x384 products), so "
        "one core can encode at most that many GFLOP/s / 21.2 MFLOP word pieces a second.\n\n"
        f"Largest difference between the two encoders' vectors: "
        f"{encoders['max_difference']:.1e} (tests/memory/test_minilm_reference.py holds the "
        "encoder to 1e-4 of reference vectors).\n\n"
        "## Indexing end to end\n\n"
        "From the first turn stored (as the router stores members' messages) until the "
        "memory service has remembered and indexed every turn (embedded Chroma), each run "
        "in a fresh process.\n\n"
        f"{index_table}\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
