"""botkit's persistent store on SQLite: transcripts, delivered events, casts and settings."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from botkit.chain import ChainProgress
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.store.connection import SqliteConnection
from botkit.store.migrations import MIGRATIONS
from botkit.transcript import Turn

__all__ = ["EventStatus", "Store", "StoreError", "StoredTurn", "utc_text"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_EVERY = 200
"""Commits between two checkpoints of the write-ahead log (about SQLite's own default of
1,000 pages); each runs in the background on a connection of its own, so no write waits
for the log to be copied into the database file."""

_TURN_COLUMNS = (
    "channel, platform, server, message_id, reply_to, speaker_id, speaker_name,"
    " is_character, is_bot, mentions, text, time"
)


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """A turn just committed to a channel's transcript, as :meth:`Store.on_turn` hears of it."""

    channel: ChannelKey
    speaker_name: str
    text: str
    is_character: bool


class StoreError(Exception):
    """The database cannot be used; the one-line message names the file and the reason."""


class EventStatus(enum.StrEnum):
    """How far the handling of a delivered event got."""

    NEW = "new"
    """First seen just now."""
    PENDING = "pending"
    """Recorded earlier, but its handling never finished (the process stopped)."""
    DONE = "done"
    """Fully handled; a redelivery is to be ignored."""


def utc_text(time: datetime) -> str:
    """ISO-8601 UTC text of fixed width, so that text order is time order (naive means UTC)."""
    utc = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")


def _oldest_first(rows: Iterable[Sequence[Any]]) -> list[Turn]:
    """Turns from rows of (speaker id, name, text, is character, time, message id, reply to)
    read newest first."""
    return [
        Turn(row[0], row[1], row[2], bool(row[3]), datetime.fromisoformat(row[4]), *row[5:])
        for row in reversed(list(rows))
    ]


def _place(channel: ChannelKey) -> tuple[str, str, str]:
    """The channel's key text, platform and server columns."""
    return str(channel), channel.platform, channel.server


def _check_openable(where: str) -> None:
    """Create the file's folder and open the file once on a plain connection."""
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(where).close()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


async def _one(db: SqliteConnection, sql: str, parameters: Iterable[Any] = ()) -> Any:
    """The first row of a query, or None (one trip to the connection's thread)."""
    rows = (await db.execute(sql, parameters)).rows
    return rows[0] if rows else None


def _run_statement(sql: str, parameters: tuple[Any, ...], db: sqlite3.Connection) -> int:
    """Run one statement; the rows it changed."""
    return db.execute(sql, parameters).rowcount


def _status_of(db: sqlite3.Connection, event: MessageEvent) -> EventStatus | None:
    """How far an earlier delivery of ``event`` got (by event id, else as the same message
    of the channel), or None if it is new."""
    event_status, message_status = db.execute(
        "SELECT (SELECT status FROM events WHERE event_id = ?),"
        # A stored message whose event id was pruned was handled long ago.
        " (SELECT coalesce(e.status, ?) FROM turns t LEFT JOIN events e"
        " ON e.turn_seq = t.seq WHERE t.channel = ? AND t.message_id = ? LIMIT 1)",
        (event.event_id, EventStatus.DONE.value, str(event.channel), event.message_id),
    ).fetchone()
    known = event_status if event_status is not None else message_status
    return None if known is None else EventStatus(known)


def _insert_event(
    db: sqlite3.Connection,
    event_id: str,
    channel: ChannelKey,
    status: EventStatus,
    *,
    of_turn_just_inserted: bool,
) -> int:
    """Record a delivery, of the turn this connection inserted last or of none; returns 1,
    or 0 when the event id is known already."""
    return db.execute(
        "INSERT INTO events (event_id, channel, platform, server, turn_seq, status, received)"
        " VALUES (?, ?, ?, ?, CASE WHEN ? THEN last_insert_rowid() END, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        (
            event_id,
            *_place(channel),
            of_turn_just_inserted,
            status.value,
            utc_text(datetime.now(UTC)),
        ),
    ).rowcount


