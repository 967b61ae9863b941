"""Routing events: drop redeliveries, then queue per channel so each channel stays in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from botkit.events import ChannelKey, Event, MessageEvent
from botkit.store import EventStatus, Store

__all__ = ["ChannelHandler", "Router"]

log = logging.getLogger(__name__)

ChannelHandler = Callable[[Event, Callable[[], bool]], Awaitable[None]]
"""Handles one event of a channel; the callable tells whether a human message is waiting."""


class _ChannelWorker:
    """The queue and task that handle one channel's events, one at a time."""

    def __init__(self, channel: ChannelKey) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.waiting_humans = 0
        self.task: asyncio.Task[None] | None = None

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
    """

    def __init__(
        self,
        *,
        store: Store,
        handler: ChannelHandler,
        idle_seconds: float = 300.0,
    ) -> None:
        self._store = store
        self._handler = handler
        self._idle_seconds = idle_seconds
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

    async def ingest(self, event: Event) -> None:
        """Accept an event from an adapter: store, de-duplicate, and queue it."""
        if self._closed:
            raise RuntimeError("the router is closed")
        if event.event_id in self._inflight:
            log.debug("dropping redelivered event %s", event.event_id)
            return
        if isinstance(event, MessageEvent):
            status = await self._store.record_incoming(event)
            if (
                status is EventStatus.DONE
                or event.event_id in self._inflight
                or _message_key(event) in self._inflight_messages
            ):
                log.debug("dropping redelivered event %s (%s)", event.event_id, status)
                return
        elif not await self._store.claim_event(event.event_id, event.channel):
            log.debug("dropping redelivered command %s", event.event_id)
            return
        self._enqueue(event)

    async def recover(self) -> int:
        """Queue again the stored messages whose handling never finished; returns how many."""
        pending = await self._store.unfinished_messages()
        for event in pending:
            if event.event_id not in self._inflight:
                self._enqueue(event)
        if pending:
            log.info("resuming %d message(s) left unanswered by the last run", len(pending))
        return len(pending)

    async def wait_idle(self) -> None:
        """Return once every queued event has been handled."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop every worker; events still queued stay pending in the store for recovery."""
        self._closed = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._inflight.clear()
        self._inflight_messages.clear()
        self._idle.set()

    def _enqueue(self, event: Event) -> None:
        worker = self._workers.get(event.channel)
        if worker is None:
            worker = _ChannelWorker(event.channel)
            worker.task = asyncio.create_task(
                self._run(worker), name=f"botkit: channel {event.channel}"
            )
            self._workers[event.channel] = worker
        self._inflight.add(event.event_id)
        if isinstance(event, MessageEvent):
            self._inflight_messages.add(_message_key(event))
        self._idle.clear()
        worker.put(event)

    async def _run(self, worker: _ChannelWorker) -> None:
        while True:
            try:
                event = await asyncio.wait_for(worker.queue.get(), timeout=self._idle_seconds)
            except TimeoutError:
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
                if not self._inflight:
                    self._idle.set()

    async def _handle(self, event: Event, worker: _ChannelWorker) -> None:
        """Run the handler; a failure is logged and the event still counts as handled,
        so one bad message cannot wedge its channel or come back after every restart."""
        try:
            await self._handler(event, lambda: worker.waiting_humans > 0)
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
