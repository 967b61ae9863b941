"""An SQLite connection on a thread of its own, for asyncio code: every call is one trip.

sqlite3 blocks, so the connection lives on a dedicated thread and the event loop hands
it work. A hand-over costs far more than a small statement does, so each call carries a
whole piece of work: a statement together with all of its rows, or a function of the
connection that makes one transaction.

Committing is most of what a small write transaction costs (the write-ahead log is
appended and its index updated), so transactions that are waiting together are committed
together: each runs inside a savepoint of one ``BEGIN IMMEDIATE`` … ``COMMIT``, a failing
one is rolled back to its savepoint alone, and no caller hears of success before the
commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["GROUP_MOST", "Outcome", "SqliteConnection"]

T = TypeVar("T")

GROUP_MOST = 64
"""The most waiting transactions committed together."""

_Work = Callable[[sqlite3.Connection], Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one statement did: its rows (all of them), rows changed, and the last row id."""

    rows: list[Any]
    rowcount: int
    lastrowid: int | None


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
    def run(connection: sqlite3.Connection) -> Outcome:
        cursor = connection.execute(sql, tuple(parameters))
        return Outcome(cursor.fetchall(), cursor.rowcount, cursor.lastrowid)

    return run


def _statements(sql: str, rows: Iterable[Iterable[Any]]) -> _Work:
    def run(connection: sqlite3.Connection) -> Outcome:
        cursor = connection.executemany(sql, (tuple(row) for row in rows))
        return Outcome([], cursor.rowcount, cursor.lastrowid)

    return run


class SqliteConnection:
    """One sqlite3 connection in autocommit mode, used only on its own thread.

    Open with :meth:`connect`. Calls run in the order they were made. A caller that
    stops waiting (cancelled) does not stop its work: the thread finishes it, so a
    transaction still ends in a commit or a rollback.
    """

    def __init__(self, jobs: queue.SimpleQueue[_Job | None], thread: threading.Thread) -> None:
        """Wrap a running worker; use :meth:`connect`."""
        self._jobs = jobs
        self._thread = thread
        self._closed = False

    @classmethod
    async def connect(cls, path: str) -> SqliteConnection:
        """Open ``path`` (``":memory:"`` for a private database) on a new thread.

        Raises what ``sqlite3.connect`` raises, once the thread has ended.
        """
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        thread = threading.Thread(
            target=_serve, args=(path, jobs, loop, opened), name="botkit-sqlite", daemon=True
        )
        thread.start()
        try:
            await opened
        except BaseException:
            await asyncio.to_thread(thread.join)
            raise
        return cls(jobs, thread)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)``, run on the connection's thread; its result or its error."""
        return await self._hand_over(work, transaction=False)

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` as a write transaction, taking the write lock at once:
        committed when it returns, rolled back (alone) when it raises. ``work`` must not
        begin, commit or roll back itself."""
        return await self._hand_over(work, transaction=True)

    async def _hand_over(self, work: Callable[[sqlite3.Connection], T], *, transaction: bool) -> T:
        if self._closed:
            raise sqlite3.ProgrammingError("the database connection is closed")
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

    async def commit(self) -> None:
        """End the open transaction, keeping its changes."""
        await self.run(lambda connection: connection.commit())

    async def rollback(self) -> None:
        """End the open transaction, if any, undoing its changes."""
        await self.run(lambda connection: connection.rollback())

    async def close(self) -> None:
        """Finish the work handed over so far, close the connection and end the thread.

        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)


def _serve(
    path: str,
    jobs: queue.SimpleQueue[_Job | None],
    loop: asyncio.AbstractEventLoop,
    opened: asyncio.Future[None],
) -> None:
    """The connection's thread: open the database, then run jobs until told to stop."""
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except BaseException as error:
        _post(loop, opened, None, error)
        return
    _post(loop, opened, None, None)
    carried: list[_Job | None] = []
    """A job taken while gathering a group that is not part of it: it runs next."""
    try:
        while (job := carried.pop() if carried else jobs.get()) is not None:
            if not job.transaction:
                _run_alone(connection, job, loop)
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
            _commit_together(connection, group, loop)
    finally:
        connection.close()


def _run_alone(connection: sqlite3.Connection, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
    try:
        result = job.work(connection)
    except BaseException as error:
        _post(loop, job.future, None, error)
    else:
        _post(loop, job.future, result, None)


def _commit_together(
    connection: sqlite3.Connection, group: Sequence[_Job], loop: asyncio.AbstractEventLoop
) -> None:
    """Run ``group``'s transactions in one, each in a savepoint; then tell their callers."""
    results: list[tuple[Any, BaseException | None]] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        for job in group:
            connection.execute("SAVEPOINT botkit_job")
            try:
                results.append((job.work(connection), None))
            except Exception as error:
                if not connection.in_transaction:
                    # SQLite rolled the whole transaction back (a full disk, say).
                    raise
                connection.execute("ROLLBACK TO botkit_job")
                results.append((None, error))
            connection.execute("RELEASE botkit_job")
        connection.commit()
    except BaseException as error:
        with contextlib.suppress(sqlite3.Error):
            connection.rollback()
        for job in group:
            _post(loop, job.future, None, error)
        return
    for job, (result, failure) in zip(group, results, strict=True):
        _post(loop, job.future, result, failure)
