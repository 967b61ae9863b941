"""Every policy's ranking of the free cast: exact orders, ties, exclusions, an empty cast."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from botkit.backends.base import BackendUnavailable, ChatRequest
from botkit.evaluation.turns_policies import (
    AlternationBaseline,
    MostFrequentBaseline,
    RandomBaseline,
)
from botkit.scheduler import (
    ComposedScheduler,
    ManualPolicy,
    ModelPolicy,
    Ranking,
    RoundRobinPolicy,
    Scheduler,
    ScoringPolicy,
    TurnContext,
    WhoRanker,
)
from botkit.testing import InstantBackend
from tests.scheduler.cast import (
    BRAM,
    CAST,
    MIRA,
    NELL,
    WREN,
    after,
    context,
    human,
    person,
    said_by,
)

# Ann, Mira, Bram, Ann, Wren: the speaker before last of Ann's next turn is Wren.
EVENING = (
    human("Evening."),
    said_by(MIRA, "Evening, love."),
    said_by(BRAM, "Fog's coming in."),
    human("Is it?"),
    said_by(WREN, "Thick as soup by the caves."),
)


async def order(policy: Scheduler, situation: TurnContext) -> tuple[str, ...]:
    """The ids ``policy`` ranks, likeliest first."""
    return (await policy.rank(situation)).speakers


def test_a_ranking_names_its_first() -> None:
    assert Ranking(("wren", "mira"), (2.0, 1.0)).first == "wren"
    assert Ranking(()).first is None


# --- scoring ----------------------------------------------------------------------------


async def test_scoring_ranks_a_new_conversation_by_talkativeness() -> None:
    ranking = await ScoringPolicy().rank(context(human("Is it late?")))
    assert ranking.speakers == ("mira", "wren", "bram", "nell")
    assert list(ranking.scores) == sorted(ranking.scores, reverse=True)
    assert ranking.reason.startswith("structure: mira ")


async def test_scoring_ranks_the_exchange_the_person_is_in_first() -> None:
    situation = after(*EVENING, human("Really?"))
    ranked = await order(ScoringPolicy(), situation)
    assert ranked[:2] == ("wren", "mira")
    assert sorted(ranked[2:]) == ["bram", "nell"]


async def test_scoring_leaves_out_the_muted_and_the_last_speaker() -> None:
    muted = after(*EVENING, human("Really?"), muted=["wren"])
    ranked = await order(ScoringPolicy(), muted)
    assert ranked[0] == "mira"
    assert sorted(ranked) == ["bram", "mira", "nell"]
    ranked = await order(ScoringPolicy(), after(*EVENING))
    assert ranked[0] == "mira"
    assert sorted(ranked) == ["bram", "mira", "nell"]


async def test_scoring_breaks_ties_by_cast_order() -> None:
    cast = (person("cal", 0.5), person("abe", 0.5), person("bea", 0.5))
    for policy in (ScoringPolicy(), ScoringPolicy(ranker=WhoRanker({}))):
        ranking = await policy.rank(context(human("Is it late?"), cast=cast))
        assert ranking.speakers == ("cal", "abe", "bea")
        assert len(set(ranking.scores)) == 1
    # With no weights, only talkativeness tells the characters apart.
    flat = ScoringPolicy(ranker=WhoRanker({}))
    assert await order(flat, after(*EVENING, human("Nell, hi."))) == (
        "mira",
        "wren",
        "bram",
        "nell",
    )


# --- round-robin and manual -----------------------------------------------------------


async def test_round_robin_ranks_in_cast_order_after_the_last_character() -> None:
    policy = RoundRobinPolicy()
    ranking = await policy.rank(context(human("Hello?")))
    assert ranking == Ranking(
        ("mira", "bram", "wren", "nell"), (-0.0, -1.0, -2.0, -3.0), "round-robin order"
    )
    after_bram = after(said_by(BRAM, "Aye."), human("Hello?"))
    assert await order(policy, after_bram) == ("wren", "nell", "mira", "bram")
    after_nell = after(said_by(NELL, "Aye."), human("Hello?"), human("Anyone?"))
    assert await order(policy, after_nell) == ("mira", "bram", "wren", "nell")


async def test_round_robin_leaves_out_the_muted_and_the_last_speaker() -> None:
    policy = RoundRobinPolicy()
    assert await order(policy, after(said_by(WREN, "Aye."))) == ("nell", "mira", "bram")
    muted = after(said_by(WREN, "Aye."), muted=["mira"])
    assert await order(policy, muted) == ("nell", "bram")
    # The last character stays last even when muted characters sit between.
    muted = after(said_by(BRAM, "Aye."), human("Hello?"), muted=["wren", "nell"])
    assert await order(policy, muted) == ("mira", "bram")


async def test_round_robin_ranks_a_silent_character_it_would_never_choose() -> None:
    stone = person("stone", 0.0)
    situation = context(human("Hello?"), cast=(stone, MIRA))
    assert await order(RoundRobinPolicy(), situation) == ("stone", "mira")
    assert (await RoundRobinPolicy().decide(situation)).speakers == ("mira",)


async def test_manual_ranks_in_cast_order() -> None:
    policy = ManualPolicy()
    ranking = await policy.rank(after(said_by(BRAM, "Aye."), human("Hello?")))
    assert ranking == Ranking(
        ("mira", "bram", "wren", "nell"), (-0.0, -1.0, -2.0, -3.0), "cast order"
    )
    assert await order(policy, after(said_by(MIRA, "Aye."), muted=["wren"])) == ("bram", "nell")


# --- the model policy ------------------------------------------------------------------


def model(backend: InstantBackend, timeout: float = 5.0) -> ModelPolicy:
    """The model policy on ``backend``, with round-robin (an order easy to state) behind it."""
    return ModelPolicy(backend=backend, fallback=RoundRobinPolicy(), timeout=timeout)


class BrokenBackend(InstantBackend):
    """Fails at once."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        raise BackendUnavailable("backend 'vllm': connection refused")
        yield ""


