"""Choice constraints: the grammar llama.cpp gets, and strict parsing of free answers."""

from __future__ import annotations

import pytest

from botkit.backends.choices import choice_grammar, parse_choice

CHOICES = ("Mira", "Sir Aldric", "NOBODY")


def test_the_grammar_allows_exactly_the_choices_with_quotes_escaped() -> None:
    assert choice_grammar(CHOICES) == 'root ::= "Mira" | "Sir Aldric" | "NOBODY"'
    assert choice_grammar(['Say "hi"', "back\\slash", "two\nlines", "Mira", "Mira"]) == (
        'root ::= "Say \\"hi\\"" | "back\\\\slash" | "two\\nlines" | "Mira"'
    )
    with pytest.raises(ValueError, match="non-empty choice"):
        choice_grammar(["Mira", ""])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Mira", "Mira"),
        ("  mira.\n", "Mira"),
        ('"Sir Aldric"', "Sir Aldric"),
        ("**NOBODY**", "NOBODY"),
        ("Sir   Aldric - he was asked", "Sir Aldric"),
        ("Mira: Welcome, love!", "Mira"),
        ("Miranda", None),
        ("I think Mira should", None),
        ("", None),
        ("Nobody at all", "NOBODY"),
        ("Mira or Sir Aldric", None),
    ],
)
def test_answers_are_read_strictly(answer: str, expected: str | None) -> None:
    assert parse_choice(answer, CHOICES) == expected


def test_overlapping_choices_take_the_longest() -> None:
    assert parse_choice("Mira Quell", ("Mira", "Mira Quell")) == "Mira Quell"
    assert parse_choice("Mira, then", ("Mira", "Mira Quell")) == "Mira"
