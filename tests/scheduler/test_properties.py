"""Properties every policy keeps, over random casts and random lines."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.characters.model import Character
from botkit.scheduler import (
    AddressPolicy,
    ComposedScheduler,
    RoundRobinPolicy,
    ScoringPolicy,
    TurnContext,
)
from tests.scheduler.cast import human, said_by

names = st.text(alphabet=st.characters(categories=["Lu", "Ll"]), min_size=1, max_size=10)
glue = st.sampled_from(
    ["everyone", "?", "!", ",", ".", "@", "'s", "and", "hello", "who wants", "caves", "\n"]
)


@settings(max_examples=200, deadline=None)
@given(
    cast_names=st.lists(
        st.lists(names, min_size=1, max_size=2).map(" ".join),
        min_size=1,
        max_size=6,
        unique_by=str.casefold,
    ),
    talkativeness=st.lists(st.floats(0, 1), min_size=6, max_size=6),
    words=st.lists(st.one_of(names, glue, st.text(max_size=5)), max_size=15),
    speaker_index=st.integers(min_value=-1, max_value=5),
    hops=st.integers(min_value=0, max_value=6),
    reply_to=st.integers(min_value=-1, max_value=5),
    mention_count=st.integers(min_value=0, max_value=3),
    seed=st.integers(min_value=0, max_value=1000),
)
async def test_decisions_name_cast_members_once_and_never_the_speaker(
    cast_names: list[str],
    talkativeness: list[float],
    words: list[str],
    speaker_index: int,
    hops: int,
    reply_to: int,
    mention_count: int,
    seed: int,
) -> None:
    cast = tuple(
        Character(id=f"id{i}", name=name, persona=(f"{name} is here.",), talkativeness=t)
        for i, (name, t) in enumerate(zip(cast_names, talkativeness, strict=False))
    )
    text = " ".join([*words, cast_names[seed % len(cast_names)]])
    speaker = cast[speaker_index % len(cast)] if speaker_index >= 0 else None
    trigger = said_by(speaker, text) if speaker else human(text)
    situation = TurnContext(
        cast=cast,
        transcript=(trigger,),
        trigger=trigger,
        hops=hops if speaker else 0,
        mentions=tuple(cast_names[:mention_count]),
        reply_to_character=cast[reply_to % len(cast)].id if reply_to >= 0 else None,
    )
    policies = (
        AddressPolicy(),
        ScoringPolicy(rng=random.Random(seed)),
        ComposedScheduler(
            policies={
                "scoring": ScoringPolicy(rng=random.Random(seed)),
                "round-robin": RoundRobinPolicy(),
            },
            default="scoring" if seed % 2 else "round-robin",
        ),
    )
    for policy in policies:
        decision = await policy.decide(situation)
        assert set(decision.speakers) <= {c.id for c in cast}
        assert len(set(decision.speakers)) == len(decision.speakers)
        if speaker is not None:
            assert speaker.id not in decision.speakers
        if speaker is None and situation.reply_to_character is not None:
            assert decision.speakers[:1] == (situation.reply_to_character,)
