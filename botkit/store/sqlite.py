"""The store on an SQLite file: opening, migrations and the write-ahead log's upkeep."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

from botkit.one_line import one_line
from botkit.store.connection import SqliteDriver, ThreadConnection
from botkit.store.migrations import MIGRATIONS
from botkit.store.store import Store, StoreError, first_row

__all__ = ["SqliteStore"]

log = logging.getLogger(__name__)

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_EVERY = 200
"""Commits between two checkpoints of the write-ahead log (about SQLite's own default of
1,000 pages); each runs in the background on a connection of its own, so no write waits
for the log to be copied into the database file."""


def _check_openable(where: str) -> None:
    """Create the file's folder and open the file once on a plain connection."""
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(where).close()


class SqliteStore(Store):
    """The store in one SQLite file, for one process (several would each write in turn)."""

    def __init__(self, db: ThreadConnection, where: str) -> None:
        """Wrap an open connection; use :meth:`Store.open`."""
        super().__init__(db, where)
        self._checkpointer: ThreadConnection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._commits = 0

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._where

    @classmethod
    async def connect(cls, where: str) -> SqliteStore:
        """Open the file ``where`` (``":memory:"`` for a private one), creating it if needed.

        Pending migrations are applied. Raises :class:`StoreError` if the file cannot be
        opened, is not a usable SQLite database, belongs to something else, or was written
        by a newer botkit.
        """
        try:
            if where != MEMORY:
                await asyncio.to_thread(_check_openable, where)
            db = await ThreadConnection.connect(SqliteDriver(where))
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open database {where}: {one_line(error)}") from error
        store = cls(db, where)
        try:
            await store._prepare()
            if where != MEMORY:
                store._reader = await store._connect(query_only=True)
        except BaseException:
            await store.close()
            raise
        return store

    async def _connect(self, *, query_only: bool) -> ThreadConnection:
        """Another connection to the database file, beside the one that writes."""
        db = await ThreadConnection.connect(SqliteDriver(self._where))
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
            mode = await first_row(self._db, "PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA wal_autocheckpoint = 0")
            await self._db.execute("PRAGMA foreign_keys = ON")
            await first_row(self._db, "SELECT count(*) FROM sqlite_schema")
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{self._where} is not a usable SQLite database: {one_line(error)}"
            ) from error
        if self._where != MEMORY and mode[0] != "wal":
            log.warning("%s: WAL journal unavailable, using %s", self._where, mode[0])
        try:
            while await self._migrate_once():
                pass
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot migrate {self._where}: {one_line(error)}") from error

    async def _migrate_once(self) -> bool:
        """Apply the next pending migration in its own transaction; False when none is left."""
        latest = len(MIGRATIONS)
        async with self.write() as db:
            version = int((await first_row(db, "PRAGMA user_version"))[0])
            if version > latest:
                raise StoreError(
                    f"{self._where} has schema version {version}, newer than this botkit "
                    f"understands ({latest}); upgrade botkit to use it"
                )
            if version == latest:
                return False
            if version == 0:
                tables = await first_row(
                    db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                )
                if tables[0]:
                    raise StoreError(f"{self._where} is an SQLite database, but not botkit's")
            log.info("migrating %s to schema version %d", self._where, version + 1)
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1}")
        return True

    async def schema_version(self) -> int:
        """The migration the database is at."""
        return int((await self.fetch_one("PRAGMA user_version"))[0])

    async def _upkeep(self) -> None:
        """Count a commit; start a checkpoint in the background every :data:`CHECKPOINT_EVERY`."""
        self._commits += 1
        if (
            self._where != MEMORY
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
            log.warning("%s: checkpoint failed: %s", self._where, one_line(error))

    async def close(self) -> None:
        """Close the database; closing twice is harmless."""
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await super().close()
