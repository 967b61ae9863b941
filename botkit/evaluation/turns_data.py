"""The turn-taking eval's input: multi-party conversations, one JSON object a line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botkit.characters.model import Character
from botkit.evaluation.memory_data import DatasetError

__all__ = ["TurnsConversation", "TurnsTurn", "load_turns", "make_character"]

_ID = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class TurnsTurn:
    """One line of a conversation; ``speaker`` None marks a silence (no character spoke).

    ``reply_to`` is the index of an earlier turn of the same conversation that this turn
    answers, where the data says so.
    """

    speaker: str | None
    text: str = ""
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class TurnsConversation:
    """A conversation to replay: its characters and its turns, in order."""

    id: str
    characters: tuple[Character, ...]
    turns: tuple[TurnsTurn, ...]

    def character_named(self, name: str) -> Character | None:
        """The character whose name is ``name``; None for a human."""
        return next((c for c in self.characters if c.name == name), None)


def _string(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}.{key}: expected a non-empty string")
    return value.strip()


def _character(data: object, where: str, taken: set[str]) -> Character:
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected an object with name and persona")
    name = _string(data, "name", where)
    persona = _string(data, "persona", where)
    talkativeness = data.get("talkativeness", 0.5)
    if not isinstance(talkativeness, int | float) or not 0 <= talkativeness <= 1:
        raise DatasetError(f"{where}.talkativeness: expected a number from 0 to 1")
    return make_character(name, persona, taken, float(talkativeness))


def make_character(
    name: str, persona: str, taken: set[str], talkativeness: float = 0.5
) -> Character:
    """A conversation's character, with an id made from its name that is not yet in ``taken``.

    The id is added to ``taken``, so that one set gives a conversation's cast distinct ids.
    """
    base = _ID.sub("-", name.casefold()).strip("-") or "character"
    character_id, n = base, 1
    while character_id in taken:
        n += 1
        character_id = f"{base}-{n}"
    taken.add(character_id)
    return Character(id=character_id, name=name, persona=(persona,), talkativeness=talkativeness)


def _turn(data: object, where: str, earlier: list[TurnsTurn]) -> TurnsTurn:
    if not isinstance(data, dict) or "speaker" not in data:
        raise DatasetError(f"{where}: expected an object with speaker and text")
    reply_to = data.get("reply_to")
    if data["speaker"] is None:
        if reply_to is not None:
            raise DatasetError(f"{where}.reply_to: a silence answers no turn")
        return TurnsTurn(None)
    if reply_to is not None and (
        not isinstance(reply_to, int)
        or isinstance(reply_to, bool)
        or not 0 <= reply_to < len(earlier)
        or earlier[reply_to].speaker is None
    ):
        raise DatasetError(
            f"{where}.reply_to: expected the index of an earlier turn that is not a silence"
        )
    return TurnsTurn(_string(data, "speaker", where), _string(data, "text", where), reply_to)


def load_turns(path: Path) -> list[TurnsConversation]:
    """Read ``{"id", "characters": [{"name", "persona"}], "turns": [{"speaker", "text"}]}`` lines.

    A speaker that is not among the characters is a human; ``{"speaker": null}`` marks a
    silence, where no character should have spoken. Characters may carry a
    ``talkativeness`` (0..1, default 0.5); a turn may carry ``reply_to``, the index of the
    earlier turn it answers. Raises DatasetError naming the line and field.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text: {error.reason}") from error
    found: list[TurnsConversation] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{where}: not valid JSON: {error.msg}") from error
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected an object per line")
        raw_characters = data.get("characters")
        if not isinstance(raw_characters, list) or not raw_characters:
            raise DatasetError(f"{where}: characters: expected a non-empty list")
        taken: set[str] = set()
        characters = tuple(
            _character(c, f"{where}: characters[{i}]", taken) for i, c in enumerate(raw_characters)
        )
        if len({c.name for c in characters}) != len(characters):
            raise DatasetError(f"{where}: characters: names must be unique")
        raw_turns = data.get("turns")
        if not isinstance(raw_turns, list) or not raw_turns:
            raise DatasetError(f"{where}: turns: expected a non-empty list")
        turns: list[TurnsTurn] = []
        for i, raw_turn in enumerate(raw_turns):
            turns.append(_turn(raw_turn, f"{where}: turns[{i}]", turns))
        found.append(TurnsConversation(_string(data, "id", where), characters, tuple(turns)))
    if not found:
        raise DatasetError(f"{path}: no conversations")
    return found
