"""Molweni (HIT-SCIR/Molweni): Ubuntu help-chat dialogues with their reply-to relations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botkit.evaluation.corpora.common import UNKNOWN, cast, clean_text, merge_lines, multi_party
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation, TurnsTurn

__all__ = ["PERSONA", "read_molweni"]

PERSONA = "A participant in the Ubuntu help chat."
"""The persona of every Molweni speaker: the corpus says nothing else about them."""


def _lines(edus: list[Any], where: str) -> tuple[list[tuple[str, str]], dict[int, int]]:
    """The (speaker, text) lines of the non-empty edus, and each such edu's line."""
    lines: list[tuple[str, str]] = []
    line_of: dict[int, int] = {}
    for i, edu in enumerate(edus):
        if not isinstance(edu, dict):
            raise DatasetError(f"{where}.edus[{i}]: expected an object with text and speaker")
        for key in ("text", "speaker"):
            if not isinstance(edu.get(key), str):
                raise DatasetError(f"{where}.edus[{i}].{key}: expected a string")
        text = clean_text(edu["text"])
        if text:
            line_of[i] = len(lines)
            lines.append((edu["speaker"].strip() or UNKNOWN, text))
    return lines, line_of


def _index(relation: object, key: str, size: int, where: str) -> int:
    value = relation.get(key) if isinstance(relation, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise DatasetError(f"{where}.{key}: expected an index into edus")
    return value


def _answers(
    relations: list[Any], size: int, turn_of: dict[int, int], where: str
) -> dict[int, int]:
    """For each turn that answers an earlier one, the nearest earlier turn it answers.

    Relations with x >= y, and those inside one merged turn, point to no earlier turn.
    """
    answers: dict[int, int] = {}
    for k, relation in enumerate(relations):
        x = _index(relation, "x", size, f"{where}.relations[{k}]")
        y = _index(relation, "y", size, f"{where}.relations[{k}]")
        if x in turn_of and y in turn_of and turn_of[x] < turn_of[y]:
            answers[turn_of[y]] = max(answers.get(turn_of[y], turn_of[x]), turn_of[x])
    return answers


def _dialogue(data: object, where: str) -> TurnsConversation | None:
    """One dialogue of the file, or None when it is not multi-party."""
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected an object with edus, id and relations")
    identifier, edus, relations = data.get("id"), data.get("edus"), data.get("relations")
    if not isinstance(identifier, str | int) or isinstance(identifier, bool):
        raise DatasetError(f"{where}.id: expected a string or a number")
    if not isinstance(edus, list):
        raise DatasetError(f"{where}.edus: expected a list")
    if not isinstance(relations, list):
        raise DatasetError(f"{where}.relations: expected a list")
    lines, line_of = _lines(edus, where)
    merged, turn_of_line = merge_lines(lines)
    turn_of = {edu: turn_of_line[line] for edu, line in line_of.items()}
    answers = _answers(relations, len(edus), turn_of, where)
    turns = [TurnsTurn(t.speaker, t.text, answers.get(i)) for i, t in enumerate(merged)]
    names = dict.fromkeys(speaker for speaker, _ in lines if speaker != UNKNOWN)
    return multi_party(f"molweni-{identifier}", cast(dict.fromkeys(names, PERSONA)), turns)


def read_molweni(path: Path) -> list[TurnsConversation]:
    """The multi-party dialogues of a Molweni discourse-parsing file such as ``DP/dev.json``.

    Every named speaker of a dialogue is one of its cast characters; a line with no
    speaker is said by a person called "Unknown". A relation (x, y) makes the turn holding
    y answer the turn holding x; of several, the nearest earlier turn wins, and one inside a
    merged turn disappears. Ids are ``molweni-<id>``. Raises DatasetError naming the file,
    the dialogue's place in the list and the field.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text: {error.reason}") from error
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: line {error.lineno}: not valid JSON: {error.msg}") from error
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a list of dialogues")
    found = (_dialogue(d, f"{path}: [{i}]") for i, d in enumerate(data))
    return [conversation for conversation in found if conversation is not None]
