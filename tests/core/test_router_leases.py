"""Routers of two processes sharing one store: each answers only the channels it holds.

Each process has its own Store (on the same SQLite file), ChannelLeases and Router; a fake
clock stands for the time both believe, and a lease runs out in the database by setting its
stored expiry into the past.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botkit.channel_leases import ChannelLeases
from botkit.events import Author, ChannelKey, Event, MessageEvent
from botkit.router import Router
from botkit.store import Store
from tests.support.clock import FakeClock

ROOM = ChannelKey("test", "guild-1", "tavern")
HUMAN = Author("u1", "Ann")
SECONDS = 30.0


def message(n: int, channel: ChannelKey = ROOM) -> MessageEvent:
    return MessageEvent(
        event_id=f"{channel.channel}-{n}",
        channel=channel,
        author=HUMAN,
        text=f"message {n}",
        message_id=f"m-{channel.channel}-{n}",
    )


class Process:
    """One botkit process: its store, leases and router; ``handled`` lists what it answered.

    ``gate``, while cleared, keeps the handler of the message ``hold`` waiting.
    """

    def __init__(self, store: Store, clock: FakeClock, owner: str) -> None:
        """A process named ``owner`` on ``store``."""
        self.store = store
        self.leases = ChannelLeases(store, seconds=SECONDS, owner=owner, clock=clock)
        self.handled: list[str] = []
        self.started: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_handler = asyncio.Event()
        self.router = Router(store=store, handler=self._handle, leases=self.leases)

    async def _handle(self, event: Event, _waiting: Callable[[], int]) -> None:
        self.started.append(event.event_id)
        self.in_handler.set()
        await self.gate.wait()
        self.handled.append(event.event_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def processes(db_path: Path, clock: FakeClock) -> AsyncIterator[tuple[Process, Process]]:
    """Two processes, ``first`` and ``second``, on one database."""
    async with await Store.open(db_path) as one, await Store.open(db_path) as two:
        first, second = Process(one, clock, "first"), Process(two, clock, "second")
        yield first, second
        for process in (first, second):
            process.gate.set()
            await process.router.aclose()


async def run_out_in_store(store: Store, owner: str) -> None:
    """End every lease ``owner`` holds in the database in the past."""
    await store.renew_leases(owner, until=datetime.now(UTC) - timedelta(seconds=1))


async def pending(store: Store) -> list[str]:
    """The event ids of the stored messages not yet answered."""
    return [event.event_id for event in await store.unfinished_messages()]


async def test_a_message_for_a_channel_held_elsewhere_is_stored_but_not_handled(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    assert await first.leases.take(ROOM)
    event = message(1)
    await second.router.ingest(event)
    await second.router.wait_idle()
    assert second.handled == second.started == []
    assert not second.router.in_hand(event.event_id)
    assert second.router.active_channels == 0
    assert [t.text for t in await second.store.recent_turns(ROOM, 10)] == ["message 1"]
    assert await pending(first.store) == [event.event_id]
    assert await first.store.waiting_messages("first") == [(ROOM, event.event_id)]
    assert await first.store.waiting_messages("second") == []
    assert first.handled == []


async def test_the_holder_takes_over_and_handles_the_message_exactly_once(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    assert await first.leases.take(ROOM)
    event = message(1)
    await second.router.ingest(event)
    await second.router.wait_idle()

    assert await first.router.take_over(ROOM) == 1
    await first.router.wait_idle()
    assert first.handled == [event.event_id]
    assert await pending(first.store) == []

    # Nothing is taken twice: not by another take-over, nor by a redelivery to either.
    assert await first.router.take_over(ROOM) == 0
    await first.router.ingest(event)
    await second.router.ingest(event)
    await first.router.wait_idle()
    await second.router.wait_idle()
    assert first.handled == [event.event_id]
    assert second.handled == []


async def test_a_take_over_while_the_message_is_in_hand_queues_it_once(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    assert await first.leases.take(ROOM)
    event = message(1)
    await second.router.ingest(event)
    first.gate.clear()
    assert await first.router.take_over(ROOM) == 1
    await first.in_handler.wait()
    assert first.router.in_hand(event.event_id)
    assert await first.router.take_over(ROOM) == 0
    first.gate.set()
    await first.router.wait_idle()
    assert first.handled == [event.event_id]
    assert not first.router.in_hand(event.event_id)


async def test_the_holder_handles_what_it_receives_itself(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    for n in (1, 2):
        await first.router.ingest(message(n))
    await first.router.wait_idle()
    assert first.handled == [message(1).event_id, message(2).event_id]
    assert first.leases.holds(ROOM)
    await second.router.ingest(message(3))
    await second.router.wait_idle()
    assert second.handled == []
    assert await pending(first.store) == [message(3).event_id]


async def test_a_message_queued_while_its_lease_is_lost_is_left_for_the_holder(
    processes: tuple[Process, Process], clock: FakeClock
) -> None:
    first, second = processes
    answering, queued = message(1), message(2)
    first.gate.clear()
    await first.router.ingest(answering)
    await first.in_handler.wait()
    await first.router.ingest(queued)
    assert first.router.in_hand(queued.event_id)

    # The first stalls past its lease; the second takes the channel over.
    clock.advance(SECONDS + 1)
    await run_out_in_store(first.store, "first")
    assert not first.leases.holds(ROOM)
    assert await second.leases.take(ROOM)

    first.gate.set()
    await first.router.wait_idle()
    assert first.handled == [answering.event_id]
    assert first.started == [answering.event_id]
    assert await pending(second.store) == [queued.event_id]
    assert await second.store.waiting_messages("second") == [(ROOM, queued.event_id)]

    assert await second.router.take_over(ROOM) == 1
    await second.router.wait_idle()
    assert second.handled == [queued.event_id]
    assert await pending(second.store) == []
    assert first.handled == [answering.event_id]
