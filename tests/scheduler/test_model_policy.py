"""The model policy against scripted backends: choices, prompt, parsing and fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from botkit.backends.base import BackendUnavailable, ChatRequest
from botkit.characters.model import Character
from botkit.scheduler import ModelPolicy, ScoringPolicy, choice_labels
from botkit.testing import InstantBackend
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, WREN, context, human, said_by


def policy(backend: InstantBackend, timeout: float = 5.0) -> ModelPolicy:
    """The model policy on ``backend``, with scoring to fall back on."""
    return ModelPolicy(backend=backend, fallback=ScoringPolicy(), timeout=timeout)


async def test_the_answer_names_the_speaker() -> None:
    backend = InstantBackend("Wren")
    decision = await policy(backend).decide(context(human("Who knows the caves?")))
    assert decision.speakers == ("wren",)
    assert decision.reason == "model: Wren"
    [request] = backend.requests
    assert request.choices == ("Mira", "Bram", "Wren", "Nell", "NOBODY")
    assert request.sampling.temperature == 0.0
    assert request.sampling.max_tokens is not None and request.sampling.max_tokens <= 16


async def test_nobody_is_an_answer() -> None:
    decision = await policy(InstantBackend("NOBODY")).decide(context(human("brb, pizza")))
    assert decision.nobody
    assert decision.reason == "model: nobody"


async def test_the_last_speaker_and_the_muted_are_not_offered() -> None:
    backend = InstantBackend("Bram")
    trigger = said_by(MIRA, "Soup, anyone?")
    situation = context(trigger, hops=1)
    muted = type(situation)(
        situation.cast, situation.transcript, trigger, hops=1, muted=frozenset({"nell"})
    )
    assert (await policy(backend).decide(muted)).speakers == ("bram",)
    assert backend.requests[0].choices == ("Bram", "Wren", "NOBODY")


async def test_the_system_prompt_is_the_same_for_every_decision_with_one_cast() -> None:
    backend = InstantBackend("NOBODY")
    chooser = policy(backend)
    history: list = []
    for line in ("Evening.", "Bram, a boat?", "Wren, the caves?"):
        trigger = human(line)
        await chooser.decide(context(trigger, history=history))
        history.append(trigger)
    systems = {request.messages[0].content for request in backend.requests}
    assert len(systems) == 1
    [system] = systems
    assert "- Mira: the innkeeper of the Salt Lantern (talkative)" in system
    assert "- Nell: Nell tends the dark lighthouse lamp. (quiet)" in system
    last = backend.requests[-1].messages[1].content
    assert last.startswith("The chat so far:\nAnn: Evening.\nAnn: Bram, a boat?\nAnn: Wren")
    assert last.endswith("Answer with exactly one of: Mira, Bram, Wren, Nell, NOBODY.")


async def test_duplicate_names_are_told_apart_by_id() -> None:
    twin = Character(id="mira-2", name="Mira", persona=("The other Mira.",))
    odd = Character(id="nobody", name="Nobody", persona=("Nobody at all.",))
    assert choice_labels((MIRA, twin, odd)) == {
        "mira": "Mira",
        "mira-2": "mira-2",
        "nobody": "nobody",
    }
    decision = await policy(InstantBackend("mira-2")).decide(
        context(human("Hello?"), cast=(MIRA, twin, odd))
    )
    assert decision.speakers == ("mira-2",)


@pytest.mark.parametrize(
    "answer", ["I think the innkeeper", "Elias", "", "Mira and Wren together, surely"]
)
async def test_an_unreadable_answer_falls_back_to_scoring(answer: str) -> None:
    trigger = human("Wren, what is in the caves?")
    situation = context(trigger, cast=(MIRA, WREN))
    decision = await policy(InstantBackend(answer)).decide(situation)
    expected = await ScoringPolicy().decide(situation)
    assert decision.speakers == expected.speakers
    assert decision.reason.startswith("model answered")


class SilentBackend(InstantBackend):
    """Never answers."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        await asyncio.Event().wait()
        yield ""


class BrokenBackend(InstantBackend):
    """Fails at once."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        raise BackendUnavailable("backend 'vllm': connection refused")
        yield ""


async def test_a_backend_that_times_out_hands_the_decision_to_scoring() -> None:
    decision = await policy(SilentBackend(), timeout=0.05).decide(
        context(human("Bram, is the boat ready?"), cast=(BRAM, NELL))
    )
    assert decision.speakers == ("bram",)
    assert decision.reason.startswith("model no answer within 0.05 s")


async def test_a_failing_backend_hands_the_decision_to_scoring() -> None:
    decision = await policy(BrokenBackend()).decide(context(human("Hello everyone!")))
    assert decision.speakers
    assert decision.reason.startswith("model backend 'vllm': connection refused")


async def test_nobody_free_means_no_call() -> None:
    backend = InstantBackend("Mira")
    solo = context(said_by(MIRA, "Just me here."), cast=(MIRA,), hops=1)
    assert (await policy(backend).decide(solo)).nobody
    assert backend.requests == []
    assert CAST
