"""A database connection on a thread of its own, for asyncio code: every call is one trip.

The drivers (sqlite3, psycopg) block, so the connection lives on a dedicated thread and
the event loop hands it work. A hand-over costs far more than a small statement does, so
each call carries a whole piece of work: a statement together with all of its rows, or a
function of the connection that makes one transaction.

Committing is most of what a small write transaction costs (SQLite appends to its
write-ahead log, Postgres flushes its own and answers over the network), so transactions
that are waiting together are committed together: each runs inside a savepoint of one
``BEGIN`` … ``COMMIT``, a failing one is rolled back to its savepoint alone, and no caller
hears of success before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

__all__ = [
    "GROUP_MOST",
    "Cursor",
    "Driver",
    "Outcome",
    "Session",
    "SqliteDriver",
    "ThreadConnection",
]

T = TypeVar("T")

GROUP_MOST = 64
"""The most waiting transactions committed together."""


class Cursor(Protocol):
    """What a statement gives back: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (-1 where unknown)."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""


class Session(Protocol):
    """An open connection as work on the connection's thread sees it (``?`` placeholders)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, rows: Iterable[Any], /) -> Cursor:
        """Run one statement once for each row of parameters."""


class Driver(Protocol):
    """How one kind of database is opened, and how its transactions begin and end."""

    @property
    def begin(self) -> str:
        """The statement that opens a write transaction."""

    @property
    def error(self) -> type[Exception]:
        """The driver's base error class."""

    def open(self) -> Session:
        """A new connection in autocommit mode (transactions are begun explicitly)."""

    def in_transaction(self, session: Session) -> bool:
        """Whether a transaction is open (the database may have rolled one back itself)."""

    def revive(self, session: Session) -> Session:
        """``session``, or a new connection where the old one broke (outside transactions)."""

    def close(self, session: Session) -> None:
        """Close the connection."""


@dataclass(frozen=True, slots=True)
class SqliteDriver:
    """An SQLite database file (or ``":memory:"``)."""

    path: str
    begin: str = "BEGIN IMMEDIATE"
    error: type[Exception] = sqlite3.Error

    def open(self) -> Session:
        """Open the file in autocommit mode, for use from the connection's thread."""
        return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)

    def in_transaction(self, session: Session) -> bool:
        """Whether SQLite has a transaction open."""
        assert isinstance(session, sqlite3.Connection)
        return session.in_transaction

    def revive(self, session: Session) -> Session:
        """A file connection does not break."""
        return session

    def close(self, session: Session) -> None:
        """Close the connection."""
        assert isinstance(session, sqlite3.Connection)
        session.close()


