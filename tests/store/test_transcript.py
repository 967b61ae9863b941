"""Transcripts, casts and settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from botkit.events import Author, ChannelKey
from botkit.store import Store
from tests.store.helpers import ROOM, START, THREAD, message, raw

BO = Author("u-bo", "Bo")


async def reply(
    store: Store,
    n: int,
    *,
    character_id: str = "mira",
    channel: ChannelKey = ROOM,
    message_id: str | None = None,
    reply_to: str | None = None,
    when: datetime | None = None,
) -> None:
    await store.record_reply(
        channel=channel,
        character_id=character_id,
        name=character_id.title(),
        text=f"reply {n}",
        message_id=message_id,
        reply_to=reply_to,
        time=when or START + timedelta(minutes=n),
    )


async def test_recent_turns_interleave_humans_and_characters_oldest_first(store: Store) -> None:
    await store.record_incoming(message(1))
    await reply(store, 2, message_id="r-2", reply_to="m-1")
    await store.record_incoming(message(3, author=BO))
    await reply(store, 4, character_id="bram", message_id="r-4", reply_to="m-3")
    await store.record_incoming(message(5, channel=THREAD))

    turns = await store.recent_turns(ROOM, 10)
    assert [(t.speaker_id, t.speaker_name, t.is_character, t.text) for t in turns] == [
        ("u-ann", "Ann", False, "message 1"),
        ("mira", "Mira", True, "reply 2"),
        ("u-bo", "Bo", False, "message 3"),
        ("bram", "Bram", True, "reply 4"),
    ]
    assert [(t.message_id, t.reply_to) for t in turns] == [
        ("m-1", None),
        ("r-2", "m-1"),
        ("m-3", None),
        ("r-4", "m-3"),
    ]
    assert [t.time for t in turns] == [START + timedelta(minutes=n) for n in range(1, 5)]
    assert [t.text for t in await store.recent_turns(ROOM, 2)] == ["message 3", "reply 4"]
    assert await store.recent_turns(ROOM, 0) == []
    assert [t.text for t in await store.recent_turns(THREAD, 10)] == ["message 5"]
    assert await store.count_turns(ROOM) == 4
    assert await store.count_turns(ChannelKey("discord", "guild-2", "tavern")) == 0


async def test_times_are_kept_as_utc_iso_text(store: Store, database: str) -> None:
    local = datetime(2026, 5, 6, 7, 8, 9, 1011, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    await reply(store, 1, when=local)
    assert raw(database, "SELECT time FROM turns") == [("2026-05-06T01:38:09.001011+00:00",)]
    [turn] = await store.recent_turns(ROOM, 1)
    assert turn.time == local
    assert turn.time.utcoffset() == timedelta(0)


async def test_the_character_behind_a_message_is_found(store: Store) -> None:
    await store.record_incoming(message(1))
    await reply(store, 2, message_id="r-2")
    await reply(store, 3, character_id="bram", message_id="r-3")
    await reply(store, 4)
    await reply(store, 5)
    assert await store.character_of_message(ROOM, "r-2") == "mira"
    assert await store.character_of_message(ROOM, "r-3") == "bram"
    assert await store.character_of_message(ROOM, "m-1") is None
    assert await store.character_of_message(ROOM, "unknown") is None
    assert await store.character_of_message(THREAD, "r-2") is None
    assert await store.count_turns(ROOM) == 5


async def test_a_reply_already_delivered_back_becomes_the_characters_turn(store: Store) -> None:
    echo = message(1, message_id="r-1", author=Author("hook-1", "Mira", is_bot=True))
    await store.record_incoming(echo)
    await reply(store, 1, message_id="r-1")
    assert await store.count_turns(ROOM) == 1
    assert await store.character_of_message(ROOM, "r-1") == "mira"
    [turn] = await store.recent_turns(ROOM, 5)
    assert (turn.speaker_id, turn.is_character, turn.text) == ("mira", True, "reply 1")


async def test_the_last_turns_of_a_long_history_come_from_the_index(
    store: Store, database: str, record_property: Callable[[str, object], None]
) -> None:
    other = ChannelKey("discord", "guild-1", "market")
    for n in range(4000):
        await reply(store, n, channel=ROOM if n % 4 else other, message_id=f"r-{n}")

    started = time.perf_counter()
    turns = await store.recent_turns(ROOM, 20)
    record_property("recent_turns_seconds", time.perf_counter() - started)

    assert [t.message_id for t in turns] == [f"r-{n}" for n in range(4000) if n % 4][-20:]
    assert await store.count_turns(ROOM) == 3000
    query = "SELECT speaker_id, text, time FROM turns WHERE channel = ? ORDER BY seq DESC LIMIT ?"
    if store.dialect == "postgres":
        raw(database, "ANALYZE turns")
        plan = raw(database, f"EXPLAIN {query}", str(ROOM), 20)
        details = " | ".join(row[0] for row in plan)
        assert "Index Scan Backward using turns_" in details
        assert "Sort" not in details
    else:
        plan = raw(database, f"EXPLAIN QUERY PLAN {query}", str(ROOM), 20)
        details = " | ".join(row[-1] for row in plan)
        assert "USING INDEX turns_by_channel" in details
        assert "TEMP B-TREE" not in details


async def test_a_cast_is_unset_until_stored_and_keeps_its_order(
    store: Store, database: str
) -> None:
    assert await store.get_cast(ROOM) is None
    await store.set_cast(ROOM, ["wren", "mira"])
    await store.set_cast(ROOM, ("nell", "wren", "mira"))
    await store.set_cast(THREAD, [])
    assert await store.get_cast(ROOM) == ["nell", "wren", "mira"]
    assert await store.get_cast(THREAD) == []
    assert await store.get_cast(ChannelKey("slack", "T1", "tavern")) is None
    assert raw(database, "SELECT channel, platform, server FROM casts ORDER BY channel") == [
        (str(ROOM), "discord", "guild-1"),
        (str(THREAD), "discord", "guild-1"),
    ]


async def test_settings_hold_json_values_per_scope(store: Store) -> None:
    scene = {"text": "A storm rolls in.", "turns": [1, 2], "dark": True, "wind": 0.5}
    assert await store.get_setting("room", "scene") is None
    await store.set_setting("room", "scene", scene)
    await store.set_setting("other", "scene", "Calm night.")
    assert await store.get_setting("room", "scene") == scene
    await store.set_setting("room", "scene", ["replaced"])
    assert await store.get_setting("room", "scene") == ["replaced"]
    await store.delete_setting("room", "scene")
    await store.delete_setting("room", "scene")
    assert await store.get_setting("room", "scene") is None
    assert await store.get_setting("other", "scene") == "Calm night."


async def test_a_value_that_is_not_json_is_refused_and_nothing_stored(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.set_setting("room", "when", START)
    assert await store.get_setting("room", "when") is None


async def test_everything_survives_reopening(database: str) -> None:
    async with await Store.open(database) as store:
        await store.record_incoming(message(1))
        await reply(store, 2, message_id="r-2")
        await store.set_cast(ROOM, ["mira"])
        await store.set_setting("global", "volume", 3)
    async with await Store.open(database) as store:
        assert [t.text for t in await store.recent_turns(ROOM, 5)] == ["message 1", "reply 2"]
        assert await store.character_of_message(ROOM, "r-2") == "mira"
        assert await store.get_cast(ROOM) == ["mira"]
        assert await store.get_setting("global", "volume") == 3


async def test_a_reply_never_replaces_another_reply_with_the_same_id(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await reply(store, 1, message_id="r-1", reply_to="m-0")
    await reply(store, 2, character_id="bram", message_id="r-1", reply_to="m-0")
    await reply(store, 1, message_id="r-1", reply_to="m-0")
    turns = await store.recent_turns(ROOM, 10)
    assert [(t.speaker_id, t.text, t.message_id) for t in turns] == [
        ("mira", "reply 1", "r-1"),
        ("bram", "reply 2", None),
    ]
    assert await store.character_of_message(ROOM, "r-1") == "mira"
    assert "reply id r-1 already belongs to another reply" in caplog.text
