"""Shared helpers for end-to-end adapter tests: waiting for conditions, starting an App."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from botkit.adapter import Adapter
from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.testing import InstantBackend


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for ``condition`` (a bound on waiting, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def ping_pong(request: ChatRequest) -> str:
    """Mira and Bram each hand the turn to the other by name."""
    return f"{'Bram' if request.prefix == 'Mira:' else 'Mira'}, what do you make of it?"


LONG_REPLY = " ".join(f"Sentence number {n} of a very long story." for n in range(300))


@asynccontextmanager
async def running_app(
    adapter: Adapter, tmp_path: Path, pack_dir: Path, script: Any, **conversation: Any
) -> AsyncIterator[App]:
    """An App on the test pack (cast Mira and Bram) with an instant backend and ``adapter``."""
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], **conversation},
        }
    )
    backends = {"instant": InstantBackend(script)}
    async with App(config, backends=backends, adapters={adapter.name: adapter}) as app:
        yield app