class SilentBackend(InstantBackend):
    """Never answers."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self.requests.append(request)
        await asyncio.Event().wait()
        yield ""


async def test_the_model_choice_comes_first_then_the_fallback_ranking() -> None:
    backend = InstantBackend("Nell")
    ranking = await model(backend).rank(after(said_by(BRAM, "Aye."), human("Hello?")))
    assert ranking == Ranking(
        ("nell", "wren", "mira", "bram"), (1.0, 0.0, 0.0, 0.0), "model: Nell; then round-robin"
    )
    [request] = backend.requests
    assert request.choices == ("Mira", "Bram", "Wren", "Nell")


async def test_the_model_is_offered_neither_the_muted_nor_the_last_speaker() -> None:
    backend = InstantBackend("Bram")
    situation = after(human("Evening."), said_by(MIRA, "Soup?"), muted=["nell"])
    assert await order(model(backend), situation) == ("bram", "wren")
    assert backend.requests[0].choices == ("Bram", "Wren")


@pytest.mark.parametrize(
    ("backend", "why"),
    [
        (InstantBackend("NOBODY"), "model answered 'NOBODY ';"),
        (InstantBackend("Elias"), "model answered 'Elias ';"),
        (BrokenBackend(), "model backend 'vllm': connection refused;"),
    ],
)
async def test_a_failed_model_leaves_the_fallback_ranking(
    backend: InstantBackend, why: str
) -> None:
    situation = after(said_by(BRAM, "Aye."), human("Hello?"))
    ranking = await model(backend).rank(situation)
    fallback = await RoundRobinPolicy().rank(situation)
    assert ranking.speakers == fallback.speakers == ("wren", "nell", "mira", "bram")
    assert ranking.scores == fallback.scores
    assert ranking.reason == f"{why} round-robin order"
    assert len(backend.requests) == 1


async def test_a_model_that_times_out_leaves_the_fallback_ranking() -> None:
    ranking = await model(SilentBackend(), timeout=0.05).rank(context(human("Hello?")))
    assert ranking.speakers == ("mira", "bram", "wren", "nell")
    assert ranking.reason.startswith("model no answer within 0.05 s;")


async def test_the_model_is_not_asked_to_rank_fewer_than_two() -> None:
    backend = InstantBackend("Bram")
    one_free = after(said_by(MIRA, "Soup?"), cast=(MIRA, BRAM))
    assert await model(backend).rank(one_free) == await RoundRobinPolicy().rank(one_free)
    assert await order(model(backend), one_free) == ("bram",)
    assert backend.requests == []


# --- the baselines ------------------------------------------------------------------------


async def test_most_frequent_ranks_by_turns_so_far() -> None:
    turns = (
        said_by(MIRA, "Soup."),
        said_by(NELL, "Lamp."),
        said_by(MIRA, "More soup."),
        human("Thanks."),
    )
    ranking = await MostFrequentBaseline().rank(after(*turns))
    assert ranking == Ranking(
        ("mira", "nell", "bram", "wren"), (2.0, 1.0, 0.0, 0.0), "most frequent"
    )


async def test_most_frequent_gives_equal_counts_to_the_latest() -> None:
    turns = (said_by(MIRA, "Soup."), said_by(WREN, "Maps."), human("Oh?"))
    assert await order(MostFrequentBaseline(), after(*turns)) == ("wren", "mira", "bram", "nell")
    turns = (said_by(WREN, "Maps."), said_by(MIRA, "Soup."), human("Oh?"))
    assert await order(MostFrequentBaseline(), after(*turns)) == ("mira", "wren", "bram", "nell")
    # Nobody has spoken: the cast order.
    assert await order(MostFrequentBaseline(), context(human("Hi."))) == (
        "mira",
        "bram",
        "wren",
        "nell",
    )


async def test_most_frequent_leaves_out_the_muted_and_the_last_speaker() -> None:
    turns = (said_by(MIRA, "Soup."), said_by(MIRA, "Soup."), said_by(BRAM, "Aye."))
    situation = after(*turns, said_by(MIRA, "Hot soup."), muted=["bram"])
    assert await order(MostFrequentBaseline(), situation) == ("wren", "nell")
    assert (await MostFrequentBaseline().decide(situation)).speakers == ("wren",)


async def test_a_b_a_ranks_the_speaker_before_last_first() -> None:
    turns = (said_by(MIRA, "Soup."), said_by(MIRA, "Soup."), said_by(NELL, "Lamp."))
    ranking = await AlternationBaseline().rank(after(*turns, human("Oh?")))
    assert ranking == Ranking(
        ("nell", "mira", "bram", "wren"), (3.0, 2.0, 0.0, 0.0), "speaker before last"
    )
    assert (await AlternationBaseline().decide(after(*turns, human("Oh?")))).speakers == ("nell",)


async def test_a_b_a_falls_back_to_most_frequent() -> None:
    turns = (said_by(MIRA, "Soup."), said_by(MIRA, "Soup."), said_by(NELL, "Lamp."))
    expected = ("mira", "nell", "bram", "wren")
    # The speaker before last is a person ...
    person_before = after(*turns, human("Oh?"), human("Hm."))
    assert await order(AlternationBaseline(), person_before) == expected
    # ... or muted ...
    muted = after(*turns, human("Oh?"), muted=["nell"])
    assert await order(AlternationBaseline(), muted) == ("mira", "bram", "wren")
    # ... or the last speaker, who is not free.
    twice = after(*turns, said_by(BRAM, "Aye."), said_by(BRAM, "Nets."))
    assert await order(AlternationBaseline(), twice) == ("mira", "nell", "wren")
    # ... or there is none.
    assert await order(AlternationBaseline(), context(human("Hi."))) == (
        "mira",
        "bram",
        "wren",
        "nell",
    )


async def test_random_ranks_the_free_cast_in_a_seeded_order() -> None:
    situation = after(said_by(MIRA, "Soup."), muted=["nell"])
    orders = set()
    for seed in range(20):
        first = await order(RandomBaseline(random.Random(seed)), situation)
        assert first == await order(RandomBaseline(random.Random(seed)), situation)
        assert sorted(first) == ["bram", "wren"]
        orders.add(first)
    assert orders == {("bram", "wren"), ("wren", "bram")}


async def test_random_sometimes_decides_nobody() -> None:
    policy = RandomBaseline(random.Random(0))
    picks = {(await policy.decide(context(human("Hi.")))).speakers for _ in range(100)}
    assert () in picks
    assert {("mira",), ("bram",), ("wren",), ("nell",)} <= picks


# --- composed --------------------------------------------------------------------------------


def channels(default: str = "round-robin") -> ComposedScheduler:
    """Round-robin and manual as a channel chooses them."""
    return ComposedScheduler(
        policies={"round-robin": RoundRobinPolicy(), "manual": ManualPolicy()}, default=default
    )


async def test_composed_ranks_the_addressed_first_in_the_order_addressed() -> None:
    ranking = await channels().rank(context(human("Nell and Wren, what do you think?")))
    assert ranking == Ranking(
        ("nell", "wren", "mira", "bram"),
        (1.0, 1.0, -0.0, -1.0),
        "addressed: nell, wren; round-robin order",
    )
    replied = context(human("And you?"), reply_to="bram")
    assert await order(channels(), replied) == ("bram", "mira", "wren", "nell")


async def test_composed_ranks_as_the_channel_policy_when_nobody_is_addressed() -> None:
    situation = after(said_by(BRAM, "Aye."), human("Hello?"))
    assert await channels().rank(situation) == await RoundRobinPolicy().rank(situation)
    manual = TurnContext(CAST, situation.transcript, situation.trigger, policy="manual")
    assert await order(channels(), manual) == ("mira", "bram", "wren", "nell")
    unknown = TurnContext(CAST, situation.transcript, situation.trigger, policy="gone")
    assert await order(channels(), unknown) == ("wren", "nell", "mira", "bram")


async def test_composed_never_ranks_the_muted_or_the_speaker_even_when_addressed() -> None:
    muted = context(human("Bram and Nell, a boat?"), muted=["bram"])
    assert await order(channels(), muted) == ("nell", "mira", "wren")
    itself = context(said_by(MIRA, "Mira's soup, Mira's stories!"))
    assert await order(channels(), itself) == ("bram", "wren", "nell")


# --- every policy ----------------------------------------------------------------------------

POLICIES: dict[str, Callable[[], Scheduler]] = {
    "scoring": ScoringPolicy,
    "round-robin": RoundRobinPolicy,
    "manual": ManualPolicy,
    "model": lambda: model(InstantBackend("Mira")),
    "random": lambda: RandomBaseline(random.Random(0)),
    "A-B-A": AlternationBaseline,
    "most-frequent": MostFrequentBaseline,
    "composed": lambda: ComposedScheduler(policies={"scoring": ScoringPolicy()}, default="scoring"),
}


@pytest.mark.parametrize("name", POLICIES)
async def test_no_policy_ranks_the_muted_or_the_last_speaker(name: str) -> None:
    situation = after(human("Evening."), said_by(WREN, "Bram, Nell, look!"), muted=["bram"])
    ranking = await POLICIES[name]().rank(situation)
    assert sorted(ranking.speakers) == ["mira", "nell"]
    assert len(ranking.scores) == 2


@pytest.mark.parametrize("name", POLICIES)
async def test_every_policy_ranks_nobody_when_nobody_is_free(name: str) -> None:
    policy = POLICIES[name]()
    for situation in (
        context(said_by(MIRA, "Just me here."), cast=(MIRA,)),
        context(human("Hello?"), cast=()),
        context(human("Hello?"), muted=[c.id for c in CAST]),
    ):
        ranking = await policy.rank(situation)
        assert ranking.speakers == ranking.scores == ()
        assert ranking.first is None
