"""Opening the Postgres store: migrations (also from two processes at once), clear errors
that never show the password, and a connection that breaks."""

from __future__ import annotations

import asyncio
import sys

import psycopg
import pytest

from botkit.store import Store, StoreError
from botkit.store.postgres import masked_url
from botkit.store.postgres_migrations import POSTGRES_MIGRATIONS
from tests.store.helpers import ROOM, message, raw


def test_a_password_never_shows_in_the_url_logged() -> None:
    assert masked_url("postgresql://bot:s3cret@db:5432/botkit") == (
        "postgresql://bot:***@db:5432/botkit"
    )
    assert masked_url("postgresql://bot@db/botkit") == "postgresql://bot@db/botkit"
    assert masked_url("postgresql://:s3cret@db/botkit") == "postgresql://:***@db/botkit"


async def test_an_empty_database_is_migrated_to_the_latest_schema(postgres_url: str) -> None:
    async with await Store.open(postgres_url) as store:
        assert store.dialect == "postgres"
        assert store.shared
        assert await store.schema_version() == len(POSTGRES_MIGRATIONS)
    tables = raw(
        postgres_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    assert {"turns", "events", "casts", "settings", "memories", "leases"} <= {
        name for (name,) in tables
    }
    async with await Store.open(postgres_url) as store:
        assert await store.schema_version() == len(POSTGRES_MIGRATIONS)


async def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url) for _ in range(4)))
    try:
        assert {await store.schema_version() for store in stores} == {len(POSTGRES_MIGRATIONS)}
        assert raw(postgres_url, "SELECT count(*) FROM botkit_schema") == [(1,)]
    finally:
        for store in stores:
            await store.close()


async def test_a_database_of_something_else_is_refused_untouched(postgres_url: str) -> None:
    raw(postgres_url, "CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="a Postgres database, but not botkit's"):
        await Store.open(postgres_url)
    assert raw(postgres_url, "SELECT to_regclass('turns') IS NULL") == [(True,)]


async def test_a_database_from_a_newer_botkit_is_refused(postgres_url: str) -> None:
    async with await Store.open(postgres_url):
        pass
    raw(postgres_url, "UPDATE botkit_schema SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this botkit"):
        await Store.open(postgres_url)


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = "postgresql://bot:s3cret@127.0.0.1:1/botkit?connect_timeout=2"
    with pytest.raises(StoreError) as error:
        await Store.open(url)
    text = str(error.value)
    assert "\n" not in text
    assert "s3cret" not in text
    assert text.startswith("cannot open database postgresql://bot:***@127.0.0.1:1/botkit")


async def test_a_broken_connection_is_replaced_and_a_broken_transaction_kept_out(
    postgres_url: str,
) -> None:
    async with await Store.open(postgres_url) as store:
        await store.record_incoming(message(1))

        def cut() -> None:
            raw(
                postgres_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'botkit' AND pid <> pg_backend_pid()",
            )

        with pytest.raises(psycopg.OperationalError):
            async with store.write() as db:
                await db.execute("UPDATE turns SET text = 'half a change'")
                await asyncio.to_thread(cut)
                await db.execute("UPDATE turns SET text = 'the other half'")
        # Each connection (the writer's, the reader's) finds the cut at its next use and
        # goes on with a new one: nothing of the broken transaction was kept.
        await store.record_incoming(message(2))
        texts = [turn.text for turn in await store.recent_turns(ROOM, 5)]
        assert texts == ["message 1", "message 2"]
        await asyncio.to_thread(cut)
        await store.record_incoming(message(3))
        texts = [turn.text for turn in await store.recent_turns(ROOM, 5)]
        assert texts == ["message 1", "message 2", "message 3"]


async def test_without_the_postgres_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "botkit.store.postgres", None)
    with pytest.raises(StoreError, match=r"pip install 'botkit\[postgres\]'"):
        await Store.open("postgresql://bot@127.0.0.1:1/botkit")
