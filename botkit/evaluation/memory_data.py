"""The memory eval's input: conversations of turns, and questions with their evidence turns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "DatasetError",
    "EvalConversation",
    "EvalDataset",
    "EvalQuestion",
    "EvalTurn",
    "Skipped",
    "load_dataset",
    "read_json",
]

_FIRST_TIME = datetime(2026, 1, 1, tzinfo=UTC)


class DatasetError(Exception):
    """The dataset file is unreadable or malformed; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class EvalTurn:
    """One line of a conversation."""

    id: str
    speaker: str
    text: str
    time: datetime
    caption: str = ""
    """A caption of the image the speaker shared with the line, if any; never indexed."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """A question and the ids of the turns that answer it."""

    question: str
    evidence: tuple[str, ...]
    category: int | None = None
    """The dataset's kind of question (a LoCoMo category), scored apart; None if unsorted."""


@dataclass(frozen=True, slots=True)
class EvalConversation:
    """A conversation to index and the questions to ask about it."""

    id: str
    turns: tuple[EvalTurn, ...]
    questions: tuple[EvalQuestion, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """What a reader left out of the eval, and why."""

    unanswerable: int = 0
    """Questions the dataset marks as having no answer in the conversation."""
    without_evidence: int = 0
    """Questions that list no evidence at all."""
    unknown_evidence_only: int = 0
    """Questions every one of whose evidence ids matches no turn."""
    unknown_ids: tuple[str, ...] = ()
    """Evidence ids that match no turn, each as ``conversation-id turn-id``."""

    @property
    def any(self) -> bool:
        """Whether anything was left out."""
        return any(
            (self.unanswerable, self.without_evidence, self.unknown_evidence_only, self.unknown_ids)
        )


@dataclass(frozen=True, slots=True)
class EvalDataset:
    """The conversations of a dataset file, what was left out, and its category names."""

    conversations: tuple[EvalConversation, ...]
    skipped: Skipped = field(default_factory=Skipped)
    categories: Mapping[int, str] = field(default_factory=dict)
    """Names of the question categories, by number."""


def _text(data: Any, key: str, where: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}.{key}: expected a non-empty string")
    return value


def _time(data: dict[str, Any], where: str, index: int) -> datetime:
    raw = data.get("time")
    if raw is None:
        return _FIRST_TIME + timedelta(minutes=index)
    try:
        time = datetime.fromisoformat(str(raw))
    except ValueError as error:
        raise DatasetError(f"{where}.time: not an ISO 8601 time: {raw!r}") from error
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def read_json(path: Path) -> Any:
    """The JSON document in the file at ``path``; DatasetError naming the file otherwise."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text: {error.reason}") from error
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: line {error.lineno}: not valid JSON: {error.msg}") from error


def load_dataset(path: Path) -> EvalDataset:
    """Read botkit's format, ``{"conversations": [{"id", "turns": [...], "questions": [...]}]}``.

    Turns without a ``time`` are given one a minute apart. Every evidence id must name a
    turn of its conversation. Raises DatasetError.
    """
    raw = read_json(path)
    conversations = raw.get("conversations") if isinstance(raw, dict) else None
    if not isinstance(conversations, list) or not conversations:
        raise DatasetError(f"{path}: conversations: expected a non-empty list")
    found = []
    for c, data in enumerate(conversations):
        where = f"{path}: conversations[{c}]"
        conversation_id = _text(data, "id", where)
        turns_data = data.get("turns")
        if not isinstance(turns_data, list) or not turns_data:
            raise DatasetError(f"{where}.turns: expected a non-empty list")
        turns = []
        for t, turn in enumerate(turns_data):
            at = f"{where}.turns[{t}]"
            turns.append(
                EvalTurn(
                    _text(turn, "id", at),
                    _text(turn, "speaker", at),
                    _text(turn, "text", at),
                    _time(turn, at, t),
                )
            )
        ids = {turn.id for turn in turns}
        if len(ids) != len(turns):
            raise DatasetError(f"{where}.turns: turn ids must be unique")
        questions = []
        for q, question in enumerate(data.get("questions") or []):
            at = f"{where}.questions[{q}]"
            evidence = question.get("evidence") if isinstance(question, dict) else None
            if (
                not isinstance(evidence, list)
                or not evidence
                or not all(isinstance(e, str) for e in evidence)
            ):
                raise DatasetError(f"{at}.evidence: expected a non-empty list of turn ids")
            unknown = [e for e in evidence if e not in ids]
            if unknown:
                raise DatasetError(f"{at}.evidence: no turn with id {unknown[0]!r}")
            questions.append(EvalQuestion(_text(question, "question", at), tuple(evidence)))
        found.append(EvalConversation(conversation_id, tuple(turns), tuple(questions)))
    return EvalDataset(tuple(found))
