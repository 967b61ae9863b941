"""What the store spares each reply: reads it can answer itself, reads that wait for no
write, and checkpoints that no write waits for."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from botkit.chain import ChainProgress
from botkit.store import Store, sqlite
from tests.store.helpers import message

DEADLOCK_SECONDS = 30
"""How long a read may take before the test calls it stuck (only if the test fails)."""


def count_reads(store: Store) -> list[str]:
    """Record the SQL of every read ``store`` makes from now on."""
    reads: list[str] = []
    fetch = store.fetch

    async def counted(sql: str, parameters: Any = ()) -> list[Any]:
        reads.append(sql)
        return await fetch(sql, parameters)

    store.fetch = counted  # type: ignore[method-assign]
    return reads


async def test_a_message_just_recorded_has_no_progress_without_a_read(store: Store) -> None:
    event = message(1)
    await store.record_incoming(event)
    reads = count_reads(store)
    assert await store.progress_of(event.event_id) is None
    # Where other processes share the database, one of them may have begun the answers.
    assert len(reads) == (1 if store.shared else 0)
    progress = ChainProgress(event.event_id, ("mira", "bram"), done=1, turns=1)
    await store.save_progress(progress)
    assert await store.progress_of(event.event_id) == progress
    assert len(reads) == (2 if store.shared else 1)


async def test_progress_stored_by_an_earlier_run_is_read(database: str) -> None:
    event = message(1)
    progress = ChainProgress(event.event_id, ("mira",), done=1, turns=1, spoke=True)
    async with await Store.open(database) as store:
        await store.record_incoming(event)
        await store.save_progress(progress)
    async with await Store.open(database) as store:
        assert await store.progress_of(event.event_id) == progress
        await store.finish_event(event.event_id)
        assert await store.progress_of(event.event_id) is None


async def test_a_read_is_answered_while_a_write_transaction_is_open(store: Store) -> None:
    await store.record_incoming(message(1))
    async with store.write() as db:
        await db.execute("UPDATE turns SET text = 'changed, not committed yet'")
        rows = await asyncio.wait_for(store.fetch("SELECT text FROM turns"), DEADLOCK_SECONDS)
    assert rows == [("message 1",)]
    assert await store.fetch("SELECT text FROM turns") == [("changed, not committed yet",)]


def turns_in_the_file_alone(path: Path) -> int:
    """Turns the database file holds without its write-ahead log (0 while unreadable)."""
    file_only = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(file_only.execute("SELECT count(*) FROM turns").fetchone()[0])
    except sqlite3.DatabaseError:
        return 0
    finally:
        file_only.close()


async def test_the_log_is_copied_into_the_database_file_in_the_background(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY", 10)
    async with await Store.open(db_path) as store:
        assert await store.fetch_one("PRAGMA wal_autocheckpoint") == (0,)
        for n in range(25):
            await store.record_incoming(message(n))
        for _ in range(DEADLOCK_SECONDS * 100):
            if turns_in_the_file_alone(db_path):
                break
            await asyncio.sleep(0.01)
        assert turns_in_the_file_alone(db_path) >= 1
