"""Composition: explicit address first, the fallback policy otherwise."""

from __future__ import annotations

import random

from botkit.scheduler import (
    AddressPolicy,
    ComposedScheduler,
    Decision,
    Scheduler,
    ScoringPolicy,
    TurnContext,
)
from tests.scheduler.cast import MIRA, context, human, person, said_by


class RecordingPolicy:
    """A fallback that always picks Nell and counts how often it was asked."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls = 0

    async def decide(self, context: TurnContext) -> Decision:
        self.calls += 1
        return Decision(("nell",), "recorded")


def composed(seed: int = 0) -> ComposedScheduler:
    return ComposedScheduler(
        address=AddressPolicy(), fallback=ScoringPolicy(rng=random.Random(seed))
    )


async def test_the_fallback_is_asked_only_when_nobody_is_addressed() -> None:
    fallback = RecordingPolicy()
    scheduler = ComposedScheduler(address=AddressPolicy(), fallback=fallback)
    assert isinstance(scheduler, Scheduler)
    assert scheduler.name == "recorder"
    assert (await scheduler.decide(context(human("Bram, hi")))).speakers == ("bram",)
    assert (await scheduler.decide(context(human("hi"), reply_to="wren"))).speakers == ("wren",)
    assert fallback.calls == 0
    assert (await scheduler.decide(context(human("What a night.")))).speakers == ("nell",)
    assert fallback.calls == 1


async def test_address_beats_score() -> None:
    shy = person("shy", 0.0)
    trigger = human("Shy, tell me about the soup and stories at the inn?")
    for seed in range(20):
        decision = await composed(seed).decide(context(trigger, cast=(MIRA, shy)))
        assert decision.speakers == ("shy",)


async def test_mentioning_one_character_makes_only_that_one_reply() -> None:
    for text in ("What do you know of the caves, Bram?", "Hello everyone! Mira, a room?"):
        for seed in range(30):
            decision = await composed(seed).decide(context(human(text)))
            assert len(decision.speakers) == 1


async def test_the_fallback_speaks_when_nobody_is_addressed() -> None:
    decision = await composed().decide(context(human("Hello everyone!")))
    assert len(decision.speakers) == 2


async def test_a_character_naming_itself_falls_through_to_the_fallback() -> None:
    trigger = said_by(MIRA, "Mira's soup, Mira's stories, Mira's gossip!")
    for seed in range(30):
        decision = await composed(seed).decide(context(trigger, hops=1))
        assert "mira" not in decision.speakers
