"""The web playground in a real headless Chromium: a reply streams in, its why panel shows
the decision and the scores, the cast panel adds a character, and an uploaded card joins
the room and answers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Page, expect

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.testing import InstantBackend
from tests.support.browser import screenshot

CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Odile",
        "description": "{{char}} keeps the lighthouse lamp burning.",
        "personality": "watchful, dry",
        "scenario": "",
        "first_mes": "",
        "mes_example": "",
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": [],
        "creator": "",
        "character_version": "1",
        "extensions": {},
    },
}


class GatedBackend(InstantBackend):
    """Mira's reply stops after its first words until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(name="gated")
        self.gate = asyncio.Event()

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        if request.prefix == "Mira:":
            yield "Stew tonight. "
            await self.gate.wait()
            yield "Fresh bread too."
        else:
            yield f"{request.prefix.rstrip(':')} here: the lamp is lit."


async def test_chat_why_cast_and_card_import_in_a_browser(
    browser_page: Page, tmp_path: Path
) -> None:
    backend = GatedBackend()
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "conversation": {"cast": ["mira"], "max_hops": 0},
            "memory": {"enabled": False},
            "adapters": {"web": {"port": 0, "rooms": ["tavern", "harbour"]}},
        }
    )
    async with App(config, backends={"gated": backend}) as app:
        page = browser_page
        await page.goto(app.adapters["web"].url)
        await expect(page.locator("#status")).to_have_text("connected")
        await expect(page.locator("#cast li")).to_have_count(1)

        await page.fill("#text", "Mira, what's for supper?")
        await page.click("#say button")
        reply = page.locator("#log li.character").last
        await expect(reply.locator(".text")).to_have_text("Stew tonight.")
        await expect(reply).not_to_have_attribute("data-done", "true")
        backend.gate.set()
        await expect(reply.locator(".text")).to_have_text("Stew tonight. Fresh bread too.")
        await expect(reply).to_have_attribute("data-done", "true")
        await expect(reply.locator(".name")).to_have_text("Mira")

        await reply.locator(".whybtn").click()
        why = page.locator("#why-panel")
        await expect(why).to_be_visible()
        await expect(why.locator(".reason")).to_contain_text("addressed")
        await expect(why.locator("table").first).to_contain_text(re.compile(r"Mira\s*\d+\.\d{3}"))
        await expect(why).to_contain_text("transcript")
        await expect(why).to_contain_text("first token")
        await screenshot(page, tmp_path / "why.png")

        await page.select_option("#add-choice", "bram")
        await page.click("#add button")
        await expect(page.locator("#cast li[data-id=bram]")).to_have_count(1)
        assert await app.cast_ids(app_channel(app)) == ["mira", "bram"]

        await page.locator("#cast li[data-id=bram] button", has_text="mute").click()
        await expect(page.locator("#cast li[data-id=bram] button").first).to_have_text("unmute")
        await page.fill("#scene-text", "A storm rolls in.")
        await page.click("#scene button")
        await expect(page.locator("#log li.notice").last).to_contain_text("storm")
        await page.select_option("#policy-choice", "round-robin")
        await page.click("#policy button")
        await expect(page.locator("#policy-choice")).to_have_value("round-robin")
        await app.wait_idle()
        policy, scene, muted = await app.room_settings(app_channel(app))
        assert (policy, scene, muted) == ("round-robin", "A storm rolls in.", {"bram"})
        await page.click("#cast li[data-id=bram] button:text('unmute')")
        await expect(page.locator("#cast li[data-id=bram] button").first).to_have_text("mute")
        await page.select_option("#add-choice", "wren")
        await page.click("#cast li[data-id=bram] button:text('swap')")
        await expect(page.locator("#cast li[data-id=wren]")).to_have_count(1)
        await expect(page.locator("#cast li[data-id=bram]")).to_have_count(0)
        await page.select_option("#add-choice", "bram")
        await page.click("#cast li[data-id=wren] button:text('swap')")
        await expect(page.locator("#cast li[data-id=bram]")).to_have_count(1)

        card = tmp_path / "odile.json"
        card.write_text(json.dumps(CARD))
        await page.set_input_files("#card", str(card))
        await expect(page.locator("#cast li[data-id=odile]")).to_have_count(1)
        await page.fill("#text", "Odile, is the lamp lit?")
        await page.click("#say button")
        answer = page.locator("#log li.character[data-character=odile]")
        await expect(answer.locator(".text")).to_have_text("Odile here: the lamp is lit.")
        await app.wait_idle()


def app_channel(app: App):  # type: ignore[no-untyped-def]
    """The playground's first room as a channel."""
    from botkit.events import ChannelKey

    return ChannelKey("web", "local", "tavern")
