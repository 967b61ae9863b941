"""Routing events: drop redeliveries, then queue per channel so each channel stays in order.

A channel's queue in memory is bounded: under a flood, messages beyond the bound wait in
the store (where every accepted message is kept anyway) and join the queue, oldest first,
as it empties. Where several processes share the store, a message is answered by the
process holding its channel's lease; the others only store it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any

from botkit.channel_leases import ChannelLeases
from botkit.events import ChannelKey, Event, MessageEvent
from botkit.store import EventStatus, Store

__all__ = ["ChannelHandler", "Router"]

log = logging.getLogger(__name__)

ChannelHandler = Callable[[Event, Callable[[], int]], Awaitable[None]]
"""Handles one event of a channel; the callable tells how many human messages wait behind it
(in the queue, or in the store while the channel is flooded)."""
FloodHandler = Callable[[ChannelKey], Coroutine[Any, Any, None]]
"""Told when a channel's queue first fills up, e.g. to post a notice there."""
Admission = Callable[[MessageEvent], Awaitable[bool]]
"""Whether a message received may enter the conversation (the plugins' message hooks)."""


class _ChannelWorker:
    """The queue and task that handle one channel's events, one at a time."""

    def __init__(self, channel: ChannelKey) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.waiting_humans = 0
        self.task: asyncio.Task[None] | None = None
        self.overflowing = False
        """Messages of this channel wait in the store, not in the queue."""
        self.diverted = 0
        """Messages sent to the store instead of the queue, ever (to see new ones)."""
        self.refilled: set[str] = set()
        """Event ids taken back from the store in this flood, each taken once."""
        self.in_store = 0
        """Messages of this flood still waiting in the store."""

    def put(self, event: Event) -> None:
        if _is_human_message(event):
            self.waiting_humans += 1
        self.queue.put_nowait(event)

    def taken(self, event: Event) -> None:
        if _is_human_message(event):
            self.waiting_humans -= 1


def _message_key(event: MessageEvent) -> tuple[ChannelKey, str]:
    """What identifies a message whatever delivery (event id) brought it."""
    return event.channel, event.message_id


def _is_human_message(event: Event) -> bool:
    return isinstance(event, MessageEvent) and not event.author.is_bot


