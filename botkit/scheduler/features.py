"""What the conversation's structure says about each free character as the next speaker.

The features describe a candidate's place in the exchange so far — who was just spoken
to, who spoke two turns ago (the A-B-A pattern), whose question is pending, who has been
in the exchange at all — plus how much the last turn concerns it. The who-ranker weighs
them with weights fitted on public multi-party conversations (see ``ranker.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from botkit.characters.model import Character
from botkit.scheduler.base import TurnContext
from botkit.scheduler.text import content_words, find_names, is_question
from botkit.transcript import Turn

__all__ = ["FEATURES", "WINDOW", "structure_features"]

WINDOW = 20
"""How many recent turns the features look at."""

FEATURES = (
    "spoke_before_last",
    "spoke_third_last",
    "spoke_fourth_last",
    "recency_rank_2",
    "recency_rank_3",
    "never_spoke",
    "recent_share",
    "turns_spoken_log",
    "turns_since_spoke_log",
    "addressed_in_last",
    "named_in_last",
    "named_in_earlier",
    "question_to_before_last",
    "you_to_before_last",
    "replied_to_in_last",
    "last_speaker_named_it",
    "partner_of_last_speaker",
    "about_it",
    "person_spoke_last_and_before_last",
    "opened_conversation",
    "one_of_the_silent",
    "silent_after_question",
    "silent_early",
    "short_reply_to_before_last",
)
"""The feature names, in the order of :func:`structure_features`' columns."""

_YOU = frozenset({"you", "your", "you're", "yours", "yourself", "you've", "you'll", "you'd"})


def structure_features(
    context: TurnContext,
    candidates: Sequence[Character],
    profiles: Sequence[frozenset[str]],
) -> npt.NDArray[np.float64]:
    """One row of :data:`FEATURES` per candidate, for the turn after ``context.trigger``.

    ``profiles`` are the candidates' persona words (content-word stems), parallel to
    ``candidates``; ``about_it`` is how much the trigger shares words with a candidate's
    persona and its own last three lines.
    """
    turns = list(context.transcript[-WINDOW:]) or [context.trigger]
    trigger = turns[-1]
    speakers = [t.speaker_id for t in turns]
    ids = [c.id for c in candidates]
    rows = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
    if not candidates:
        return rows
    order = _recency_order(speakers)
    counts = {cid: speakers.count(cid) for cid in ids}
    recent = speakers[-10:]
    last_seen = {cid: _turns_since(speakers, cid) for cid in ids}
    in_trigger = find_names(trigger.text, context.cast)
    named = {m.character_id for m in in_trigger}
    vocative = {m.character_id for m in in_trigger if m.vocative}
    earlier = {m.character_id for t in turns[-3:-1] for m in find_names(t.text, context.cast)}
    question = is_question(trigger.text)
    you = bool(_YOU & set(_plain_words(trigger.text)))
    before_last = speakers[-2] if len(speakers) >= 2 else None
    trigger_words = content_words(trigger.text)
    partner = _partner(speakers)
    named_by_it = _named_trigger_speaker(turns, ids)
    people_only = len(turns) >= 2 and not turns[-1].is_character and not turns[-2].is_character
    silent = sum(1 for cid in ids if last_seen[cid] is None)
    short = len(trigger.text.split()) <= 3
    for row, (character, profile) in enumerate(zip(candidates, profiles, strict=True)):
        cid = character.id
        seen = last_seen[cid]
        rank = order.index(cid) + 1 if cid in order else 0
        values = (
            before_last == cid,
            len(speakers) >= 3 and speakers[-3] == cid,
            len(speakers) >= 4 and speakers[-4] == cid,
            rank == 2,
            rank == 3,
            seen is None,
            recent.count(cid) / len(recent),
            math.log1p(counts[cid]),
            math.log1p(seen) if seen is not None else math.log1p(len(speakers)),
            cid in vocative,
            cid in named,
            cid in earlier,
            question and before_last == cid,
            you and before_last == cid,
            context.reply_to_character == cid,
            named_by_it.get(cid, False),
            partner == cid,
            _overlap(trigger_words, profile | _own_words(turns[:-1], cid)),
            people_only and before_last != cid and seen is not None,
            bool(speakers) and speakers[0] == cid,
            seen is None and 1 / silent,
            seen is None and question,
            seen is None and 1 / len(speakers),
            short and before_last == cid,
        )
        rows[row] = values
    return rows


def _recency_order(speakers: Sequence[str]) -> list[str]:
    """Distinct earlier speakers, most recent first, the trigger's own speaker left out."""
    order: list[str] = []
    last = speakers[-1] if speakers else None
    for speaker in reversed(speakers[:-1]):
        if speaker != last and speaker not in order:
            order.append(speaker)
    return order


def _turns_since(speakers: Sequence[str], speaker: str) -> int | None:
    """How many turns ago ``speaker`` last spoke (1 = the trigger), or None if it has not."""
    for back, who in enumerate(reversed(speakers), start=1):
        if who == speaker:
            return back
    return None


def _partner(speakers: Sequence[str]) -> str | None:
    """Whom the trigger's speaker last exchanged turns with before the trigger."""
    last = speakers[-1] if speakers else None
    for index in range(len(speakers) - 2, -1, -1):
        if speakers[index] != last:
            continue
        for near in (index - 1, index + 1):
            if 0 <= near < len(speakers) - 1 and speakers[near] != last:
                return speakers[near]
    return None


def _named_trigger_speaker(turns: Sequence[Turn], ids: Sequence[str]) -> dict[str, bool]:
    """For each candidate, whether its last turn named the trigger's speaker."""
    name = " ".join(turns[-1].speaker_name.split()).lstrip("@")
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE) if name else None
    found: dict[str, bool] = {}
    for turn in reversed(turns[:-1]):
        if turn.speaker_id in ids and turn.speaker_id not in found:
            found[turn.speaker_id] = bool(pattern and pattern.search(turn.text))
    return found


def _own_words(turns: Sequence[Turn], speaker: str) -> frozenset[str]:
    """The content words of ``speaker``'s last three turns."""
    words: set[str] = set()
    taken = 0
    for turn in reversed(turns):
        if turn.speaker_id == speaker:
            words |= content_words(turn.text)
            taken += 1
            if taken == 3:
                break
    return frozenset(words)


def _overlap(words: frozenset[str], other: frozenset[str]) -> float:
    """How much of ``words`` appears in ``other`` (0..1, damped for long turns)."""
    if not words or not other:
        return 0.0
    return min(1.0, len(words & other) / math.sqrt(len(words)))


def _plain_words(text: str) -> list[str]:
    return [w.strip(".,!?;:\"'()").replace("’", "'") for w in text.casefold().split()]
