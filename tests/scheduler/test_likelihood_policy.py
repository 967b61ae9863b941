"""The likelihood policy: structure scores fused with a scorer's name-tag likelihoods."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import pytest_asyncio

from botkit.backends.base import BackendUnavailable, ContinuationRequest
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.characters.model import Character
from botkit.scheduler.base import Decision, Ranking, TurnContext, free_cast
from botkit.scheduler.gate import Opening, WhenGate
from botkit.scheduler.likelihood import LikelihoodPolicy
from botkit.scheduler.scoring import ScoringPolicy
from botkit.testing import InstantBackend
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, WREN, context, human, said_by

Scores = Callable[[ContinuationRequest], tuple[float, ...]]


class ScriptedScorer(InstantBackend):
    """A backend whose continuation scores come from ``scores``, after ``delay`` seconds."""

    def __init__(self, scores: Scores | Mapping[str, float], *, delay: float = 0.0) -> None:
        super().__init__(name="scripted")
        if isinstance(scores, Mapping):
            table = dict(scores)
            self._scores: Scores = lambda request: tuple(table[c] for c in request.continuations)
        else:
            self._scores = scores
        self._wait = delay
        self.scored: list[ContinuationRequest] = []

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        self.scored.append(request)
        await asyncio.sleep(self._wait)
        return self._scores(request)


class FixedStructure:
    """A structure policy with fixed scores for everyone in the cast, in cast order."""

    name = "fixed"

    def __init__(self, scores: Mapping[str, float]) -> None:
        self._scores = dict(scores)

    async def rank(self, context: TurnContext) -> Ranking:
        order = sorted(self._scores, key=lambda cid: -self._scores[cid])
        return Ranking(tuple(order), tuple(self._scores[cid] for cid in order), "fixed ranking")

    async def decide(self, context: TurnContext) -> Decision:
        free = [c.id for c in free_cast(context)]
        return Decision((free[0],), "fixed decision")


class OpenGate(WhenGate):
    """Opens for ``speakers`` after every turn."""

    def __init__(self, speakers: int = 1) -> None:
        super().__init__()
        self.speakers = speakers

    def check(self, context: TurnContext) -> Opening:
        return Opening(self.speakers, f"open for {self.speakers}")


STRUCTURE = {"mira": 1.0, "bram": 0.5, "wren": 0.0, "nell": -1.0}
LIKELIHOOD = {"Mira:": -2.0, "Bram:": -0.5, "Wren:": -0.4, "Nell:": -6.0}


def policy(
    backend: InstantBackend,
    *,
    structure: Mapping[str, float] = STRUCTURE,
    gate: WhenGate | None = None,
    weight: float = 1.0,
    timeout: float = 5.0,
    window: int = 10,
) -> LikelihoodPolicy:
    return LikelihoodPolicy(
        backend=backend,
        structure=FixedStructure(structure),
        gate=gate or OpenGate(),
        weight=weight,
        timeout=timeout,
        window=window,
    )


def fused(structure: Mapping[str, float], likelihood: Mapping[str, float], weight: float) -> dict:
    """The expected fused scores, computed the long way."""
    total = math.log(sum(math.exp(v) for v in likelihood.values()))
    names = {c.id: f"{c.name}:" for c in CAST}
    return {
        cid: structure[cid] + weight * (likelihood[names[cid]] - total)
        for cid in structure
        if names[cid] in likelihood
    }


async def test_the_ranking_fuses_structure_and_likelihood() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    ranking = await policy(backend).rank(context(human("Evening, all.")))
    expected = fused(STRUCTURE, LIKELIHOOD, 1.0)
    # The structure alone says mira, bram, wren, nell; the model alone wren, bram, mira.
    assert ranking.speakers == ("bram", "wren", "mira", "nell")
    assert ranking.scores == pytest.approx([expected[cid] for cid in ranking.speakers])
    assert ranking.reason.startswith("likelihood: bram ")
    [request] = backend.scored
    assert request.continuations == ("Mira:", "Bram:", "Wren:", "Nell:")


async def test_a_zero_weight_keeps_the_structure_order() -> None:
    ranking = await policy(ScriptedScorer(LIKELIHOOD), weight=0.0).rank(context(human("Hi.")))
    assert ranking.speakers == ("mira", "bram", "wren", "nell")
    assert ranking.scores == pytest.approx([1.0, 0.5, 0.0, -1.0])


async def test_ties_keep_the_structure_order() -> None:
    structure = {"wren": 0.7, "nell": 0.7, "mira": 0.7, "bram": 0.2}
    likelihood = {"Mira:": -1.0, "Bram:": -1.0, "Wren:": -1.0, "Nell:": -1.0}
    backend = ScriptedScorer(likelihood)
    ranking = await policy(backend, structure=structure).rank(context(human("Hello?")))
    assert ranking.speakers == ("wren", "nell", "mira", "bram")
    assert backend.scored[0].continuations == ("Wren:", "Nell:", "Mira:", "Bram:")


async def test_the_muted_and_the_last_speaker_are_not_candidates() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    trigger = said_by(MIRA, "Soup, anyone?")
    situation = context(trigger, hops=1)
    muted = TurnContext(CAST, situation.transcript, trigger, hops=1, muted=frozenset({"nell"}))
    ranking = await policy(backend).rank(muted)
    assert ranking.speakers == ("bram", "wren")
    assert backend.scored[0].continuations == ("Bram:", "Wren:")
    decision = await policy(backend, gate=OpenGate(3)).decide(muted)
    assert decision.speakers == ("bram", "wren")


async def test_one_candidate_needs_no_model() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    situation = context(human("Hi."), cast=(MIRA, BRAM))
    only = TurnContext(situation.cast, situation.transcript, situation.trigger, muted={"mira"})
    ranking = await policy(backend).rank(only)
    assert ranking.speakers == ("bram",)
    assert backend.scored == []


async def test_the_script_shows_the_last_turns_under_their_tags() -> None:
    twin = Character(id="mira2", name="Mira", persona=("Another Mira.",))
    cast = (MIRA, BRAM, twin)
    history = [
        human("first line, out of the window"),
        said_by(twin, "I am the other one."),
        human("word " * 200),
        said_by(BRAM, "Aye."),
    ]
    backend = ScriptedScorer(lambda request: (-1.0,) * len(request.continuations))
    situation = context(human("Which Mira is which?"), cast=cast, history=history)
    await policy(backend, structure={"mira": 0.0, "bram": 0.0, "mira2": 0.0}, window=4).rank(
        situation
    )
    [request] = backend.scored
    assert request.continuations == ("Mira:", "Bram:", "mira2:")
    system, script = request.messages
    assert system.role == "system"
    assert "Mira, Bram and mira2" in system.content
    lines = script.content.split("\n")
    assert lines[0] == "mira2: I am the other one."
    assert lines[1].startswith("Ann: word word") and lines[1].endswith(" …")
    assert len(lines[1]) < 320
    assert lines[2:] == ["Bram: Aye.", "Ann: Which Mira is which?"]


async def test_the_gate_decides_whether_anyone_speaks() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    chooser = LikelihoodPolicy(
        backend=backend, structure=FixedStructure(STRUCTURE), gate=WhenGate(), weight=1.0
    )
    decision = await chooser.decide(context(human("brb, the pizza is here")))
    assert decision.nobody
    assert decision.reason == "an aside between people"
    assert backend.scored == []


async def test_an_open_gate_takes_the_first_of_the_ranking() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    one = await policy(backend).decide(context(human("Evening, all.")))
    assert one.speakers == ("bram",)
    assert one.reason.startswith("likelihood: open for 1; bram ")
    two = await policy(backend, gate=OpenGate(2)).decide(context(human("Hi all")))
    assert two.speakers == ("bram", "wren")


async def test_the_addressed_come_first_and_the_silent_never_volunteer() -> None:
    silent = Character(id="wren", name="Wren", talkativeness=0.0, persona=("Maps caves.",))
    cast = (MIRA, BRAM, silent, NELL)
    backend = ScriptedScorer({**LIKELIHOOD, "Wren:": -0.01})
    decision = await policy(backend, gate=OpenGate(2), weight=5.0).decide(
        context(human("Nell, is the lamp lit?"), cast=cast)
    )
    assert decision.speakers == ("nell", "bram")


async def test_a_timeout_leaves_the_decision_to_the_structure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = ScriptedScorer(LIKELIHOOD, delay=5.0)
    chooser = policy(backend, timeout=0.05)
    with caplog.at_level(logging.INFO, logger="botkit.scheduler.likelihood"):
        decision = await chooser.decide(context(human("Evening, all.")))
    assert decision.speakers == ("mira",)
    assert decision.reason == "likelihood: no answer within 0.05 s; fixed: fixed decision"
    assert [r.levelname for r in caplog.records] == ["INFO"]
    ranking = await chooser.rank(context(human("Evening, all.")))
    assert ranking.speakers == ("mira", "bram", "wren", "nell")
    assert ranking.scores == (1.0, 0.5, 0.0, -1.0)
    assert ranking.reason == "likelihood: no answer within 0.05 s; fixed ranking"


async def test_a_backend_error_leaves_the_decision_to_the_structure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail(_request: ContinuationRequest) -> tuple[float, ...]:
        raise BackendUnavailable("backend 'scripted': the server is down")

    with caplog.at_level(logging.DEBUG, logger="botkit.scheduler.likelihood"):
        decision = await policy(ScriptedScorer(fail)).decide(context(human("Evening, all.")))
    assert decision.speakers == ("mira",)
    assert decision.reason == (
        "likelihood: backend 'scripted': the server is down; fixed: fixed decision"
    )
    levels = [r.levelname for r in caplog.records]
    assert levels == ["DEBUG", "INFO"]
    assert caplog.records[0].exc_info is not None


async def test_a_backend_that_cannot_score_leaves_the_decision_to_the_structure() -> None:
    backend = InstantBackend("Bram", name="chat-only")
    decision = await policy(backend).decide(context(human("Evening, all.")))
    assert decision.speakers == ("mira",)
    assert decision.reason == (
        "likelihood: backend 'chat-only' cannot score continuations; fixed: fixed decision"
    )
    assert backend.requests == []


@pytest.mark.parametrize(
    ("scores", "why"),
    [
        ((-1.0, -2.0), "answered 2 scores for 4 names"),
        ((-1.0, math.nan, -2.0, -3.0), "answered a score that is not a finite number"),
        ((-1.0, math.inf, -2.0, -3.0), "answered a score that is not a finite number"),
    ],
)
async def test_an_unusable_answer_leaves_the_decision_to_the_structure(
    scores: tuple[float, ...], why: str
) -> None:
    decision = await policy(ScriptedScorer(lambda _request: scores)).decide(
        context(human("Evening, all."))
    )
    assert decision.speakers == ("mira",)
    assert decision.reason == f"likelihood: {why}; fixed: fixed decision"


def test_settings_are_checked() -> None:
    backend = ScriptedScorer(LIKELIHOOD)
    for weight, timeout, window in ((-1.0, 1.0, 1), (math.nan, 1.0, 1), (1.0, 0.0, 1), (1.0, 1, 0)):
        with pytest.raises(ValueError):
            policy(backend, weight=weight, timeout=timeout, window=window)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def model() -> AsyncIterator[LlamaCppBackend]:
    backend = LlamaCppBackend(context_window=2048, threads=2, seed=3)
    await backend.load()
    yield backend
    await backend.aclose()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_the_real_model_hears_who_was_spoken_to(model: LlamaCppBackend) -> None:
    history = [human("Hi everyone."), said_by(MIRA, "Hello Ann, welcome in!")]
    situation = context(human("Bram, pass the salt."), history=history)
    flat = {c.id: 0.0 for c in CAST}
    ranking = await policy(model, structure=flat, timeout=120).rank(situation)
    assert ranking.reason.startswith("likelihood: ")
    assert set(ranking.speakers) == {"mira", "bram", "wren", "nell"}
    assert ranking.speakers.index("bram") < ranking.speakers.index("wren")

    chooser = LikelihoodPolicy(
        backend=model, structure=ScoringPolicy(), gate=WhenGate(), weight=1.0, timeout=120
    )
    decision = await chooser.decide(context(said_by(WREN, "Anyone seen my map?"), hops=1))
    assert decision.reason.startswith("likelihood: "), decision.reason
    assert "wren" not in decision.speakers
    assert len(decision.speakers) == 1