_Work = Callable[[Session], Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one statement did: its rows (all of them) and the rows it changed."""

    rows: list[Any]
    rowcount: int


@dataclass(frozen=True, slots=True)
class _Job:
    """Work for the connection's thread, the future its caller awaits, and whether the
    work is a transaction of its own (which may be committed with others)."""

    future: asyncio.Future[Any]
    work: _Work
    transaction: bool


def _post(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    """From the connection's thread: settle ``future`` on its loop (unless the loop is gone)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Hand a job's result to its caller, unless the caller stopped waiting."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _statement(sql: str, parameters: Iterable[Any]) -> _Work:
    def run(connection: Session) -> Outcome:
        cursor = connection.execute(sql, tuple(parameters))
        return Outcome(cursor.fetchall(), cursor.rowcount)

    return run


def _statements(sql: str, rows: Iterable[Iterable[Any]]) -> _Work:
    def run(connection: Session) -> Outcome:
        cursor = connection.executemany(sql, (tuple(row) for row in rows))
        return Outcome([], cursor.rowcount)

    return run


class ThreadConnection:
    """One database connection in autocommit mode, used only on its own thread.

    Open with :meth:`connect`. Calls run in the order they were made. A caller that
    stops waiting (cancelled) does not stop its work: the thread finishes it, so a
    transaction still ends in a commit or a rollback.
    """

    def __init__(
        self, jobs: queue.SimpleQueue[_Job | None], thread: threading.Thread, driver: Driver
    ) -> None:
        """Wrap a running worker; use :meth:`connect`."""
        self._jobs = jobs
        self._thread = thread
        self._closed = False
        self.driver = driver

    @classmethod
    async def connect(cls, driver: Driver, *, reads_only: bool = False) -> ThreadConnection:
        """Open a connection through ``driver`` on a new thread.

        ``reads_only`` promises that nothing but reads is handed over, so a read that finds
        the connection broken is run again on a new one. Raises what the driver's ``open``
        raises, once the thread has ended.
        """
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        thread = threading.Thread(
            target=_serve,
            args=(driver, jobs, loop, opened, reads_only),
            name="botkit-store",
            daemon=True,
        )
        thread.start()
        try:
            await opened
        except BaseException:
            await asyncio.to_thread(thread.join)
            raise
        return cls(jobs, thread, driver)

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(connection)``, run on the connection's thread; its result or its error."""
        return await self._hand_over(work, transaction=False)

    async def transaction(self, work: Callable[[Session], T]) -> T:
        """``work(connection)`` as a write transaction, taking the write lock at once:
        committed when it returns, rolled back (alone) when it raises. ``work`` must not
        begin, commit or roll back itself."""
        return await self._hand_over(work, transaction=True)

    async def _hand_over(self, work: Callable[[Session], T], *, transaction: bool) -> T:
        if self._closed:
            raise ConnectionError("the database connection is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(future, work, transaction))
        return await future

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> Outcome:
        """Run one statement and read all its rows."""
        outcome: Outcome = await self.run(_statement(sql, parameters))
        return outcome

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> Outcome:
        """Run one statement once for each row of parameters."""
        outcome: Outcome = await self.run(_statements(sql, list(rows)))
        return outcome

    async def begin(self) -> None:
        """Open a write transaction (SQLite takes its write lock at once)."""
        await self.execute(self.driver.begin)

    async def commit(self) -> None:
        """End the open transaction, keeping its changes."""
        await self.execute("COMMIT")

    async def rollback(self) -> None:
        """End the open transaction, if any, undoing its changes."""
        await self.run(partial(_roll_back, self.driver))

    async def close(self) -> None:
        """Finish the work handed over so far, close the connection and end the thread.

        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)


def _roll_back(driver: Driver, connection: Session) -> None:
    if driver.in_transaction(connection):
        connection.execute("ROLLBACK")


def _serve(
    driver: Driver,
    jobs: queue.SimpleQueue[_Job | None],
    loop: asyncio.AbstractEventLoop,
    opened: asyncio.Future[None],
    reads_only: bool,
) -> None:
    """The connection's thread: open the database, then run jobs until told to stop."""
    try:
        connection = driver.open()
    except BaseException as error:
        _post(loop, opened, None, error)
        return
    _post(loop, opened, None, None)
    carried: list[_Job | None] = []
    """A job taken while gathering a group that is not part of it: it runs next."""
    try:
        while (job := carried.pop() if carried else jobs.get()) is not None:
            try:
                connection = driver.revive(connection)
            except driver.error as error:
                _post(loop, job.future, None, error)
                continue
            if not job.transaction:
                connection = _run_alone(driver, connection, job, loop, again=reads_only)
                continue
            group = [job]
            while len(group) < GROUP_MOST:
                try:
                    waiting = jobs.get_nowait()
                except queue.Empty:
                    break
                if waiting is None or not waiting.transaction:
                    carried.append(waiting)
                    break
                group.append(waiting)
            connection = _commit_together(driver, connection, group, loop)
    finally:
        driver.close(connection)


def _replaced(driver: Driver, connection: Session) -> Session | None:
    """A new connection where ``connection`` broke (None where it did not, or no new one
    could be opened)."""
    try:
        fresh = driver.revive(connection)
    except driver.error:
        return None
    return None if fresh is connection else fresh


def _run_alone(
    driver: Driver, connection: Session, job: _Job, loop: asyncio.AbstractEventLoop, *, again: bool
) -> Session:
    """Run one job outside a transaction (``again``: once more on a new connection if the
    link broke); the connection to go on with."""
    try:
        result = job.work(connection)
    except driver.error as error:
        if again and (fresh := _replaced(driver, connection)) is not None:
            return _run_alone(driver, fresh, job, loop, again=False)
        _post(loop, job.future, None, error)
    except BaseException as error:
        _post(loop, job.future, None, error)
    else:
        _post(loop, job.future, result, None)
    return connection


def _begin(driver: Driver, connection: Session) -> Session:
    """Open a write transaction; where the link broke since the last use, on a new
    connection (nothing has run yet); the connection it is open on."""
    try:
        connection.execute(driver.begin)
    except driver.error:
        fresh = _replaced(driver, connection)
        if fresh is None:
            raise
        fresh.execute(driver.begin)
        return fresh
    return connection


def _commit_together(
    driver: Driver, connection: Session, group: Sequence[_Job], loop: asyncio.AbstractEventLoop
) -> Session:
    """Run ``group``'s transactions in one, each in a savepoint; then tell their callers.
    Returns the connection to go on with."""
    results: list[tuple[Any, BaseException | None]] = []
    try:
        connection = _begin(driver, connection)
        for job in group:
            connection.execute("SAVEPOINT botkit_job")
            try:
                results.append((job.work(connection), None))
            except Exception as error:
                if not driver.in_transaction(connection):
                    # The database rolled the whole transaction back (a full disk, say).
                    raise
                connection.execute("ROLLBACK TO SAVEPOINT botkit_job")
                results.append((None, error))
            connection.execute("RELEASE SAVEPOINT botkit_job")
        connection.execute("COMMIT")
    except BaseException as error:
        with contextlib.suppress(driver.error):
            _roll_back(driver, connection)
        for job in group:
            _post(loop, job.future, None, error)
        return connection
    for job, (result, failure) in zip(group, results, strict=True):
        _post(loop, job.future, result, failure)
    return connection
