"""Which channels this process answers, where several botkit processes share one database.

Each channel is answered by one process at a time: the holder of the channel's lease in
the store. Other things one process at a time does (polling a Telegram bot) hold leases
by name in the same way. A process takes a channel's lease when a message arrives there and nobody
holds it, renews what it holds every third of the lease time, and answers only while its
last renewal is fresh. When a process stops renewing (it was killed, or lost the
database), its leases run out and another process takes its channels, with the messages
waiting in the store.

A process stops answering a channel two thirds of the way into a lease it failed to
renew, a third of the lease time before anyone else may take it: that third absorbs the
clocks of two machines disagreeing (leases are written in UTC by each process's clock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botkit.events import ChannelKey
from botkit.store import Store

__all__ = ["ChannelLeases", "Leased", "process_name"]

log = logging.getLogger(__name__)

Leased = ChannelKey | str
"""What a lease is held on: a channel, or a name for something else one process does."""


def process_name() -> str:
    """A name for this process that no other process, here or elsewhere, shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ChannelLeases:
    """This process's leases on channels: taken on demand, renewed, given up on exit."""

    def __init__(
        self,
        store: Store,
        *,
        seconds: float,
        owner: str | None = None,
        clock: Callable[[], float] | None = None,
        on_change: Callable[[ChannelKey], None] | None = None,
    ) -> None:
        """``seconds``: how long a lease lasts unrenewed; ``clock``: a monotonic clock
        (the event loop's); ``on_change``: told of each channel this process takes or
        stops holding (whatever it knew of the channel may be stale)."""
        self._store = store
        self.seconds = seconds
        self.owner = owner or process_name()
        self._clock = clock or asyncio.get_running_loop().time
        self._on_change = on_change
        self._held: dict[Leased, float] = {}
        """Channels (and names) held, with the clock time this process stops answering."""
        self._others: dict[Leased, float] = {}
        """Channels (and names) another process holds, with the clock time its lease may
        run out."""

    @property
    def renew_every(self) -> float:
        """How often :meth:`renew` is due (seconds)."""
        return self.seconds / 3

    def held(self) -> list[Leased]:
        """The channels (and names) this process holds now."""
        return [channel for channel in self._held if self.holds(channel)]

    def holds(self, channel: Leased) -> bool:
        """Whether this process answers ``channel`` now (no database trip)."""
        deadline = self._held.get(channel)
        return deadline is not None and self._clock() < deadline

    async def take(self, channel: Leased, *, ask: bool = False) -> bool:
        """Whether this process answers ``channel`` (or does what ``name`` stands for):
        True if it holds the lease, or took it now because nobody held it.

        A refusal is remembered until the other holder's lease would run out, so a busy
        channel of another process costs no database write a message; ``ask`` asks the
        database all the same (the store said the lease was given up)."""
        if self.holds(channel):
            return True
        now = self._clock()
        if not ask and self._others.get(channel, 0.0) > now:
            return False
        held_until = await self._store.take_lease(
            str(channel), self.owner, until=datetime.now(UTC) + timedelta(seconds=self.seconds)
        )
        if held_until is None:
            self._others.pop(channel, None)
            self._held[channel] = now + 2 * self.renew_every
            log.debug("%s: lease taken", channel)
            if self._on_change is not None and isinstance(channel, ChannelKey):
                self._on_change(channel)
            return True
        left = (held_until - datetime.now(UTC)).total_seconds()
        self._others[channel] = now + min(max(left, 0.0), self.seconds)
        return False

    async def renew(self) -> None:
        """Extend every lease held; channels whose lease another process took meanwhile
        (this one had stopped renewing) are given up."""
        started = self._clock()
        still = await self._store.renew_leases(
            self.owner, until=datetime.now(UTC) + timedelta(seconds=self.seconds)
        )
        for channel in list(self._held):
            if str(channel) in still:
                self._held[channel] = started + 2 * self.renew_every
            else:
                self._lose(channel)

    def drop_expired(self) -> None:
        """Give up, here, the channels whose renewal is overdue (the database is away)."""
        for channel in list(self._held):
            if not self.holds(channel):
                self._lose(channel)

    async def release(self) -> None:
        """Give up every lease, for other processes to take at once (a clean exit)."""
        held = list(self._held)
        self._held.clear()
        await self._store.release_leases(self.owner)
        if held:
            log.info("released %d channel lease(s)", len(held))

    def _lose(self, channel: Leased) -> None:
        del self._held[channel]
        log.info("%s: no longer held here (lease lost)", channel)
        if self._on_change is not None and isinstance(channel, ChannelKey):
            self._on_change(channel)
