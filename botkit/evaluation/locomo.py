"""Reads LoCoMo as released (``locomo10.json``) into the memory eval's conversations.

LoCoMo (Maharana et al., 2024, *Evaluating Very Long-Term Conversational Memory of LLM
Agents*) is a JSON list of samples, each a two-person conversation held over many sessions
and questions about it::

    {"sample_id": "conv-26",
     "conversation": {"speaker_a": "Caroline", "speaker_b": "Melanie",
                      "session_1_date_time": "1:56 pm on 8 May, 2023",
                      "session_1": [{"speaker", "dia_id": "D1:3", "text", "blip_caption"?}]},
     "qa": [{"question", "answer", "evidence": ["D1:3"], "category": 1..5}],
     "observation": {"session_1_observation": {"Caroline": [["fact", "D1:3"]]}},
     "session_summary": {"session_1_summary": "..."}, "event_summary": {...}}

How it is read:

- Sessions are taken in number order. A session's first turn is at its
  ``session_N_date_time``, each next turn a minute later, so the order is kept. A date with
  no session beside it (the file lists some) is ignored.
- A turn is indexed by its text alone. The caption of an image shared with it
  (``blip_caption``) is kept on the turn but not indexed, as a chat platform stores the
  words of a message and not a description of its attachment.
- An evidence entry that joins several ids ("D8:6; D9:17", "D9:1 D4:4") counts as each of
  them. Ids that match no turn are left out and counted; a question whose evidence is
  empty, or matches no turn at all, is skipped and counted.
- Category 5 questions have no answer in the conversation (adversarial); they are skipped
  and counted, so they are in no figure. Categories 1–4 are scored apart as well.
- The dataset's own session summaries, observations and event summaries are not read:
  botkit is measured on the conversation alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botkit.evaluation.memory_data import (
    DatasetError,
    EvalConversation,
    EvalDataset,
    EvalQuestion,
    EvalTurn,
    Skipped,
    read_json,
)

__all__ = [
    "LOCOMO_CATEGORIES",
    "UNANSWERABLE",
    "parse_session_time",
    "read_locomo",
    "split_evidence",
]

LOCOMO_CATEGORIES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
"""What LoCoMo's question categories ask for, by the number the file gives them."""

UNANSWERABLE = 5
"""The category whose questions have no answer in the conversation."""

_SESSION = re.compile(r"session_(\d+)")
_SESSION_TIME = re.compile(
    r"(\d{1,2}):(\d{2})\s*([ap])\.?\s*m\.?\s+on\s+(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})",
    re.IGNORECASE,
)
_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for name in (full, full[:3])
}
_EVIDENCE_SEPARATORS = re.compile(r"[;,\s]+")


def parse_session_time(text: str) -> datetime:
    """The UTC time of a ``session_N_date_time`` such as "1:56 pm on 8 May, 2023".

    Accepts "am"/"pm" with or without dots and in any case, one- or two-digit days and
    hours, and full or three-letter month names. Raises ValueError otherwise.
    """
    match = _SESSION_TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a time such as '1:56 pm on 8 May, 2023', got {text!r}")
    hour, minute, half, day, month_name, year = match.groups()
    month = _MONTHS.get(month_name.casefold())
    if month is None or not 1 <= int(hour) <= 12:
        raise ValueError(f"not a time of day and date: {text!r}")
    hour_of_day = int(hour) % 12 + (12 if half.casefold() == "p" else 0)
    try:
        return datetime(int(year), month, int(day), hour_of_day, int(minute), tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"not a time of day and date: {text!r} ({error})") from None


def split_evidence(entries: Iterable[str]) -> tuple[str, ...]:
    """The turn ids ``entries`` name, in order and once each; joined ids are split apart."""
    ids = (part for entry in entries for part in _EVIDENCE_SEPARATORS.split(entry))
    return tuple(dict.fromkeys(part for part in ids if part))