def _save_progress(db: sqlite3.Connection, progress: ChainProgress) -> None:
    db.execute(
        "UPDATE events SET progress = ? WHERE event_id = ? AND status = ?",
        (progress.encode(), progress.event_id, EventStatus.PENDING.value),
    )


def _insert_reply(
    db: sqlite3.Connection,
    channel: ChannelKey,
    message_id: str | None,
    reply_to: str | None,
    values: tuple[str, str, str, str],
) -> None:
    db.execute(
        f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, '[]', ?, ?)",
        (*_place(channel), message_id, reply_to, *values),
    )


class Store:
    """botkit's database: what was said where, which deliveries were handled, casts, settings.

    Open with ``await Store.open(path)`` and close with ``close()`` or ``async with``. Every
    write is committed before its method returns, so a crash loses nothing already stored.
    """

    def __init__(self, db: SqliteConnection, path: str) -> None:
        """Wrap an open connection; use :meth:`open`, which also prepares and migrates it."""
        self._db = db
        self._path = path
        self._lock = asyncio.Lock()
        self._reader: SqliteConnection | None = None
        """A second connection for reads, so they never wait for a write (files only)."""
        self._checkpointer: SqliteConnection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._commits = 0
        self._turn_listeners: list[Callable[[StoredTurn], None]] = []
        self._unbegun: set[str] = set()
        """Messages this store recorded whose answers have not begun: no progress saved."""

    def on_turn(self, listener: Callable[[StoredTurn], None]) -> None:
        """Call ``listener`` with each turn stored (synchronously, after the commit)."""
        self._turn_listeners.append(listener)

    def _turn_stored(self, turn: StoredTurn) -> None:
        for listener in self._turn_listeners:
            listener(turn)

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._path

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """Open the database at ``path`` (``":memory:"`` for a private one), creating it if needed.

        Pending migrations are applied. Raises :class:`StoreError` if the file cannot be
        opened, is not a usable SQLite database, belongs to something else, or was written
        by a newer botkit.
        """
        where = str(path)
        try:
            if where != MEMORY:
                await asyncio.to_thread(_check_openable, where)
            db = await SqliteConnection.connect(where)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open database {where}: {_one_line(error)}") from error
        store = cls(db, where)
        try:
            await store._prepare()
            if where != MEMORY:
                store._reader = await store._connect(query_only=True)
        except BaseException:
            await store.close()
            raise
        return store

    async def _connect(self, *, query_only: bool) -> SqliteConnection:
        """Another connection to the database file, beside the one that writes."""
        db = await SqliteConnection.connect(self._path)
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA wal_autocheckpoint = 0")
            if query_only:
                await db.execute("PRAGMA query_only = 1")
        except BaseException:
            await db.close()
            raise
        return db

    async def _prepare(self) -> None:
        try:
            await self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = await _one(self._db, "PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA wal_autocheckpoint = 0")
            await self._db.execute("PRAGMA foreign_keys = ON")
            await _one(self._db, "SELECT count(*) FROM sqlite_schema")
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{self._path} is not a usable SQLite database: {_one_line(error)}"
            ) from error
        if self._path != MEMORY and mode[0] != "wal":
            log.warning("%s: WAL journal unavailable, using %s", self._path, mode[0])
        try:
            while await self._migrate_once():
                pass
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot migrate {self._path}: {_one_line(error)}") from error

    async def _migrate_once(self) -> bool:
        """Apply the next pending migration in its own transaction; False when none is left."""
        latest = len(MIGRATIONS)
        async with self.write() as db:
            version = int((await _one(db, "PRAGMA user_version"))[0])
            if version > latest:
                raise StoreError(
                    f"{self._path} has schema version {version}, newer than this botkit "
                    f"understands ({latest}); upgrade botkit to use it"
                )
            if version == latest:
                return False
            if version == 0:
                tables = await _one(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
                if tables[0]:
                    raise StoreError(f"{self._path} is an SQLite database, but not botkit's")
            log.info("migrating %s to schema version %d", self._path, version + 1)
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1}")
        return True

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[SqliteConnection]:
        """One write transaction, taking SQLite's write lock at once; committed on success.

        For botkit's own modules that keep tables in this database (memory).
        """
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()
        self._committed()

    async def _write_one(self, sql: str, parameters: Iterable[Any] = ()) -> int:
        """Run one write statement as a transaction of its own; returns the rows changed."""
        return await self.transaction(partial(_run_statement, sql, tuple(parameters)))

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` as one write transaction, handed to the database's thread
        whole: committed when it returns (perhaps together with other transactions waiting
        then), rolled back alone when it raises. ``work`` runs on that thread and must not
        begin, commit or roll back itself. For botkit's own modules that keep tables in
        this database (memory), like :meth:`write`, but one trip instead of one a statement."""
        if self._lock.locked():
            # After the :meth:`write` transaction open or waiting.
            async with self._lock:
                result = await self._db.transaction(work)
        else:
            # Handed over whole, it needs no lock: the connection's thread runs work in
            # order, and commits transactions waiting together at once.
            result = await self._db.transaction(work)
        self._committed()
        return result

    def _committed(self) -> None:
        """Count a commit; start a checkpoint in the background every :data:`CHECKPOINT_EVERY`."""
        self._commits += 1
        if (
            self._path != MEMORY
            and self._commits >= CHECKPOINT_EVERY
            and (self._checkpointing is None or self._checkpointing.done())
        ):
            self._commits = 0
            self._checkpointing = asyncio.create_task(
                self._checkpoint(), name="botkit-store-checkpoint"
            )

    async def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, beside the writes going on."""
        try:
            if self._checkpointer is None:
                self._checkpointer = await self._connect(query_only=False)
            await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:
            log.warning("%s: checkpoint failed: %s", self._path, _one_line(error))

    async def fetch(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """The rows of a query, as committed (never part of another task's transaction)."""
        if self._reader is not None:
            return (await self._reader.execute(sql, parameters)).rows
        async with self._lock:
            return (await self._db.execute(sql, parameters)).rows

    async def fetch_one(self, sql: str, parameters: Iterable[Any] = ()) -> Any:
        """The first row of a query, or None."""
        rows = await self.fetch(sql, parameters)
        return rows[0] if rows else None

    async def schema_version(self) -> int:
        """The migration the database is at."""
        return int((await self.fetch_one("PRAGMA user_version"))[0])

    async def close(self) -> None:
        """Close the database; closing twice is harmless."""
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        for other in (self._checkpointer, self._reader):
            if other is not None:
                await other.close()
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
        """Store a received message in the transcript and its delivery as pending, atomically.

        Returns NEW the first time. A delivery already seen, by event id or as the same
        message of the same channel under another event id, changes nothing and returns how
        far its handling got.
        """
        channel = event.channel
        turn = (
            *_place(channel),
            event.message_id,
            event.reply_to,
            event.author.id,
            event.author.name,
            int(event.author.is_bot),
            json.dumps(list(event.mentions)),
            event.text,
            utc_text(event.time),
        )

        def record(db: sqlite3.Connection) -> EventStatus:
            known = _status_of(db, event)
            if known is not None:
                return known
            db.execute(
                f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                turn,
            )
            _insert_event(
                db, event.event_id, channel, EventStatus.PENDING, of_turn_just_inserted=True
            )
            return EventStatus.NEW

        status = await self.transaction(record)
        if status is EventStatus.NEW:
            self._unbegun.add(event.event_id)
            self._turn_stored(
                StoredTurn(channel, event.author.name, event.text, is_character=False)
            )
        return status

    async def finish_event(self, event_id: str) -> None:
        """Mark a delivered event fully handled, so that a redelivery is ignored."""
        self._unbegun.discard(event_id)
        await self._write_one(
            "UPDATE events SET status = ?, progress = NULL WHERE event_id = ?",
            (EventStatus.DONE.value, event_id),
        )

    async def save_progress(self, progress: ChainProgress) -> None:
        """Keep how far the answers to a message got (for a turn that recorded no reply)."""
        if progress.event_id is not None:
            self._unbegun.discard(progress.event_id)
        await self.transaction(partial(_save_progress, progress=progress))

    async def progress_of(self, event_id: str) -> ChainProgress | None:
        """How far the answers to a message still being handled got, if any were begun.

        A message this store recorded and whose answers have not begun is answered without
        reading the database.
        """
        if event_id in self._unbegun:
            return None
        row = await self.fetch_one(
            "SELECT progress FROM events WHERE event_id = ? AND status = ?",
            (event_id, EventStatus.PENDING.value),
        )
        if row is None or row[0] is None:
            return None
        return ChainProgress.decode(event_id, row[0])

    async def claim_event(self, event_id: str, channel: ChannelKey) -> bool:
        """Take on an event that is not a message (a command): True only the first time."""
        inserted = await self.transaction(
            partial(
                _insert_event,
                event_id=event_id,
                channel=channel,
                status=EventStatus.DONE,
                of_turn_just_inserted=False,
            )
        )
        return inserted == 1

    async def unfinished_messages(
        self, channel: ChannelKey | None = None, *, limit: int = -1
    ) -> list[MessageEvent]:
        """Stored messages whose handling never finished, oldest first: after a crash, and
        those a flooded channel keeps waiting in the store. ``channel`` and ``limit`` narrow
        them to one channel's oldest ``limit`` (-1: all)."""
        rows = await self.fetch(
            "SELECT e.event_id, t.channel, t.speaker_id, t.speaker_name, t.is_bot, t.text,"
            " t.message_id, t.time, t.mentions, t.reply_to"
            " FROM events e JOIN turns t ON t.seq = e.turn_seq"
            " WHERE e.status = ? AND (? IS NULL OR t.channel = ?) ORDER BY t.seq LIMIT ?",
            (
                EventStatus.PENDING.value,
                None if channel is None else str(channel),
                None if channel is None else str(channel),
                limit,
            ),
        )
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
        """Forget handled event ids recorded before ``older_than``; returns how many.

        Messages stay in the transcript, and a later redelivery of one is still known as done.
        """
        async with self.write() as db:
            outcome = await db.execute(
                "DELETE FROM events WHERE status = ? AND received < ?",
                (EventStatus.DONE.value, utc_text(older_than)),
            )
        return outcome.rowcount

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
        progress: ChainProgress | None = None,
    ) -> None:
        """Add a character's turn to the channel's transcript.

        If the platform already delivered that message back as an incoming one, the
        character's record replaces it. Another character turn is never replaced: a reply
        whose id is already taken by a different one is kept without the id (with a
        warning). ``progress``, the chain's progress after this reply, is saved with it.
        """
        values = (character_id, name, text, utc_text(time))

        def record(db: sqlite3.Connection) -> None:
            known = (
                None
                if message_id is None
                else db.execute(
                    "SELECT seq, is_character, speaker_id, text FROM turns"
                    " WHERE channel = ? AND message_id = ?",
                    (str(channel), message_id),
                ).fetchone()
            )
            if known is None:
                _insert_reply(db, channel, message_id, reply_to, values)
            elif not known[1]:
                db.execute(
                    "UPDATE turns SET reply_to = ?, speaker_id = ?, speaker_name = ?,"
                    " is_character = 1, is_bot = 1, mentions = '[]', text = ?, time = ?,"
                    " remembered = 0 WHERE seq = ?",
                    (reply_to, *values, known[0]),
                )
            elif (known[2], known[3]) != (character_id, text):
                log.warning(
                    "%s: reply id %s already belongs to another reply; %s's reply is kept"
                    " without it",
                    channel,
                    message_id,
                    name,
                )
                _insert_reply(db, channel, None, reply_to, values)
            if progress is not None:
                _save_progress(db, progress)

        if progress is not None and progress.event_id is not None:
            self._unbegun.discard(progress.event_id)
        await self.transaction(record)
        self._turn_stored(StoredTurn(channel, name, text, is_character=True))

    async def record_note(
        self, *, channel: ChannelKey, author: Author, text: str, time: datetime
    ) -> None:
        """Add a turn that a command wrote on a person's behalf (a dice roll) to the
        transcript; it is no delivery, so nothing answers it on a restart."""
        row = (*_place(channel), None, None, author.id, author.name, int(author.is_bot))
        await self._write_one(
            f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, '[]', ?, ?)",
            (*row, text, utc_text(time)),
        )
        self._turn_stored(StoredTurn(channel, author.name, text, is_character=False))

    async def recent_turns(self, channel: ChannelKey, limit: int) -> list[Turn]:
        """The channel's last ``limit`` turns, humans' and characters', oldest first."""
        if limit <= 0:
            return []
        rows = await self.fetch(
            "SELECT speaker_id, speaker_name, text, is_character, time, message_id, reply_to"
            " FROM turns WHERE channel = ? ORDER BY seq DESC LIMIT ?",
            (str(channel), limit),
        )
        return _oldest_first(rows)

    async def conversation_turns(
        self, channel: ChannelKey, limit: int, *, including: str | None = None
    ) -> list[Turn]:
        """The channel's last ``limit`` turns as a conversation picks them up, oldest first.

        Messages still waiting for their answers to begin are left out (each joins the
        conversation when its turn comes), except the message ``including``.
        """
        if limit <= 0:
            return []
        rows = await self.fetch(
            "SELECT t.speaker_id, t.speaker_name, t.text, t.is_character, t.time,"
            " t.message_id, t.reply_to FROM turns t LEFT JOIN events e ON e.turn_seq = t.seq"
            " WHERE t.channel = ? AND (e.status IS NOT ? OR e.progress IS NOT NULL"
            " OR t.message_id IS ?) ORDER BY t.seq DESC LIMIT ?",
            (str(channel), EventStatus.PENDING.value, including, limit),
        )
        return _oldest_first(rows)

    async def character_of_message(self, channel: ChannelKey, message_id: str) -> str | None:
        """The id of the character that posted ``message_id`` in ``channel``, if one did."""
        row = await self.fetch_one(
            "SELECT speaker_id FROM turns"
            " WHERE channel = ? AND message_id = ? AND is_character = 1",
            (str(channel), message_id),
        )
        return None if row is None else str(row[0])

    async def count_turns(self, channel: ChannelKey) -> int:
        """How many turns the channel's transcript holds."""
        row = await self.fetch_one("SELECT count(*) FROM turns WHERE channel = ?", (str(channel),))
        return int(row[0])

    async def get_cast(self, channel: ChannelKey) -> list[str] | None:
        """The channel's cast in order, or None if it was never set."""
        row = await self.fetch_one(
            "SELECT character_ids FROM casts WHERE channel = ?", (str(channel),)
        )
        return None if row is None else [str(item) for item in json.loads(row[0])]

    async def set_cast(self, channel: ChannelKey, character_ids: Sequence[str]) -> None:
        """Replace the channel's cast (the order is kept)."""
        encoded = json.dumps(list(character_ids))
        await self._write_one(
            "INSERT INTO casts (channel, platform, server, character_ids) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (channel) DO UPDATE SET character_ids = excluded.character_ids",
            (*_place(channel), encoded),
        )

    async def get_setting(self, scope: str, key: str) -> Any | None:
        """A stored setting's value, or None if it is not set."""
        row = await self.fetch_one(
            "SELECT value FROM settings WHERE scope = ? AND key = ?", (scope, key)
        )
        return None if row is None else json.loads(row[0])

    async def get_settings(self, scope: str) -> dict[str, Any]:
        """Every setting stored for ``scope``, by key."""
        rows = await self.fetch("SELECT key, value FROM settings WHERE scope = ?", (scope,))
        return {str(key): json.loads(value) for key, value in rows}

    async def set_setting(self, scope: str, key: str, value: Any) -> None:
        """Store a setting; ``value`` must be JSON-serialisable."""
        encoded = json.dumps(value)
        await self._write_one(
            "INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
            (scope, key, encoded),
        )

    async def delete_setting(self, scope: str, key: str) -> None:
        """Remove a setting; removing one that is not set is harmless."""
        await self._write_one("DELETE FROM settings WHERE scope = ? AND key = ?", (scope, key))
