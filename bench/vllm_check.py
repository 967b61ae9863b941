"""botkit against a vLLM server: prefix caching, structured speaker choice, LoRA, tokens/s.

Given the URL of a running vLLM server (OpenAI-compatible, ``/v1``), runs through the
real App and writes ``bench/results/vllm.md``:
- **prefix caching** in a channel of the default pack's four characters: a person writes
  ``--turns`` messages, the characters answer in turn, and vLLM's ``/metrics`` counters
  give the share of prompt tokens served from its prefix cache. The baseline, in the same
  run, is the same chat with a random line put first in every prompt (so no prompt shares
  a prefix with another);
- **structured speaker choice**: the ``model`` turn-taking policy asks the server who
  speaks next after each turn of that chat, with vLLM's ``structured_outputs`` choice and,
  as the baseline, unconstrained; the share of answers that named a cast member (or
  NOBODY) and the decision latency;
- **per-character LoRA** (``--lora mira=ADAPTER ...``): each character's replies ask for
  its adapter as the model; the adapters ``/v1/models`` lists, and each reply's latency;
- **tokens/s**: generated tokens over wall time, one channel at a time and four at once
  (each at its own table: the messages differ, the characters are the same).

Start vLLM with prefix caching (on by default) and, for LoRA, ``--enable-lora
--lora-modules mira=/loras/mira ... --max-loras 4``.

Usage: python bench/vllm_check.py --url http://HOST:8000/v1 --model MODEL [--api-key KEY]
       [--lora CHARACTER=ADAPTER ...] [--turns 12] [--out bench/results/vllm.md]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from overhead import machine

from botkit.app import App
from botkit.backends.base import ChatMessage
from botkit.characters import default_pack_path, load_pack
from botkit.config import Config, parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.plugin import Plugin, PromptCall
from botkit.plugin_loader import LoadedPlugin, load_plugins
from botkit.scheduler import Decision, ModelPolicy, RoundRobinPolicy, TurnContext
from botkit.testing import RecordingAdapter
from botkit.transcript import Turn

PERSON = Author("u-bench", "Ann")
SCRIPT = (
    "Evening, everyone. Is the soup still hot?",
    "Did anyone hear the bell ringing last night?",
    "Who is the old man by the fire?",
    "What happened at the lighthouse?",
    "Has anyone been out to the sea caves?",
    "What did Elias say the night he vanished?",
)
_COUNTERS = {
    "queries": "vllm:prefix_cache_queries_total",
    "hits": "vllm:prefix_cache_hits_total",
    "generated": "vllm:generation_tokens_total",
    "prompt": "vllm:prompt_tokens_total",
}


@dataclass(frozen=True, slots=True)
class ChatFigures:
    """One run of the four-character chat: replies, counter deltas and wall time."""

    replies: int
    seconds: float
    counters: dict[str, float | None]
    transcript: tuple[Turn, ...]

    @property
    def hit_rate(self) -> float | None:
        """The share of prompt tokens the prefix cache served."""
        queries, hits = self.counters["queries"], self.counters["hits"]
        return None if not queries or hits is None else hits / queries

    @property
    def tokens_per_second(self) -> float | None:
        """Generated tokens over the run's wall time."""
        generated = self.counters["generated"]
        return None if generated is None else generated / self.seconds


