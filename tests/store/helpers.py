"""Events, channels and database fixtures shared by the store tests."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botkit.events import Author, ChannelKey, MessageEvent
from tests.support.postgres import run_sql

__all__ = ["ANN", "ROOM", "START", "THREAD", "message", "raw"]

ROOM = ChannelKey("discord", "guild-1", "tavern")
THREAD = ChannelKey("discord", "guild-1", "tavern", "thread-9")
ANN = Author("u-ann", "Ann")
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def message(n: int, channel: ChannelKey = ROOM, **fields: Any) -> MessageEvent:
    """The ``n``-th message from Ann in ``channel``, one minute after the previous one."""
    values: dict[str, Any] = {
        "event_id": f"ev-{channel}-{n}",
        "channel": channel,
        "author": ANN,
        "text": f"message {n}",
        "message_id": f"m-{n}",
        "time": START + timedelta(minutes=n),
    }
    values.update(fields)
    return MessageEvent(**values)


def raw(where: str | Path, sql: str, *parameters: Any) -> list[Any]:
    """Run one statement on the database (a file or a Postgres URL) through a separate
    plain connection."""
    if str(where).startswith("postgresql://"):
        return run_sql(str(where), sql, *parameters)
    connection = sqlite3.connect(where)
    try:
        with connection:
            return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()
