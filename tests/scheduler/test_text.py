"""Word normalisation, name finding and the cues that tell who a line is said to."""

from __future__ import annotations

import pytest

from botkit.characters.model import Character
from botkit.scheduler.text import (
    addresses_room,
    content_words,
    find_names,
    is_aside,
    is_question,
    name_key,
    speaks_to,
    stem,
)
from tests.scheduler.cast import BRAM, CAST, MIRA

MIRA_JR = Character(id="junior", name="Mira Jr", persona=("The innkeeper's daughter.",))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("caves", "cave"),
        ("caving", "cave"),
        ("stories", "story"),
        ("baked", "baking"),
        ("storms", "storm"),
        ("running", "run"),
        ("boxes", "box"),
        ("glasses", "glass"),
        ("lamps", "lamp"),
    ],
)
def test_stems_bring_word_forms_together(one: str, other: str) -> None:
    assert stem(one) == stem(other)


def test_content_words_keep_only_what_carries_meaning() -> None:
    words = content_words("Oh, I don't think Mira’s SOUP stories are that great, are they? Ok.")
    assert words == {stem("mira"), stem("soup"), stem("stories")}
    assert content_words("lol ok see you") == frozenset()
    assert content_words("Café au lait") == {stem("café"), stem("lait")}


def test_questions_are_marked_questions_outside_links() -> None:
    assert is_question("Is the lamp lit?")
    assert is_question("Really?!")
    assert is_question('She asked "why?" and left')
    assert not is_question("see https://example.invalid/?q=lamp")
    assert not is_question("The lamp is lit.")


def test_names_match_whole_words_in_any_case() -> None:
    assert [m.character_id for m in find_names("MIRA and bram", CAST)] == ["mira", "bram"]
    assert find_names("A Miracle in the Bramble", CAST) == []
    assert find_names("write to bob@mira.example", CAST) == []


@pytest.mark.parametrize(
    "text",
    ["@mira!", "Mira's soup", "Mira’s soup", "the INNKEEPER", "mira (the id)", "Mira."],
)
def test_every_spelling_of_a_name_is_found(text: str) -> None:
    assert [m.character_id for m in find_names(text, CAST)] == ["mira"]


def test_multi_word_names_tolerate_spacing_and_the_longest_name_wins() -> None:
    assert [m.character_id for m in find_names("old\n  bram, any fish?", CAST)] == ["bram"]
    cast = (MIRA, MIRA_JR)
    assert [m.character_id for m in find_names("Mira Jr, hello", cast)] == ["junior"]
    assert [m.character_id for m in find_names("Mira, hello", cast)] == ["mira"]


def test_a_shared_nickname_finds_every_owner() -> None:
    ada = Character(id="ada", name="Ada", persona=("x",), nicknames=("Captain",))
    bo = Character(id="bo", name="Bo", persona=("x",), nicknames=("captain",))
    found = find_names("Captain, a word?", (ada, bo))
    assert [(m.character_id, m.vocative) for m in found] == [("ada", True), ("bo", True)]


@pytest.mark.parametrize(
    ("text", "vocative"),
    [
        ("Bram, what do you think?", True),
        ("Bram!", True),
        ("Hello Bram!", True),
        ("Good morning Bram how are you", True),
        ("Thanks Bram", True),
        ("Well, Bram.", True),
        ("So Bram, what now?", True),
        ("Do you agree, Bram?", True),
        ("I agree, Bram.", True),
        ("I think, Bram, that the tide is turning.", True),
        ("@Bram look at this", True),
        ("Have you seen Bram today?", True),
        ("Nell and Bram, come here.", True),
        ("I told Bram about the boat.", False),
        ("Bram is a fool.", False),
        ("Bram's boat sank.", False),
        ("I met Mira, Bram, and Nell at the pier.", False),
        ("He said hi Bram and left.", False),
    ],
)
def test_spoken_to_or_spoken_about(text: str, vocative: bool) -> None:
    matches = [m for m in find_names(text, CAST) if m.character_id == "bram"]
    assert [m.vocative for m in matches] == [vocative]


@pytest.mark.parametrize(
    ("text", "room"),
    [
        ("Hello everyone!", True),
        ("Hello everyone! Who wants to tell me about this place?", True),
        ("Everyone, listen.", True),
        ("What do you all think?", True),
        ("y'all ready?", True),
        ("All of you, come here", True),
        ("Thanks all!", True),
        ("Hey guys", True),
        ("Morning, folks.", True),
        ("Does anyone know the way?", True),
        ("Can somebody light the lamp?", True),
        ("Is everyone all right?", True),
        ("Who wants pie", True),
        ("Who's hungry?", True),
        ("Everyone at work hates me.", False),
        ("I don't know anyone here.", False),
        ("Someone stole my bike.", False),
        ("Those guys are weird.", False),
        ("Is that all?", False),
        ("All right, let's go.", False),
        ("I wonder who wants it.", False),
        ("Mira, what do you think?", False),
    ],
)
def test_speaking_to_the_whole_room(text: str, room: bool) -> None:
    assert addresses_room(text) is room


def test_name_keys_ignore_case_spacing_and_at() -> None:
    assert name_key("@Old  Bram") == name_key("old bram") == "old bram"
    assert name_key(BRAM.name) == "bram"


def test_a_cast_without_usable_names_finds_nothing() -> None:
    blank = Character(id=" ", name="@", persona=("x",), nicknames=("  ",))
    assert find_names("@ hello", (blank,)) == []


@pytest.mark.parametrize(
    ("text", "aside"),
    [
        ("brb", True),
        ("lol that was great", True),
        ("((ooc: need a break))", True),
        ("my phone is dying", True),
        ("back in 5 min", True),
        ("The boat leaves in ten minutes.", False),
        ("Mira, more soup please.", False),
        ("Where is the lighthouse?", False),
    ],
)
def test_asides_are_the_players_own_talk(text: str, aside: bool) -> None:
    assert is_aside(text) is aside


def test_speaking_to_a_person_needs_direct_address() -> None:
    assert speaks_to("Tom, did you bring the map?", ["Tom", "Ann"])
    assert speaks_to("@ann look at this", ["Tom", "Ann"])
    assert speaks_to("Thanks Tom!", ["Tom"])
    assert not speaks_to("Tom said the map is lost.", ["Tom"])
    assert not speaks_to("Anyone seen the map?", [])
