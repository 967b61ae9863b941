"""Headless Chromium for the tests, driven through Playwright's async API.

The browser is the system's Chromium (Debian's ``chromium`` package, ``/usr/bin/chromium``);
Playwright never downloads one of its own. Each test that asks for ``browser_page`` gets a
fresh browser with an empty profile of its own, started with the flags that keep it off the
network, and everything is closed after the test.

Without Chromium the test is skipped with a line saying how to install it, except where the
run must not skip browser tests (``CI`` or ``BOTKIT_REQUIRE_CHROMIUM`` set): there it fails.
``BOTKIT_CHROMIUM`` names another Chromium binary to use.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["CHROMIUM_FLAGS", "browser_page", "chromium_path", "screenshot"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install it with `apt-get install --no-install-recommends chromium` (Debian)"

# Headless, as root, and nothing that reaches for the network: without the
# background-networking flags Chromium keeps trying hosts it cannot reach.
# --disable-dev-shm-usage: a small /dev/shm (as in containers) would crash the renderer.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _required() -> bool:
    """Whether this run must fail, not skip, when the browser cannot be started."""
    return any(
        os.environ.get(name, "").lower() not in ("", "0", "false", "no")
        for name in ("CI", "BOTKIT_REQUIRE_CHROMIUM")
    )


def _unavailable(reason: str) -> None:
    """Skip the test for ``reason``, or fail it where browser tests are required."""
    if _required():
        pytest.fail(
            f"{reason} (CI or BOTKIT_REQUIRE_CHROMIUM is set, so browser tests must run)",
            pytrace=False,
        )
    pytest.skip(reason)


def chromium_path() -> Path:
    """The Chromium binary the browser tests use (``BOTKIT_CHROMIUM`` or the Debian path)."""
    return Path(os.environ.get("BOTKIT_CHROMIUM") or DEFAULT_CHROMIUM)


@pytest.fixture
async def browser_page() -> AsyncIterator[Page]:
    """A Playwright page in a new headless Chromium with an empty profile of its own."""
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        _unavailable(f"browser test needs Chromium at {executable}: {INSTALL_HINT}")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("browser test needs the playwright package: pip install -e '.[test]'")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(
        prefix="botkit-chromium-", ignore_cleanup_errors=True
    ) as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_FLAGS),
            )
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                yield page
            finally:
                await context.close()


async def screenshot(page: Page, path: Path) -> Path:
    """Save a PNG of the page's whole content at ``path`` (its folder is made); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=path, full_page=True)
    return path
