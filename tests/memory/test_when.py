"""Time expressions in queries, and the memories said within them coming first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from botkit.memory.ranking import RankingWeights, rank
from botkit.memory.records import Memory
from botkit.memory.when import TimeWindow, time_window
from tests.store.helpers import ROOM

NOW = datetime(2023, 11, 15, 18, 30, tzinfo=UTC)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "window"),
    [
        ("What painting did Melanie show on October 13, 2023?", TimeWindow(2023, 10, 13)),
        ("What did Gina find on 1 February, 2023?", TimeWindow(2023, 2, 1)),
        ("Who did Maria meet on the 3rd of May?", TimeWindow(None, 5, 3)),
        ("What did Mel paint in July 2023?", TimeWindow(2023, 7)),
        ("When did Melanie go camping in June?", TimeWindow(None, 6)),
        ("What happened in may?", TimeWindow(None, 5)),
        ("How many times has she gone to the beach in 2023?", TimeWindow(2023)),
        ("What did they see last year?", TimeWindow(2022)),
        ("Anything new this year?", TimeWindow(2023)),
    ],
)
def test_time_expressions_become_windows(question: str, window: TimeWindow) -> None:
    assert time_window(question, NOW) == window


@pytest.mark.parametrize(
    "text",
    ["May I sit here?", "You may go now.", "Where did you leave the lantern?", "The 2 of us"],
)
def test_text_without_a_time_names_none(text: str) -> None:
    assert time_window(text, NOW) is None


def test_relative_windows_count_from_now() -> None:
    yesterday = time_window("What did you eat yesterday?", NOW)
    assert yesterday is not None
    assert yesterday.contains(at(2023, 11, 14)) and not yesterday.contains(at(2023, 11, 15))
    last_week = time_window("Did we talk last week?", NOW)  # NOW is a Wednesday
    assert last_week is not None
    assert last_week.contains(at(2023, 11, 6)) and last_week.contains(at(2023, 11, 12))
    assert not last_week.contains(at(2023, 11, 13)) and not last_week.contains(at(2023, 11, 5))
    last_month = time_window("What about last month?", NOW)
    assert last_month is not None
    assert last_month.contains(at(2023, 10, 31)) and not last_month.contains(at(2023, 11, 1))


def test_a_day_matches_the_days_after_it_and_any_year_when_none_is_given() -> None:
    day = TimeWindow(None, 10, 13)
    assert day.contains(at(2023, 10, 13)) and day.contains(at(2023, 10, 16))
    assert day.contains(at(2021, 10, 11)) and not day.contains(at(2023, 10, 17))
    assert not TimeWindow(2022, 10, 13).contains(at(2023, 10, 13))
    assert TimeWindow(None, 1, 1).contains(at(2024, 1, 2))
    assert TimeWindow(None, 12, 31).contains(at(2024, 1, 2))
    assert not TimeWindow(2023, 2, 30).contains(at(2023, 3, 1))


def test_a_memory_said_within_the_named_time_comes_first() -> None:
    def memory(memory_id: int, when: datetime) -> Memory:
        return Memory(
            id=memory_id,
            kind="turn",
            channel=ROOM,
            speaker_id="u-ann",
            speaker_name="Ann",
            text="We went camping.",
            time=when,
            importance=0.0,
            witnesses=frozenset({"mira"}),
        )

    memories = [memory(1, at(2023, 6, 20)), memory(2, at(2023, 7, 10)), memory(3, at(2023, 6, 2))]
    relevance = {1: 0.5, 2: 0.45, 3: 0.9}
    weights = RankingWeights(recency=0.0, importance=0.0)
    plain = rank(memories, relevance, now=NOW, weights=weights)
    assert [r.memory.id for r in plain] == [3, 1, 2]
    window = time_window("When did Ann go camping in July?", NOW)
    assert window is not None
    timely = [m.id for m in memories if window.contains(m.time)]
    ranked = rank(memories, relevance, now=NOW, weights=weights, timely=timely)
    assert [r.memory.id for r in ranked] == [3, 2, 1]