def read_locomo(path: Path) -> EvalDataset:
    """The samples of a LoCoMo file as conversations, with what was skipped counted.

    Raises:
        DatasetError: the file is unreadable or malformed; one line naming the sample and
            field.
    """
    raw = read_json(path)
    if not isinstance(raw, list) or not raw:
        raise DatasetError(f"{path}: expected a non-empty list of samples, as locomo10.json")
    conversations = []
    unanswerable = without_evidence = unknown_only = 0
    unknown_ids: list[str] = []
    for index, sample in enumerate(raw):
        if not isinstance(sample, dict):
            raise DatasetError(f"{path}: sample {index}: expected an object")
        sample_id = sample.get("sample_id")
        if not isinstance(sample_id, str) or not sample_id.strip():
            raise DatasetError(f"{path}: sample {index}: sample_id: expected a non-empty string")
        where = f"{path}: sample {index} ({sample_id})"
        conversation = sample.get("conversation")
        if not isinstance(conversation, dict):
            raise DatasetError(f"{where}: conversation: missing, or not an object")
        turns = _turns(conversation, where)
        known = {turn.id for turn in turns}
        qa = sample.get("qa")
        if not isinstance(qa, list):
            raise DatasetError(f"{where}: qa: missing, or not a list")
        questions = []
        for q, item in enumerate(qa):
            at = f"{where}: qa[{q}]"
            if not isinstance(item, dict):
                raise DatasetError(f"{at}: expected an object")
            question = _string(item, "question", at)
            category = item.get("category")
            if (
                not isinstance(category, int)
                or isinstance(category, bool)
                or category not in LOCOMO_CATEGORIES
            ):
                raise DatasetError(f"{at}.category: expected 1 to 5, got {category!r}")
            evidence = item.get("evidence")
            if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
                raise DatasetError(f"{at}.evidence: expected a list of turn ids")
            if category == UNANSWERABLE:
                unanswerable += 1
                continue
            ids = split_evidence(evidence)
            unknown_ids += [f"{sample_id} {i}" for i in ids if i not in known]
            found = tuple(i for i in ids if i in known)
            if not ids:
                without_evidence += 1
            elif not found:
                unknown_only += 1
            else:
                questions.append(EvalQuestion(question, found, category))
        conversations.append(EvalConversation(sample_id, turns, tuple(questions)))
    skipped = Skipped(unanswerable, without_evidence, unknown_only, tuple(unknown_ids))
    return EvalDataset(tuple(conversations), skipped, LOCOMO_CATEGORIES)


def _string(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}.{key}: expected a non-empty string")
    return value


def _turns(conversation: dict[str, Any], where: str) -> tuple[EvalTurn, ...]:
    """The turns of every session, in session number order."""
    numbers = sorted(
        int(match.group(1)) for key in conversation if (match := _SESSION.fullmatch(key))
    )
    turns: list[EvalTurn] = []
    seen: set[str] = set()
    for number in numbers:
        key = f"session_{number}"
        lines = conversation[key]
        if not isinstance(lines, list):
            raise DatasetError(f"{where}: conversation.{key}: expected a list of turns")
        if not lines:
            continue
        stamp = conversation.get(f"{key}_date_time")
        if not isinstance(stamp, str):
            raise DatasetError(f"{where}: conversation.{key}_date_time: missing")
        try:
            start = parse_session_time(stamp)
        except ValueError as error:
            raise DatasetError(f"{where}: conversation.{key}_date_time: {error}") from None
        for t, line in enumerate(lines):
            at = f"{where}: conversation.{key}[{t}]"
            if not isinstance(line, dict):
                raise DatasetError(f"{at}: expected an object")
            turn_id = _string(line, "dia_id", at)
            if turn_id in seen:
                raise DatasetError(f"{at}.dia_id: {turn_id!r} is used twice")
            seen.add(turn_id)
            caption = line.get("blip_caption")
            turns.append(
                EvalTurn(
                    turn_id,
                    _string(line, "speaker", at),
                    _string(line, "text", at),
                    start + timedelta(minutes=t),
                    caption if isinstance(caption, str) else "",
                )
            )
    if not turns:
        raise DatasetError(f"{where}: conversation: no session holds a turn")
    return tuple(turns)
