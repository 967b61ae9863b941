"""Soak: channels flooded through the real Telegram adapter while the backend misbehaves.

botkit runs as its own process (``botkit run``) with the Telegram adapter talking to a fake
Telegram Bot API on loopback (tests/support/telegram_server.py) and an OpenAI-compatible
backend on loopback that fails on purpose (tests/support/openai_server.py): server errors,
429 with Retry-After, hangs, 200 KB replies in 1 KB pieces, garbage, slow answers. Members
flood ``--channels`` chats with ``--messages`` messages each, spoken to Mira or Bram, while
one more chat talks calmly (a message a second) and is always answered by a healthy
backend. Half-way through the flood the botkit process is killed with SIGKILL and started
again. Memory (embedded Chroma, the bundled MiniLM encoder) is on unless ``--no-memory``.

    python bench/soak.py --channels 4 --messages 150

Reported, from what the fake platform received and what botkit's SQLite holds:
*accepted* (messages the platform delivered), *kept* (of those, stored by botkit),
*lost* (delivered but not stored), *finished* (handled: answered on their own or within a
burst), *replied* (got a reply of their own), *duplicated* (a character answered the same
message twice), *max waiting* (messages stored but not yet handled, sampled every 0.2 s),
peak RSS of each botkit process, and the calm chat's reply time (from the message to the
first reply) p50/p99, beside the same chat's figures in a run without the flood.
Writes bench/results/soak.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from overhead import machine  # noqa: E402

from tests.support.apps import until  # noqa: E402
from tests.support.openai_server import (  # noqa: E402
    DONE,
    OpenAIServer,
    Pause,
    ReceivedRequest,
    Reply,
    Stall,
    Step,
    chat_chunk,
    error_reply,
    event,
    sse_reply,
)
from tests.support.telegram_server import SHARED_TOKEN, FakeTelegram, Member  # noqa: E402

CALM_CHAT = -2000
FLOOD_CHATS = -3000
MEMBER = Member(42, "Ann")
CALM_MARK = "calm-question"
RESULTS = ROOT / "bench" / "results" / "soak.md"


@dataclass
class TimedTelegram(FakeTelegram):
    """The fake Bot API, noting when the first answer to each message arrived."""

    first_reply: dict[int, float] = field(default_factory=dict)
    polled: bool = False

    async def _getUpdates(self, token: str, params: dict[str, object]) -> object:
        self.polled = True
        return await super()._getUpdates(token, params)

    async def _sendMessage(self, token: str, params: dict[str, object]) -> object:
        result = await super()._sendMessage(token, params)
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            self.first_reply.setdefault(int(reply["message_id"]), time.monotonic())
        return result


@dataclass
class Faults:
    """Chooses each backend answer: the calm chat is always answered well, a flooded chat
    by a seeded draw over the fault kinds."""

    seed: int
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __call__(self, request: ReceivedRequest) -> Reply:
        body = request.body.decode("utf-8", "replace")
        if CALM_MARK in body:
            self.counts["calm"] += 1
            return sse_reply("Calm ", "and well, ", "thank you.")
        kind = self._random.choices(
            ["ok", "500", "429", "hang", "huge", "garbage", "slow"],
            weights=[45, 15, 10, 5, 10, 5, 10],
        )[0]
        self.counts[kind] += 1
        if kind == "500":
            return error_reply(500, "the model server fell over")
        if kind == "429":
            return error_reply(429, "slow down", headers={"Retry-After": "1"})
        if kind == "hang":
            return Reply(body=[event(chat_chunk("", role="assistant")), Stall()])
        if kind == "huge":
            piece = "word " * 200
            steps: list[Step] = [event(chat_chunk("", role="assistant"))]
            steps += [event(chat_chunk(piece)) for _ in range(200)]
            return Reply(body=[*steps, event(chat_chunk(finish="stop")), DONE])
        if kind == "garbage":
            return Reply(body=["data: {this is not json\n\n", DONE])
        if kind == "slow":
            reply = sse_reply("Slowly, ", "slowly.")
            return Reply(headers=reply.headers, body=[Pause(0.5), *reply.body])
        return sse_reply("Aye, ", "the harbour is busy today.")


def write_config(
    folder: Path, telegram: TimedTelegram, backend: OpenAIServer, memory: bool
) -> Path:
    """A botkit config for the soak: Telegram on the fake, the faulty backend, Mira and Bram."""
    config = {
        "data_dir": str(folder / "data"),
        "default_backend": "faulty",
        "backends": {
            "faulty": {
                "type": "openai",
                "base_url": backend.base_url,
                "model": "soak",
                "context_window": 4096,
                "read_timeout": 3,
                "total_timeout": 10,
                "max_retries": 1,
            }
        },
        "conversation": {"cast": ["mira", "bram"], "max_hops": 1},
        "memory": {"enabled": memory},
        "adapters": {
            "telegram": {"token": SHARED_TOKEN, "base_url": telegram.base_url, "poll_timeout": 1}
        },
    }
    path = folder / "botkit.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@dataclass
class Bot:
    """The botkit process under test, and the peak memory of each process it ran as."""

    config: Path
    peaks_mb: list[float] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None

    def _log(self) -> int:
        """A file descriptor appending to botkit.log beside the config (the child keeps it)."""
        return os.open(self.config.parent / "botkit.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    async def start(self) -> None:
        """Start ``botkit run`` on the config."""
        log = self._log()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "botkit",
                "run",
                "--config",
                str(self.config),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        finally:
            os.close(log)
        self.peaks_mb.append(0.0)

    def sample(self) -> None:
        """Note the process's resident memory."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                    self.peaks_mb[-1] = max(self.peaks_mb[-1], rss)

    async def kill(self) -> None:
        """SIGKILL, as a crash or an OOM killer would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """Stop as an operator would (SIGTERM), or kill it if it does not stop."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            await self.kill()


