"""Channel leases in the store: taking, refusing, running out, renewing, releasing, and the
messages waiting for a process to answer them (on SQLite and on Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botkit.events import ChannelKey
from botkit.store import Store
from botkit.store.store import utc_text
from tests.store.helpers import ROOM, THREAD, message

HALL = ChannelKey("discord", "guild-1", "hall")
DOCKS = ChannelKey("discord", "guild-1", "docks")
CELLAR = ChannelKey("discord", "guild-1", "cellar")


def later(seconds: float = 3600) -> datetime:
    """A time ``seconds`` from now (UTC)."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def earlier(seconds: float = 60) -> datetime:
    """A time ``seconds`` ago (UTC): a lease ending then has run out."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def test_a_free_lease_is_taken_and_its_owner_takes_it_again(store: Store) -> None:
    assert await store.take_lease("room", "first", until=later()) is None
    assert await store.take_lease("room", "first", until=later(7200)) is None
    assert await store.renew_leases("first", until=later()) == {"room"}


async def test_another_owner_is_refused_until_the_lease_runs_out(store: Store) -> None:
    until = later()
    assert await store.take_lease("room", "first", until=until) is None

    held_until = await store.take_lease("room", "second", until=later())
    assert held_until is not None
    assert utc_text(held_until) == utc_text(until)
    assert await store.renew_leases("second", until=later()) == set()

    # The first owner's lease runs out (it last renewed until a time now past).
    await store.renew_leases("first", until=earlier())
    assert await store.take_lease("room", "second", until=later()) is None
    assert await store.renew_leases("second", until=later()) == {"room"}
    assert await store.renew_leases("first", until=later()) == set()
    refused = await store.take_lease("room", "first", until=later())
    assert refused is not None and refused > datetime.now(UTC)


async def test_a_lease_taken_already_run_out_is_free_for_anyone(store: Store) -> None:
    assert await store.take_lease("room", "first", until=earlier()) is None
    assert await store.take_lease("room", "second", until=later()) is None
    assert await store.renew_leases("first", until=later()) == set()


async def test_renewing_extends_only_the_owners_leases_and_reports_them(store: Store) -> None:
    for name in ("a", "b"):
        assert await store.take_lease(name, "first", until=later(60)) is None
    assert await store.take_lease("c", "second", until=later(60)) is None

    assert await store.renew_leases("first", until=later(3600)) == {"a", "b"}
    # Renewed to an hour: still refused to the other owner, and told so.
    refused = await store.take_lease("a", "second", until=later())
    assert refused is not None and refused > later(1800)
    assert await store.renew_leases("nobody", until=later()) == set()
    assert await store.renew_leases("second", until=later()) == {"c"}


async def test_released_leases_are_free_at_once(store: Store) -> None:
    for name in ("a", "b", "c"):
        assert await store.take_lease(name, "first", until=later()) is None

    await store.release_leases("first", ["a", "b"])
    assert await store.renew_leases("first", until=later()) == {"c"}
    assert await store.take_lease("a", "second", until=later()) is None

    # Releasing another owner's lease (or one not held) changes nothing.
    await store.release_leases("first", ["a", "missing"])
    assert await store.renew_leases("second", until=later()) == {"a"}

    await store.release_leases("first")
    assert await store.renew_leases("first", until=later()) == set()
    assert await store.take_lease("c", "second", until=later()) is None
    assert await store.renew_leases("second", until=later()) == {"a", "c"}


async def test_releasing_none_of_them_keeps_every_lease(store: Store) -> None:
    assert await store.take_lease("a", "first", until=later()) is None
    await store.release_leases("first", [])
    assert await store.renew_leases("first", until=later()) == {"a"}


async def test_waiting_messages_are_those_of_channels_the_owner_may_answer(store: Store) -> None:
    # ROOM: nobody holds it. THREAD: "me" holds it. HALL: another holds it now.
    # DOCKS: another held it, but the lease ran out. CELLAR: nothing waits there.
    waiting = {
        ROOM: [message(1, channel=ROOM), message(2, channel=ROOM)],
        THREAD: [message(1, channel=THREAD)],
        HALL: [message(1, channel=HALL)],
        DOCKS: [message(1, channel=DOCKS)],
    }
    for events in waiting.values():
        for event in events:
            await store.record_incoming(event)
    answered = message(3, channel=ROOM)
    await store.record_incoming(answered)
    await store.finish_event(answered.event_id)
    assert await store.claim_event("command-1", CELLAR)

    assert await store.take_lease(str(THREAD), "me", until=later()) is None
    assert await store.take_lease(str(HALL), "other", until=later()) is None
    assert await store.take_lease(str(DOCKS), "other", until=earlier()) is None
    assert await store.take_lease(str(CELLAR), "me", until=later()) is None

    expected = {
        (channel, event.event_id) for channel in (ROOM, THREAD, DOCKS) for event in waiting[channel]
    }
    found = await store.waiting_messages("me")
    assert set(found) == expected
    assert len(found) == len(expected)

    # The other owner may answer HALL (its own) and the free or run-out channels, not THREAD.
    assert {c for c, _ in await store.waiting_messages("other")} == {ROOM, HALL, DOCKS}

    # Once "me" lets THREAD go and the messages of ROOM are answered, the rest remain.
    await store.release_leases("me", [str(THREAD)])
    for event in waiting[ROOM]:
        await store.finish_event(event.event_id)
    assert {c for c, _ in await store.waiting_messages("other")} == {THREAD, HALL, DOCKS}


async def test_nothing_waits_in_an_empty_store(store: Store) -> None:
    assert await store.waiting_messages("me") == []
