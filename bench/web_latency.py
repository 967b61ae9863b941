"""The playground's own latency: page load, and the first streamed token on the page beside
the backend's own time to first token, in the same run.

botkit runs in this process with the web adapter and the embedded model (the default;
``--backend openai`` uses a loopback OpenAI-compatible server that waits ``--delay`` ms
before its first token instead). A real headless Chromium (Debian's, through Playwright)
opens the page; *page load* is from navigation until the page shows its event stream
connected. Then the person asks Mira ``--messages`` questions, one after the other; for
each, *page first token* is from the click on Send until the reply's first text is on the
page, and *backend first token* is what the conversation's trace recorded for the same
reply (from asking the backend until its first text). Their difference is what botkit and
the browser add: storing, turn taking, the prompt, server-sent events and rendering.
Writes bench/results/web.md.

    python bench/web_latency.py --messages 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from overhead import machine  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402

from botkit.app import App  # noqa: E402
from botkit.config import parse_config  # noqa: E402
from botkit.events import ChannelKey  # noqa: E402
from tests.support.browser import CHROMIUM_FLAGS, chromium_path  # noqa: E402
from tests.support.openai_server import (  # noqa: E402
    OpenAIServer,
    Pause,
    ReceivedRequest,
    Reply,
    sse_reply,
)

RESULTS = ROOT / "bench" / "results" / "web.md"
ROOM = ChannelKey("web", "local", "tavern")
QUESTIONS = [
    "Mira, what's for supper?",
    "Mira, is the lighthouse lit tonight?",
    "Mira, who came in on the ferry?",
    "Mira, any news from the harbour?",
    "Mira, how much for a room?",
]


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def page_load(page: Page, url: str) -> float:
    """Seconds from navigation until the page's event stream is connected."""
    started = time.perf_counter()
    await page.goto(url)
    await page.wait_for_function("document.getElementById('status').textContent === 'connected'")
    return time.perf_counter() - started


async def first_token(page: Page, question: str) -> float:
    """Seconds from Send until the reply's first text is on the page; waits for its end."""
    before = await page.locator("#log li.character").count()
    await page.fill("#text", question)
    started = time.perf_counter()
    await page.click("#say button")
    await page.wait_for_function(
        "n => { const r = document.querySelectorAll('#log li.character');"
        " return r.length > n && r[n].querySelector('.text').textContent.trim().length > 0; }",
        arg=before,
        polling="raf",
        timeout=300_000,
    )
    shown = time.perf_counter() - started
    await page.wait_for_function(
        "n => { const r = document.querySelectorAll('#log li.character');"
        " return r.length > n && r[n].dataset.done === 'true'; }",
        arg=before,
        timeout=300_000,
    )
    return shown


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Page loads and first tokens, with the backend's own first tokens."""
    with tempfile.TemporaryDirectory(prefix="botkit-web-bench-") as folder:
        settings: dict[str, Any] = {
            "data_dir": str(Path(folder) / "data"),
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
            "adapters": {"web": {"port": 0}},
        }
        server: OpenAIServer | None = None
        if args.backend == "openai":

            def answer(request: ReceivedRequest) -> Reply:
                reply = sse_reply("Stew tonight, love. Fresh bread too.")
                return Reply(reply.status, reply.headers, [Pause(args.delay / 1000), *reply.body])

            server = OpenAIServer(answer)
            await server.__aenter__()
            settings["backends"] = {
                "remote": {"type": "openai", "base_url": server.base_url, "model": "any"}
            }
        try:
            async with App(parse_config(settings)) as app, async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(chromium_path()), headless=True, args=list(CHROMIUM_FLAGS)
                )
                page = await browser.new_page()
                url = app.adapters["web"].url + "room/tavern"
                loads = [await page_load(page, url) for _ in range(args.loads)]
                shown = []
                for n in range(args.messages):
                    shown.append(await first_token(page, QUESTIONS[n % len(QUESTIONS)]))
                await browser.close()
                assert app.traces is not None
                backend = [
                    reply.first_token_seconds
                    for trace in app.traces.of_channel(ROOM)
                    for reply in trace.replies
                    if reply.first_token_seconds is not None
                ]
        finally:
            if server is not None:
                await server.__aexit__(None, None, None)
    return {"loads": loads, "page": shown, "backend": backend}


def write(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """bench/results/web.md."""
    page, backend, loads = figures["page"], figures["backend"], figures["loads"]
    added = [p - b for p, b in zip(page, backend, strict=False)]
    rows = [
        ("page load (navigation to connected)", loads),
        ("first token on the page (Send to first text)", page),
        ("backend's own first token (same replies)", backend),
        ("added by botkit and the browser (per reply)", added),
    ]
    table = "\n".join(
        f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} |"
        f" {percentile(values, 0.9) * 1000:.0f} | {max(values) * 1000:.0f} |"
        for name, values in rows
    )
    backend_name = (
        "the embedded model (SmolLM2-135M-Instruct, llama.cpp)"
        if args.backend == "local"
        else f"a loopback OpenAI-compatible server waiting {args.delay} ms before its first token"
    )
    command = " ".join(["python bench/web_latency.py", *sys.argv[1:]])
    RESULTS.write_text(
        f"""# Web playground latency (bench/web_latency.py)

Machine: {machine()}. Run {datetime.now(UTC).date().isoformat()}. Command: `{command}`.

botkit with the web adapter and {backend_name}; headless Debian Chromium through
Playwright on the same machine. {args.messages} questions to Mira, one after the other.

| figure | n | p50 ms | p90 ms | max ms |
|---|---:|---:|---:|---:|
{table}

*page first token*: from the click on Send until the reply's first text is on the page
(storing the message, turn taking, the prompt, the backend, server-sent events, rendering);
*backend's own first token*: from asking the backend until its first text, as the trace
of the same reply recorded it; *added*: the first less the second, reply by reply.
"""
    )


def main() -> None:
    """Measure and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--backend", choices=["local", "openai"], default="local")
    parser.add_argument("--delay", type=int, default=200, help="openai: ms before the first token")
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    write(args, figures)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
