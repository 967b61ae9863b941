"""Several processes on one store: each remembers, indexes and observes only the channels
no other process holds, so nothing is embedded or observed twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from botkit.events import ChannelKey
from botkit.memory.ledger import MemoryLedger
from botkit.store import Store
from tests.store.helpers import ROOM, message

HALL = ChannelKey("discord", "guild-1", "hall")
LATER = datetime.now(UTC) + timedelta(minutes=5)


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    async with await Store.open(database) as opened:
        yield opened


async def test_a_process_leaves_the_channels_another_holds_to_it(store: Store) -> None:
    await store.record_incoming(message(1, channel=ROOM))
    await store.record_incoming(message(2, channel=HALL))
    assert await store.take_lease(str(ROOM), "a", until=LATER) is None
    mine, theirs = MemoryLedger(store, owner="a"), MemoryLedger(store, owner="b")
    alone = MemoryLedger(store)

    assert [t.channel for t in await mine.pending_turns(10)] == [ROOM, HALL]
    assert [t.channel for t in await theirs.pending_turns(10)] == [HALL]
    assert [t.channel for t in await alone.pending_turns(10)] == [ROOM, HALL]
    assert not await mine.held_elsewhere(ROOM)
    assert await theirs.held_elsewhere(ROOM)
    assert not await theirs.held_elsewhere(HALL)
    assert not await alone.held_elsewhere(ROOM)

    await mine.remember_turns([(t, frozenset({"mira"}), 0.5) for t in await mine.pending_turns(10)])
    assert [m.channel for m in await mine.unembedded(10)] == [ROOM, HALL]
    assert [m.channel for m in await theirs.unembedded(10)] == [HALL]

    # Once the lease has run out, the channel is anybody's.
    await store.release_leases("a")
    assert [m.channel for m in await theirs.unembedded(10)] == [ROOM, HALL]
    assert not await theirs.held_elsewhere(ROOM)
