"""ChannelLeases: which process answers a channel, on one SQLite store, under a fake clock.

Two ChannelLeases with different owners stand for two processes. Time passes by the fake
clock (what each process believes) and, where a lease must run out in the database too, by
setting the stored expiry into the past (what the wall clock would have done meanwhile).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botkit.channel_leases import ChannelLeases, process_name
from botkit.events import ChannelKey
from botkit.store import Store
from tests.support.clock import FakeClock

ROOM = ChannelKey("test", "guild-1", "tavern")
HALL = ChannelKey("test", "guild-1", "hall")
SECONDS = 30.0


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Process:
    """One process's leases, with the channels it was told it took or gave up."""

    def __init__(self, store: Store, clock: FakeClock, owner: str) -> None:
        """Leases of ``SECONDS`` for ``owner``."""
        self.changes: list[ChannelKey] = []
        self.leases = ChannelLeases(
            store, seconds=SECONDS, owner=owner, clock=clock, on_change=self.changes.append
        )


async def run_out_in_store(store: Store, owner: str) -> None:
    """Make every lease ``owner`` holds in the database end in the past, as the wall clock
    would once the owner stopped renewing."""
    await store.renew_leases(owner, until=datetime.now(UTC) - timedelta(seconds=1))


async def test_a_free_channel_is_taken_and_then_held(store: Store, clock: FakeClock) -> None:
    first = Process(store, clock, "first")
    assert not first.leases.holds(ROOM)
    assert await first.leases.take(ROOM)
    assert first.leases.holds(ROOM)
    assert first.leases.held() == [ROOM]
    assert first.changes == [ROOM]
    # Taking again what it holds changes nothing (and tells nothing).
    assert await first.leases.take(ROOM)
    assert first.changes == [ROOM]
    assert await store.renew_leases("first", until=datetime.now(UTC)) == {str(ROOM)}


async def test_another_process_is_refused_while_the_first_holds(
    store: Store, clock: FakeClock
) -> None:
    first, second = Process(store, clock, "first"), Process(store, clock, "second")
    assert await first.leases.take(ROOM)
    assert not await second.leases.take(ROOM)
    assert not second.leases.holds(ROOM)
    assert second.leases.held() == []
    assert second.changes == []
    # The first keeps renewing: however much time passes, the second stays refused.
    for _ in range(6):
        clock.advance(first.leases.renew_every)
        await first.leases.renew()
        assert first.leases.holds(ROOM)
        assert not await second.leases.take(ROOM)
    # Another channel is free for the second.
    assert await second.leases.take(HALL)
    assert second.leases.held() == [HALL]
    assert first.leases.held() == [ROOM]


async def test_a_lease_left_unrenewed_passes_to_the_other_and_the_first_gives_it_up(
    store: Store, clock: FakeClock
) -> None:
    first, second = Process(store, clock, "first"), Process(store, clock, "second")
    assert await first.leases.take(ROOM)
    assert not await second.leases.take(ROOM)

    # The first stops renewing (stalled, or cut off from the database) for a whole lease.
    clock.advance(SECONDS + 1)
    await run_out_in_store(store, "first")
    assert not first.leases.holds(ROOM)

    assert await second.leases.take(ROOM)
    assert second.leases.holds(ROOM)
    assert second.changes == [ROOM]

    # The first comes back: its renewal finds the channel gone and gives it up.
    assert first.changes == [ROOM]
    await first.leases.renew()
    assert first.changes == [ROOM, ROOM]
    assert first.leases.held() == []
    assert not first.leases.holds(ROOM)
    assert not await first.leases.take(ROOM)
    assert second.leases.holds(ROOM)
    assert await store.renew_leases("second", until=datetime.now(UTC)) == {str(ROOM)}


async def test_renewing_keeps_every_channel_held(store: Store, clock: FakeClock) -> None:
    first = Process(store, clock, "first")
    assert await first.leases.take(ROOM)
    assert await first.leases.take(HALL)
    for _ in range(10):
        clock.advance(first.leases.renew_every)
        await first.leases.renew()
    assert sorted(first.leases.held()) == sorted([ROOM, HALL])
    assert first.changes == [ROOM, HALL]


async def test_an_unrenewed_lease_stops_being_held_two_thirds_in_by_the_clock_alone(
    store: Store, clock: FakeClock
) -> None:
    first = Process(store, clock, "first")
    assert first.leases.renew_every == SECONDS / 3
    assert await first.leases.take(ROOM)
    clock.advance(SECONDS * 2 / 3 - 0.5)
    assert first.leases.holds(ROOM)
    clock.advance(0.5)
    assert not first.leases.holds(ROOM)
    assert first.leases.held() == []
    # Only the clock decided: the database still names the first as the holder.
    assert not await Process(store, clock, "second").leases.take(ROOM)

    # drop_expired gives it up here, and says so.
    first.leases.drop_expired()
    assert first.changes == [ROOM, ROOM]


async def test_a_renewal_counts_two_thirds_of_a_lease_from_when_it_began(
    store: Store, clock: FakeClock
) -> None:
    first = Process(store, clock, "first")
    assert await first.leases.take(ROOM)
    clock.advance(SECONDS / 2)
    await first.leases.renew()
    clock.advance(SECONDS * 2 / 3 - 0.5)
    assert first.leases.holds(ROOM)
    clock.advance(0.5)
    assert not first.leases.holds(ROOM)
    # A late renewal, while the database still names this process, holds it again.
    await first.leases.renew()
    assert first.leases.holds(ROOM)


async def test_drop_expired_keeps_fresh_leases(store: Store, clock: FakeClock) -> None:
    first = Process(store, clock, "first")
    assert await first.leases.take(ROOM)
    clock.advance(first.leases.renew_every)
    first.leases.drop_expired()
    assert first.leases.held() == [ROOM]
    assert first.changes == [ROOM]


async def test_released_leases_are_taken_by_another_at_once(store: Store, clock: FakeClock) -> None:
    first, second = Process(store, clock, "first"), Process(store, clock, "second")
    assert await first.leases.take(ROOM)
    assert await first.leases.take(HALL)
    await first.leases.release()
    assert first.leases.held() == []
    assert not first.leases.holds(ROOM)
    assert await store.renew_leases("first", until=datetime.now(UTC)) == set()
    # No time passes: the second takes both now.
    assert await second.leases.take(ROOM)
    assert await second.leases.take(HALL)
    assert second.changes == [ROOM, HALL]


async def test_a_process_refused_before_takes_a_released_lease_at_once_when_it_asks(
    store: Store, clock: FakeClock
) -> None:
    first, second = Process(store, clock, "first"), Process(store, clock, "second")
    assert await first.leases.take(ROOM)
    assert not await second.leases.take(ROOM)
    await first.leases.release()
    # The refusal is remembered (no database write for each message of the channel)...
    assert not await second.leases.take(ROOM)
    # ...until the store says the lease is free, as the keeper's look for waiting
    # messages does: then the database is asked at once.
    assert await second.leases.take(ROOM, ask=True)


async def test_a_process_refused_before_takes_a_released_lease_once_its_wait_is_over(
    store: Store, clock: FakeClock
) -> None:
    first, second = Process(store, clock, "first"), Process(store, clock, "second")
    assert await first.leases.take(ROOM)
    assert not await second.leases.take(ROOM)
    await first.leases.release()
    clock.advance(SECONDS + 1)
    assert await second.leases.take(ROOM)
    assert second.changes == [ROOM]


def test_process_names_differ() -> None:
    names = {process_name() for _ in range(50)}
    assert len(names) == 50
