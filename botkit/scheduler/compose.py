"""Composing policies: explicit address first, then a configurable policy."""

from __future__ import annotations

from botkit.scheduler.address import AddressPolicy
from botkit.scheduler.base import Decision, Scheduler, TurnContext

__all__ = ["ComposedScheduler"]


class ComposedScheduler:
    """Explicit address always wins; otherwise ``fallback`` (scoring, or a model policy) decides."""

    def __init__(self, *, address: AddressPolicy, fallback: Scheduler) -> None:
        self._address = address
        self._fallback = fallback
        self.name = fallback.name

    async def decide(self, context: TurnContext) -> Decision:
        """The addressed characters if any, else the fallback policy's choice."""
        decision = await self._address.decide(context)
        if decision.speakers:
            return decision
        return await self._fallback.decide(context)