class Server:
    """The vLLM server under test: its OpenAI base URL and its other endpoints."""

    def __init__(self, url: str, model: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self.root = self.url.removesuffix("/v1")
        self.model = model
        self.api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=30)

    async def counters(self) -> dict[str, float | None]:
        """vLLM's token counters, summed over their labels (None: not reported)."""
        text = (await self._http.get(f"{self.root}/metrics")).text
        found: dict[str, float | None] = dict.fromkeys(_COUNTERS)
        for key, name in _COUNTERS.items():
            values = [
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith((name + " ", name + "{"))
            ]
            found[key] = sum(values) if values else None
        return found

    async def models(self) -> list[str]:
        """The models the server lists (LoRA adapters among them)."""
        answer = await self._http.get(f"{self.url}/models")
        answer.raise_for_status()
        return [str(entry["id"]) for entry in answer.json().get("data", [])]

    async def version(self) -> str:
        """vLLM's version, or "unknown"."""
        try:
            answer = await self._http.get(f"{self.root}/version")
            return str(answer.json().get("version", "unknown"))
        except (httpx.HTTPError, ValueError):
            return "unknown"

    def config(
        self, data_dir: Path, constraint: str = "none", loras: dict[str, str] | None = None
    ) -> Config:
        """botkit's config: this server as the only backend, the default pack's four
        characters (with their adapters), memory off."""
        backend: dict[str, Any] = {
            "type": "openai",
            "base_url": self.url,
            "model": self.model,
            "choice_constraint": constraint,
            "max_tokens": 64,
        }
        if self.api_key:
            backend["api_key"] = self.api_key
        cast = [c.id for c in load_pack(default_pack_path()).characters][:4]
        return parse_config(
            {
                "data_dir": str(data_dir / "data"),
                "packs": [str(pack_with_adapters(data_dir, loras or {}))],
                "backends": {"vllm": backend},
                "conversation": {"cast": cast, "max_hops": 3, "turn_budget": 4},
                "scheduler": {"policy": "round-robin"},
                "memory": {"enabled": False},
            }
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


def cache_buster() -> LoadedPlugin:
    """A plugin that puts a random line first in every prompt (the no-shared-prefix run)."""
    plugin = Plugin("cache-buster", "a random first line in every prompt")

    @plugin.on_prompt
    async def first_line(call: PromptCall) -> Sequence[ChatMessage]:
        return [ChatMessage("system", f"Run {uuid.uuid4()}."), *call.messages]

    return LoadedPlugin(plugin, "bench/vllm_check.py")


def pack_with_adapters(folder: Path, loras: dict[str, str]) -> Path:
    """A copy of the default pack in ``folder`` whose characters in ``loras`` name their
    adapter as their model (``backend: {model: ADAPTER}``), as an operator's pack would."""
    pack = folder / "pack"
    shutil.copytree(default_pack_path(), pack)
    for character, adapter in loras.items():
        path = pack / f"{character}.yaml"
        data = yaml.safe_load(path.read_text())
        data["backend"] = {**data.get("backend", {}), "model": adapter}
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return pack


async def chat(
    server: Server, turns: int, *, bust: bool, channels: int = 1, loras: dict[str, str]
) -> ChatFigures:
    """The four-character chat (in ``channels`` channels at once), with counter deltas."""
    with tempfile.TemporaryDirectory() as tmp:
        config = server.config(Path(tmp), loras=loras)
        plugins = [*load_plugins(), *([cache_buster()] if bust else [])]
        adapter = RecordingAdapter("bench")
        async with App(config, adapters={"bench": adapter}, plugins=plugins) as app:
            rooms = [ChannelKey("bench", "s", f"room-{n}") for n in range(channels)]
            before = await server.counters()
            started = time.perf_counter()
            for turn in range(turns):
                text = SCRIPT[turn % len(SCRIPT)]
                await asyncio.gather(
                    *(
                        say(adapter, room, turn, f"{text} (table {n + 1})")
                        for n, room in enumerate(rooms)
                    )
                )
                await app.wait_idle()
            seconds = time.perf_counter() - started
            after = await server.counters()
            transcript = tuple(await app.store.recent_turns(rooms[0], 200))
    deltas = {
        key: None if after[key] is None or before[key] is None else after[key] - before[key]
        for key in _COUNTERS
    }
    return ChatFigures(len(adapter.replies), seconds, deltas, transcript)


async def say(adapter: RecordingAdapter, room: ChannelKey, turn: int, text: str) -> None:
    """The person writes ``text`` in ``room``."""
    await adapter.push(
        MessageEvent(
            event_id=f"{room.channel}-{turn}",
            channel=room,
            author=PERSON,
            text=text,
            message_id=f"{room.channel}-m{turn}",
        )
    )


async def choices(
    server: Server, transcript: Sequence[Turn], constraint: str
) -> tuple[float, list[float], int]:
    """Ask the model policy after each character turn of ``transcript``: the share of
    answers that named a cast member or NOBODY, the latencies in ms, and how many."""
    with tempfile.TemporaryDirectory() as tmp:
        config = server.config(Path(tmp), constraint)
        async with App(config, adapters={"b": RecordingAdapter("b")}) as app:
            policy = ModelPolicy(backend=app.backends[0], fallback=RoundRobinPolicy(), timeout=30)
            cast = list(app.characters.all())[:4]
            answered, latencies = 0, []
            for index, turn in enumerate(transcript):
                if not turn.is_character:
                    continue
                context = TurnContext(
                    cast=cast, transcript=list(transcript[: index + 1]), trigger=turn, hops=1
                )
                started = time.perf_counter()
                decision: Decision = await policy.decide(context)
                latencies.append((time.perf_counter() - started) * 1000)
                answered += decision.reason.startswith("model:")
    asked = len(latencies)
    return (answered / asked if asked else 0.0), latencies, asked


async def lora_check(server: Server, loras: dict[str, str]) -> list[tuple[str, str, bool]]:
    """Each character's adapter, and whether the server lists it."""
    listed = set(await server.models())
    return [(character, name, name in listed) for character, name in loras.items()]


def _share(value: float | None) -> str:
    return "not reported" if value is None else f"{value:.1%}"


def _rate(value: float | None) -> str:
    return "not reported" if value is None else f"{value:.1f}"


def _ms(values: list[float]) -> str:
    if not values:
        return "– | –"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} | {p99:.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server's OpenAI base URL (…/v1)")
    parser.add_argument("--model", required=True, help="the served base model")
    parser.add_argument("--api-key")
    parser.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="CHARACTER=ADAPTER",
        help="a character's LoRA adapter, as the server names it (repeat)",
    )
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/vllm.md")
    args = parser.parse_args()
    loras = dict(entry.split("=", 1) for entry in args.lora)
    server = Server(args.url, args.model, args.api_key)
    try:
        print("chat with a shared prefix …", file=sys.stderr, flush=True)
        shared = await chat(server, args.turns, bust=False, loras=loras)
        print("chat with no shared prefix …", file=sys.stderr, flush=True)
        busted = await chat(server, args.turns, bust=True, loras=loras)
        print("four channels at once …", file=sys.stderr, flush=True)
        crowd = await chat(server, args.turns, bust=False, channels=4, loras=loras)
        print("speaker choice …", file=sys.stderr, flush=True)
        structured = await choices(server, shared.transcript, "structured_outputs")
        free = await choices(server, shared.transcript, "none")
        adapters = await lora_check(server, loras)
        version = await server.version()
    finally:
        await server.aclose()
    lines = [
        "# botkit on a vLLM server (bench/vllm_check.py)",
        "",
        f"Client: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Server: vLLM"
        f" {version} at {args.url}, model {args.model}. Command: `python bench/vllm_check.py"
        f" --url {args.url} --model {args.model} --turns {args.turns}"
        + "".join(f" --lora {c}={a}" for c, a in loras.items())
        + "`.",
        "",
        "## Prefix caching and tokens/s",
        "",
        f"The default pack's four characters answer {args.turns} messages in turn (round-robin,"
        " up to 4 replies a message); the counters are vLLM's own (`/metrics`).",
        "",
        "| run | replies | prefix-cache hit rate | generated tokens/s | seconds |",
        "|---|---|---|---|---|",
    ]
    for label, figures in (
        ("one channel", shared),
        ("baseline: one channel, a random first line in every prompt", busted),
        ("four channels at once", crowd),
    ):
        lines.append(
            f"| {label} | {figures.replies} | {_share(figures.hit_rate)} |"
            f" {_rate(figures.tokens_per_second)} | {figures.seconds:.1f} |"
        )
    lines += [
        "",
        "## Structured speaker choice",
        "",
        "The model policy asks who speaks after each character turn of the one-channel chat.",
        "",
        "| constraint | decisions | named a cast member or NOBODY | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
        f"| structured_outputs (choice) | {structured[2]} | {structured[0]:.1%} |"
        f" {_ms(structured[1])} |",
        f"| baseline: none | {free[2]} | {free[0]:.1%} | {_ms(free[1])} |",
        "",
        "## Per-character LoRA",
        "",
    ]
    if adapters:
        lines += ["| character | adapter | listed by /v1/models |", "|---|---|---|"]
        lines += [f"| {c} | {a} | {'yes' if ok else 'no'} |" for c, a, ok in adapters]
    else:
        lines.append("No `--lora` given: every character used the base model.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
