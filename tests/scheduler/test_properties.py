"""Properties every policy keeps, over random casts, histories and lines."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.characters.model import Character
from botkit.evaluation.turns_policies import (
    AlternationBaseline,
    MostFrequentBaseline,
    RandomBaseline,
)
from botkit.scheduler import (
    AddressPolicy,
    ComposedScheduler,
    ManualPolicy,
    RoundRobinPolicy,
    Scheduler,
    ScoringPolicy,
    TurnContext,
    addressed,
    free_cast,
)
from botkit.transcript import Turn
from tests.scheduler.cast import human, said_by

names = st.text(alphabet=st.characters(categories=["Lu", "Ll"]), min_size=1, max_size=10)
glue = st.sampled_from(
    ["everyone", "?", "!", ",", ".", "@", "'s", "and", "hello", "who wants", "caves", "\n"]
)
SCORING = ScoringPolicy()


@dataclass(frozen=True)
class Situation:
    """A random context and the cast member who wrote its trigger (None for a person)."""

    context: TurnContext
    speaker: Character | None


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    """A cast of one to six, a short history, a trigger naming someone, mentions, a reply-to
    and some muted characters."""
    cast_names = draw(
        st.lists(
            st.lists(names, min_size=1, max_size=2).map(" ".join),
            min_size=1,
            max_size=6,
            unique_by=str.casefold,
        )
    )
    cast = tuple(
        Character(
            id=f"id{i}",
            name=name,
            persona=(f"{name} is here.",),
            talkativeness=draw(st.floats(0, 1)),
        )
        for i, name in enumerate(cast_names)
    )
    history: list[Turn] = []
    for index in draw(st.lists(st.integers(min_value=-2, max_value=5), max_size=6)):
        text = draw(st.sampled_from(["Aye.", "Is it?", "Hello everyone!", "The caves."]))
        if index < 0:
            history.append(human(text, who=f"u{index}", name=f"Person{-index}"))
        else:
            history.append(said_by(cast[index % len(cast)], text))
    words = draw(st.lists(st.one_of(names, glue, st.text(max_size=5)), max_size=15))
    text = " ".join([*words, draw(st.sampled_from(cast_names))])
    speaker_index = draw(st.integers(min_value=-1, max_value=5))
    speaker = cast[speaker_index % len(cast)] if speaker_index >= 0 else None
    trigger = said_by(speaker, text) if speaker else human(text)
    reply_to = draw(st.integers(min_value=-1, max_value=5))
    muted = draw(st.sets(st.sampled_from([c.id for c in cast])))
    context = TurnContext(
        cast=cast,
        transcript=(*history, trigger),
        trigger=trigger,
        hops=draw(st.integers(min_value=0, max_value=6)) if speaker else 0,
        mentions=tuple(cast_names[: draw(st.integers(min_value=0, max_value=3))]),
        reply_to_character=cast[reply_to % len(cast)].id if reply_to >= 0 else None,
        muted=frozenset(muted) if draw(st.booleans()) else frozenset(),
    )
    return Situation(context, speaker)


def composed(default: str) -> ComposedScheduler:
    """Scoring and round-robin as channels choose them, ``default`` unless chosen."""
    return ComposedScheduler(
        policies={"scoring": SCORING, "round-robin": RoundRobinPolicy()}, default=default
    )


@settings(max_examples=200, deadline=None)
@given(situation=situations(), seed=st.integers(min_value=0, max_value=1000))
async def test_decisions_name_cast_members_once_and_never_the_speaker(
    situation: Situation, seed: int
) -> None:
    context, speaker = situation.context, situation.speaker
    for policy in (AddressPolicy(), SCORING, composed("scoring" if seed % 2 else "round-robin")):
        decision = await policy.decide(context)
        assert set(decision.speakers) <= {c.id for c in context.cast}
        assert len(set(decision.speakers)) == len(decision.speakers)
        if speaker is not None:
            assert speaker.id not in decision.speakers
    decision = await composed("scoring").decide(context)
    assert not set(decision.speakers) & context.muted
    reply_to = context.reply_to_character
    if speaker is None and reply_to is not None and reply_to not in context.muted:
        assert decision.speakers[:1] == (reply_to,)


@settings(max_examples=200, deadline=None)
@given(situation=situations(), seed=st.integers(min_value=0, max_value=1000))
async def test_every_ranking_orders_exactly_the_free_cast(situation: Situation, seed: int) -> None:
    context = situation.context
    free = [c.id for c in free_cast(context)]
    policies: list[Scheduler] = [
        SCORING,
        RoundRobinPolicy(),
        ManualPolicy(),
        composed("scoring"),
        composed("round-robin"),
        RandomBaseline(random.Random(seed)),
        AlternationBaseline(),
        MostFrequentBaseline(),
    ]
    for policy in policies:
        ranking = await policy.rank(context)
        assert sorted(ranking.speakers) == sorted(free), policy.name
        assert len(ranking.scores) == len(ranking.speakers)
        assert list(ranking.scores) == sorted(ranking.scores, reverse=True), policy.name
        assert ranking.first == (ranking.speakers[0] if free else None)


@settings(max_examples=200, deadline=None)
@given(situation=situations())
async def test_a_composed_ranking_puts_the_free_addressed_first(situation: Situation) -> None:
    context = situation.context
    free = {c.id for c in free_cast(context)}
    first = [cid for cid in addressed(context) if cid in free]
    ranking = await composed("scoring").rank(context)
    assert list(ranking.speakers[: len(first)]) == first
