"""Word and name matching shared by the turn-taking policies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from botkit.characters.model import Character
from botkit.stopwords import STOP_WORDS

__all__ = [
    "NameMatch",
    "addresses_room",
    "content_words",
    "find_names",
    "is_aside",
    "is_question",
    "name_key",
    "speaks_to",
    "stem",
]

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_MIN_STEM = 3
_SIBILANT_PLURALS = ("ches", "shes", "xes", "zes")


def stem(word: str) -> str:
    """A crude stem of a lowercase word, so "caves", "cave" and "caving" compare equal."""
    if len(word) > 4 and word.endswith(("ies", "ied")):
        word = word[:-3] + "y"
    elif word.endswith("sses") or (len(word) > 4 and word.endswith(_SIBILANT_PLURALS)):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            word = word[: -len(suffix)]
            break
    if len(word) > _MIN_STEM and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > _MIN_STEM and word.endswith("e"):
        word = word[:-1]
    return word


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """The stems of the words in ``text`` that carry meaning.

    Stop words, contractions, possessive endings and words shorter than three letters
    are left out, so two texts share content words only when they share a subject.
    """
    found: set[str] = set()
    for word in _WORD.findall(text.translate(_APOSTROPHES).casefold()):
        word = word.removesuffix("'s")
        if "'" in word or len(word) < _MIN_STEM or word in STOP_WORDS:
            continue
        found.add(stem(word))
    return frozenset(found)


def name_key(name: str) -> str:
    """How a name compares with another: case, spacing and a leading '@' ignored."""
    return " ".join(name.split()).lstrip("@").casefold()


_QUESTION = re.compile(r"\?(?=[\s\"'”’)\].!?]|$)")


def is_question(text: str) -> bool:
    """Whether ``text`` asks something (a question mark ending a sentence, not in a link)."""
    return bool(_QUESTION.search(text))


_TERMINATORS = ".!?\n"
_QUOTES = " \t\"'“”‘’*_(["
_INTERJECTIONS = frozenset(
    "oh ah ahh ooh well so and but now okay ok alright right listen look please sorry "
    "excuse me say wait hmm um erm there yes yeah yep no nope aye".split()
)
_GREETINGS = frozenset(
    "hi hello hey heya hiya howdy greetings morning evening afternoon good night bye "
    "goodbye farewell thanks thank you cheers welcome yo oi dear".split()
)
_OPENING_MARKS = ",!?:;—–."


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence around ``text[start:end]``, closing punctuation included."""
    opening = max(text.rfind(mark, 0, start) for mark in _TERMINATORS) + 1
    closing = len(text)
    for mark in _TERMINATORS:
        found = text.find(mark, end)
        if found != -1:
            closing = min(closing, found)
    while closing < len(text) and text[closing] in _TERMINATORS + "\"'”’)":
        closing += 1
    return opening, closing


def _asks(sentence: str) -> bool:
    return "?" in sentence.rstrip(" \t\n\"'”’)")[-3:]


def _lead_words(before: str) -> list[str] | None:
    """The words before a name when they are only interjections and greetings, else None."""
    words = [w.strip(",!") for w in before.casefold().split()]
    if all(w in _INTERJECTIONS or w in _GREETINGS for w in words):
        return words
    return None


def _spoken_to(text: str, start: int, end: int, *, question_counts: bool = True) -> bool:
    """Whether the words at ``text[start:end]`` are said *to* someone rather than about them.

    They are when they open their sentence and are set off by punctuation ("Mira, ...",
    "Well, Mira!"), follow a greeting ("Hello Mira", "Thanks Mira"), close a sentence after
    a comma ("Do you agree, Mira?"), sit between commas ("I think, Mira, that ..."), or,
    when ``question_counts``, appear in a question ("Have you seen Mira?").
    """
    opening, closing = _sentence(text, start, end)
    before = text[opening:start].strip(_QUOTES)
    after = text[end:closing].strip()
    lead = _lead_words(before)
    if lead is not None:
        if not after or after[0] in _OPENING_MARKS:
            return True
        if lead and lead[-1] in _GREETINGS:
            return True
    if before.endswith(","):
        if not after.strip(_TERMINATORS + "\"'”’)"):
            return True
        if after.startswith(","):
            return True
    return question_counts and _asks(text[opening:closing])


_PLURAL_YOU = re.compile(
    r"(?<!\w)(?:you (?:all|guys|folks|lot|people|two|three|both)|y'?all|"
    r"(?:all|each|both|any|either|some) of you)(?!\w)",
    re.IGNORECASE,
)
_ROOM_CALLS = re.compile(
    r"(?<!\w)(?:every(?:one|body)|all|guys|folks|friends|gang)(?!\w)", re.IGNORECASE
)
_ROOM_ASKS = re.compile(
    r"(?<!\w)(?:any(?:one|body)|some(?:one|body)|every(?:one|body))(?!\w)", re.IGNORECASE
)
_WHO = re.compile(
    r"(?<!\w)who(?:'d|'s| would| wants| will| can| could| here| else| is up| is in)(?!\w)",
    re.IGNORECASE,
)


