"""The store on a Postgres server, which several botkit processes may share."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from botkit.one_line import one_line
from botkit.store.connection import Cursor, Session, ThreadConnection
from botkit.store.postgres_migrations import POSTGRES_MIGRATIONS
from botkit.store.store import Store, StoreError, first_row

__all__ = ["PostgresDriver", "PostgresStore", "masked_url"]

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x626F746B6974
"""The advisory lock that keeps two processes from migrating the same database at once."""
CONNECT_TIMEOUT_S = 10


def masked_url(url: str) -> str:
    """``url`` with its password hidden, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    """The store's SQL (``?`` placeholders) as psycopg takes it (``%s``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresCursor:
    """A psycopg cursor that reads as an sqlite3 one: no rows where a statement has none."""

    def __init__(self, cursor: psycopg.ClientCursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        return None if self._cursor.description is None else self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return [] if self._cursor.description is None else self._cursor.fetchall()


@dataclass
class PostgresSession:
    """A psycopg connection that takes the store's SQL, for the connection's thread."""

    connection: psycopg.Connection[Any]
    in_transaction: bool = False
    """Whether a transaction was begun and not yet ended (known even once the link broke)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        """Run one statement."""
        command = sql.lstrip()[:8].upper()
        if command.startswith(("COMMIT", "ROLLBACK")) and "SAVEPOINT" not in sql.upper():
            # Ended, whether or not the server hears of it.
            self.in_transaction = False
        cursor = psycopg.ClientCursor(self.connection)
        cursor.execute(_placeholders(sql), tuple(parameters))
        if command.startswith("BEGIN"):
            self.in_transaction = True
        return _PostgresCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Any], /) -> Cursor:
        """Run one statement once for each row of parameters."""
        cursor = psycopg.ClientCursor(self.connection)
        cursor.executemany(_placeholders(sql), [tuple(row) for row in rows])
        return _PostgresCursor(cursor)


@dataclass(frozen=True)
class PostgresDriver:
    """A Postgres database, by its ``postgresql://`` URL."""

    url: str
    begin: str = "BEGIN"
    error: type[Exception] = field(default=psycopg.Error)

    def open(self) -> Session:
        """Connect in autocommit mode (transactions are begun explicitly)."""
        connection = psycopg.connect(
            self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="botkit"
        )
        return PostgresSession(connection)

    def in_transaction(self, session: Session) -> bool:
        """Whether the server has a transaction open on this connection."""
        assert isinstance(session, PostgresSession)
        status = session.connection.info.transaction_status
        return status != psycopg.pq.TransactionStatus.IDLE

    def revive(self, session: Session) -> Session:
        """A new connection where the old one broke (a server restart, a network cut).

        A transaction open when it broke is lost: the next statement hears of it (and the
        one after that runs on a new connection), so no half of it is ever committed.
        """
        assert isinstance(session, PostgresSession)
        if not (session.connection.closed or session.connection.broken):
            return session
        if session.in_transaction:
            session.in_transaction = False
            raise psycopg.OperationalError("the connection to Postgres broke during a transaction")
        log.warning("%s: connection lost; connecting again", masked_url(self.url))
        session.connection.close()
        return self.open()

    def close(self, session: Session) -> None:
        """Close the connection."""
        assert isinstance(session, PostgresSession)
        session.connection.close()


class PostgresStore(Store):
    """The store on a Postgres server: one connection writes, another reads."""

    dialect = "postgres"
    shared = True

    @classmethod
    async def connect(cls, url: str) -> PostgresStore:
        """Connect to the database at ``url`` and apply pending migrations.

        Raises :class:`StoreError` (never showing the password) if the server cannot be
        reached, the database belongs to something else, or a newer botkit wrote it.
        """
        where = masked_url(url)
        driver = PostgresDriver(url)
        try:
            db = await ThreadConnection.connect(driver)
        except psycopg.Error as error:
            raise StoreError(f"cannot open database {where}: {one_line(error)}") from error
        store = cls(db, where)
        try:
            await store._migrate()
            store._reader = await ThreadConnection.connect(driver, reads_only=True)
        except psycopg.Error as error:
            await store.close()
            raise StoreError(f"cannot use database {where}: {one_line(error)}") from error
        except BaseException:
            await store.close()
            raise
        return store

    async def _migrate(self) -> None:
        """Bring the schema up to date, one process at a time."""
        latest = len(POSTGRES_MIGRATIONS)
        async with self.write() as db:
            await db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            known = await first_row(db, "SELECT to_regclass('botkit_schema') IS NOT NULL")
            if not known[0]:
                tables = await first_row(
                    db,
                    "SELECT count(*) FROM information_schema.tables"
                    " WHERE table_schema = current_schema()",
                )
                if tables[0]:
                    raise StoreError(f"{self._where} is a Postgres database, but not botkit's")
                await db.execute("CREATE TABLE botkit_schema (version INTEGER NOT NULL)")
                await db.execute("INSERT INTO botkit_schema (version) VALUES (0)")
            version = int((await first_row(db, "SELECT version FROM botkit_schema"))[0])
            if version > latest:
                raise StoreError(
                    f"{self._where} has schema version {version}, newer than this botkit "
                    f"understands ({latest}); upgrade botkit to use it"
                )
            for number in range(version, latest):
                log.info("migrating %s to schema version %d", self._where, number + 1)
                for statement in POSTGRES_MIGRATIONS[number]:
                    await db.execute(statement)
            await db.execute("UPDATE botkit_schema SET version = ?", (latest,))

    async def schema_version(self) -> int:
        """The migration the database is at."""
        return int((await self.fetch_one("SELECT version FROM botkit_schema"))[0])

    async def _upkeep(self) -> None:
        """Postgres keeps its own log; there is nothing to do after a commit."""
