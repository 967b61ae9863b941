"""botkit's persistent store: transcripts, delivered events, casts, settings and leases.

The SQL here is shared by both databases (SQLite and Postgres); what differs (opening,
migrations, upkeep) lives in :mod:`botkit.store.sqlite` and :mod:`botkit.store.postgres`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from botkit.chain import ChainProgress
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.store.connection import Session, ThreadConnection
from botkit.transcript import Turn

__all__ = ["EventStatus", "Store", "StoreError", "StoredTurn", "utc_text"]

log = logging.getLogger(__name__)

T = TypeVar("T")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"
NO_LIMIT = 2**62
"""A row limit that never binds (both databases take it, unlike SQLite's -1)."""

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


class _Overtaken(Exception):
    """Another process stored the same delivery first (rolls this transaction back)."""


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


async def first_row(db: ThreadConnection, sql: str, parameters: Iterable[Any] = ()) -> Any:
    """The first row of a query, or None (one trip to the connection's thread)."""
    rows = (await db.execute(sql, parameters)).rows
    return rows[0] if rows else None


def _run_statement(sql: str, parameters: tuple[Any, ...], db: Session) -> int:
    """Run one statement; the rows it changed."""
    return db.execute(sql, parameters).rowcount


def _status_of(db: Session, event: MessageEvent) -> EventStatus | None:
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
    db: Session,
    event_id: str,
    channel: ChannelKey,
    status: EventStatus,
    *,
    turn_seq: int | None,
) -> int:
    """Record a delivery, of the stored turn ``turn_seq`` or of none; returns 1, or 0 when
    the event id is known already."""
    return db.execute(
        "INSERT INTO events (event_id, channel, platform, server, turn_seq, status, received)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
        (event_id, *_place(channel), turn_seq, status.value, utc_text(datetime.now(UTC))),
    ).rowcount


def _save_progress(db: Session, progress: ChainProgress) -> None:
    db.execute(
        "UPDATE events SET progress = ? WHERE event_id = ? AND status = ?",
        (progress.encode(), progress.event_id, EventStatus.PENDING.value),
    )


def _insert_reply(
    db: Session,
    channel: ChannelKey,
    message_id: str | None,
    reply_to: str | None,
    values: tuple[str, str, str, str],
) -> None:
    db.execute(
        f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, '[]', ?, ?)",
        (*_place(channel), message_id, reply_to, *values),
    )