def unfinished(database: Path) -> int | None:
    """Messages botkit stored but has not handled yet (None before the store exists)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT count(*) FROM events WHERE status = 'pending'").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0])


def stored_messages(database: Path) -> tuple[set[str], set[str]]:
    """Message ids botkit stored, and those of them it finished handling."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        stored = {row[0] for row in db.execute("SELECT message_id FROM turns WHERE is_bot = 0")}
        finished = {
            row[0]
            for row in db.execute(
                "SELECT t.message_id FROM events e JOIN turns t ON t.seq = e.turn_seq"
                " WHERE e.status = 'done'"
            )
        }
    return stored, finished


async def soak(args: argparse.Namespace, *, flood: bool) -> dict[str, object]:
    """One run; returns its figures."""
    faults = Faults(args.seed)
    telegram = TimedTelegram()
    await telegram.start()
    async with OpenAIServer(responder=faults) as backend:
        with tempfile.TemporaryDirectory(prefix="botkit-soak-") as folder:
            bot = Bot(write_config(Path(folder), telegram, backend, not args.no_memory))
            database = Path(folder) / "data" / "botkit.sqlite3"
            await bot.start()
            await ready(telegram, database)
            figures = await drive(args, telegram, bot, database, flood=flood)
            await bot.stop()
            stored, finished = stored_messages(database)
    await telegram.close()
    accepted = figures.pop("accepted")
    assert isinstance(accepted, dict)
    pushed = {str(message_id) for message_id in accepted}
    replies = Counter(
        (sent.chat_id, sent.reply_to, sent.text.split(":", 1)[0])
        for sent in telegram.sent
        if sent.reply_to is not None
    )
    figures.update(
        accepted=len(pushed),
        kept=len(pushed & stored),
        lost=len(pushed - stored),
        finished=len(pushed & finished),
        replied=len({str(reply_to) for _, reply_to, _ in replies} & pushed),
        duplicated=sum(count - 1 for count in replies.values() if count > 1),
        rss_mb=bot.peaks_mb,
        faults=dict(faults.counts),
    )
    return figures


async def drive(
    args: argparse.Namespace, telegram: TimedTelegram, bot: Bot, database: Path, *, flood: bool
) -> dict[str, object]:
    """Send the flood and the calm chat's messages, kill and restart half-way, and wait."""
    accepted: dict[int, float] = {}
    calm: dict[int, float] = {}
    deepest = 0
    stop_sampling = asyncio.Event()

    async def sampler() -> None:
        nonlocal deepest
        while not stop_sampling.is_set():
            bot.sample()
            deepest = max(deepest, unfinished(database) or 0)
            await asyncio.sleep(0.2)

    async def calm_chat(count: int) -> None:
        for n in range(count):
            update = telegram.push_message(
                CALM_CHAT, MEMBER, f"Mira, {CALM_MARK} {n}: how is the lighthouse?"
            )
            message_id = update["message"]["message_id"]
            accepted[message_id] = calm[message_id] = time.monotonic()
            await asyncio.sleep(1.0)

    async def flooding() -> None:
        total = args.channels * args.messages
        for n in range(total):
            chat = FLOOD_CHATS - n % args.channels
            name = "Mira" if n % 3 else "Bram"
            update = telegram.push_message(chat, MEMBER, f"{name}, flood {n}: what news?")
            accepted[update["message"]["message_id"]] = time.monotonic()
            if n == total // 2:
                await bot.kill()
                await bot.start()
            await asyncio.sleep(1.0 / args.rate)

    sampling = asyncio.create_task(sampler())
    calm_count = max(10, round(args.channels * args.messages / args.rate)) if flood else 20
    await asyncio.gather(calm_chat(calm_count), *([flooding()] if flood else []))
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        if unfinished(database) == 0 and all_calm_answered(telegram, calm):
            break
        await asyncio.sleep(0.5)
    stop_sampling.set()
    await sampling
    return {
        "accepted": accepted,
        "max_waiting": deepest,
        "calm_ms": calm_latencies(telegram, calm),
        "drained": unfinished(database) == 0,
    }


