"""Constraining a backend's answer to one of a few strings, and reading such an answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["choice_grammar", "parse_choice"]

_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TRIM = " \t\r\n\"'`*_.,:;!?()[]{}<>"


def choice_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar (llama.cpp) whose only sentences are the given strings.

    Raises:
        ValueError: no choices, or an empty one.
    """
    if not choices or any(not choice for choice in choices):
        raise ValueError("a choice grammar needs at least one non-empty choice")
    literals = (
        '"' + "".join(_GBNF_ESCAPES.get(ch, ch) for ch in choice) + '"'
        for choice in dict.fromkeys(choices)
    )
    return "root ::= " + " | ".join(literals)


def parse_choice(text: str, choices: Sequence[str]) -> str | None:
    """The choice ``text`` answers with, or None when it names none of them unambiguously.

    The answer is read strictly: the whole text (ignoring case, spacing, quotes and
    punctuation around it) must be a choice, or it must open with one followed by a
    non-letter ("Mira - she was asked") and name no other; where choices overlap the
    longest wins.
    """
    wanted = {" ".join(choice.split()).casefold(): choice for choice in choices}
    exact = " ".join(text.split()).casefold()
    if exact in wanted:
        return wanted[exact]
    answer = exact.strip(_TRIM)
    if answer in wanted:
        return wanted[answer]
    opening = [
        choice
        for key, choice in wanted.items()
        if answer.startswith(key) and not answer[len(key) : len(key) + 1].isalnum()
    ]
    if not opening:
        return None
    chosen = max(opening, key=len)
    rest = answer[len(" ".join(chosen.split())) :]
    others = (
        key for key, choice in wanted.items() if choice != chosen and key not in chosen.casefold()
    )
    if any(re.search(rf"(?<!\w){re.escape(key)}(?!\w)", rest) for key in others):
        return None
    return chosen
