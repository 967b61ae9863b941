"""What the corpus readers share: the Friends cast, text cleaning, merging, filtering, CSV."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from botkit.characters.model import Character
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation, TurnsTurn, make_character

__all__ = [
    "FRIENDS",
    "MIN_SPEAKERS",
    "UNKNOWN",
    "cast",
    "clean_text",
    "csv_rows",
    "friends_conversations",
    "integer",
    "merge_lines",
    "multi_party",
    "split_label",
]

UNKNOWN = "Unknown"
"""The person who speaks a line whose speaker the corpus does not name."""

MIN_SPEAKERS = 3
"""Fewer distinct speakers (people included) make a dyad, not a multi-party conversation."""

_PERSONAS = {
    "Ross": "Ross Geller, a palaeontologist, earnest and prone to over-explaining.",
    "Rachel": "Rachel Green, a waitress turned fashion buyer, warm, stylish and quick to tease.",
    "Monica": "Monica Geller, a chef, competitive, tidy to a fault and a keen host.",
    "Chandler": "Chandler Bing, an office worker who deflects everything with sarcastic jokes.",
    "Joey": "Joey Tribbiani, a struggling actor, good-natured, food-loving and a little slow.",
    "Phoebe": "Phoebe Buffay, a masseuse and street singer, eccentric, kind and blunt.",
}


def cast(personas: Mapping[str, str]) -> tuple[Character, ...]:
    """Characters with distinct ids, one for each name and persona, in order."""
    taken: set[str] = set()
    return tuple(make_character(name, persona, taken) for name, persona in personas.items())


FRIENDS = cast(_PERSONAS)
"""The six friends: a MELD or EmoryNLP conversation's cast is those of them who speak in it."""

_QUOTES = str.maketrans({"\x91": "'", "\x92": "'", "\x93": '"', "\x94": '"'})
_SPLIT = re.compile(r"[^a-z0-9]+")
_SPLITS = ("train", "dev", "test")


def clean_text(text: str) -> str:
    """``text`` stripped, with Windows-1252 quotes mis-decoded as C1 controls made plain."""
    return text.translate(_QUOTES).strip()


def merge_lines(lines: Sequence[tuple[str, str]]) -> tuple[list[TurnsTurn], list[int]]:
    """Turns from (speaker, text) lines, consecutive lines of one speaker joined by a space.

    Also returns, for each line, the index of the turn it went into.
    """
    speakers: list[str] = []
    texts: list[list[str]] = []
    turn_of: list[int] = []
    for speaker, text in lines:
        if not speakers or speakers[-1] != speaker:
            speakers.append(speaker)
            texts.append([])
        texts[-1].append(text)
        turn_of.append(len(speakers) - 1)
    turns = [TurnsTurn(s, " ".join(t)) for s, t in zip(speakers, texts, strict=True)]
    return turns, turn_of


def multi_party(
    conversation_id: str, characters: tuple[Character, ...], turns: Sequence[TurnsTurn]
) -> TurnsConversation | None:
    """The conversation, or None when it has fewer than :data:`MIN_SPEAKERS` speakers.

    Merged turns alternate speakers, so three speakers also mean at least three turns.
    """
    if len({t.speaker for t in turns}) < MIN_SPEAKERS:
        return None
    return TurnsConversation(conversation_id, characters, tuple(turns))


def friends_conversations(
    groups: Iterable[tuple[str, Sequence[tuple[int, str, str]]]],
) -> list[TurnsConversation]:
    """The multi-party conversations among (id, lines) groups.

    Each group's (number, speaker, text) lines are put in number order and merged. The
    cast is the friends who speak in the conversation, as a channel's cast is the
    characters present; everyone else is a person.
    """
    found = []
    for conversation_id, lines in groups:
        ordered = sorted(lines, key=lambda line: line[0])
        turns, _ = merge_lines([(speaker, text) for _, speaker, text in ordered])
        present = {t.speaker for t in turns}
        cast = tuple(c for c in FRIENDS if c.name in present)
        conversation = multi_party(conversation_id, cast, turns)
        if conversation is not None:
            found.append(conversation)
    return found


def split_label(path: Path) -> str:
    """The split a corpus file holds, from its name ("train_sent_emo.csv" is "train")."""
    words = _SPLIT.split(path.stem.casefold())
    return next((w for w in words if w in _SPLITS), "-".join(w for w in words if w) or "data")


def csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a CSV file with a header, as (where, row); ``where`` names file and line.

    Raises DatasetError when the file is unreadable, lacks one of ``columns`` or a row
    has no value for one.
    """
    try:
        file = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from error
    with file:
        reader = csv.DictReader(file)
        try:
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetError(f"{path}: {missing[0]}: missing column")
            for row in reader:
                where = f"{path}:{reader.line_num}"
                absent = next((c for c in columns if row.get(c) is None), None)
                if absent is not None:
                    raise DatasetError(f"{where}: {absent}: missing value")
                yield where, row
        except UnicodeDecodeError as error:
            raise DatasetError(f"{path}: not UTF-8 text: {error.reason}") from error
        except csv.Error as error:
            raise DatasetError(f"{path}:{reader.line_num}: not valid CSV: {error}") from error


def integer(row: dict[str, str], column: str, where: str) -> int:
    """The whole number in ``column`` of a CSV row; DatasetError naming it otherwise."""
    try:
        return int(row[column])
    except ValueError:
        raise DatasetError(
            f"{where}: {column}: expected a whole number, got {row[column]!r}"
        ) from None
