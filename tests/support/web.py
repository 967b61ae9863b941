"""A botkit App serving the web playground alone, for the playground's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from botkit.app import App
from botkit.config import parse_config
from botkit.testing import InstantBackend

__all__ = ["playground"]


@asynccontextmanager
async def playground(tmp_path: Path, **web: Any) -> AsyncIterator[tuple[App, str]]:
    """An App with only the web adapter (port 0, ``web`` options added) and an instant
    backend, memory off; the App and the page's URL."""
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
            "adapters": {"web": {"port": 0, **web}},
        }
    )
    async with App(config, backends={"instant": InstantBackend("Stew tonight.")}) as app:
        yield app, app.adapters["web"].url
