"""The likelihood policy: the structure ranking, sharpened by how likely a model finds each
character's name tag as the next line of the chat."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence

from botkit.backends.base import (
    BackendError,
    ChatBackend,
    ChatMessage,
    ContinuationRequest,
    ContinuationScorer,
)
from botkit.characters.model import Character
from botkit.scheduler.address import addressed
from botkit.scheduler.base import Decision, Ranking, Scheduler, TurnContext, free_cast
from botkit.scheduler.gate import WhenGate
from botkit.scheduler.model import choice_labels
from botkit.transcript import Turn

__all__ = ["LikelihoodPolicy"]

log = logging.getLogger(__name__)

_TURN_CHARS = 300
_SHOWN = 3


class LikelihoodPolicy:
    """Ranks the free cast by the structure policy's scores plus ``weight`` times the
    model's opinion, and lets the when-gate say whether anyone speaks.

    The model's opinion comes from one backend call per decision: the last ``window``
    turns as a plain script ("Name: text" lines), with the log-probability of each free
    character's tag (``"Name:"``) as the start of the next line. Those are normalised over
    the candidates (a log-softmax) before they are weighed, so they are on the same
    log-odds scale as the structure scores. Ties keep the structure's order. The default
    ``weight`` of 1 counts the model and the structure as independent experts; it is not
    fitted.

    The candidates are the free characters the structure ranks; one it lists without a
    score counts 0 there. When the backend cannot score continuations, fails, takes
    longer than ``timeout`` seconds or answers with something unusable, the structure
    policy ranks and decides alone, and the reason says why.
    """

    name = "likelihood"

    def __init__(
        self,
        *,
        backend: ChatBackend,
        structure: Scheduler,
        gate: WhenGate,
        weight: float = 1.0,
        timeout: float = 8.0,
        window: int = 10,
    ) -> None:
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"the likelihood weight must be a number ≥ 0, got {weight!r}")
        if not timeout > 0 or window < 1:
            raise ValueError("the likelihood policy needs a positive timeout and window")
        self._backend = backend
        self._structure = structure
        self._gate = gate
        self._weight = weight
        self._timeout = timeout
        self._window = window

    async def rank(self, context: TurnContext) -> Ranking:
        """The free cast by fused score, likeliest first; the structure's ranking when the
        model gives no usable answer."""
        ranking, _failure = await self._rank(context)
        return ranking

    async def decide(self, context: TurnContext) -> Decision:
        """Nobody when the gate stays closed; else as many as it allows: the addressed
        first, then the best ranked who speak at all (talkativeness above 0)."""
        opening = self._gate.check(context)
        if opening.speakers <= 0:
            return Decision((), opening.reason)
        ranking, failure = await self._rank(context)
        if failure is not None:
            decision = await self._structure.decide(context)
            reason = f"likelihood: {failure}; {self._structure.name}: {decision.reason}"
            return Decision(decision.speakers, reason)
        talkative = {c.id for c in context.cast if c.talkativeness > 0}
        chosen = [cid for cid in addressed(context) if cid in ranking.speakers]
        chosen += [cid for cid in ranking.speakers if cid not in chosen and cid in talkative]
        chosen = chosen[: opening.speakers]
        if not chosen:
            return Decision((), f"likelihood: {opening.reason}; nobody free speaks")
        scores = dict(zip(ranking.speakers, ranking.scores, strict=True))
        picked = ", ".join(f"{cid} {scores[cid]:.2f}" for cid in chosen)
        return Decision(tuple(chosen), f"likelihood: {opening.reason}; {picked}")

    async def _rank(self, context: TurnContext) -> tuple[Ranking, str | None]:
        """The fused ranking, or the structure's with why the model was not heard."""
        structure = await self._structure.rank(context)
        free = {c.id for c in free_cast(context)}
        known = dict(zip(structure.speakers, structure.scores, strict=False))
        candidates = [cid for cid in structure.speakers if cid in free]
        base = [known.get(cid, 0.0) for cid in candidates]
        if len(candidates) < 2:
            ranked = Ranking(tuple(candidates), tuple(base), f"likelihood: {structure.reason}")
            return ranked, None
        spread = await self.model_opinion(context, candidates)
        if isinstance(spread, str):
            log.info(
                "likelihood policy: %s; the %s policy takes over", spread, self._structure.name
            )
            kept = Ranking(
                tuple(candidates), tuple(base), f"likelihood: {spread}; {structure.reason}"
            )
            return kept, spread
        fused = [score + self._weight * lm for score, lm in zip(base, spread, strict=True)]
        order = sorted(range(len(candidates)), key=lambda i: (-fused[i], i))
        shown = ", ".join(
            f"{candidates[i]} {fused[i]:.2f} ({base[i]:.2f}{self._weight * spread[i]:+.2f})"
            for i in order[:_SHOWN]
        )
        ranked = Ranking(
            tuple(candidates[i] for i in order),
            tuple(fused[i] for i in order),
            f"likelihood: {shown}",
        )
        return ranked, None

    async def model_opinion(
        self, context: TurnContext, candidates: Sequence[str]
    ) -> list[float] | str:
        """The model's log-probability that each of ``candidates`` (character ids) speaks
        next, normalised over them; or why the model gave none."""
        labels = choice_labels(context.cast)
        request = ContinuationRequest(
            messages=(
                ChatMessage("system", _system_line(context.cast, labels)),
                ChatMessage("user", self._script(context.transcript, labels)),
            ),
            continuations=tuple(f"{labels[cid]}:" for cid in candidates),
        )
        answer = await self._ask(request)
        return answer if isinstance(answer, str) else _log_softmax(answer)

    async def _ask(self, request: ContinuationRequest) -> tuple[float, ...] | str:
        """The backend's log-probabilities for the request, or why there are none."""
        backend = self._backend
        if not isinstance(backend, ContinuationScorer):
            return f"backend {backend.name!r} cannot score continuations"
        try:
            async with asyncio.timeout(self._timeout):
                scores = await backend.score_continuations(request)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except BackendError as error:
            log.debug("likelihood policy: the backend failed", exc_info=True)
            return str(error)
        wanted = len(request.continuations)
        if len(scores) != wanted:
            log.debug("likelihood policy: %d scores for %r", len(scores), request.continuations)
            return f"answered {len(scores)} scores for {wanted} names"
        if not all(math.isfinite(score) for score in scores):
            log.debug("likelihood policy: unusable scores %r", scores)
            return "answered a score that is not a finite number"
        return scores

    def _script(self, transcript: Sequence[Turn], labels: Mapping[str, str]) -> str:
        """The last turns as "Name: text" lines, characters under their tags."""
        lines = []
        for turn in transcript[-self._window :]:
            text = " ".join(turn.text.split())
            if len(text) > _TURN_CHARS:
                text = text[:_TURN_CHARS] + " …"
            name = turn.speaker_name
            if turn.is_character:
                name = labels.get(turn.speaker_id, name)
            lines.append(f"{name}: {text}")
        return "\n".join(lines)


def _system_line(cast: Sequence[Character], labels: Mapping[str, str]) -> str:
    """Who takes part; the same for every decision with this cast, so it stays cached."""
    names = [labels[c.id] for c in cast]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return (
        f"A group chat among the characters {listed} and the people with them. "
        "Continue the script with the next line."
    )


def _log_softmax(values: Sequence[float]) -> list[float]:
    """``values`` minus their log-sum-exp: log-probabilities over just these candidates."""
    top = max(values)
    total = top + math.log(sum(math.exp(v - top) for v in values))
    return [v - total for v in values]
