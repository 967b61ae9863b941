"""The scoring policy: address, talkativeness, relevance, fairness and the bar to speak."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from botkit.characters.model import Character
from botkit.scheduler import Decision, ScoringPolicy, ScoringWeights, TurnContext
from botkit.transcript import Turn
from tests.scheduler.cast import BRAM, CAST, MIRA, WREN, context, human, person, said_by

SEEDS = range(100)


async def score(
    trigger: Turn,
    seed: int,
    *,
    cast: Sequence[Character] = CAST,
    history: Sequence[Turn] = (),
    hops: int = 0,
) -> Decision:
    """The choice of a freshly seeded scoring policy right after ``trigger``."""
    situation = context(trigger, cast=cast, history=history, hops=hops)
    return await ScoringPolicy(rng=random.Random(seed)).decide(situation)


async def favourite(trigger: Turn) -> str:
    """The character picked most often for ``trigger`` over many seeds."""
    counts: Counter[str] = Counter()
    for seed in SEEDS:
        counts.update((await score(trigger, seed)).speakers)
    return counts.most_common(1)[0][0]


def test_weights_are_frozen_and_quiet_by_default() -> None:
    weights = ScoringWeights()
    with pytest.raises(dataclasses.FrozenInstanceError):
        weights.threshold = 0  # type: ignore[misc]
    assert weights.talkativeness + weights.initiative < weights.threshold
    assert weights.address > weights.threshold + 3 * weights.hop_step
    with pytest.raises(ValueError, match="at least 1"):
        ScoringWeights(max_group_speakers=0)


async def test_humans_talking_among_themselves_invite_nobody() -> None:
    history = (
        human("did you watch the match last night", who="u-bo", name="Bo"),
        human("yes, the referee was awful"),
    )
    for text in ("ok see you at the office tomorrow", "lol same", "brb, dinner"):
        for seed in SEEDS:
            decision = await score(human(text, who="u-bo", name="Bo"), seed, history=history)
            assert decision.nobody
            assert decision.reason.startswith("nobody reached 1.30")


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ("Bram, what lies down in the caves?", "bram"),
        ("Ask the innkeeper about the caves, will you?", "mira"),
        ("I bet Nell knows where the storm boats went?", "nell"),
    ],
)
async def test_a_named_character_answers_alone(text: str, speaker: str) -> None:
    for seed in range(30):
        assert (await score(human(text), seed)).speakers == (speaker,)


async def test_address_outweighs_everything_else() -> None:
    shy = person("shy", 0.0)
    trigger = human("Shy, tell me about the soup and stories at the inn?")
    for seed in range(30):
        decision = await score(trigger, seed, cast=(MIRA, shy))
        assert decision.speakers == ("shy",)
        assert "addressed" in decision.reason


async def test_everyone_addressed_answers_in_order() -> None:
    decision = await score(human("Nell and Wren, what do you think?"), 1)
    assert decision.speakers == ("nell", "wren")


async def test_a_greeting_to_the_room_gets_two_different_characters() -> None:
    trigger = human("Hello everyone! Who wants to tell me about this place?")
    for seed in SEEDS:
        decision = await score(trigger, seed)
        assert len(decision.speakers) == 2
        assert len(set(decision.speakers)) == 2
        assert "to the room" in decision.reason


async def test_the_room_size_limit_is_a_setting() -> None:
    trigger = human("Hello everyone!")
    policy = ScoringPolicy(weights=ScoringWeights(max_group_speakers=3), rng=random.Random(0))
    assert len((await policy.decide(context(trigger))).speakers) == 3


async def test_the_addressed_come_first_when_the_room_is_called() -> None:
    for seed in range(30):
        speakers = (await score(human("Hi all! Nell, is the lamp lit?"), seed)).speakers
        assert speakers[0] == "nell"
        assert len(speakers) == 2


async def test_relevance_picks_the_character_the_topic_belongs_to() -> None:
    assert await favourite(human("What is down in the caves and the tunnel?")) == "wren"
    assert await favourite(human("Were the boats out in the storm?")) == "bram"
    assert await favourite(human("Why is the lighthouse lamp dark?")) == "nell"


async def test_the_shy_are_rarely_picked_and_the_chatty_often() -> None:
    shy, chatty = person("shy", 0.05), person("chatty", 0.95)
    cast = (shy, chatty, person("abe", 0.5), person("bea", 0.5))
    triggers = ("Is it late?", "Hello everyone!", "Anyone seen my hat?", "What's for dinner?")
    counts: Counter[str] = Counter()
    decisions = 0
    for text in triggers:
        for seed in SEEDS:
            decision = await score(human(text), seed, cast=cast)
            decisions += 1
            counts.update(decision.speakers)
    assert counts["shy"] <= 0.05 * decisions
    assert counts["chatty"] >= 0.6 * decisions


async def test_a_character_never_speaks_twice_in_a_row_unprompted() -> None:
    trigger = said_by(MIRA, "What do you all make of the soup, the stories and the gossip?")
    for seed in SEEDS:
        decision = await score(trigger, seed, hops=1)
        assert "mira" not in decision.speakers
    trigger = said_by(WREN, "Mira, Wren and Nell, what of the caves and tunnel?")
    for seed in range(30):
        assert (await score(trigger, seed, hops=1)).speakers == ("mira", "nell")


async def test_chains_die_out_as_hops_grow() -> None:
    trigger = said_by(MIRA, "What do you all make of the storms and the nets?")
    talkers = {}
    for hops in (0, 1, 2, 3, 4, 6):
        decisions = [await score(trigger, seed, hops=hops) for seed in SEEDS]
        talkers[hops] = sum(not d.nobody for d in decisions)
        assert all(len(d.speakers) <= 1 for d in decisions)
    assert talkers[0] >= talkers[1] >= talkers[2] >= talkers[3] >= talkers[4]
    assert talkers[1] > talkers[3]
    assert talkers[4] == talkers[6] == 0
    addressed = said_by(MIRA, "Bram, what do you say?")
    for seed in SEEDS:
        assert (await score(addressed, seed, hops=4)).speakers == ("bram",)


async def test_a_chatty_cast_left_alone_falls_silent() -> None:
    cast = tuple(
        person(cid, 1.0, "Talks of boats, storms, caves, lamps, soup and stories.")
        for cid in ("ann", "ben", "cat")
    )
    line = "Storms, boats, caves, lamps, soup and stories! What do you all think?"
    for seed in range(50):
        policy = ScoringPolicy(rng=random.Random(seed))
        transcript = [human("Tell me about the storms and the boats, everyone!")]
        decision = await policy.decide(context(transcript[0], cast=cast))
        hops = 0
        while decision.speakers:
            for speaker in decision.speakers:
                transcript.append(said_by(next(c for c in cast if c.id == speaker), line))
                hops += 1
            assert hops <= 6
            decision = await policy.decide(
                context(transcript[-1], cast=cast, history=transcript[:-1], hops=hops)
            )


LINES = (
    "Who wants to tell a story?",
    "Anyone hungry?",
    "What about the caves?",
    "Tell me about the boats and storms.",
    "Is the lamp lit tonight?",
    "What's the soup today?",
    "Hello everyone!",
    "nice",
    "hmm",
    "ok see you tomorrow at work",
)


async def converse(
    cast: Sequence[Character], turns: int, seed: int, *, max_hops: int = 3
) -> list[Turn]:
    """Random human lines with every character answer and follow-up the policy asks for."""
    rng = random.Random(seed)
    policy = ScoringPolicy(rng=random.Random(seed + 1))
    by_id = {c.id: c for c in cast}
    transcript: list[Turn] = []
    for _ in range(turns):
        transcript.append(human(rng.choice(LINES)))
        speakers = (
            await policy.decide(TurnContext(cast, transcript[-20:], transcript[-1]))
        ).speakers
        hops = 0
        while speakers and hops < max_hops:
            for speaker in speakers[: max_hops - hops]:
                transcript.append(said_by(by_id[speaker], "Aye, the caves and storms. Who knows?"))
                hops += 1
            situation = TurnContext(cast, transcript[-20:], transcript[-1], hops=hops)
            speakers = (await policy.decide(situation)).speakers
    return transcript


async def test_no_one_dominates_a_long_conversation() -> None:
    for seed in range(3):
        transcript = await converse(CAST, 200, seed)
        spoken = Counter(t.speaker_id for t in transcript if t.is_character)
        assert set(spoken) == {c.id for c in CAST}
        assert max(spoken.values()) <= 0.5 * spoken.total()


async def test_over_a_long_conversation_the_shy_stay_quiet() -> None:
    shy, chatty = person("shy", 0.05), person("chatty", 0.95)
    transcript = await converse((shy, chatty, person("abe", 0.5), person("bea", 0.5)), 200, 4)
    spoken = Counter(t.speaker_id for t in transcript if t.is_character)
    assert spoken["shy"] <= 0.05 * spoken.total()
    assert spoken["chatty"] == max(spoken.values())
    for before, after in itertools.pairwise(transcript):
        assert not (before.is_character and before.speaker_id == after.speaker_id)


async def test_the_same_seed_makes_the_same_choices() -> None:
    first = await converse(CAST, 40, 9)
    second = await converse(CAST, 40, 9)
    assert [t.speaker_id for t in first] == [t.speaker_id for t in second]


async def test_the_reason_explains_the_choice() -> None:
    decision = await score(human("Is the lighthouse lamp lit?"), 3)
    assert decision.speakers == ("nell",)
    assert decision.reason.startswith("nell ")
    assert "relevance" in decision.reason
    assert "question" in decision.reason
    assert decision.reason.endswith("≥ 1.30")


async def test_a_changed_character_is_read_again() -> None:
    policy = ScoringPolicy(rng=random.Random(0))
    trigger = human("The whales are singing tonight.")
    quiet = person("sam", 0.5)
    assert (await policy.decide(context(trigger, cast=(quiet,)))).nobody
    whaler = dataclasses.replace(quiet, persona=("Sam hunted whales.",))
    assert (await policy.decide(context(trigger, cast=(whaler,)))).speakers == ("sam",)


async def test_an_empty_cast_or_text_invites_nobody() -> None:
    assert (await score(human("Hello everyone!"), 0, cast=())).nobody
    assert (await score(human(""), 0)).nobody
    assert (await score(said_by(BRAM, "Bram! Bram?"), 0, cast=(BRAM,))).nobody


async def test_a_character_listed_twice_still_speaks_once() -> None:
    for seed in range(20):
        decision = await score(human("Hello everyone! Wren, the caves?"), seed, cast=(WREN, WREN))
        assert decision.speakers == ("wren",)


async def test_a_person_answering_a_character_hears_back_from_it() -> None:
    history = (human("Evening."), said_by(BRAM, "Hmph. Fog's coming."))
    for line in ("Thank you, truly.", "That sounds bad.", "Really? Since when?"):
        for seed in SEEDS:
            decision = await score(human(line), seed, history=history)
            assert decision.speakers == ("bram",), (line, decision)


@pytest.mark.parametrize(
    "line",
    [
        "Tom, did you see the match last night?",
        "brb, pizza's here",
        "hey is anyone else getting lag right now?",
        "my laptop is at 3 percent, gotta charge",
        "((sorry, my cat walked on the keyboard))",
        "same time next week?",
    ],
)
async def test_players_talking_among_themselves_invite_nobody(line: str) -> None:
    history = (
        human("Evening all.", who="u-tom", name="Tom"),
        said_by(MIRA, "Soup's hot, loves."),
    )
    for seed in SEEDS:
        assert (await score(human(line), seed, history=history)).nobody, line


async def test_a_character_spoken_to_still_answers_an_aside() -> None:
    history = (human("Hi", who="u-tom", name="Tom"), said_by(MIRA, "Soup's hot."))
    decision = await score(human("brb, Bram keep my seat?"), 0, history=history)
    assert decision.speakers == ("bram",)
