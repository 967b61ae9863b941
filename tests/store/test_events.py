"""Delivered events: de-duplication, crash recovery, pruning and concurrent writers."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from botkit.events import Author, ChannelKey
from botkit.store import EventStatus, Store
from tests.store.helpers import ROOM, THREAD, message, raw

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, os, pickle, signal, sys
from botkit.store import Store

async def main():
    handled, unfinished = pickle.loads(bytes.fromhex(sys.argv[2]))
    store = await Store.open(sys.argv[1])
    await store.record_incoming(handled)
    await store.finish_event(handled.event_id)
    await store.record_incoming(unfinished)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_delivery_goes_new_then_pending_then_done(store: Store) -> None:
    event = message(1)
    assert await store.record_incoming(event) is EventStatus.NEW
    assert await store.record_incoming(event) is EventStatus.PENDING
    await store.finish_event(event.event_id)
    assert await store.record_incoming(event) is EventStatus.DONE
    assert await store.count_turns(ROOM) == 1
    assert isinstance(EventStatus.DONE, str)


async def test_the_same_message_under_another_event_id_is_stored_once(store: Store) -> None:
    first = message(1)
    again = message(1, event_id="another-delivery", text="edited on the way?")
    assert await store.record_incoming(first) is EventStatus.NEW
    assert await store.record_incoming(again) is EventStatus.PENDING
    assert await store.unfinished_messages() == [first]
    await store.finish_event(first.event_id)
    assert await store.record_incoming(again) is EventStatus.DONE
    assert [t.text for t in await store.recent_turns(ROOM, 10)] == ["message 1"]


async def test_a_message_id_is_only_unique_within_its_channel(store: Store) -> None:
    assert await store.record_incoming(message(1, channel=ROOM)) is EventStatus.NEW
    assert await store.record_incoming(message(1, channel=THREAD)) is EventStatus.NEW
    assert await store.count_turns(ROOM) == 1
    assert await store.count_turns(THREAD) == 1


async def test_concurrent_deliveries_of_one_event_store_it_once(store: Store) -> None:
    event = message(1)
    results = await asyncio.gather(*(store.record_incoming(event) for _ in range(10)))
    assert results.count(EventStatus.NEW) == 1
    assert results.count(EventStatus.PENDING) == 9
    assert await store.count_turns(ROOM) == 1


async def test_finishing_an_unknown_event_is_harmless(store: Store) -> None:
    await store.finish_event("never-delivered")
    assert await store.unfinished_messages() == []


async def test_a_command_is_claimed_only_once(store: Store) -> None:
    assert await store.claim_event("cmd-1", ROOM)
    assert not await store.claim_event("cmd-1", ROOM)
    assert not await store.claim_event("cmd-1", THREAD)
    assert await store.claim_event("cmd-2", ROOM)
    assert await store.unfinished_messages() == []


async def test_a_message_event_id_cannot_be_claimed_as_a_command(store: Store) -> None:
    event = message(1)
    await store.record_incoming(event)
    assert not await store.claim_event(event.event_id, ROOM)
    assert await store.unfinished_messages() == [event]


async def test_unfinished_messages_come_back_whole_and_oldest_first(store: Store) -> None:
    summer = timezone(timedelta(hours=2))
    first = message(
        1,
        channel=THREAD,
        author=Author("u-bot", "Herald", is_bot=True),
        text="Mira, Old Bram: the ferry is late 🚢\nsecond line",
        mentions=("Mira", "Old Bram"),
        reply_to="m-0",
        time=datetime(2026, 7, 1, 14, 30, 5, 123456, tzinfo=summer),
    )
    second = message(2)
    handled = message(3)
    for event in (first, second, handled):
        await store.record_incoming(event)
    await store.finish_event(handled.event_id)

    recovered = await store.unfinished_messages()
    assert recovered == [first, second]
    assert recovered[0].channel == THREAD
    assert recovered[0].time == first.time
    assert recovered[0].time.utcoffset() == timedelta(0)
    assert recovered[1].mentions == ()
    assert recovered[1].reply_to is None


async def test_pruning_forgets_old_handled_event_ids_only(store: Store) -> None:
    handled, pending = message(1), message(2)
    await store.record_incoming(handled)
    await store.record_incoming(pending)
    await store.finish_event(handled.event_id)
    assert await store.claim_event("cmd-1", ROOM)

    assert await store.prune_events(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await store.prune_events(datetime.now(UTC) + timedelta(minutes=1)) == 2

    assert await store.unfinished_messages() == [pending]
    assert await store.count_turns(ROOM) == 2
    assert await store.record_incoming(handled) is EventStatus.DONE
    assert await store.count_turns(ROOM) == 2
    assert await store.claim_event("cmd-1", ROOM)


async def test_five_hundred_concurrent_writers_all_land(store: Store, database: str) -> None:
    channels = [ChannelKey("test", f"server-{n % 7}", f"channel-{n}") for n in range(500)]
    events = [message(n, channel=channel) for n, channel in enumerate(channels)]
    results = await asyncio.gather(*(store.record_incoming(event) for event in events))
    assert set(results) == {EventStatus.NEW}
    counts = await asyncio.gather(*(store.count_turns(channel) for channel in channels))
    assert set(counts) == {1}
    assert await store.unfinished_messages() == events
    per_server = raw(database, "SELECT server, count(*) FROM turns GROUP BY platform, server")
    assert sum(count for _, count in per_server) == 500
    assert len(per_server) == 7


async def test_two_connections_share_the_database_without_losing_or_doubling(
    database: str,
) -> None:
    async with await Store.open(database) as one, await Store.open(database) as other:
        shared = [message(n) for n in range(20)]
        own = [message(n, channel=THREAD) for n in range(100)]
        results = await asyncio.gather(
            *(one.record_incoming(event) for event in shared),
            *(other.record_incoming(event) for event in shared),
            *(
                store.record_incoming(event)
                for event, store in zip(own, [one, other] * 50, strict=True)
            ),
        )
        assert results.count(EventStatus.NEW) == len(shared) + len(own)
        assert await one.count_turns(ROOM) == len(shared)
        assert await other.count_turns(THREAD) == len(own)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
async def test_a_killed_process_leaves_its_message_stored_once_and_unfinished(
    database: str,
) -> None:
    handled = message(1)
    unfinished = message(
        2,
        author=Author("u-bo", "Bo"),
        mentions=("Mira",),
        reply_to="m-1",
        time=datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=-5))),
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        database,
        pickle.dumps((handled, unfinished)).hex(),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await child.communicate()
    assert child.returncode == -signal.SIGKILL, errors.decode()
    if not database.startswith("postgresql://"):
        assert await asyncio.to_thread(Path(f"{database}-wal").exists)

    async with await Store.open(database) as store:
        turns = await store.recent_turns(ROOM, 10)
        assert [(t.message_id, t.speaker_name) for t in turns] == [("m-1", "Ann"), ("m-2", "Bo")]
        assert await store.unfinished_messages() == [unfinished]
        assert await store.record_incoming(handled) is EventStatus.DONE
        assert await store.record_incoming(unfinished) is EventStatus.PENDING
        await store.finish_event(unfinished.event_id)
        assert await store.record_incoming(unfinished) is EventStatus.DONE
        assert await store.unfinished_messages() == []
        assert await store.count_turns(ROOM) == 2
