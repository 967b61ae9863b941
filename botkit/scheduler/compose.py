"""Turn-taking as channels use it: explicit address, then the channel's policy, then rules."""

from __future__ import annotations

from collections.abc import Mapping

from botkit.scheduler.address import AddressPolicy
from botkit.scheduler.base import Decision, Ranking, Scheduler, TurnContext

__all__ = ["ComposedScheduler"]


class ComposedScheduler:
    """Explicit address always wins; otherwise the channel's policy decides.

    ``policies`` are the policies a channel may choose by name (``context.policy``);
    ``default`` is the one channels use until they choose. Whatever decided, the same
    rules apply to the result: muted characters stay silent, a character never speaks
    twice in a row unless addressed, a character with talkativeness 0 speaks only when
    addressed, and nobody is named twice.
    """

    def __init__(
        self,
        *,
        policies: Mapping[str, Scheduler],
        default: str,
        address: AddressPolicy | None = None,
    ) -> None:
        if default not in policies:
            raise ValueError(f"default policy {default!r} is not among {', '.join(policies)}")
        self._policies = dict(policies)
        self._address = address or AddressPolicy()
        self.default = default
        self.name = default

    @property
    def policies(self) -> tuple[str, ...]:
        """The names a channel may choose from."""
        return tuple(self._policies)

    def policy(self, name: str) -> Scheduler:
        """The policy called ``name``, or the default one for an empty or unknown name."""
        return self._policies.get(name) or self._policies[self.default]

    async def rank(self, context: TurnContext) -> Ranking:
        """The addressed characters first (in the order addressed), then the channel policy's
        ranking of the others."""
        ranking = await self.policy(context.policy).rank(context)
        free = set(ranking.speakers)
        addressed = (await self._address.decide(context)).speakers
        first = [cid for cid in addressed if cid in free]
        if not first:
            return ranking
        scores = dict(zip(ranking.speakers, ranking.scores, strict=False))
        rest = [cid for cid in ranking.speakers if cid not in first]
        top = max(ranking.scores, default=0.0) + 1.0
        return Ranking(
            (*first, *rest),
            (*(top for _ in first), *(scores.get(cid, 0.0) for cid in rest)),
            "addressed: " + ", ".join(first) + f"; {ranking.reason}",
        )

    async def decide(self, context: TurnContext) -> Decision:
        """The addressed characters if any, else the channel policy's choice, with the rules."""
        addressed = await self._address.decide(context)
        if addressed.speakers:
            return _obey_rules(addressed, context, prompted=frozenset(addressed.speakers))
        chosen = await self.policy(context.policy).decide(context)
        return _obey_rules(chosen, context, prompted=frozenset())


def _obey_rules(decision: Decision, context: TurnContext, *, prompted: frozenset[str]) -> Decision:
    """``decision`` without the speakers the rules every policy obeys leave out."""
    talkativeness = {c.id: c.talkativeness for c in context.cast}
    last = context.trigger.speaker_id if context.trigger.is_character else None
    kept: list[str] = []
    dropped: list[str] = []
    for speaker in decision.speakers:
        unprompted = speaker not in prompted
        if (
            speaker in kept
            or speaker not in talkativeness
            or speaker in context.muted
            or (unprompted and (speaker == last or talkativeness[speaker] <= 0))
        ):
            dropped.append(speaker)
        else:
            kept.append(speaker)
    if not dropped:
        return decision
    reason = f"{decision.reason}; held back: {', '.join(dropped)}"
    return Decision(tuple(kept), reason)
