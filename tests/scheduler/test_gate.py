"""The when-gate: whether anyone should speak after a turn, and how many, with the reason."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from botkit.characters.model import Character
from botkit.scheduler import Opening, ScoringPolicy, WhenGate
from botkit.transcript import Turn
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, WREN, after, human, person, said_by

TOM_SAID = human("Evening all.", who="u-tom", name="Tom")


def check(
    *turns: Turn,
    cast: Sequence[Character] = CAST,
    muted: Sequence[str] = (),
    gate: WhenGate | None = None,
) -> Opening:
    """The gate's verdict right after the last of ``turns``."""
    return (gate or WhenGate()).check(after(*turns, cast=cast, muted=muted))


def test_an_opening_is_closed_only_without_speakers() -> None:
    assert Opening(0, "x").closed
    assert Opening(-1, "x").closed
    assert not Opening(1, "x").closed


@pytest.mark.parametrize("settings", [{"max_group_speakers": 0}, {"window": 0}])
def test_the_settings_must_be_at_least_one(settings: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WhenGate(**settings)


# --- after a person's turn: what opens the floor -------------------------------------


def test_addressing_characters_opens_for_each_of_them() -> None:
    assert check(human("Bram, what lies in the caves?")) == Opening(1, "addressed: bram")
    assert check(human("Nell and Wren, what do you think?")) == Opening(2, "addressed: nell, wren")


def test_a_call_to_the_room_opens_for_two_by_default() -> None:
    assert check(human("Hello everyone!")) == Opening(2, "to the room")
    assert check(human("Does anyone know the way to the ford?")) == Opening(2, "to the room")


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (3, 3), (4, 4), (9, 4)])
def test_the_room_opens_for_at_most_max_group_speakers(limit: int, expected: int) -> None:
    gate = WhenGate(max_group_speakers=limit)
    assert check(human("Hello everyone!"), gate=gate) == Opening(expected, "to the room")


def test_the_room_opens_only_for_those_free_and_willing_to_speak() -> None:
    gate = WhenGate(max_group_speakers=4)
    cast = (MIRA, person("stone", 0.0), BRAM, WREN)
    assert check(human("Hello everyone!"), cast=cast, gate=gate).speakers == 3
    assert check(human("Hello everyone!"), cast=cast, gate=gate, muted=["bram"]).speakers == 2


def test_a_question_opens_for_one() -> None:
    assert check(human("Is it late?")) == Opening(1, "a question")


def test_answering_the_character_who_just_spoke_opens_for_one() -> None:
    bram_said = said_by(BRAM, "Hmph. Fog's coming.")
    for line in ("Thank you, truly.", "That sounds bad."):
        assert check(human("Evening."), bram_said, human(line)) == Opening(1, "answers Bram")


def test_a_person_answering_another_person_does_not_answer_the_character() -> None:
    turns = (said_by(BRAM, "Hmph. Fog's coming."), TOM_SAID, human("That sounds bad."))
    assert check(*turns) == Opening(0, "people talking among themselves")


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("The caves and the tunnel are flooded.", "Wren"),
        ("My nets were torn in the storm.", "Bram"),
        ("The lighthouse stood dark all night.", "Nell"),
        ("Gossip travels fast in this town.", "Mira"),
    ],
)
def test_a_statement_about_a_characters_persona_opens_for_one(line: str, name: str) -> None:
    assert check(human(line)) == Opening(1, f"concerns {name}")


def test_a_statement_about_a_muted_or_silent_character_opens_nothing() -> None:
    line = human("The caves and the tunnel are flooded.")
    assert check(line, muted=["wren"]) == Opening(0, "people talking among themselves")
    silent = person("wren", 0.0, "Maps the sea caves and the tunnel.")
    assert check(line, cast=(MIRA, silent)) == Opening(0, "people talking among themselves")


def test_a_statement_that_concerns_no_character_keeps_the_floor_closed() -> None:
    for line in ("ok see you at the office tomorrow", "nice", ""):
        assert check(TOM_SAID, human(line)) == Opening(0, "people talking among themselves")


# --- after a person's turn: asides -----------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Tom, did you see the match last night?",
        "Tom, is anyone hungry?",
        "brb, pizza's here",
        "lol same",
        "((sorry, my cat walked on the keyboard))",
        "hey is anyone else getting lag right now?",
        "brb everyone",
        "same time next week?",
    ],
)
def test_an_aside_closes_the_floor_even_when_it_asks_or_calls_the_room(line: str) -> None:
    turns = (TOM_SAID, said_by(MIRA, "Soup's hot, loves."), human(line))
    assert check(*turns) == Opening(0, "an aside between people")


