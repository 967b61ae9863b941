"""An App with long-term memory on (real MiniLM embeddings, embedded Chroma) and helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from botkit.app import App
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, CommandEvent, MessageEvent, Permission
from botkit.testing import InstantBackend, RecordingAdapter

_ids = count()

MemoryApp = Callable[..., Any]


def said(
    text: str,
    channel: ChannelKey,
    author: Author,
    *,
    time: datetime | None = None,
) -> MessageEvent:
    """A member's message with a unique delivery and message id."""
    n = next(_ids)
    return MessageEvent(
        event_id=f"ev-{n}",
        channel=channel,
        author=author,
        text=text,
        message_id=f"msg-{n}",
        time=time or datetime.now(UTC),
    )


def command(
    channel: ChannelKey, author: Author, name: str, *args: str, manage: bool = True
) -> CommandEvent:
    """A command from ``author``, with or without the manage permission."""
    return CommandEvent(
        event_id=f"cmd-{next(_ids)}",
        channel=channel,
        author=author,
        name=name,
        args=args,
        permissions=Permission.MANAGE if manage else Permission.NONE,
    )


def spread(texts: list[str], *, days: float) -> list[datetime]:
    """Times for ``texts``, evenly spread over the ``days`` up to an hour ago."""
    step = timedelta(days=days) / max(len(texts), 1)
    start = datetime.now(UTC) - timedelta(days=days, hours=1)
    return [start + step * i for i in range(len(texts))]


@pytest.fixture
def memory_app(tmp_path: Path, pack_dir: Path) -> MemoryApp:
    """Opens an App with memory on; the same ``data`` folder is reused when reopened."""

    @asynccontextmanager
    async def factory(
        backend: InstantBackend | None = None,
        *,
        memory: dict[str, Any] | None = None,
        cast: list[str] | None = None,
        **options: Any,
    ) -> AsyncIterator[tuple[App, RecordingAdapter]]:
        config = parse_config(
            {
                "data_dir": str(tmp_path / "data"),
                "packs": [str(pack_dir)],
                "conversation": {"cast": cast or ["mira", "bram"], "max_hops": 0},
                "scheduler": {"policy": "manual"},
                "memory": memory or {},
            }
        )
        adapter = RecordingAdapter("test")
        backend = backend or InstantBackend("Aye.")
        async with App(
            config, backends={backend.name: backend}, adapters={"test": adapter}, **options
        ) as app:
            yield app, adapter

    return factory