async def ready(telegram: TimedTelegram, database: Path) -> None:
    """Wait until botkit has opened its store and polls the platform for updates."""
    await until(lambda: unfinished(database) is not None and telegram.polled, timeout=120)


def all_calm_answered(telegram: TimedTelegram, calm: dict[int, float]) -> bool:
    """Whether every calm message has a reply."""
    return all(message_id in telegram.first_reply for message_id in calm)


def calm_latencies(telegram: TimedTelegram, calm: dict[int, float]) -> list[float]:
    """Milliseconds from each calm message to its first reply (unanswered ones left out)."""
    return [
        (telegram.first_reply[m] - sent) * 1000
        for m, sent in calm.items()
        if m in telegram.first_reply
    ]


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    """Run the calm baseline, then the flood with faults and a kill; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--messages", type=int, default=150, help="per flooded channel")
    parser.add_argument("--rate", type=float, default=20.0, help="flood messages a second")
    parser.add_argument("--drain", type=float, default=600.0, help="seconds to wait at the end")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    runs = {}
    for name, flood in (("calm chat alone", False), ("flood, faults and a kill", True)):
        print(f"soak: {name} ...", file=sys.stderr)
        runs[name] = asyncio.run(soak(args, flood=flood))
        print(json.dumps(runs[name], default=str)[:400], file=sys.stderr)
    write(args, runs)


def write(args: argparse.Namespace, runs: dict[str, dict[str, object]]) -> None:
    """bench/results/soak.md from the runs' figures."""
    command = " ".join(["python bench/soak.py", *sys.argv[1:]])
    rows = []
    for name, f in runs.items():
        calm = f["calm_ms"]
        assert isinstance(calm, list)
        rss = f["rss_mb"]
        assert isinstance(rss, list)
        rows.append(
            f"| {name} | {f['accepted']} | {f['kept']} | {f['lost']} | {f['finished']} | "
            f"{f['replied']} | {f['duplicated']} | {f['max_waiting']} | "
            f"{' / '.join(f'{r:.0f}' for r in rss)} | {statistics.median(calm):.0f} | "
            f"{percentile(calm, 0.99):.0f} | {'yes' if f['drained'] else 'no'} |"
            if calm
            else f"| {name} | {f['accepted']} | … | no calm replies |"
        )
    flood = runs["flood, faults and a kill"]
    columns = [
        "run",
        "accepted",
        "kept",
        "lost",
        "finished",
        "replied",
        "duplicated",
        "max waiting",
        "peak RSS MB (per process)",
        "calm p50 ms",
        "calm p99 ms",
        "drained",
    ]
    header = "| " + " | ".join(columns) + " |"
    text = f"""# Soak (bench/soak.py)

Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`.

{args.channels} chats flooded with {args.messages} messages each at {args.rate:g} messages a
second in all, through the real Telegram adapter and a fake Bot API on loopback; botkit
killed with SIGKILL half-way through the flood and started again. One more chat asks Mira
a question every second and its backend answers are always healthy. Memory is
{"off" if args.no_memory else "on (embedded Chroma, bundled MiniLM encoder)"}. Backend
answers to the flooded chats (seeded draw): {flood["faults"]}.

{header}
|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|
{chr(10).join(rows)}

*accepted*: messages the platform delivered; *kept*: stored by botkit; *lost*: delivered
but not stored; *finished*: handled, on their own or answered within a burst (a message
with three or more newer ones waiting is answered together with them); *replied*: got a
reply of their own; *duplicated*: a character answered the same message more than once;
*max waiting*: messages stored but not yet handled; *calm*: the calm chat's time from a
message to its first reply; *drained*: every message handled before the end of the run.
"""
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
