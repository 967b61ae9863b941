"""Simple policies: characters answer people in turn, or only when spoken to."""

from __future__ import annotations

from botkit.scheduler.base import NOBODY, Decision, Ranking, TurnContext, free_cast

__all__ = ["ManualPolicy", "RoundRobinPolicy"]


class RoundRobinPolicy:
    """Characters take turns answering people, in cast order; they never answer each other
    unprompted, so every human message gets exactly one reply unless someone is addressed.
    """

    name = "round-robin"

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast in cast order, starting after the last character who spoke."""
        order = [c.id for c in context.cast]
        last = next((t.speaker_id for t in reversed(context.transcript) if t.is_character), None)
        start = order.index(last) + 1 if last in order else 0
        turn = {cid: (index - start) % len(order) for index, cid in enumerate(order)}
        free = sorted((c.id for c in free_cast(context)), key=turn.__getitem__)
        return Ranking(tuple(free), tuple(-float(turn[cid]) for cid in free), "round-robin order")

    async def decide(self, context: TurnContext) -> Decision:
        """The cast member after the last character who spoke; nobody after a character."""
        if context.trigger.is_character:
            return Decision((), "round-robin: characters answer each other only when addressed")
        order = [c.id for c in context.cast]
        if not order:
            return NOBODY
        last = next((t.speaker_id for t in reversed(context.transcript) if t.is_character), None)
        start = order.index(last) + 1 if last in order else 0
        for offset in range(len(order)):
            character = context.cast[(start + offset) % len(order)]
            if character.id not in context.muted and character.talkativeness > 0:
                return Decision((character.id,), f"round-robin: {character.id}'s turn")
        return NOBODY


class ManualPolicy:
    """Nobody speaks unprompted: characters answer only when addressed or asked with /say."""

    name = "manual"

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast in cast order: the order in which /say and the menus list them."""
        free = [c.id for c in free_cast(context)]
        return Ranking(tuple(free), tuple(-float(i) for i in range(len(free))), "cast order")

    async def decide(self, context: TurnContext) -> Decision:
        """Always nobody (explicit address is handled before any policy is asked)."""
        return Decision((), "manual: characters speak only when addressed")
