"""The scoring policy, botkit's default: a when-gate in front of the fitted who-ranker."""

from __future__ import annotations

from botkit.scheduler.address import addressed
from botkit.scheduler.base import Decision, Ranking, TurnContext, free_cast
from botkit.scheduler.gate import WhenGate
from botkit.scheduler.ranker import WhoRanker

__all__ = ["ScoringPolicy"]


class ScoringPolicy:
    """Decides *when* with a :class:`WhenGate` and *who* with a :class:`WhoRanker`.

    The ranker knows the conversation's structure (who was just spoken to, the A-B-A
    exchange, whose question is pending, who has taken part) and how much the last turn
    concerns each character; its weights were fitted on public multi-party conversations.
    Both are deterministic: ties go to the character listed first in the cast.
    """

    name = "scoring"

    def __init__(self, *, ranker: WhoRanker | None = None, gate: WhenGate | None = None) -> None:
        self.ranker = ranker or WhoRanker.fitted()
        self.gate = gate or WhenGate()

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast, likeliest next speaker first, with the ranker's scores."""
        return self.ranking(context)

    def ranking(self, context: TurnContext) -> Ranking:
        """:meth:`rank` without awaiting, for policies that build on it."""
        candidates = free_cast(context)
        if not candidates:
            return Ranking((), (), "nobody is free to speak")
        scores = self.ranker.scores(context, candidates).tolist()
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return Ranking(
            tuple(candidates[i].id for i in order),
            tuple(scores[i] for i in order),
            "structure: " + ", ".join(f"{candidates[i].id} {scores[i]:.2f}" for i in order[:3]),
        )

    async def decide(self, context: TurnContext) -> Decision:
        """Nobody when the gate stays closed; else the addressed, then the best ranked."""
        opening = self.gate.check(context)
        if opening.closed:
            return Decision((), opening.reason)
        ranking = self.ranking(context)
        free = set(ranking.speakers)
        talkative = {c.id for c in context.cast if c.talkativeness > 0}
        chosen = [cid for cid in addressed(context) if cid in free]
        chosen += [cid for cid in ranking.speakers if cid not in chosen and cid in talkative]
        chosen = chosen[: max(opening.speakers, 1)]
        scores = dict(zip(ranking.speakers, ranking.scores, strict=True))
        picked = ", ".join(f"{cid} {scores[cid]:.2f}" for cid in chosen)
        return Decision(tuple(chosen), f"{opening.reason}; {picked}")
