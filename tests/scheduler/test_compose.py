"""Composition: explicit address first, the channel's policy otherwise, and the shared rules."""

from __future__ import annotations

import pytest

from botkit.scheduler import (
    ComposedScheduler,
    Decision,
    ManualPolicy,
    Ranking,
    RoundRobinPolicy,
    Scheduler,
    ScoringPolicy,
    TurnContext,
)
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, WREN, context, human, person, said_by


class FixedPolicy:
    """A policy that always picks the same speakers and counts how often it was asked."""

    name = "fixed"

    def __init__(self, *speakers: str) -> None:
        self.speakers = speakers
        self.calls = 0

    async def rank(self, context: TurnContext) -> Ranking:
        return Ranking(self.speakers, tuple(-float(i) for i in range(len(self.speakers))))

    async def decide(self, context: TurnContext) -> Decision:
        self.calls += 1
        return Decision(self.speakers, "fixed")


def composed() -> ComposedScheduler:
    """Channels as botkit runs them by default: address first, then scoring."""
    return ComposedScheduler(policies={"scoring": ScoringPolicy()}, default="scoring")


def with_rules(*speakers: str) -> ComposedScheduler:
    """A scheduler whose policy always picks ``speakers``, so only the rules filter them."""
    return ComposedScheduler(policies={"fixed": FixedPolicy(*speakers)}, default="fixed")


async def test_the_policy_is_asked_only_when_nobody_is_addressed() -> None:
    policy = FixedPolicy("nell")
    scheduler = ComposedScheduler(policies={"fixed": policy}, default="fixed")
    assert isinstance(scheduler, Scheduler)
    assert (await scheduler.decide(context(human("Bram, hi")))).speakers == ("bram",)
    assert (await scheduler.decide(context(human("hi"), reply_to="wren"))).speakers == ("wren",)
    assert policy.calls == 0
    assert (await scheduler.decide(context(human("What a night.")))).speakers == ("nell",)
    assert policy.calls == 1


async def test_address_beats_score() -> None:
    shy = person("shy", 0.0)
    trigger = human("Shy, tell me about the soup and stories at the inn?")
    decision = await composed().decide(context(trigger, cast=(MIRA, shy)))
    assert decision.speakers == ("shy",)


async def test_address_beats_every_policy() -> None:
    scheduler = ComposedScheduler(
        policies={"manual": ManualPolicy(), "round-robin": RoundRobinPolicy(), "x": FixedPolicy()},
        default="manual",
    )
    for policy in scheduler.policies:
        situation = TurnContext(CAST, (t := human("Nell, are you there?"),), t, policy=policy)
        assert (await scheduler.decide(situation)).speakers == ("nell",)


async def test_the_channel_policy_is_chosen_by_name() -> None:
    scheduler = ComposedScheduler(
        policies={"manual": ManualPolicy(), "round-robin": RoundRobinPolicy()}, default="manual"
    )
    trigger = human("What a night.")
    assert (await scheduler.decide(TurnContext(CAST, (trigger,), trigger))).nobody
    rotated = TurnContext(CAST, (trigger,), trigger, policy="round-robin")
    assert (await scheduler.decide(rotated)).speakers == ("mira",)
    unknown = TurnContext(CAST, (trigger,), trigger, policy="gone")
    assert (await scheduler.decide(unknown)).nobody
    with pytest.raises(ValueError, match="default policy 'x'"):
        ComposedScheduler(policies={"manual": ManualPolicy()}, default="x")


async def test_mentioning_one_character_makes_only_that_one_reply() -> None:
    for text, speaker in (
        ("What do you know of the caves, Bram?", "bram"),
        ("Hello everyone! Wren, a room?", "wren"),
    ):
        decision = await composed().decide(context(human(text)))
        assert decision.speakers == (speaker,)


async def test_the_policy_speaks_when_nobody_is_addressed() -> None:
    decision = await composed().decide(context(human("Hello everyone!")))
    assert len(decision.speakers) == 2
    assert decision.reason.startswith("to the room; ")


async def test_a_character_naming_itself_falls_through_to_the_policy() -> None:
    trigger = said_by(MIRA, "Mira's soup, Mira's stories, Mira's gossip!")
    decision = await composed().decide(context(trigger, hops=1))
    assert len(decision.speakers) == 1
    assert "mira" not in decision.speakers


async def test_no_character_speaks_twice_in_a_row_unprompted() -> None:
    trigger = said_by(MIRA, "More soup, anyone? It's fresh.")
    decision = await with_rules("mira", "bram").decide(context(trigger, hops=1))
    assert decision.speakers == ("bram",)
    assert "held back: mira" in decision.reason
    assert (await with_rules("mira").decide(context(trigger, hops=1))).nobody


async def test_a_human_may_get_the_same_character_again() -> None:
    history = (human("Mira, soup?"), said_by(MIRA, "Coming right up, love."))
    decision = await with_rules("mira").decide(context(human("Thanks!"), history=history))
    assert decision.speakers == ("mira",)


async def test_muted_characters_stay_silent_even_when_addressed() -> None:
    muted = frozenset({"bram"})
    scheduler = with_rules("bram", "wren")
    quiet = TurnContext(CAST, (t := human("What a night."),), t, muted=muted)
    assert (await scheduler.decide(quiet)).speakers == ("wren",)
    asked = TurnContext(CAST, (t := human("Bram, a boat?"),), t, muted=muted)
    assert (await scheduler.decide(asked)).nobody
    both = TurnContext(CAST, (t := human("Bram and Nell, a boat?"),), t, muted=muted)
    assert (await scheduler.decide(both)).speakers == ("nell",)


async def test_a_character_with_no_talkativeness_speaks_only_when_addressed() -> None:
    mute_by_nature = person("stone", 0.0)
    cast = (MIRA, mute_by_nature)
    scheduler = with_rules("stone", "mira")
    assert (await scheduler.decide(context(human("Nice weather."), cast=cast))).speakers == (
        "mira",
    )
    assert (await scheduler.decide(context(human("Stone, well?"), cast=cast))).speakers == (
        "stone",
    )


async def test_a_cued_character_is_invited_as_if_addressed() -> None:
    trigger = said_by(WREN, "The tunnel runs under the lighthouse.")
    situation = TurnContext(CAST, (trigger,), trigger, hops=1, cued="nell")
    assert (await composed().decide(situation)).speakers == ("nell",)
    manual = ComposedScheduler(policies={"manual": ManualPolicy()}, default="manual")
    assert (await manual.decide(situation)).speakers == ("nell",)
    muted = TurnContext(CAST, (trigger,), trigger, hops=1, cued="nell", muted=frozenset({"nell"}))
    assert (await manual.decide(muted)).nobody


async def test_unknown_and_repeated_speakers_are_dropped() -> None:
    decision = await with_rules("ghost", "bram", "bram").decide(context(human("Hm.")))
    assert decision.speakers == ("bram",)
    assert BRAM in CAST and NELL in CAST
