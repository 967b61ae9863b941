"""Word and name matching shared by the turn-taking policies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from botkit.characters.model import Character

__all__ = ["GROUP_ADDRESS", "NameMatch", "content_words", "find_names", "is_question"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_WORDS = frozenset(
    "a about after again all also am an and any are as at be because been before being "
    "but by can could did do does doing don't down for from get got had has have having "
    "he her here hers him his how i i'm if in into is it it's its just let's like me more "
    "most my no nor not now of off on once only or other our out over own really same she "
    "should so some such than that that's the their them then there these they this those "
    "through to too under until up very was we were what when where which while who whom "
    "why will with would yes yet you your yours okay ok oh well hey hi hello yeah tell "
    "know think want going go see say said".split()
)
_SUFFIXES = ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s")

GROUP_ADDRESS = re.compile(
    r"\b(every(?:one|body)|any(?:one|body)|all of you|you all|y'?all|guys|folks|"
    r"who (?:wants|would|will|can|here)|somebody|someone)\b",
    re.IGNORECASE,
)
"""Words that speak to the whole room rather than to one character."""


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """The stemmed words of ``text`` that carry meaning (no stop words, no possessives)."""
    words = (match.removesuffix("'s") for match in _WORD.findall(text.lower()))
    return frozenset(_stem(w) for w in words if len(w) > 2 and w not in _STOP_WORDS)


def is_question(text: str) -> bool:
    """Whether ``text`` asks something."""
    return "?" in text


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Where a character's name occurs in a text, and whether it is spoken to directly."""

    character_id: str
    position: int
    vocative: bool


@lru_cache(maxsize=1024)
def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted({n for n in names if n.strip()}, key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in ordered)
    return re.compile(rf"(?<![\w@])@?(?:{alternatives})(?:'s)?(?!\w)", re.IGNORECASE)


_GREETINGS = frozenset(
    "hi hello hey heya hiya greetings morning evening thanks cheers welcome yo oi dear "
    "listen look please sorry".split()
)


def _sentence_bounds(text: str, position: int) -> tuple[int, int]:
    start = max(text.rfind(mark, 0, position) for mark in ".!?\n") + 1
    ends = [i for i in (text.find(mark, position) for mark in ".!?\n") if i != -1]
    return start, (min(ends) + 1 if ends else len(text))


def _is_vocative(text: str, start: int, end: int) -> bool:
    """A name is spoken to when it opens or closes its sentence set off by punctuation,
    follows a greeting ("Hello Mira!"), or sits in a question."""
    sentence_start, sentence_end = _sentence_bounds(text, start)
    before = text[sentence_start:start].strip(" \t\"'*(")
    after = text[end:sentence_end].lstrip()
    if not before and (after[:1] in {",", "!", "?", ":", ""} or not after.strip(".!?")):
        return True
    last_word = before.rstrip(",").lower().split()[-1:]
    if last_word and last_word[0] in _GREETINGS:
        return True
    if before.endswith(",") and after.strip() in {"", ".", "!", "?"}:
        return True
    return text[sentence_start:sentence_end].rstrip().endswith("?")


def find_names(text: str, cast: list[Character] | tuple[Character, ...]) -> list[NameMatch]:
    """Every cast member named in ``text``, first occurrence each, in order of appearance."""
    found: dict[str, NameMatch] = {}
    for character in cast:
        for match in _name_pattern(character.names).finditer(text):
            vocative = _is_vocative(text, match.start(), match.end())
            known = found.get(character.id)
            if known is None:
                found[character.id] = NameMatch(character.id, match.start(), vocative)
            elif vocative and not known.vocative:
                found[character.id] = NameMatch(character.id, known.position, True)
    return sorted(found.values(), key=lambda m: m.position)
