"""botkit's persistent store on SQLite: transcripts, events, casts and settings."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from botkit.events import Author, ChannelKey, MessageEvent
from botkit.store.migrations import MIGRATIONS
from botkit.transcript import Turn

__all__ = ["EventStatus", "Store", "StoreError"]

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used; the message names the file and the reason."""


class EventStatus(enum.StrEnum):
    """How far the handling of a delivered event got."""

    NEW = "new"
    """First seen just now."""
    PENDING = "pending"
    """Recorded earlier, but its handling never finished (the process stopped)."""
    DONE = "done"
    """Fully handled; a redelivery is to be ignored."""


class Store:
    """The SQLite store (WAL). Every write is committed before its method returns.

    Open with ``await Store.open(path)``; use as ``async with`` to close it.
    """

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One writer at a time: commit on success, roll back on any error."""
        async with self._lock:
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) and migrate the database at ``path`` (or ``":memory:"``).

        Raises:
            StoreError: the file is not a botkit database, or is newer than this botkit.
        """
        where = str(path)
        if where != ":memory:":
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(where)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open database {where}: {error}") from error
        store = cls(db, where)
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._db.execute("PRAGMA busy_timeout=5000")
            version = await self.schema_version()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a usable SQLite database: {error}") from error
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this botkit "
                f"understands ({len(MIGRATIONS)}); upgrade botkit"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("migrating %s to schema version %d", self.path, number)
            await self._db.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    async def schema_version(self) -> int:
        """The migration the database is at."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def record_incoming(self, event: MessageEvent) -> EventStatus:
        """Store a received message and its event in one transaction.

        Returns NEW the first time; for an event id (or channel message id) already seen,
        changes nothing and returns how far its handling got.
        """
        known = await self._event_status(event)
        if known is not None:
            return known
        try:
            async with self._transaction() as db:
                await self._insert_incoming(db, event)
        except sqlite3.IntegrityError:
            return await self._event_status(event) or EventStatus.PENDING
        return EventStatus.NEW

    async def _event_status(self, event: MessageEvent) -> EventStatus | None:
        async with self._db.execute(
            "SELECT e.status FROM events e LEFT JOIN turns t ON t.seq = e.turn_seq "
            "WHERE e.event_id = ? OR (t.channel = ? AND t.message_id = ?) LIMIT 1",
            (event.event_id, str(event.channel), event.message_id),
        ) as cursor:
            row = await cursor.fetchone()
        return EventStatus(row[0]) if row else None

    @staticmethod
    async def _insert_incoming(db: aiosqlite.Connection, event: MessageEvent) -> None:
        channel = str(event.channel)
        cursor = await db.execute(
            "INSERT INTO turns (channel, platform, server, message_id, reply_to, speaker_id,"
            " speaker_name, is_character, is_bot, mentions, text, time)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (
                channel,
                event.channel.platform,
                event.channel.server,
                event.message_id,
                event.reply_to,
                event.author.id,
                event.author.name,
                int(event.author.is_bot),
                json.dumps(list(event.mentions)),
                event.text,
                event.time.isoformat(),
            ),
        )
        await db.execute(
            "INSERT INTO events (event_id, channel, turn_seq, status, received)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                event.event_id,
                channel,
                cursor.lastrowid,
                EventStatus.PENDING,
                event.time.isoformat(),
            ),
        )

    async def finish_event(self, event_id: str) -> None:
        """Mark an event fully handled."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE events SET status = ? WHERE event_id = ?", (EventStatus.DONE, event_id)
            )

    async def claim_event(self, event_id: str, channel: ChannelKey) -> bool:
        """Record an event that is not a message (a command): True only the first time."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO events (event_id, channel, turn_seq, status, received)"
                " VALUES (?, ?, NULL, ?, ?)",
                (event_id, str(channel), EventStatus.DONE, datetime.now(UTC).isoformat()),
            )
        return cursor.rowcount == 1

    async def unfinished_messages(self) -> list[MessageEvent]:
        """Messages stored whose handling never finished, oldest first."""
        async with self._db.execute(
            "SELECT e.event_id, t.channel, t.speaker_id, t.speaker_name, t.is_bot, t.text,"
            " t.message_id, t.time, t.mentions, t.reply_to FROM events e"
            " JOIN turns t ON t.seq = e.turn_seq WHERE e.status = ? ORDER BY t.seq",
            (EventStatus.PENDING,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            MessageEvent(
                event_id=row[0],
                channel=ChannelKey.parse(row[1]),
                author=Author(row[2], row[3], bool(row[4])),
                text=row[5],
                message_id=row[6],
                time=datetime.fromisoformat(row[7]),
                mentions=tuple(json.loads(row[8])),
                reply_to=row[9],
            )
            for row in rows
        ]

    async def prune_events(self, older_than: datetime) -> int:
        """Forget handled event ids received before ``older_than``; returns how many."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM events WHERE status = ? AND received < ?",
                (EventStatus.DONE, older_than.isoformat()),
            )
        return cursor.rowcount

    async def record_reply(
        self,
        *,
        channel: ChannelKey,
        character_id: str,
        name: str,
        text: str,
        message_id: str | None,
        reply_to: str | None,
        time: datetime,
    ) -> None:
        """Store a character's turn."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO turns (channel, platform, server, message_id, reply_to, speaker_id,"
                " speaker_name, is_character, text, time) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    str(channel),
                    channel.platform,
                    channel.server,
                    message_id,
                    reply_to,
                    character_id,
                    name,
                    text,
                    time.isoformat(),
                ),
            )

    async def recent_turns(self, channel: ChannelKey, limit: int) -> list[Turn]:
        """The channel's last ``limit`` turns, oldest first."""
        async with self._db.execute(
            "SELECT speaker_id, speaker_name, text, is_character, time, message_id, reply_to"
            " FROM turns WHERE channel = ? ORDER BY seq DESC LIMIT ?",
            (str(channel), limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            Turn(
                speaker_id=row[0],
                speaker_name=row[1],
                text=row[2],
                is_character=bool(row[3]),
                time=datetime.fromisoformat(row[4]),
                message_id=row[5],
                reply_to=row[6],
            )
            for row in reversed(list(rows))
        ]

    async def character_of_message(self, channel: ChannelKey, message_id: str) -> str | None:
        """The id of the character that posted ``message_id`` in ``channel``, if one did."""
        async with self._db.execute(
            "SELECT speaker_id FROM turns WHERE channel = ? AND message_id = ? AND is_character",
            (str(channel), message_id),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def count_turns(self, channel: ChannelKey) -> int:
        """How many turns the channel's transcript holds."""
        async with self._db.execute(
            "SELECT count(*) FROM turns WHERE channel = ?", (str(channel),)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def get_cast(self, channel: ChannelKey) -> list[str] | None:
        """The channel's cast, or None if it was never set."""
        async with self._db.execute(
            "SELECT character_ids FROM casts WHERE channel = ?", (str(channel),)
        ) as cursor:
            row = await cursor.fetchone()
        return list(json.loads(row[0])) if row else None

    async def set_cast(self, channel: ChannelKey, character_ids: Sequence[str]) -> None:
        """Replace the channel's cast."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO casts (channel, character_ids) VALUES (?, ?)"
                " ON CONFLICT (channel) DO UPDATE SET character_ids = excluded.character_ids",
                (str(channel), json.dumps(list(character_ids))),
            )

    async def get_setting(self, scope: str, key: str) -> Any | None:
        """A stored setting, or None."""
        async with self._db.execute(
            "SELECT value FROM settings WHERE scope = ? AND key = ?", (scope, key)
        ) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def set_setting(self, scope: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable setting."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                (scope, key, json.dumps(value)),
            )

    async def delete_setting(self, scope: str, key: str) -> None:
        """Remove a setting."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM settings WHERE scope = ? AND key = ?", (scope, key))
