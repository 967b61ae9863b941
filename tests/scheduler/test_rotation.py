"""Round-robin and manual turn-taking."""

from __future__ import annotations

from botkit.scheduler import ManualPolicy, RoundRobinPolicy, TurnContext
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, context, human, person, said_by


async def test_round_robin_answers_people_in_cast_order() -> None:
    policy = RoundRobinPolicy()
    history = [human("Evening.")]
    picked = []
    for line in ("Anyone about?", "Quiet night.", "Still there?", "Hello?", "Again?"):
        decision = await policy.decide(context(human(line), history=history))
        picked.extend(decision.speakers)
        speaker = next(c for c in CAST if c.id == decision.speakers[0])
        history = [*history, human(line), said_by(speaker, "Aye.")]
    assert picked == ["mira", "bram", "wren", "nell", "mira"]


async def test_round_robin_skips_the_muted_and_the_silent() -> None:
    cast = (MIRA, person("stone", 0.0), BRAM)
    history = [said_by(MIRA, "Soup's on.")]
    trigger = human("Who else is here?")
    situation = TurnContext(cast, (*history, trigger), trigger)
    assert (await RoundRobinPolicy().decide(situation)).speakers == ("bram",)
    muted = TurnContext(cast, (*history, trigger), trigger, muted=frozenset({"bram"}))
    assert (await RoundRobinPolicy().decide(muted)).speakers == ("mira",)


async def test_round_robin_never_answers_a_character() -> None:
    decision = await RoundRobinPolicy().decide(context(said_by(NELL, "The lamp is out."), hops=1))
    assert decision.nobody


async def test_manual_waits_to_be_addressed() -> None:
    assert (await ManualPolicy().decide(context(human("Hello everyone!")))).nobody
