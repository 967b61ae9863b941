"""The router: ordering, concurrency between channels, redelivery and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from botkit.events import Author, ChannelKey, CommandEvent, Event, MessageEvent
from botkit.router import Router
from botkit.store import Store

A = ChannelKey("test", "s1", "a")
B = ChannelKey("test", "s1", "b")
HUMAN = Author("u1", "Ann")


def message(channel: ChannelKey, n: int, text: str = "hi") -> MessageEvent:
    return MessageEvent(
        event_id=f"{channel.channel}-{n}",
        channel=channel,
        author=HUMAN,
        text=text,
        message_id=f"m-{channel.channel}-{n}",
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "db.sqlite3") as opened:
        yield opened


async def test_events_in_one_channel_run_in_order(store: Store) -> None:
    seen: list[str] = []

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        await asyncio.sleep(0.001 * (5 - int(event.event_id.split("-")[1]) % 5))
        seen.append(event.event_id)

    router = Router(store=store, handler=handler)
    for n in range(20):
        await router.ingest(message(A, n))
    await router.wait_idle()
    assert seen == [f"a-{n}" for n in range(20)]
    await router.aclose()


async def test_a_slow_channel_does_not_delay_another(store: Store) -> None:
    release_a = asyncio.Event()
    b_done = asyncio.Event()

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        if event.channel == A:
            await release_a.wait()
        else:
            b_done.set()

    router = Router(store=store, handler=handler)
    await router.ingest(message(A, 1))
    await router.ingest(message(B, 1))
    await asyncio.wait_for(b_done.wait(), timeout=10)
    assert not release_a.is_set()
    release_a.set()
    await router.wait_idle()
    await router.aclose()


async def test_redelivered_events_are_handled_once(store: Store) -> None:
    handled: list[str] = []

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        handled.append(event.event_id)

    router = Router(store=store, handler=handler)
    event = message(A, 1)
    await router.ingest(event)
    await router.ingest(event)
    await router.wait_idle()
    await router.ingest(event)
    command = CommandEvent(event_id="cmd-1", channel=A, author=HUMAN, name="cast")
    await router.ingest(command)
    await router.ingest(command)
    await router.wait_idle()
    assert handled == ["a-1", "cmd-1"]
    await router.aclose()


async def test_one_message_under_two_event_ids_is_handled_once(store: Store) -> None:
    handled: list[str] = []
    release = asyncio.Event()

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        await release.wait()
        handled.append(event.event_id)

    router = Router(store=store, handler=handler)
    first = message(A, 1)
    await router.ingest(first)
    await router.ingest(
        MessageEvent(
            event_id="mention-1", channel=A, author=HUMAN, text="hi", message_id=first.message_id
        )
    )
    release.set()
    await router.wait_idle()
    assert handled == ["a-1"]
    await router.aclose()


async def test_a_failing_handler_does_not_wedge_its_channel(store: Store) -> None:
    handled: list[str] = []

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        if event.event_id == "a-1":
            raise ValueError("boom")
        handled.append(event.event_id)

    router = Router(store=store, handler=handler)
    await router.ingest(message(A, 1))
    await router.ingest(message(A, 2))
    await router.wait_idle()
    assert handled == ["a-2"]
    assert await store.unfinished_messages() == []
    await router.aclose()


async def test_interrupted_tells_when_a_human_message_waits(store: Store) -> None:
    flags: list[bool] = []
    second_queued = asyncio.Event()

    async def handler(event: Event, interrupted: Callable[[], bool]) -> None:
        if event.event_id == "a-1":
            flags.append(interrupted())
            await second_queued.wait()
            flags.append(interrupted())
        else:
            flags.append(interrupted())

    router = Router(store=store, handler=handler)
    await router.ingest(message(A, 1))
    await asyncio.sleep(0)
    await router.ingest(message(A, 2))
    second_queued.set()
    await router.wait_idle()
    assert flags == [False, True, False]
    await router.aclose()


async def test_unfinished_messages_are_resumed(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await Store.open(path) as store:
        await store.record_incoming(message(A, 1))
    handled: list[str] = []

    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        handled.append(event.event_id)

    async with await Store.open(path) as store:
        router = Router(store=store, handler=handler)
        assert await router.recover() == 1
        await router.wait_idle()
        await router.ingest(message(A, 1))
        await router.wait_idle()
        await router.aclose()
    assert handled == ["a-1"]


async def test_idle_workers_retire(store: Store) -> None:
    async def handler(event: Event, _interrupted: Callable[[], bool]) -> None:
        return None

    router = Router(store=store, handler=handler, idle_seconds=0.01)
    await router.ingest(message(A, 1))
    await router.wait_idle()
    for _ in range(200):
        if router.active_channels == 0:
            break
        await asyncio.sleep(0.01)
    assert router.active_channels == 0
    await router.ingest(message(A, 2))
    await router.wait_idle()
    await router.aclose()


async def test_a_flood_waits_in_the_store_beyond_the_queue_bound(store: Store) -> None:
    release = asyncio.Event()
    handled: list[str] = []
    deepest = 0
    floods: list[ChannelKey] = []

    async def handler(event: Event, waiting: Callable[[], int]) -> None:
        nonlocal deepest
        deepest = max(deepest, router.queued)
        await release.wait()
        handled.append(event.event_id)

    async def flooded(channel: ChannelKey) -> None:
        floods.append(channel)

    router = Router(store=store, handler=handler, max_queued=5, on_flood=flooded)
    for n in range(40):
        await router.ingest(message(A, n))
        deepest = max(deepest, router.queued)
    await router.ingest(message(B, 1))
    assert router.queued <= 5 + 1
    release.set()
    await router.wait_idle()
    assert [e for e in handled if e.startswith("a-")] == [f"a-{n}" for n in range(40)]
    assert "b-1" in handled
    assert deepest <= 5 + 1
    assert floods == [A]
    assert await store.unfinished_messages() == []
    await router.aclose()


async def test_messages_arriving_while_the_store_is_drained_keep_their_order(
    store: Store,
) -> None:
    handled: list[str] = []
    next_n = 10
    all_in = asyncio.Event()

    async def handler(event: Event, waiting: Callable[[], int]) -> None:
        nonlocal next_n
        await all_in.wait()
        handled.append(event.event_id)
        if next_n < 30:
            await router.ingest(message(A, next_n))
            next_n += 1

    router = Router(store=store, handler=handler, max_queued=3)
    for n in range(10):
        await router.ingest(message(A, n))
    all_in.set()
    await router.wait_idle()
    assert handled == [f"a-{n}" for n in range(30)]
    await router.aclose()


async def test_waiting_counts_messages_held_in_the_store(store: Store) -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def handler(event: Event, waiting: Callable[[], int]) -> None:
        await release.wait()
        seen.append(waiting())

    router = Router(store=store, handler=handler, max_queued=2)
    for n in range(6):
        await router.ingest(message(A, n))
    release.set()
    await router.wait_idle()
    assert seen[0] > 2
    assert seen[-1] == 0
    await router.aclose()