class Router:
    """Takes every event from the adapters and runs it in its channel's worker.

    A message is committed to the store before it is queued; an event id already handled
    (a platform redelivery) is dropped; one that was stored but never finished (the process
    died) is handled again. Inside a channel events run strictly in order; channels run
    concurrently, so a slow channel never delays another. Workers retire when idle.

    At most ``max_queued`` messages of a channel wait in memory; the others wait in the
    store until the queue has room, and ``on_flood`` hears of it once per flood.

    With ``leases`` (several processes), messages are answered only in channels this
    process holds; commands run wherever they arrive, since their caller waits for the
    answer there.
    """

    def __init__(
        self,
        *,
        store: Store,
        handler: ChannelHandler,
        idle_seconds: float = 300.0,
        max_queued: int = 100,
        on_flood: FloodHandler | None = None,
        admit: Admission | None = None,
        leases: ChannelLeases | None = None,
    ) -> None:
        self._store = store
        self._leases = leases
        self._admit = admit
        self._handler = handler
        self._idle_seconds = idle_seconds
        self._max_queued = max_queued
        self._on_flood = on_flood
        self._flood_notices: set[asyncio.Task[None]] = set()
        self._workers: dict[ChannelKey, _ChannelWorker] = {}
        self._inflight: set[str] = set()
        self._inflight_messages: set[tuple[ChannelKey, str]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    @property
    def active_channels(self) -> int:
        """Channels with a running worker."""
        return len(self._workers)

    @property
    def queued(self) -> int:
        """Events waiting in memory, all channels together."""
        return sum(worker.queue.qsize() for worker in self._workers.values())

    async def ingest(self, event: Event) -> None:
        """Accept an event from an adapter: admit, store, de-duplicate, and queue it.

        A message ``admit`` turns away is neither stored nor answered.
        """
        if self._closed:
            raise RuntimeError("the router is closed")
        if event.event_id in self._inflight:
            log.debug("dropping redelivered event %s", event.event_id)
            return
        if isinstance(event, MessageEvent):
            if self._admit is not None and not await self._admit(event):
                return
            status = await self._store.record_incoming(event)
            if (
                status is EventStatus.DONE
                or event.event_id in self._inflight
                or _message_key(event) in self._inflight_messages
            ):
                log.debug("dropping redelivered event %s (%s)", event.event_id, status)
                return
            if self._leases is not None and not await self._leases.take(event.channel):
                log.debug(
                    "%s: stored %s for the process answering it", event.channel, event.event_id
                )
                return
        elif not await self._store.claim_event(event.event_id, event.channel):
            log.debug("dropping redelivered command %s", event.event_id)
            return
        self._enqueue(event)

    async def recover(self, platforms: Collection[str] | None = None) -> int:
        """Queue again the stored messages whose handling never finished (with leases, in
        the channels this process may take; with ``platforms``, only theirs); returns how
        many."""
        pending = await self._store.unfinished_messages()
        taken: dict[ChannelKey, bool] = {}
        resumed = 0
        for event in pending:
            if platforms is not None and event.channel.platform not in platforms:
                continue
            if self._leases is not None:
                if event.channel not in taken:
                    taken[event.channel] = await self._leases.take(event.channel)
                if not taken[event.channel]:
                    continue
            if event.event_id not in self._inflight:
                self._enqueue(event, notify=False)
                resumed += 1
        if resumed:
            log.info("resuming %d message(s) left unanswered by the last run", resumed)
        return resumed

    def in_hand(self, event_id: str) -> bool:
        """Whether a worker has the event queued or in hand."""
        return event_id in self._inflight

    async def take_over(self, channel: ChannelKey) -> int:
        """Queue the messages of ``channel`` waiting in the store that no worker has in hand
        (another process held the channel, or only stored them); returns how many."""
        worker = self._workers.get(channel)
        if self._closed or (worker is not None and worker.overflowing):
            return 0
        waiting = await self._store.unfinished_messages(channel, limit=self._max_queued)
        fresh = [
            e
            for e in waiting
            if e.event_id not in self._inflight and _message_key(e) not in self._inflight_messages
        ]
        for event in fresh:
            self._enqueue(event, notify=False)
        if fresh:
            log.info("%s: taking %d waiting message(s)", channel, len(fresh))
        return len(fresh)

    async def wait_idle(self) -> None:
        """Return once every queued event has been handled."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop every worker; events still queued stay pending in the store for recovery."""
        self._closed = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        tasks += self._flood_notices
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._inflight.clear()
        self._inflight_messages.clear()
        self._idle.set()

    def _enqueue(self, event: Event, *, notify: bool = True) -> None:
        worker = self._workers.get(event.channel)
        if worker is None:
            worker = _ChannelWorker(event.channel)
            worker.task = asyncio.create_task(
                self._run(worker), name=f"botkit: channel {event.channel}"
            )
            self._workers[event.channel] = worker
        if isinstance(event, MessageEvent) and (
            worker.overflowing or worker.queue.qsize() >= self._max_queued
        ):
            self._divert(worker, notify=notify)
            return
        self._inflight.add(event.event_id)
        if isinstance(event, MessageEvent):
            self._inflight_messages.add(_message_key(event))
        self._idle.clear()
        worker.put(event)

    def _divert(self, worker: _ChannelWorker, *, notify: bool) -> None:
        """Leave a stored message in the store: the channel's queue is full."""
        worker.diverted += 1
        worker.in_store += 1
        if worker.overflowing:
            return
        worker.overflowing = True
        self._idle.clear()
        log.warning(
            "%s: more than %d messages waiting; the rest wait in the store",
            worker.channel,
            self._max_queued,
        )
        if notify and self._on_flood is not None:
            task = asyncio.create_task(self._on_flood(worker.channel))
            self._flood_notices.add(task)
            task.add_done_callback(self._flood_notices.discard)

    async def _refill(self, worker: _ChannelWorker) -> None:
        """Queue the oldest messages waiting in the store, up to the bound."""
        diverted = worker.diverted
        waiting = await self._store.unfinished_messages(worker.channel, limit=self._max_queued)
        taken = self._inflight | worker.refilled
        fresh = [e for e in waiting if e.event_id not in taken]
        if not fresh and diverted == worker.diverted:
            worker.overflowing = False
            worker.refilled.clear()
            worker.in_store = 0
            log.info("%s: caught up with the messages that waited in the store", worker.channel)
            return
        worker.in_store = max(0, worker.in_store - len(fresh))
        for event in fresh:
            worker.refilled.add(event.event_id)
            self._inflight.add(event.event_id)
            self._inflight_messages.add(_message_key(event))
            worker.put(event)

    async def _run(self, worker: _ChannelWorker) -> None:
        while True:
            if worker.overflowing and worker.queue.empty():
                await self._refill(worker)
                if worker.queue.empty():
                    self._set_idle_if_done()
                    continue
            event = await self._next(worker)
            if event is None:
                if worker.queue.empty():
                    del self._workers[worker.channel]
                    return
                continue
            worker.taken(event)
            try:
                await self._handle(event, worker)
            finally:
                self._inflight.discard(event.event_id)
                if isinstance(event, MessageEvent):
                    self._inflight_messages.discard(_message_key(event))
                self._set_idle_if_done()

    async def _next(self, worker: _ChannelWorker) -> Event | None:
        """The channel's next queued event, or None once it stayed idle ``idle_seconds``."""
        if not worker.queue.empty():
            return worker.queue.get_nowait()
        try:
            async with asyncio.timeout(self._idle_seconds):
                return await worker.queue.get()
        except TimeoutError:
            return None

    def _waiting(self, worker: _ChannelWorker) -> int:
        """Human messages waiting in ``worker``'s channel, queued or in the store."""
        return worker.waiting_humans + worker.in_store

    def _set_idle_if_done(self) -> None:
        if not self._inflight and not any(w.overflowing for w in self._workers.values()):
            self._idle.set()

    async def _handle(self, event: Event, worker: _ChannelWorker) -> None:
        """Run the handler; a failure is logged and the event still counts as handled,
        so one bad message cannot wedge its channel or come back after every restart.
        A message of a channel this process no longer holds stays in the store for the
        process that does."""
        if (
            isinstance(event, MessageEvent)
            and self._leases is not None
            and not self._leases.holds(worker.channel)
        ):
            log.debug("%s: left %s to the process holding it", worker.channel, event.event_id)
            return
        try:
            await self._handler(event, lambda: self._waiting(worker))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error(
                "%s: event %s failed: %s: %s",
                worker.channel,
                event.event_id,
                type(error).__name__,
                error,
            )
            log.debug("details", exc_info=True)
        if isinstance(event, MessageEvent):
            try:
                await self._store.finish_event(event.event_id)
            except Exception:
                log.exception("could not mark event %s as handled", event.event_id)
