"""Idle-time work for the backends: reading the opening of likely next prompts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["ReadAhead"]

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.5
"""How long the bot must have been idle before reading ahead starts: a person takes
longer to answer, while traffic that follows at once would only interrupt it."""


class ReadAhead:
    """Runs one channel's reading ahead at a time, once the bot has been idle for
    :data:`QUIET_SECONDS`: a newly idle channel's replaces the one before, which the
    backend would otherwise spend the idle time on."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` in the background instead of whatever was being read ahead
        (nothing, once closed)."""
        self.cancel()
        if self._closed:
            return
        self._task = asyncio.create_task(self._run(job), name="botkit-read-ahead")

    def cancel(self) -> None:
        """Stop reading ahead (the backend keeps what it has read)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def aclose(self) -> None:
        """Stop reading ahead for good and wait until it has stopped."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    async def _run(job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await asyncio.sleep(QUIET_SECONDS)
        try:
            await job()
        except Exception:
            log.debug("reading ahead failed", exc_info=True)
