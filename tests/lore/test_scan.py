"""Lore activation: keys within the scan depth, secondary-key logic, constants, case, regex,
insertion order, disabled entries and recursive scanning."""

from __future__ import annotations

import re

import pytest

from botkit.lore import (
    Lorebook,
    LoreEntry,
    SelectiveLogic,
    Trigger,
    entry_matches,
    key_pattern,
    scan,
)


def names(books: list[Lorebook], messages: list[str], **options: object) -> list[str]:
    return [a.entry.name for a in scan(books, messages, **options)]  # type: ignore[arg-type]


def entry(name: str, *keys: str, **fields: object) -> LoreEntry:
    return LoreEntry(content=f"{name} text", keys=keys, name=name, **fields)  # type: ignore[arg-type]


def test_a_key_in_the_last_scan_depth_messages_activates_and_an_older_one_does_not() -> None:
    book = Lorebook(entries=(entry("bell", "bell"),), scan_depth=2)
    assert names([book], ["the bell rang", "hello", "hi"]) == []
    assert names([book], ["the bell rang", "hello"]) == ["bell"]
    deeper = Lorebook(entries=book.entries, scan_depth=3)
    assert names([deeper], ["the bell rang", "hello", "hi"]) == ["bell"]


def test_scan_depth_zero_searches_no_message_but_still_the_scene() -> None:
    book = Lorebook(entries=(entry("bell", "bell"),), scan_depth=0)
    assert names([book], ["bell"]) == []
    assert names([book], [], scene="A bell tolls offshore.") == ["bell"]


def test_plain_keys_match_whole_words_only() -> None:
    sea = entry("sea", "sea")
    assert entry_matches(sea, "the sea is calm")
    assert entry_matches(sea, "Sea!")
    assert not entry_matches(sea, "in this season")
    assert entry_matches(entry("phrase", "silver coin"), "a silver coin, old")


def test_case_sensitivity_is_off_by_default_and_honoured_when_on() -> None:
    assert entry_matches(entry("crane", "Crane"), "old crane")
    strict = entry("crane", "Crane", case_sensitive=True)
    assert not entry_matches(strict, "a crane flew")
    assert entry_matches(strict, "Elias Crane left")


def test_regex_keys() -> None:
    regex = entry("years", r"year \d+", use_regex=True)
    assert entry_matches(regex, "in YEAR 12 of the reign")
    assert not entry_matches(regex, "in year twelve")
    assert entry_matches(entry("prefix", r"light\w*", use_regex=True), "the lighthouse")


def test_a_backtracking_bomb_key_costs_linear_work() -> None:
    matcher = key_pattern("(a+)+$", case_sensitive=False, use_regex=True)
    assert not isinstance(matcher, re.Pattern), "regex keys must not run on a backtracking engine"
    bomb = entry("bomb", "(a+)+$", use_regex=True)
    book = Lorebook(entries=(bomb, entry("bell", "bell")))
    assert names([book], ["a" * 30 + "!", "the bell"]) == ["bell"]
    assert names([book], ["b" + "A" * 100_000]) == ["bomb"]


def test_a_regex_key_re2_refuses_is_skipped_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = Lorebook(entries=(entry("old", "(?<=old )bell", use_regex=True), entry("bell", "bell")))
    for _ in range(3):
        assert names([book], ["the old bell rang"]) == ["bell"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [
        "lorebook key '(?<=old )bell' is skipped: invalid perl operator: (?<= "
        "(RE2 syntax: no look-arounds or backreferences)"
    ]


@pytest.mark.parametrize(
    ("logic", "text", "expected"),
    [
        (SelectiveLogic.AND_ANY, "bell and sea", True),
        (SelectiveLogic.AND_ANY, "bell only", False),
        (SelectiveLogic.AND_ALL, "bell, sea and chapel", True),
        (SelectiveLogic.AND_ALL, "bell and sea", False),
        (SelectiveLogic.NOT_ANY, "bell only", True),
        (SelectiveLogic.NOT_ANY, "bell and chapel", False),
        (SelectiveLogic.NOT_ALL, "bell and sea", True),
        (SelectiveLogic.NOT_ALL, "bell, sea and chapel", False),
    ],
)
def test_secondary_keys_follow_the_selective_logic(
    logic: SelectiveLogic, text: str, expected: bool
) -> None:
    selective = entry(
        "bell", "bell", secondary_keys=("sea", "chapel"), selective=True, selective_logic=logic
    )
    assert entry_matches(selective, text) is expected


def test_secondary_keys_are_ignored_unless_selective_and_never_replace_a_primary_key() -> None:
    loose = entry("bell", "bell", secondary_keys=("sea",))
    assert entry_matches(loose, "bell only")
    selective = entry("bell", "bell", secondary_keys=("sea",), selective=True)
    assert not entry_matches(selective, "sea only")


def test_constant_entries_always_activate_and_disabled_ones_never() -> None:
    book = Lorebook(
        entries=(
            entry("always", constant=True),
            entry("off", "bell", enabled=False),
            entry("off constant", constant=True, enabled=False),
        )
    )
    activations = scan([book], ["bell"])
    assert [(a.entry.name, a.trigger) for a in activations] == [("always", Trigger.CONSTANT)]


def test_activations_come_in_insertion_order_then_book_order() -> None:
    first = Lorebook(entries=(entry("late", "a", insertion_order=300), entry("mid", "a")))
    second = Lorebook(entries=(entry("early", "a", insertion_order=5), entry("mid2", "a")))
    assert names([first, second], ["a"]) == ["early", "mid", "mid2", "late"]


def chain(recursive: bool) -> Lorebook:
    return Lorebook(
        recursive_scanning=recursive,
        entries=(
            LoreEntry(content="Elias paid with a silver coin.", keys=("Elias",), name="elias"),
            LoreEntry(content="The coin shows a ship.", keys=("coin",), name="coin"),
            LoreEntry(content="The ship sank near Elias's rock.", keys=("ship",), name="ship"),
            LoreEntry(content="Unrelated.", keys=("moon",), name="moon"),
        ),
    )


def test_recursive_scanning_lets_entries_activate_entries_each_once_without_looping() -> None:
    activations = scan([chain(True)], ["Where is Elias?"])
    assert [(a.entry.name, a.trigger) for a in activations] == [
        ("elias", Trigger.KEY),
        ("coin", Trigger.RECURSIVE),
        ("ship", Trigger.RECURSIVE),
    ]


def test_without_recursive_scanning_only_the_messages_activate() -> None:
    assert names([chain(False)], ["Where is Elias?"]) == ["elias"]


def test_entries_found_by_meaning_activate_as_retrieved() -> None:
    book = chain(False)
    activations = scan([book], ["nothing relevant"], retrieved={book.entries[3]})
    assert [(a.entry.name, a.trigger) for a in activations] == [("moon", Trigger.RETRIEVED)]


def test_the_render_function_gives_the_inserted_text() -> None:
    book = Lorebook(entries=(LoreEntry(content="hi {{char}}", constant=True),))
    assert [a.text for a in scan([book], [], render=str.upper)] == ["HI {{CHAR}}"]
