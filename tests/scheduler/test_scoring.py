"""The scoring policy: the when-gate in front of the who-ranker, and the rules it keeps."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from botkit.characters.model import Character
from botkit.scheduler import Decision, ScoringPolicy, TurnContext, WhenGate, WhoRanker
from botkit.transcript import Turn
from tests.scheduler.cast import (
    BRAM,
    CAST,
    MIRA,
    WREN,
    after,
    context,
    human,
    person,
    said_by,
)


async def score(
    trigger: Turn,
    *,
    cast: Sequence[Character] = CAST,
    history: Sequence[Turn] = (),
    hops: int = 0,
    policy: ScoringPolicy | None = None,
) -> Decision:
    """The scoring policy's decision right after ``trigger``."""
    situation = context(trigger, cast=cast, history=history, hops=hops)
    return await (policy or ScoringPolicy()).decide(situation)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ok see you at the office tomorrow", "people talking among themselves"),
        ("lol same", "an aside between people"),
        ("brb, dinner", "an aside between people"),
    ],
)
async def test_humans_talking_among_themselves_invite_nobody(text: str, reason: str) -> None:
    history = (
        human("did you watch the match last night", who="u-bo", name="Bo"),
        human("yes, the referee was awful"),
    )
    decision = await score(human(text, who="u-bo", name="Bo"), history=history)
    assert decision == Decision((), reason)


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ("Bram, what lies down in the caves?", "bram"),
        ("Ask the innkeeper about the caves, will you?", "mira"),
        ("I bet Nell knows where the storm boats went?", "nell"),
    ],
)
async def test_a_named_character_answers_alone(text: str, speaker: str) -> None:
    decision = await score(human(text))
    assert decision.speakers == (speaker,)
    assert decision.reason.startswith(f"addressed: {speaker}; {speaker} ")


async def test_address_outweighs_everything_else() -> None:
    shy = person("shy", 0.0)
    decision = await score(
        human("Shy, tell me about the soup and stories at the inn?"), cast=(MIRA, shy)
    )
    assert decision.speakers == ("shy",)
    assert decision.reason.startswith("addressed: shy")


async def test_everyone_addressed_answers_in_order() -> None:
    decision = await score(human("Nell and Wren, what do you think?"))
    assert decision.speakers == ("nell", "wren")


async def test_a_greeting_to_the_room_gets_two_different_characters() -> None:
    decision = await score(human("Hello everyone! Who wants to tell me about this place?"))
    assert len(decision.speakers) == 2
    assert len(set(decision.speakers)) == 2
    assert decision.reason.startswith("to the room; ")


@pytest.mark.parametrize("limit", [1, 3, 4])
async def test_the_room_size_limit_is_a_setting(limit: int) -> None:
    policy = ScoringPolicy(gate=WhenGate(max_group_speakers=limit))
    decision = await score(human("Hello everyone!"), policy=policy)
    assert len(decision.speakers) == len(set(decision.speakers)) == limit


async def test_the_room_is_answered_by_the_best_ranked() -> None:
    policy = ScoringPolicy()
    situation = context(human("Hello everyone!"))
    ranking = await policy.rank(situation)
    assert (await policy.decide(situation)).speakers == ranking.speakers[:2]


async def test_only_the_addressed_answer_when_the_room_is_called_too() -> None:
    assert (await score(human("Hi all! Nell, is the lamp lit?"))).speakers == ("nell",)


async def test_relevance_raises_the_character_the_topic_belongs_to() -> None:
    cast = (
        person("abe", 0.5, "Abe bakes bread and pies."),
        person("bea", 0.5, "Bea mends nets and boats."),
        person("cal", 0.5, "Cal keeps the lighthouse lamp."),
    )
    for text, speaker in (
        ("Were the boats out, and are the nets torn?", "bea"),
        ("Is the lighthouse lamp lit?", "cal"),
        ("Any bread or pies left?", "abe"),
    ):
        assert (await score(human(text), cast=cast)).speakers == (speaker,), text


async def test_the_chatty_are_picked_before_the_shy() -> None:
    shy, chatty = person("shy", 0.05), person("chatty", 0.95)
    cast = (shy, person("abe", 0.5), person("bea", 0.5), chatty)
    for text in ("Is it late?", "Where did I leave my hat?", "What's for dinner?"):
        assert (await score(human(text), cast=cast)).speakers == ("chatty",), text
    room = await score(human("Hello everyone!"), cast=cast)
    assert room.speakers == ("chatty", "abe")


async def test_equal_scores_go_to_the_first_in_the_cast() -> None:
    cast = (person("cal", 0.5), person("abe", 0.5), person("bea", 0.5))
    ranking = await ScoringPolicy().rank(context(human("Is it late?"), cast=cast))
    assert ranking.speakers == ("cal", "abe", "bea")
    assert len(set(ranking.scores)) == 1
    assert (await score(human("Is it late?"), cast=cast)).speakers == ("cal",)
    reversed_cast = tuple(reversed(cast))
    assert (await score(human("Is it late?"), cast=reversed_cast)).speakers == ("bea",)


