"""Reply latency with the embedded model: a scripted group chat, per reply.

Runs a 10-message group chat (one person, the default pack's four characters, each
message addressed to one of them) through the real App with the embedded llama.cpp
backend and the default model, and records for each reply:
- time to first token and total, from handing the message to the router;
- the backend's own time for the same reply, and for the same prompt evaluated cold
  (every kept prompt forgotten first) in the same run;
- prompt tokens, and how many were reused from earlier prompts.
The person pauses ``--pause`` seconds after each reply before the next message (reading
the reply and typing), the idle time in which the backend reads the cast's next prompts
ahead; the first setting is run once more without pauses. The chat is repeated with each
``--threads`` setting; start-up of ``botkit --help`` and of ``botkit chat`` (to its first
prompt) is timed too. Load averages are recorded with the figures: the machine may be
shared.

Usage: python bench/latency.py [--threads auto,1,2] [--pause 5] [--out bench/results/latency.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from overhead import machine

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.backends.llamacpp import LlamaCppBackend, available_cores, default_threads
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import RecordingAdapter

HUMAN = Author("u-bench", "Ann")
CHANNEL = ChannelKey("bench", "s", "c")
REPLY_TOKENS = 64
SCRIPT = (
    "Evening, Mira. Is the soup still hot?",
    "Bram, you look like you saw a ghost out there.",
    "Mira, who is the old man by the fire?",
    "Wren, what are you drawing in that notebook?",
    "Bram, did you hear the bell ringing last night?",
    "Nell, is the lighthouse lamp still dark?",
    "Mira, what did Elias say the night he vanished?",
    "Wren, which cave did you find this morning?",
    "Bram, will you take me out on your boat tomorrow?",
    "Nell, can I come up to the lighthouse with you?",
)
BOTKIT = Path(sys.executable).with_name("botkit")


@dataclass
class Call:
    """One reply as the backend saw it."""

    request: ChatRequest
    started: float
    first: float
    ended: float
    text: str
    prompt_tokens: int
    reused_tokens: int


@dataclass
class Reply:
    """One reply of the chat, timed from the message's arrival, beside its cold twin."""

    speaker: str
    ttft: float
    total: float
    backend_ttft: float
    backend_total: float
    tokens: int
    prompt_tokens: int
    reused_tokens: int
    cold_ttft: float = 0.0
    cold_total: float = 0.0
    cold_tokens: int = 0


class TimedLlama(LlamaCppBackend):
    """The embedded backend, recording when each reply started, began and ended."""

    def __init__(self, threads: int | None, seed: int) -> None:
        super().__init__(threads=threads, seed=seed)
        self.calls: list[Call] = []

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        started = time.perf_counter()
        first = 0.0
        fragments: list[str] = []
        prompt_tokens = reused = 0
        try:
            async for fragment in super().stream(request):
                if not fragments:
                    first = time.perf_counter()
                    prompt_tokens = self.reuse.last_prompt_tokens
                    reused = self.reuse.last_reused_tokens
                fragments.append(fragment)
                yield fragment
        finally:
            # A reply the conversation stops early (at a line for someone else) counts too.
            ended = time.perf_counter()
            text = "".join(fragments)
            self.calls.append(
                Call(request, started, first or ended, ended, text, prompt_tokens, reused)
            )


def loads() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


async def chat(
    threads: int | None, seed: int, pause: float
) -> tuple[list[Reply], float, str, str, int]:
    """The scripted chat with ``threads``, the person pausing ``pause`` seconds before each
    message after the first; its replies, model load time, load averages and the prompt
    tokens read ahead."""
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "data_dir": tmp,
                "reply_tokens": REPLY_TOKENS,
                "conversation": {"max_hops": 0},
            }
        )
        backend = TimedLlama(threads, seed)
        adapter = RecordingAdapter("bench")
        before = loads()
        started = time.perf_counter()
        await backend.load()
        loaded = time.perf_counter() - started
        replies: list[Reply] = []
        async with App(
            config,  # type: ignore[arg-type]
            backends={"local": backend},
            adapters={"bench": adapter},
        ) as app:
            for n, text in enumerate(SCRIPT):
                if n:
                    await asyncio.sleep(pause)
                event = MessageEvent(
                    event_id=f"e{n}", channel=CHANNEL, author=HUMAN, text=text, message_id=f"m{n}"
                )
                calls = len(backend.calls)
                arrived = time.perf_counter()
                await adapter.push(event)
                await app.wait_idle()
                for call in backend.calls[calls:]:
                    if call.request.choices:
                        continue
                    replies.append(
                        Reply(
                            speaker=call.request.prefix.rstrip(":"),
                            ttft=call.first - arrived,
                            total=call.ended - arrived,
                            backend_ttft=call.first - call.started,
                            backend_total=call.ended - call.started,
                            tokens=backend.token_counter.count(call.text),
                            prompt_tokens=call.prompt_tokens,
                            reused_tokens=call.reused_tokens,
                        )
                    )
            print(f"  threads {threads}: {len(replies)} replies, now cold", file=sys.stderr)
            chat_calls = [call for call in backend.calls if not call.request.choices]
            for reply, call in zip(replies, chat_calls, strict=True):
                await backend.forget_prompts()
                mark = len(backend.calls)
                await app_free_stream(backend, call.request)
                cold = backend.calls[mark]
                reply.cold_ttft = cold.first - cold.started
                reply.cold_total = cold.ended - cold.started
                reply.cold_tokens = backend.token_counter.count(cold.text)
        after = loads()
        read_ahead = backend.reuse.prepared_tokens
        await backend.aclose()
        return replies, loaded, before, after, read_ahead


