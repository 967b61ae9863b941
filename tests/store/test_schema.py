"""Opening the SQLite store: pragmas, migrations, and clear errors for files it cannot use.

Postgres's side is in test_postgres.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from botkit.store import Store, StoreError
from botkit.store import sqlite as store_module
from botkit.store.migrations import MIGRATIONS
from tests.store.helpers import ROOM, message, raw

LATEST = len(MIGRATIONS)


@pytest.fixture
def database(db_path: Path) -> str:
    """The SQLite file alone: this module is about it."""
    return str(db_path)


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(data)


def schema_names(path: Path) -> set[str]:
    rows = raw(path, "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'")
    return {name for (name,) in rows}


def one_line_error(error: pytest.ExceptionInfo[StoreError], path: Path) -> str:
    text = str(error.value)
    assert "\n" not in text
    assert str(path) in text
    return text


async def test_an_empty_database_is_migrated_to_the_latest_schema(db_path: Path) -> None:
    assert not db_path.parent.exists()
    async with await Store.open(db_path) as store:
        assert await store.schema_version() == LATEST
        assert store.path == str(db_path)
    assert raw(db_path, "PRAGMA user_version") == [(LATEST,)]
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert {"turns", "events", "casts", "settings", "turns_by_channel"} <= schema_names(db_path)


async def test_the_connection_is_configured_for_safe_concurrent_use(store: Store) -> None:
    async def pragma(name: str) -> object:
        row = (await store._db.execute(f"PRAGMA {name}")).rows[0]
        assert row is not None
        return row[0]

    assert await pragma("journal_mode") == "wal"
    assert await pragma("synchronous") == 1  # NORMAL
    assert await pragma("foreign_keys") == 1
    assert await pragma("busy_timeout") == store_module.BUSY_TIMEOUT_MS


async def test_reopening_changes_nothing_and_keeps_the_data(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.record_incoming(message(1))
        await store.set_cast(ROOM, ["mira"])
    before = schema_names(db_path)
    for _ in range(2):
        async with await Store.open(db_path) as store:
            assert await store.schema_version() == LATEST
            assert await store.count_turns(ROOM) == 1
            assert await store.get_cast(ROOM) == ["mira"]
    assert schema_names(db_path) == before


async def test_pending_migrations_run_in_order_each_in_its_own_transaction(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path) as store:
        await store.set_setting("global", "greeting", "hello")
    first = ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",)
    broken = ("CREATE TABLE tags (name TEXT)", "INSERT INTO no_such_table VALUES (1)")
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, first, broken))

    with pytest.raises(StoreError) as failed:
        await Store.open(db_path)
    assert re.search("cannot migrate .*no_such_table", one_line_error(failed, db_path))
    assert raw(db_path, "PRAGMA user_version") == [(LATEST + 1,)]
    assert "notes" in schema_names(db_path)
    assert "tags" not in schema_names(db_path)

    second = ("CREATE TABLE tags (name TEXT)", "INSERT INTO notes (text) VALUES ('after notes')")
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, first, second))
    async with await Store.open(db_path) as store:
        assert await store.schema_version() == LATEST + 2
        assert await store.get_setting("global", "greeting") == "hello"
    assert raw(db_path, "SELECT text FROM notes") == [("after notes",)]


async def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    raw(db_path, f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(StoreError) as refused:
        await Store.open(db_path)
    text = one_line_error(refused, db_path)
    assert f"schema version {LATEST + 1}" in text
    assert "upgrade botkit" in text
    assert raw(db_path, "PRAGMA user_version") == [(LATEST + 1,)]


async def test_a_file_that_is_not_sqlite_is_refused_by_name(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    await asyncio.to_thread(db_path.write_bytes, b"these are notes, not a database\n" * 200)
    with pytest.raises(StoreError) as refused:
        await Store.open(db_path)
    assert "not a usable SQLite database" in one_line_error(refused, db_path)


async def test_a_corrupt_database_is_refused_by_name(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.record_incoming(message(1))
    await asyncio.to_thread(overwrite, db_path, 100, b"\xff" * 3000)
    with pytest.raises(StoreError) as refused:
        await Store.open(db_path)
    assert "not a usable SQLite database" in one_line_error(refused, db_path)


async def test_another_programs_database_is_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw(db_path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError) as refused:
        await Store.open(db_path)
    assert "not botkit's" in one_line_error(refused, db_path)
    assert schema_names(db_path) == {"invoices"}
    assert raw(db_path, "PRAGMA user_version") == [(0,)]


async def test_a_path_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreError) as refused:
        await Store.open(folder)
    one_line_error(refused, folder)


async def test_an_in_memory_store_works() -> None:
    async with await Store.open(":memory:") as store:
        assert await store.schema_version() == LATEST
        await store.record_incoming(message(1))
        assert await store.count_turns(ROOM) == 1


async def test_closing_twice_is_harmless(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    await store.close()
    async with await Store.open(db_path) as reopened:
        assert await reopened.schema_version() == LATEST
