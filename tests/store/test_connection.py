"""The SQLite connection thread: work in order, transactions committed together, and a
failing transaction that takes only itself back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from botkit.store.connection import GROUP_MOST, SqliteDriver, ThreadConnection


@pytest.fixture
async def connection(tmp_path: Path) -> ThreadConnection:
    opened = await ThreadConnection.connect(SqliteDriver(str(tmp_path / "db.sqlite3")))
    await opened.execute("PRAGMA journal_mode = WAL")
    await opened.execute("CREATE TABLE items (name TEXT UNIQUE)")
    return opened


def insert(name: str):  # type: ignore[no-untyped-def]
    def work(db: sqlite3.Connection) -> int:
        return db.execute("INSERT INTO items VALUES (?)", (name,)).rowcount

    return work


async def names(connection: ThreadConnection) -> list[str]:
    return [row[0] for row in (await connection.execute("SELECT name FROM items")).rows]


HELD: set[asyncio.Future[None]] = set()


async def hold_thread(connection: ThreadConnection) -> threading.Event:
    """Keep the connection's thread busy until the returned event is set, so the jobs
    handed over meanwhile wait in its queue together."""
    started, release = threading.Event(), threading.Event()

    def wait(_db: sqlite3.Connection) -> None:
        started.set()
        release.wait(5)

    held = asyncio.ensure_future(connection.run(wait))
    HELD.add(held)
    held.add_done_callback(HELD.discard)
    await asyncio.to_thread(started.wait, 5)
    return release


async def test_transactions_waiting_together_are_committed_together(
    connection: ThreadConnection, tmp_path: Path
) -> None:
    seen_outside: list[int] = []

    def look_from_outside(db: sqlite3.Connection) -> None:
        other = sqlite3.connect(tmp_path / "db.sqlite3")
        seen_outside.append(other.execute("SELECT count(*) FROM items").fetchone()[0])
        other.close()

    release = await hold_thread(connection)
    writes = [asyncio.ensure_future(connection.transaction(insert(f"n{i}"))) for i in range(10)]
    looked = asyncio.ensure_future(connection.transaction(look_from_outside))
    await asyncio.sleep(0.05)
    assert not any(write.done() for write in writes)
    release.set()
    assert await asyncio.gather(*writes) == [1] * 10
    await looked
    # The ten were not yet committed when the last of the group ran: one commit for all.
    assert seen_outside == [0]
    assert sorted(await names(connection)) == sorted(f"n{i}" for i in range(10))
    await connection.close()


async def test_a_failing_transaction_is_rolled_back_alone(connection: ThreadConnection) -> None:
    def insert_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO items VALUES ('lost')")
        raise ValueError("the work failed")

    release = await hold_thread(connection)
    first = asyncio.ensure_future(connection.transaction(insert("first")))
    failing = asyncio.ensure_future(connection.transaction(insert_then_fail))
    duplicate = asyncio.ensure_future(connection.transaction(insert("first")))
    last = asyncio.ensure_future(connection.transaction(insert("last")))
    release.set()
    assert await first == 1
    with pytest.raises(ValueError, match="the work failed"):
        await failing
    with pytest.raises(sqlite3.IntegrityError):
        await duplicate
    assert await last == 1
    assert sorted(await names(connection)) == ["first", "last"]
    await connection.close()


async def test_work_runs_in_the_order_it_was_handed_over(connection: ThreadConnection) -> None:
    release = await hold_thread(connection)
    order: list[str] = []

    def note(label: str):  # type: ignore[no-untyped-def]
        def work(db: sqlite3.Connection) -> None:
            order.append(label)

        return work

    jobs = [
        connection.transaction(note("t1")),
        connection.run(note("plain")),
        connection.transaction(note("t2")),
        connection.transaction(note("t3")),
    ]
    handed = [asyncio.ensure_future(job) for job in jobs]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*handed)
    assert order == ["t1", "plain", "t2", "t3"]
    await connection.close()


async def test_more_transactions_than_a_group_holds_all_commit(
    connection: ThreadConnection,
) -> None:
    release = await hold_thread(connection)
    count = GROUP_MOST * 2 + 3
    writes = [asyncio.ensure_future(connection.transaction(insert(f"n{i}"))) for i in range(count)]
    await asyncio.sleep(0)
    release.set()
    assert sum(await asyncio.gather(*writes)) == count
    assert len(await names(connection)) == count
    await connection.close()


async def test_a_closed_connection_refuses_work(connection: ThreadConnection) -> None:
    await connection.close()
    await connection.close()
    with pytest.raises(ConnectionError, match="closed"):
        await connection.execute("SELECT 1")


async def test_a_file_that_cannot_be_opened_raises(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await ThreadConnection.connect(SqliteDriver(str(tmp_path / "missing" / "db.sqlite3")))