def addresses_room(text: str) -> bool:
    """Whether ``text`` speaks to everyone present rather than to one listener.

    That is: a plural "you" ("you all", "y'all", "all of you"), a call to the room
    ("Hello everyone!", "Guys, look"), a question to whoever answers ("Does anyone
    know...?", "Can someone help?"), or a "who wants / who would / who here" invitation.
    """
    text = text.translate(_APOSTROPHES)
    if _PLURAL_YOU.search(text):
        return True
    for match in _WHO.finditer(text):
        opening, closing = _sentence(text, match.start(), match.end())
        if _lead_words(text[opening : match.start()].strip(_QUOTES)) is not None:
            return True
        if _asks(text[opening:closing]):
            return True
    calls = _ROOM_CALLS.finditer(text)
    if any(_spoken_to(text, m.start(), m.end(), question_counts=False) for m in calls):
        return True
    return any(_spoken_to(text, m.start(), m.end()) for m in _ROOM_ASKS.finditer(text))


@dataclass(frozen=True, slots=True)
class NameMatch:
    """One occurrence of a character's name in a text, and whether it is spoken to directly."""

    character_id: str
    position: int
    vocative: bool


@lru_cache(maxsize=256)
def _cast_pattern(
    cast: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]:
    """One pattern for every name in ``cast``, and the character ids behind each group."""
    spellings: dict[str, set[str]] = {}
    owners: dict[str, list[str]] = {}
    for character_id, names in cast:
        for name in names:
            key = name_key(name)
            if not key:
                continue
            spellings.setdefault(key, set()).add(" ".join(name.split()).lstrip("@"))
            if character_id not in owners.setdefault(key, []):
                owners[key].append(character_id)
    keys = sorted(spellings, key=lambda k: (-len(k), k))
    groups = (
        "("
        + "|".join(r"\s+".join(map(re.escape, s.split(" "))) for s in sorted(spellings[k]))
        + ")"
        for k in keys
    )
    pattern = re.compile(rf"(?<![\w@])@?(?:{'|'.join(groups)})(?:'s)?(?!\w)", re.IGNORECASE)
    return pattern, tuple(tuple(owners[k]) for k in keys)


_JOINERS = frozenset({",", "&", "+", "and", "or"})
_GAP_TOKEN = re.compile(r",|[^\s,]+")


def _joins(gap: str) -> bool:
    """Whether ``gap`` only strings names together (", ", " and ", ", or ")."""
    tokens = _GAP_TOKEN.findall(gap.casefold())
    return len(tokens) <= 2 and all(token in _JOINERS for token in tokens)


def find_names(text: str, cast: Sequence[Character]) -> list[NameMatch]:
    """Every occurrence of a cast member's name, id or nickname in ``text``, in order.

    Matching is by whole words, ignoring case, spacing inside a name, a leading '@' and a
    possessive "'s"; where names overlap the longest wins. Names listed together ("Mira
    and Bram, ...") share one verdict on being spoken to, and an '@' always is.
    """
    return _find(text, tuple((c.id, c.names) for c in cast))


def speaks_to(text: str, names: Sequence[str]) -> bool:
    """Whether ``text`` says one of ``names`` directly to that person ("Tom, ...", "@Tom")."""
    return any(match.vocative for match in _find(text, tuple((n, (n,)) for n in names)))


_ASIDE = re.compile(
    r"(?<!\w)(?:brb|afk|lol|lmao|rofl|omg|btw|gtg|g2g|irl|ooc|bbl|ttyl|be right back|"
    r"lag|laptop|wifi|wi-fi|discord|headset|mic|session|next week|next time|"
    r"my (?:mom|mum|dad|phone|battery)|one (?:sec|second|minute)|\d+ ?(?:min|mins|minutes)|"
    r"\d+ ?(?:percent|%))(?!\w)|^\s*\(\(",
    re.IGNORECASE,
)
"""Words of the players' own world: logistics, devices, chat slang, ((double brackets))."""


def is_aside(text: str) -> bool:
    """Whether ``text`` is out-of-character chat: slang ("brb", "lol"), the players' own
    logistics ("same time next week?", "my laptop is at 3 percent") or ``((...))``."""
    return bool(_ASIDE.search(text))


def _find(text: str, entries: tuple[tuple[str, tuple[str, ...]], ...]) -> list[NameMatch]:
    """Occurrences of the names in ``entries`` (owner id and its names), in text order."""
    if not entries or not text:
        return []
    text = text.translate(_APOSTROPHES)
    pattern, owners = _cast_pattern(entries)
    if not owners:
        return []
    runs: list[list[re.Match[str]]] = []
    for match in pattern.finditer(text):
        if runs and _joins(text[runs[-1][-1].end() : match.start()]):
            runs[-1].append(match)
        else:
            runs.append([match])
    found: list[NameMatch] = []
    for run in runs:
        vocative = _spoken_to(text, run[0].start(), run[-1].end())
        for match in run:
            direct = vocative or text[match.start()] == "@"
            index = (match.lastindex or 1) - 1
            found.extend(NameMatch(cid, match.start(), direct) for cid in owners[index])
    return found