async def app_free_stream(backend: TimedLlama, request: ChatRequest) -> None:
    """Generates the reply to ``request`` outside any conversation."""
    async for _fragment in backend.stream(request):
        pass


def help_time(runs: int) -> list[float]:
    """Wall time of ``botkit --help``, ``runs`` times."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(BOTKIT), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def chat_start_time(runs: int) -> list[float]:
    """Wall time from starting ``botkit chat`` in a terminal to its first input prompt."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            controller, terminal = pty.openpty()
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(BOTKIT), "chat", "--data-dir", tmp, "--name", "Ann"],
                stdin=terminal,
                stdout=terminal,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "TERM": "dumb"},
            )
            os.close(terminal)
            seen = b""
            while b"Ann> " not in seen:
                ready, _, _ = select.select([controller], [], [], 120)
                if not ready:
                    raise TimeoutError("botkit chat showed no prompt within 120 s")
                seen += os.read(controller, 4096)
            times.append(time.perf_counter() - started)
            os.write(controller, b"\x04")
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(controller)
    return times


def median(values: list[float]) -> float:
    """The median, 0 for none."""
    return statistics.median(values) if values else 0.0


def split(replies: list[Reply]) -> tuple[list[Reply], list[Reply]]:
    """The session's first reply, and every later one."""
    return replies[:1], replies[1:]


def reuse_share(replies: list[Reply]) -> float:
    """The share of prompt tokens that were reused."""
    prompt = sum(r.prompt_tokens for r in replies)
    return sum(r.reused_tokens for r in replies) / prompt if prompt else 0.0


