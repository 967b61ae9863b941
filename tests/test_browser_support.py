"""The browser fixture drives a real headless Chromium against a page served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.support.browser import screenshot

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>botkit browser check</title></head>
<body>
<p id="status">waiting</p>
<button id="go" type="button">Go</button>
<script>
document.getElementById("go").addEventListener("click", () => {
  document.getElementById("status").textContent = "clicked";
});
</script>
</body>
</html>
"""


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    """The URL of the test page, served by an aiohttp server on 127.0.0.1."""
    app = web.Application()
    app.router.add_get("/", _index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_click_changes_text_and_screenshot(
    browser_page: Page, page_url: str, tmp_path: Path
) -> None:
    await browser_page.goto(page_url)
    status = browser_page.locator("#status")
    await expect(status).to_have_text("waiting")

    await browser_page.click("#go")

    await expect(status).to_have_text("clicked")
    assert await browser_page.title() == "botkit browser check"
    shot = await screenshot(browser_page, tmp_path / "page.png")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 100