async def test_a_character_without_talkativeness_never_speaks_unprompted() -> None:
    stone = person("stone", 0.0)
    # A ranker that puts the speaker before last far ahead: Stone, here.
    policy = ScoringPolicy(ranker=WhoRanker({"spoke_before_last": 10.0}))
    turns = (human("Evening."), said_by(stone, "..."), human("Is that all you say?"))
    situation = after(*turns, cast=(MIRA, stone, BRAM))
    assert (await policy.rank(situation)).first == "stone"
    assert (await policy.decide(situation)).speakers == ("mira",)
    room = after(*turns[:-1], human("Hello everyone!"), cast=(MIRA, stone, BRAM))
    assert (await policy.decide(room)).speakers == ("mira", "bram")
    spoken_to = after(*turns[:-1], human("Stone, is that all?"), cast=(MIRA, stone, BRAM))
    assert (await policy.decide(spoken_to)).speakers == ("stone",)


async def test_a_character_never_speaks_twice_in_a_row_unprompted() -> None:
    trigger = said_by(MIRA, "What do you all make of the soup, the stories and the gossip?")
    decision = await score(trigger, hops=1)
    assert decision.speakers and "mira" not in decision.speakers
    trigger = said_by(WREN, "Mira, Wren and Nell, what of the caves and tunnel?")
    assert (await score(trigger, hops=1)).speakers == ("mira", "nell")


async def test_a_characters_plain_answer_hands_the_floor_back_to_the_people() -> None:
    history = (human("Tell me about the storms and the boats, everyone!"),)
    line = said_by(BRAM, "Storms sank three boats last winter.")
    decision = await score(line, history=history, hops=1)
    assert decision == Decision((), "Bram answered; the people have the floor")


async def test_characters_among_themselves_keep_talking_whatever_the_hops() -> None:
    turns = (said_by(MIRA, "Soup's on."), said_by(BRAM, "About time."))
    for hops in (1, 5, 50):
        decision = await score(turns[-1], history=turns[:-1], hops=hops)
        assert len(decision.speakers) == 1
        assert decision.reason.startswith("a scene among characters; ")


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
    """Random human lines with every answer and follow-up the policy asks for, at most
    ``max_hops`` character turns after each human line (as a conversation's hop limit)."""
    rng = random.Random(seed)
    policy = ScoringPolicy()
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


async def test_over_a_long_conversation_the_shy_stay_quiet_and_nobody_repeats() -> None:
    shy, chatty = person("shy", 0.05), person("chatty", 0.95)
    transcript = await converse((shy, chatty, person("abe", 0.5), person("bea", 0.5)), 200, 4)
    spoken = Counter(t.speaker_id for t in transcript if t.is_character)
    assert spoken.total() > 100
    assert spoken["shy"] <= 0.05 * spoken.total()
    assert spoken["chatty"] == max(spoken.values())
    for before, following in itertools.pairwise(transcript):
        assert not (before.is_character and before.speaker_id == following.speaker_id)


async def test_the_same_conversation_gets_the_same_choices() -> None:
    first = await converse(CAST, 40, 9)
    second = await converse(CAST, 40, 9)
    assert [t.speaker_id for t in first] == [t.speaker_id for t in second]


async def test_the_reason_gives_the_opening_and_the_scores() -> None:
    policy = ScoringPolicy()
    situation = context(human("Is the lighthouse lamp lit?"))
    decision = await policy.decide(situation)
    ranking = await policy.rank(situation)
    [speaker] = decision.speakers
    assert decision.reason == f"a question; {speaker} {ranking.scores[0]:.2f}"


async def test_a_changed_character_is_read_again() -> None:
    policy = ScoringPolicy()
    trigger = human("The whales are singing tonight.")
    plain = person("sam", 0.5)
    assert (await policy.decide(context(trigger, cast=(plain,)))).nobody
    whaler = person("sam", 0.5, "Sam hunted whales.")
    assert (await policy.decide(context(trigger, cast=(whaler,)))).speakers == ("sam",)


async def test_an_empty_cast_or_text_invites_nobody() -> None:
    assert await score(human("Hello everyone!"), cast=()) == Decision((), "nobody is free to speak")
    assert (await score(human(""))).nobody
    assert (await score(said_by(BRAM, "Bram! Bram?"), cast=(BRAM,))).nobody


async def test_a_character_listed_twice_still_speaks_once() -> None:
    decision = await score(human("Hello everyone! Wren, the caves?"), cast=(WREN, WREN))
    assert decision.speakers == ("wren",)


async def test_a_character_listed_twice_is_chosen_once_when_the_room_is_called() -> None:
    decision = await score(human("Hello everyone!"), cast=(WREN, WREN))
    assert decision.speakers == ("wren",)


@pytest.mark.parametrize("line", ["Thank you, truly.", "That sounds bad.", "Really? Since when?"])
async def test_a_person_answering_a_character_hears_back_from_it(line: str) -> None:
    cast = tuple(person(name, 0.5) for name in ("mira", "bram", "wren"))
    history = (human("Evening."), said_by(cast[1], "Hmph. Fog's coming."))
    assert (await score(human(line), cast=cast, history=history)).speakers == ("bram",)


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
    assert await score(human(line), history=history) == Decision((), "an aside between people")


async def test_a_character_spoken_to_still_answers_an_aside() -> None:
    history = (human("Hi", who="u-tom", name="Tom"), said_by(MIRA, "Soup's hot."))
    decision = await score(human("brb, Bram keep my seat?"), history=history)
    assert decision.speakers == ("bram",)


async def test_the_policy_holds_no_randomness() -> None:
    situation = context(human("Hello everyone!"))
    decisions = {await ScoringPolicy().decide(situation) for _ in range(5)}
    assert len(decisions) == 1