class Store(abc.ABC):
    """botkit's database: what was said where, which deliveries were handled, casts, settings.

    Open with ``await Store.open(where)`` and close with ``close()`` or ``async with``. Every
    write is committed before its method returns, so a crash loses nothing already stored.
    """

    dialect = "sqlite"
    """Which SQL the database speaks beyond what both share: "sqlite" or "postgres"."""
    shared = False
    """Whether other processes may use the database at the same time."""

    def __init__(self, db: ThreadConnection, where: str) -> None:
        """Wrap an open connection; use :meth:`open`, which also prepares and migrates it."""
        self._db = db
        self._where = where
        self._lock = asyncio.Lock()
        self._reader: ThreadConnection | None = None
        """A second connection for reads, so they never wait for a write."""
        self._turn_listeners: list[Callable[[StoredTurn], None]] = []
        self._unbegun: set[str] = set()
        """Messages this store recorded whose answers have not begun: no progress saved
        (known only where no other process shares the database)."""

    @classmethod
    async def open(cls, where: str | Path) -> Store:
        """Open the database ``where`` names, creating and migrating it as needed:
        ``postgresql://…`` for a Postgres server, ``sqlite:///path`` or a plain path for an
        SQLite file (``":memory:"`` for a private one).

        Raises :class:`StoreError` with one line naming the database and the reason.
        """
        text = str(where)
        if text.startswith(POSTGRES_SCHEMES):
            try:
                from botkit.store.postgres import PostgresStore
            except ImportError as error:
                raise StoreError(
                    "a postgresql:// store needs psycopg: pip install 'botkit[postgres]'"
                ) from error
            return await PostgresStore.connect(text)
        from botkit.store.sqlite import SqliteStore

        return await SqliteStore.connect(text.removeprefix(SQLITE_SCHEME))

    @property
    def where(self) -> str:
        """The database, as named in logs and errors (a file, or a URL without password)."""
        return self._where

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The migration the database is at."""

    @abc.abstractmethod
    async def _upkeep(self) -> None:
        """Called after each commit, for the database's own housekeeping."""

    async def close(self) -> None:
        """Close the database; closing twice is harmless."""
        if self._reader is not None:
            await self._reader.close()
        await self._db.close()

    def on_turn(self, listener: Callable[[StoredTurn], None]) -> None:
        """Call ``listener`` with each turn stored (synchronously, after the commit)."""
        self._turn_listeners.append(listener)

    def _turn_stored(self, turn: StoredTurn) -> None:
        for listener in self._turn_listeners:
            listener(turn)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[ThreadConnection]:
        """One write transaction (on SQLite, taking the write lock at once); committed on
        success. For botkit's own modules that keep tables in this database (memory)."""
        async with self._lock:
            try:
                await self._db.begin()
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()
        await self._upkeep()

    async def _write_one(self, sql: str, parameters: Iterable[Any] = ()) -> int:
        """Run one write statement as a transaction of its own; returns the rows changed."""
        return await self.transaction(partial(_run_statement, sql, tuple(parameters)))

    async def transaction(self, work: Callable[[Session], T]) -> T:
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
        await self._upkeep()
        return result

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

        def record(db: Session) -> EventStatus:
            known = _status_of(db, event)
            if known is not None:
                return known
            stored = db.execute(
                f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
                " ON CONFLICT (channel, message_id) WHERE message_id IS NOT NULL DO NOTHING"
                " RETURNING seq",
                turn,
            ).fetchone()
            if stored is None or not _insert_event(
                db, event.event_id, channel, EventStatus.PENDING, turn_seq=stored[0]
            ):
                raise _Overtaken
            return EventStatus.NEW

        try:
            status = await self.transaction(record)
        except _Overtaken:
            # Another process stored the same delivery between the look and the insert:
            # a second look finds it.
            status = await self.transaction(record)
        if status is EventStatus.NEW:
            if not self.shared:
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
                turn_seq=None,
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
                NO_LIMIT if limit < 0 else limit,
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

        def record(db: Session) -> None:
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
            " WHERE t.channel = ? AND (e.status IS DISTINCT FROM ? OR e.progress IS NOT NULL"
            " OR t.message_id IS NOT DISTINCT FROM ?) ORDER BY t.seq DESC LIMIT ?",
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

    async def take_lease(self, name: str, owner: str, *, until: datetime) -> datetime | None:
        """Make ``owner`` the holder of lease ``name`` until ``until``, if it is free, has
        run out, or is ``owner``'s already. Returns None when taken, else when the other
        holder's lease runs out."""
        now, expires = utc_text(datetime.now(UTC)), utc_text(until)

        def take(db: Session) -> str | None:
            taken = db.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " expires = excluded.expires"
                " WHERE leases.owner = excluded.owner OR leases.expires < ?",
                (name, owner, expires, now),
            ).rowcount
            if taken:
                return None
            row = db.execute("SELECT expires FROM leases WHERE name = ?", (name,)).fetchone()
            return now if row is None else str(row[0])

        held_until = await self.transaction(take)
        return None if held_until is None else datetime.fromisoformat(held_until)

    async def renew_leases(self, owner: str, *, until: datetime) -> set[str]:
        """Extend every lease ``owner`` holds to ``until``; the names it still holds."""

        def renew(db: Session) -> set[str]:
            rows = db.execute(
                "UPDATE leases SET expires = ? WHERE owner = ? RETURNING name",
                (utc_text(until), owner),
            ).fetchall()
            return {str(row[0]) for row in rows}

        return await self.transaction(renew)

    async def release_leases(self, owner: str, names: Iterable[str] | None = None) -> None:
        """Give up ``owner``'s leases (``names`` of them, or all), for others to take now."""
        if names is None:
            await self._write_one("DELETE FROM leases WHERE owner = ?", (owner,))
            return
        rows = [(owner, name) for name in names]
        await self.transaction(
            lambda db: db.executemany("DELETE FROM leases WHERE owner = ? AND name = ?", rows)
        )

    async def waiting_messages(self, owner: str) -> list[tuple[ChannelKey, str]]:
        """(channel, event id) of the messages waiting for their answers in channels whose
        lease ``owner`` holds, or that nobody holds (free, or run out)."""
        rows = await self.fetch(
            "SELECT e.channel, e.event_id FROM events e LEFT JOIN leases l ON l.name = e.channel"
            " WHERE e.status = ? AND e.turn_seq IS NOT NULL"
            " AND (l.owner IS NULL OR l.owner = ? OR l.expires < ?)",
            (EventStatus.PENDING.value, owner, utc_text(datetime.now(UTC))),
        )
        return [(ChannelKey.parse(str(row[0])), str(row[1])) for row in rows]