def detail(replies: list[Reply]) -> list[str]:
    """One table row per reply."""
    rows = [
        "| # | speaker | TTFT s | total s | tokens | backend TTFT s | backend total s "
        "| cold TTFT s | cold total s (tokens) | prompt tokens | reused |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(replies, 1):
        rows.append(
            f"| {n}{' (first)' if n == 1 else ''} | {r.speaker} | {r.ttft:.2f} | {r.total:.2f} "
            f"| {r.tokens} | {r.backend_ttft:.2f} | {r.backend_total:.2f} | {r.cold_ttft:.2f} "
            f"| {r.cold_total:.2f} ({r.cold_tokens}) | {r.prompt_tokens} | {r.reused_tokens} |"
        )
    return rows


def verdict(later: list[Reply]) -> list[str]:
    """The follow-up targets (median TTFT at most 1 s, total at most 2 s), and what the
    time goes to: new prompt tokens at the cold evaluation rate of this machine."""
    ttft, total = median([r.ttft for r in later]), median([r.total for r in later])
    cold_time = sum(r.cold_ttft for r in later)
    rate = sum(r.prompt_tokens for r in later) / cold_time if cold_time else 0.0
    new = median([float(r.prompt_tokens - r.reused_tokens) for r in later])
    full = [r.total for r in later if r.tokens >= REPLY_TOKENS]
    capped = (
        f"the {len(full)} that ran to the {REPLY_TOKENS}-token cap took a median of "
        f"{median(full):.2f} s"
        if full
        else f"none ran to the {REPLY_TOKENS}-token cap"
    )
    return [
        f"Targets for follow-ups: median TTFT ≤ 1 s {'met' if ttft <= 1 else 'not met'} "
        f"({ttft:.2f} s); median total ≤ 2 s {'met' if total <= 2 else 'not met'} "
        f"({total:.2f} s; {capped}). A follow-up evaluated a median of {new:.0f} new prompt "
        f"tokens; cold prompts ran at {rate:.0f} prompt tokens/s here.",
    ]


def summary(label: str, pause: float, replies: list[Reply], load: str) -> str:
    """One row comparing a threads setting and pause."""
    first, later = split(replies)
    return (
        f"| {label} | {pause:g} | {median([r.ttft for r in first]):.2f} "
        f"| {median([r.total for r in first]):.2f} "
        f"| {median([r.ttft for r in later]):.2f} | {median([r.total for r in later]):.2f} "
        f"| {median([r.cold_ttft for r in later]):.2f} | {reuse_share(later):.0%} | {load} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="auto,1,2", help="settings to compare, in order")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between messages")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/latency.md")
    args = parser.parse_args()
    command = "python bench/latency.py" + "".join(
        f" {flag} {value}"
        for flag, value, default in (
            ("--threads", args.threads, "auto,1,2"),
            ("--pause", args.pause, 5.0),
            ("--seed", args.seed, 7),
            ("--startup-runs", args.startup_runs, 5),
        )
        if value != default
    )
    print("start-up", file=sys.stderr)
    startup_load = loads()
    helps = help_time(args.startup_runs)
    chats = chat_start_time(args.startup_runs)
    runs: list[tuple[str, float, list[Reply], float, str, str, int]] = []
    settings = args.threads.split(",")
    for setting, pause in [*((s, args.pause) for s in settings), (settings[0], 0.0)]:
        threads = None if setting == "auto" else int(setting)
        label = f"auto ({default_threads()}–{available_cores()})" if threads is None else setting
        print(f"chat with threads {label}, pause {pause:g} s", file=sys.stderr)
        replies, loaded, before, after, read_ahead = await chat(threads, args.seed, pause)
        runs.append((label, pause, replies, loaded, before, after, read_ahead))
    label, pause, replies, loaded, before, after, read_ahead = runs[0]
    first, later = split(replies)
    lines = [
        "# Reply latency with the embedded model",
        "",
        f"Machine: {machine()}, {len(os.sched_getaffinity(0))} cores available. "
        f"Date: {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`.",
        "",
        f"A scripted {len(SCRIPT)}-message group chat (one person, the default pack's four "
        "characters, each message addressed to one of them; `max_hops: 0`, so one reply per "
        f"message; `reply_tokens: {REPLY_TOKENS}`; memory on, as by default; the person "
        f"pauses {args.pause:g} s after each reply) through the real App with the embedded "
        "backend and SmolLM2-135M-Instruct (shipped as Q4_1, converted to Q8_0 once). TTFT "
        "and total are timed from handing the message to the router; *backend* columns from "
        "the "
        "backend's call; *cold* is the same prompt again at the end of the run with every "
        "kept prompt forgotten (its reply is sampled anew, so its length differs). "
        "*reused* is how many prompt tokens came from memory instead of being evaluated.",
        "",
        f"## Per reply, threads {label}, pause {pause:g} s",
        "",
        f"Model load {loaded:.2f} s. Load average (1/5/15 min) {before} before, {after} after. "
        f"Prompt tokens read ahead during the pauses: {read_ahead:,}.",
        "",
        *detail(replies),
        "",
        f"**First reply of the session**: TTFT {median([r.ttft for r in first]):.2f} s, "
        f"total {median([r.total for r in first]):.2f} s.",
        f"**Follow-up replies** (median of {len(later)}): TTFT "
        f"{median([r.ttft for r in later]):.2f} s, total {median([r.total for r in later]):.2f} s "
        f"for {median([float(r.tokens) for r in later]):.0f} tokens; cold TTFT of the same "
        f"prompts {median([r.cold_ttft for r in later]):.2f} s. "
        f"Prompt tokens reused: {reuse_share(later):.0%} of follow-ups', "
        f"{reuse_share(replies):.0%} of all.",
        "",
        *verdict(later),
        "",
        "## Threads and pauses",
        "",
        "| threads | pause s | first TTFT s | first total s | follow-up TTFT s "
        "| follow-up total s | follow-up cold TTFT s | reused | load average before |",
        "|---|---|---|---|---|---|---|---|---|",
        *(summary(label, pause, replies, before) for label, pause, replies, _, before, *_ in runs),
        "",
        "## Start-up",
        "",
        f"Median of {args.startup_runs} runs; load average before: {startup_load}.",
        "",
        "| command | median s | min s |",
        "|---|---|---|",
        f"| `botkit --help` | {median(helps):.2f} | {min(helps):.2f} |",
        f"| `botkit chat` to its first prompt | {median(chats):.2f} | {min(chats):.2f} |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