def test_a_name_spoken_to_is_an_aside_only_when_a_person_of_that_name_is_here() -> None:
    assert check(human("Tom, did you see the match last night?")) == Opening(1, "a question")


def test_a_character_spoken_to_in_an_aside_still_answers() -> None:
    turns = (TOM_SAID, said_by(MIRA, "Soup's hot."), human("brb, Bram keep my seat?"))
    assert check(*turns) == Opening(1, "addressed: bram")


# --- after a character's turn -----------------------------------------------------------


def test_a_scene_among_characters_stays_open() -> None:
    turns = (said_by(MIRA, "Soup's hot."), said_by(BRAM, "Fog's thick tonight."))
    assert check(*turns) == Opening(1, "a scene among characters")
    assert check(said_by(WREN, "lol")) == Opening(1, "a scene among characters")


def test_with_people_present_a_characters_statement_gives_them_the_floor() -> None:
    turns = (human("Evening."), said_by(MIRA, "Soup's hot."))
    assert check(*turns) == Opening(0, "Mira answered; the people have the floor")


@pytest.mark.parametrize("line", ["Hello everyone!", "Who wants soup?", "Does anyone know?"])
def test_with_people_present_a_character_calling_the_room_opens_for_one(line: str) -> None:
    turns = (human("Evening."), said_by(MIRA, line))
    assert check(*turns) == Opening(1, "Mira spoke to the room")


def test_with_people_present_a_characters_question_opens_in_an_exchange_with_another() -> None:
    turns = (human("Evening."), said_by(BRAM, "Fog's thick."), said_by(MIRA, "Is it now?"))
    assert check(*turns) == Opening(1, "Mira asked Bram")


def test_a_characters_question_right_after_a_person_is_for_that_person() -> None:
    turns = (human("Evening."), said_by(MIRA, "What do you make of the fog?"))
    assert check(*turns) == Opening(0, "Mira answered; the people have the floor")


def test_a_character_speaking_to_another_opens_for_it() -> None:
    turns = (human("Evening."), said_by(MIRA, "Bram, fetch the nets."))
    assert check(*turns) == Opening(1, "addressed: bram")
    # Telling a story about someone is not speaking to them.
    story = said_by(MIRA, "Bram mended the nets all day.")
    assert check(human("Evening."), story) == Opening(0, "Mira answered; the people have the floor")


@pytest.mark.parametrize(("characters", "closed"), [(2, True), (3, False)])
def test_people_are_present_while_one_spoke_within_the_window(
    characters: int, closed: bool
) -> None:
    speakers = (MIRA, BRAM, WREN)
    turns = [human("Evening."), *(said_by(speakers[i % 3], "Aye.") for i in range(characters))]
    assert check(*turns, gate=WhenGate(window=3)).closed is closed
    # The default window is twelve turns.
    turns = [human("Evening."), *(said_by(speakers[i % 3], "Aye.") for i in range(11))]
    assert check(*turns).closed
    assert not check(*turns, said_by(speakers[11 % 3], "Aye.")).closed


async def test_a_scene_among_characters_goes_on_for_many_hops() -> None:
    policy = ScoringPolicy()
    turns = [said_by(MIRA, "The tide turns at dusk.")]
    for hop in range(1, 31):
        situation = after(*turns)
        situation = type(situation)(
            situation.cast, situation.transcript, situation.trigger, hops=hop
        )
        assert policy.gate.check(situation) == Opening(1, "a scene among characters")
        decision = await policy.decide(situation)
        assert len(decision.speakers) == 1
        assert decision.speakers[0] != turns[-1].speaker_id
        speaker = next(c for c in CAST if c.id == decision.speakers[0])
        turns.append(said_by(speaker, "The tide turns at dusk."))
    assert len({t.speaker_id for t in turns}) >= 2
    turns += [human("Evening."), said_by(NELL, "The lamp is lit.")]
    assert check(*turns) == Opening(0, "Nell answered; the people have the floor")


# --- nobody free -------------------------------------------------------------------------


def test_nobody_free_keeps_the_floor_closed() -> None:
    nobody = Opening(0, "nobody is free to speak")
    assert check(human("Hello everyone!"), cast=()) == nobody
    assert check(said_by(BRAM, "Bram! Bram?"), cast=(BRAM,)) == nobody
    assert check(human("Hello everyone!"), muted=[c.id for c in CAST]) == nobody
    silent = (person("stone", 0.0), person("moss", 0.0))
    assert check(human("Hello everyone!"), cast=silent) == nobody
