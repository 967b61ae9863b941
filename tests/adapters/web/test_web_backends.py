"""The playground with real backends: an OpenAI-compatible server (on loopback) and the
embedded model; the reply streams into the page and its why panel names the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from botkit.app import App
from botkit.config import parse_config
from tests.support.openai_server import OpenAIServer, ReceivedRequest, Reply, sse_reply


async def ask_mira(page: Page, app: App) -> None:
    """Open the page, ask Mira, and wait for her whole reply and its why panel."""
    await page.goto(app.adapters["web"].url)
    await expect(page.locator("#status")).to_have_text("connected")
    await page.fill("#text", "Mira, what's for supper?")
    await page.click("#say button")
    reply = page.locator("#log li.character[data-character=mira]")
    await expect(reply).to_have_attribute("data-done", "true", timeout=180_000)
    await expect(reply.locator(".text")).not_to_have_text("")
    await reply.locator(".whybtn").click()
    await expect(page.locator("#why-panel .reason")).to_contain_text("addressed")


def config(tmp_path: Path, **extra: Any) -> Any:
    return parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
            "adapters": {"web": {"port": 0}},
            **extra,
        }
    )


async def test_the_page_with_an_openai_compatible_backend(
    browser_page: Page, tmp_path: Path
) -> None:
    def answer(request: ReceivedRequest) -> Reply:
        return sse_reply("Stew tonight. Fresh bread too.")

    async with OpenAIServer(answer) as server:
        remote = {"type": "openai", "base_url": server.base_url, "model": "any-model"}
        async with App(config(tmp_path, backends={"remote": remote})) as app:
            await ask_mira(browser_page, app)
            reply = browser_page.locator("#log li.character[data-character=mira] .text")
            await expect(reply).to_have_text("Stew tonight. Fresh bread too.")
            await expect(browser_page.locator("#why-panel .latency")).to_contain_text("remote:")
    assert server.requests


@pytest.mark.model
async def test_the_page_with_the_embedded_model(browser_page: Page, tmp_path: Path) -> None:
    async with App(config(tmp_path)) as app:
        await ask_mira(browser_page, app)
        await expect(browser_page.locator("#why-panel .latency")).to_contain_text("first token")
