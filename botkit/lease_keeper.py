"""Keeping this process's channel leases and picking up the messages waiting for it.

Where several processes share the store, a message may arrive at a process that does not
answer its channel (Slack spreads events over every connection), and a killed process
leaves its channels' messages waiting. The keeper renews this process's leases and, a few
times a second, looks for waiting messages in channels it holds or that nobody holds any
more, and hands them to the router.

A command runs in the process it reached. When that process does not hold the channel, it
marks the channel changed in the store, and the holder's keeper drops its open
conversation, so the next message there sees the new cast, scene or memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from botkit.channel_leases import ChannelLeases
from botkit.events import ChannelKey
from botkit.one_line import one_line
from botkit.router import Router
from botkit.store import Store
from botkit.store.store import utc_text

__all__ = ["LeaseKeeper"]

log = logging.getLogger(__name__)

LOOK_EVERY_S = 0.25
"""How often the store is asked for messages waiting for this process (at most; shorter
leases look more often): the delay a message delivered to another process waits."""
CHANGED = "changed channels"
"""The settings scope of the marks that a channel's state changed in another process."""


class LeaseKeeper:
    """Renews ``leases`` and takes over channels with waiting messages, in the background."""

    def __init__(
        self,
        leases: ChannelLeases,
        router: Router,
        store: Store,
        *,
        platforms: Collection[str],
        on_changed: Callable[[ChannelKey], None],
    ) -> None:
        """``platforms``: those this process has adapters for (it takes only their
        channels); ``on_changed`` hears of each held channel another process changed."""
        self._leases = leases
        self._platforms = frozenset(platforms)
        self._router = router
        self._store = store
        self._on_changed = on_changed
        self._task: asyncio.Task[None] | None = None
        self.look_every = min(LOOK_EVERY_S, leases.seconds / 8)

    async def changed(self, channel: ChannelKey) -> None:
        """Tell the process holding ``channel`` (if not this one) that its state changed."""
        if not self._leases.holds(channel):
            await self._store.set_setting(CHANGED, str(channel), utc_text(datetime.now(UTC)))

    def start(self) -> None:
        """Begin keeping the leases."""
        self._task = asyncio.create_task(self._run(), name="botkit-lease-keeper")

    async def aclose(self) -> None:
        """Stop, and give up every lease so that other processes take the channels now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._leases.release()
        except Exception as error:
            log.warning("channel leases not released (they run out instead): %s", one_line(error))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self._leases.renew_every
        while True:
            await asyncio.sleep(self.look_every)
            if loop.time() >= renew_at:
                renew_at = loop.time() + self._leases.renew_every
                try:
                    await self._leases.renew()
                except Exception as error:
                    log.warning("channel leases not renewed: %s", one_line(error))
                    self._leases.drop_expired()
            try:
                await self._take_changes()
                await self._take_waiting()
            except Exception as error:
                log.warning("could not look for waiting messages: %s", one_line(error))
                log.debug("details", exc_info=True)

    async def _take_waiting(self) -> None:
        """Hand the router the channels whose waiting messages no worker has in hand."""
        waiting = await self._store.waiting_messages(self._leases.owner)
        channels = dict.fromkeys(
            channel
            for channel, event_id in waiting
            if channel.platform in self._platforms and not self._router.in_hand(event_id)
        )
        for channel in channels:
            if await self._leases.take(channel, ask=True):
                await self._router.take_over(channel)

    async def _take_changes(self) -> None:
        """Drop the open conversations of held channels that another process changed."""
        for key in await self._store.get_settings(CHANGED):
            channel = ChannelKey.parse(key)
            if self._leases.holds(channel):
                self._on_changed(channel)
                await self._store.delete_setting(CHANGED, key)
