"""Turn-taking: explicit address, the scoring policy, and their composition."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.characters.model import Character, KnowledgeEntry
from botkit.scheduler import (
    NOBODY,
    AddressPolicy,
    ComposedScheduler,
    Decision,
    ScoringPolicy,
    TurnContext,
)
from botkit.transcript import Turn

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MIRA = Character(
    id="mira",
    name="Mira",
    nicknames=("innkeeper",),
    talkativeness=0.85,
    persona=("Mira runs the inn and loves gossip, soup and stories.",),
)
BRAM = Character(
    id="bram",
    name="Bram",
    nicknames=("Old Bram",),
    talkativeness=0.4,
    persona=("Bram is an old fisherman who talks of nets, boats and storms.",),
)
WREN = Character(
    id="wren",
    name="Wren",
    talkativeness=0.6,
    persona=("Wren maps the sea caves under the cliff.",),
    knowledge=(KnowledgeEntry("Cave eleven has a tunnel.", ("caves", "tunnel")),),
)
NELL = Character(
    id="nell", name="Nell", talkativeness=0.3, persona=("Nell tends the dark lighthouse lamp.",)
)
CAST = (MIRA, BRAM, WREN, NELL)


def human(text: str) -> Turn:
    return Turn("u-ann", "Ann", text, False, NOW)


def said_by(character: Character, text: str) -> Turn:
    return Turn(character.id, character.name, text, True, NOW)


def context(trigger: Turn, *, history: tuple[Turn, ...] = (), **fields: object) -> TurnContext:
    return TurnContext(cast=CAST, transcript=(*history, trigger), trigger=trigger, **fields)  # type: ignore[arg-type]


async def address(trigger: Turn, **fields: object) -> tuple[str, ...]:
    return (await AddressPolicy().decide(context(trigger, **fields))).speakers


async def score(trigger: Turn, seed: int, **fields: object) -> Decision:
    return await ScoringPolicy(rng=random.Random(seed)).decide(context(trigger, **fields))


async def test_every_way_of_addressing_a_character() -> None:
    assert await address(human("Mira, a room please.")) == ("mira",)
    assert await address(human("Hey innkeeper!")) == ("mira",)
    assert await address(human("@wren where are you?")) == ("wren",)
    assert await address(human("I love MIRA's soup")) == ("mira",)
    assert await address(human("Old Bram, any fish?")) == ("bram",)
    assert await address(human("hello"), mentions=("Nell",)) == ("nell",)
    assert await address(human("and you?"), reply_to_character="bram") == ("bram",)


async def test_several_addressed_answer_in_order_reply_first() -> None:
    trigger = human("Nell and Mira, what do you think?")
    assert await address(trigger) == ("nell", "mira")
    assert await address(trigger, reply_to_character="wren") == ("wren", "nell", "mira")


async def test_nobody_addressed_is_nobody() -> None:
    assert await address(human("What a night.")) == ()
    assert await AddressPolicy().decide(context(human("What a night."))) == NOBODY


async def test_characters_need_direct_address_and_never_answer_themselves() -> None:
    assert await address(said_by(MIRA, "Bram, what do you think?")) == ("bram",)
    assert await address(said_by(MIRA, "Hello Bram!")) == ("bram",)
    assert await address(said_by(MIRA, "Do you agree, Bram?")) == ("bram",)
    assert await address(said_by(MIRA, "I told Bram about the boat.")) == ()
    assert await address(human("I told Bram about the boat.")) == ("bram",)
    assert await address(said_by(MIRA, "Mira, you fool, I said to myself.")) == ()


async def test_address_beats_score() -> None:
    shy = Character(id="shy", name="Shy", talkativeness=0.0, persona=("Quiet.",))
    trigger = human("Shy, tell me about the soup and stories at the inn?")
    for seed in range(20):
        decision = await ComposedScheduler(
            address=AddressPolicy(), fallback=ScoringPolicy(rng=random.Random(seed))
        ).decide(TurnContext(cast=(MIRA, shy), transcript=(trigger,), trigger=trigger))
        assert decision.speakers == ("shy",)


async def test_small_talk_between_humans_invites_nobody() -> None:
    for text in ("ok see you at the office tomorrow", "lol same", "brb, dinner"):
        for seed in range(50):
            assert (await score(human(text), seed)).nobody


async def test_a_greeting_to_the_room_gets_two_different_characters() -> None:
    trigger = human("Hello everyone! Who wants to tell me about this place?")
    for seed in range(50):
        speakers = (await score(trigger, seed)).speakers
        assert len(speakers) == 2
        assert len(set(speakers)) == 2


async def test_relevance_picks_the_character_the_topic_belongs_to() -> None:
    picks = Counter()
    for seed in range(100):
        picks.update(
            (await score(human("What is down in the caves and the tunnel?"), seed)).speakers
        )
    assert picks.most_common(1)[0][0] == "wren"


async def test_the_shy_speak_far_less_than_the_chatty() -> None:
    shy = Character(id="shy", name="Shy", talkativeness=0.05, persona=("A person.",))
    chatty = Character(id="chatty", name="Chatty", talkativeness=0.95, persona=("A person.",))
    picks = Counter()
    for seed in range(200):
        trigger = human("Is it late?")
        decision = await ScoringPolicy(rng=random.Random(seed)).decide(
            TurnContext(cast=(shy, chatty), transcript=(trigger,), trigger=trigger)
        )
        picks.update(decision.speakers)
    assert picks["chatty"] > 4 * picks["shy"]


async def test_chains_die_out_as_hops_grow() -> None:
    trigger = said_by(MIRA, "What do you all make of the storms and the nets?")
    talkers = {}
    for hops in (1, 3, 4):
        decisions = [await score(trigger, seed, hops=hops) for seed in range(100)]
        talkers[hops] = sum(not d.nobody for d in decisions)
        assert all("mira" not in d.speakers for d in decisions)
    assert talkers[1] > talkers[3]
    assert talkers[4] == 0


async def test_no_one_dominates_a_long_conversation() -> None:
    lines = [
        "Who wants to tell a story?",
        "Anyone hungry?",
        "What about the caves?",
        "Tell me about the boats and storms.",
        "Is the lamp lit tonight?",
        "nice",
        "hmm",
    ]
    rng = random.Random(1)
    policy = ScoringPolicy(rng=random.Random(2))
    transcript: list[Turn] = []
    spoken: list[str] = []
    for _ in range(200):
        trigger = human(rng.choice(lines))
        transcript.append(trigger)
        decision = await policy.decide(
            TurnContext(cast=CAST, transcript=tuple(transcript[-20:]), trigger=trigger)
        )
        for speaker in decision.speakers:
            transcript.append(said_by(next(c for c in CAST if c.id == speaker), "Aye."))
            spoken.append(speaker)
        last = transcript[-1]
        if last.is_character:
            follow = await policy.decide(
                TurnContext(cast=CAST, transcript=tuple(transcript[-20:]), trigger=last, hops=1)
            )
            assert last.speaker_id not in follow.speakers
    shares = Counter(spoken)
    assert len(shares) == 4
    assert max(shares.values()) <= 0.5 * len(spoken)


class RecordingPolicy:
    name = "recorder"

    def __init__(self) -> None:
        self.calls = 0

    async def decide(self, context: TurnContext) -> Decision:
        self.calls += 1
        return Decision(("nell",), "recorded")


async def test_composition_asks_the_fallback_only_when_nobody_is_addressed() -> None:
    fallback = RecordingPolicy()
    composed = ComposedScheduler(address=AddressPolicy(), fallback=fallback)
    assert composed.name == "recorder"
    assert (await composed.decide(context(human("Bram, hi")))).speakers == ("bram",)
    assert fallback.calls == 0
    assert (await composed.decide(context(human("What a night.")))).speakers == ("nell",)
    assert fallback.calls == 1


names = st.text(alphabet=st.characters(categories=["Lu", "Ll"]), min_size=3, max_size=10)


@settings(max_examples=150, deadline=None)
@given(
    cast_names=st.lists(names, min_size=2, max_size=6, unique_by=str.casefold),
    talkativeness=st.lists(st.floats(0, 1), min_size=6, max_size=6),
    words=st.lists(st.one_of(names, st.sampled_from(["everyone", "?", "caves", ","])), max_size=12),
    speaker_index=st.integers(min_value=-1, max_value=5),
    hops=st.integers(min_value=0, max_value=5),
    seed=st.integers(min_value=0, max_value=1000),
)
async def test_decisions_only_name_cast_members_once_and_never_the_speaker(
    cast_names: list[str],
    talkativeness: list[float],
    words: list[str],
    speaker_index: int,
    hops: int,
    seed: int,
) -> None:
    cast = tuple(
        Character(id=f"c{i}", name=name, persona=(f"{name} is here.",), talkativeness=t)
        for i, (name, t) in enumerate(zip(cast_names, talkativeness, strict=False))
    )
    text = " ".join([*words, cast_names[seed % len(cast_names)]])
    speaker = cast[speaker_index % len(cast)] if speaker_index >= 0 else None
    trigger = said_by(speaker, text) if speaker else human(text)
    turn_context = TurnContext(cast=cast, transcript=(trigger,), trigger=trigger, hops=hops)
    for policy in (AddressPolicy(), ScoringPolicy(rng=random.Random(seed))):
        decision = await policy.decide(turn_context)
        assert set(decision.speakers) <= {c.id for c in cast}
        assert len(set(decision.speakers)) == len(decision.speakers)
        if speaker is not None:
            assert speaker.id not in decision.speakers
