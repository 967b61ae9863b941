"""The README's pictures of the web playground, taken in headless Chromium.

    .venv/bin/python docs/screenshots.py

Starts botkit with the web adapter and the embedded model, asks Mira a question, opens
the why panel of her reply and saves docs/playground.png; then runs the turn-taking
evaluation on bench/data/turns-dev.jsonl from the evals page and saves docs/evals.png.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

from botkit.app import App  # noqa: E402
from botkit.config import parse_config  # noqa: E402
from tests.support.browser import CHROMIUM_FLAGS, chromium_path  # noqa: E402

VIEWPORT = {"width": 1280, "height": 1200}


async def chat_and_why(page: Page, url: str) -> None:
    """Ask Mira a question, open the why panel of her reply, save the picture."""
    await page.goto(url + "room/tavern")
    await expect(page.locator("#status")).to_have_text("connected")
    await page.fill("#text", "Mira, what's for supper tonight?")
    await page.click("#say button")
    reply = page.locator("#log li.character[data-character=mira]")
    await expect(reply).to_have_attribute("data-done", "true", timeout=300_000)
    await reply.locator(".whybtn").click()
    await expect(page.locator("#why-panel .latency")).to_be_visible()
    await page.screenshot(path=ROOT / "docs" / "playground.png")


async def evals(page: Page, url: str) -> None:
    """Run the turn-taking evaluation from the evals page, save the picture."""
    await page.goto(url + "evals")
    await page.get_by_label("turns-dev.jsonl").check()
    await page.click("#run")
    await expect(page.locator("#chart svg[role=img]")).to_be_visible(timeout=300_000)
    await page.screenshot(path=ROOT / "docs" / "evals.png", full_page=True)


async def main() -> None:
    """Take both pictures."""
    with tempfile.TemporaryDirectory(prefix="botkit-screenshots-") as folder:
        data = Path(folder) / "data"
        (data / "evals").mkdir(parents=True)
        shutil.copy(ROOT / "bench" / "data" / "turns-dev.jsonl", data / "evals")
        config = parse_config(
            {
                "data_dir": str(data),
                "conversation": {"cast": ["mira", "bram", "wren"], "max_hops": 0},
                "memory": {"enabled": False},
                "adapters": {"web": {"port": 0, "rooms": ["tavern", "harbour"]}},
            }
        )
        async with App(config) as app, async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path()), headless=True, args=list(CHROMIUM_FLAGS)
            )
            page = await browser.new_page(viewport=VIEWPORT)
            url = app.adapters["web"].url
            await chat_and_why(page, url)
            await evals(page, url)
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
