"""The SQLite store: migrations, redelivery bookkeeping, transcripts, casts, settings."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botkit.events import Author, ChannelKey, MessageEvent
from botkit.store import EventStatus, Store, StoreError
from botkit.store.migrations import MIGRATIONS

ROOM = ChannelKey("discord", "guild-1", "tavern")
THREAD = ChannelKey("discord", "guild-1", "tavern", "thread-9")
ANN = Author("u-ann", "Ann")


def message(n: int, channel: ChannelKey = ROOM, **fields: object) -> MessageEvent:
    values: dict[str, object] = {
        "event_id": f"ev-{channel}-{n}",
        "channel": channel,
        "author": ANN,
        "text": f"message {n}",
        "message_id": f"m-{n}",
        "time": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
    }
    values.update(fields)
    return MessageEvent(**values)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "botkit.sqlite3") as opened:
        yield opened


async def test_migrations_run_once_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "botkit.sqlite3"
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        await store.set_cast(ROOM, ["mira"])
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        assert await store.get_cast(ROOM) == ["mira"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "botkit.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(StoreError, match=f"{path} has schema version .*upgrade botkit"):
        await Store.open(path)


async def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "botkit.sqlite3"
    path.write_bytes(b"this is not sqlite at all, just text" * 100)
    with pytest.raises(StoreError, match=f"{path} is not a usable SQLite database"):
        await Store.open(path)


async def test_memory_databases_work() -> None:
    async with await Store.open(":memory:") as store:
        assert await store.record_incoming(message(1)) is EventStatus.NEW


async def test_event_status_goes_new_pending_done(store: Store) -> None:
    event = message(1)
    assert await store.record_incoming(event) is EventStatus.NEW
    assert await store.record_incoming(event) is EventStatus.PENDING
    await store.finish_event(event.event_id)
    assert await store.record_incoming(event) is EventStatus.DONE
    assert await store.count_turns(ROOM) == 1


async def test_the_same_message_under_a_new_event_id_is_not_stored_twice(store: Store) -> None:
    await store.record_incoming(message(1))
    again = message(1, event_id="another-delivery")
    assert await store.record_incoming(again) is EventStatus.PENDING
    assert await store.count_turns(ROOM) == 1


async def test_concurrent_deliveries_of_one_event_store_it_once(store: Store) -> None:
    event = message(1)
    results = await asyncio.gather(*(store.record_incoming(event) for _ in range(5)))
    assert sorted(results).count(EventStatus.NEW) == 1
    assert await store.count_turns(ROOM) == 1


async def test_unfinished_messages_come_back_whole_and_in_order(store: Store) -> None:
    first = message(
        1,
        channel=THREAD,
        mentions=("Mira", "Old Bram"),
        reply_to="m-0",
        author=Author("u-bot", "Helper", is_bot=True),
    )
    second = message(2)
    done = message(3)
    for event in (first, second, done):
        await store.record_incoming(event)
    await store.finish_event(done.event_id)
    assert await store.unfinished_messages() == [first, second]


async def test_commands_are_claimed_once(store: Store) -> None:
    assert await store.claim_event("cmd-1", ROOM)
    assert not await store.claim_event("cmd-1", ROOM)


async def test_pruning_forgets_old_handled_events_only(store: Store) -> None:
    old, pending = message(1), message(2)
    await store.record_incoming(old)
    await store.record_incoming(pending)
    await store.finish_event(old.event_id)
    assert await store.prune_events(datetime(2027, 1, 1, tzinfo=UTC)) == 1
    assert [e.event_id for e in await store.unfinished_messages()] == [pending.event_id]
    assert await store.count_turns(ROOM) == 2


async def test_recent_turns_mix_humans_and_characters_per_channel(store: Store) -> None:
    await store.record_incoming(message(1))
    await store.record_reply(
        channel=ROOM,
        character_id="mira",
        name="Mira",
        text="Welcome!",
        message_id="r-1",
        reply_to="m-1",
        time=datetime.now(UTC),
    )
    await store.record_incoming(message(2, channel=THREAD))
    turns = await store.recent_turns(ROOM, 10)
    assert [(t.speaker_id, t.speaker_name, t.is_character, t.text) for t in turns] == [
        ("u-ann", "Ann", False, "message 1"),
        ("mira", "Mira", True, "Welcome!"),
    ]
    assert [t.text for t in await store.recent_turns(THREAD, 10)] == ["message 2"]
    assert await store.character_of_message(ROOM, "r-1") == "mira"
    assert await store.character_of_message(ROOM, "m-1") is None
    assert await store.character_of_message(THREAD, "r-1") is None


async def test_recent_turns_returns_the_last_ones_of_a_long_history(store: Store) -> None:
    for n in range(3000):
        await store.record_reply(
            channel=ROOM,
            character_id="bram",
            name="Bram",
            text=f"line {n}",
            message_id=None,
            reply_to=None,
            time=datetime.now(UTC),
        )
    turns = await store.recent_turns(ROOM, 5)
    assert [t.text for t in turns] == [f"line {n}" for n in range(2995, 3000)]
    assert await store.count_turns(ROOM) == 3000


async def test_casts_and_settings(store: Store) -> None:
    assert await store.get_cast(ROOM) is None
    await store.set_cast(ROOM, ["wren", "mira"])
    await store.set_cast(ROOM, ["nell", "wren", "mira"])
    assert await store.get_cast(ROOM) == ["nell", "wren", "mira"]
    assert await store.get_setting("room", "scene") is None
    await store.set_setting("room", "scene", {"text": "A storm.", "turns": [1, 2]})
    await store.set_setting("room", "scene", "Calm night.")
    assert await store.get_setting("room", "scene") == "Calm night."
    await store.delete_setting("room", "scene")
    assert await store.get_setting("room", "scene") is None


async def test_many_channels_writing_at_once_all_land(store: Store) -> None:
    channels = [ChannelKey("test", f"s{n % 7}", f"c{n}") for n in range(500)]
    results = await asyncio.gather(
        *(store.record_incoming(message(n, channel=c)) for n, c in enumerate(channels))
    )
    assert set(results) == {EventStatus.NEW}
    counts = await asyncio.gather(*(store.count_turns(c) for c in channels))
    assert set(counts) == {1}
