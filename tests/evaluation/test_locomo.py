"""LoCoMo as released: the reader's handling of its quirks, its errors, and ``--json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from botkit.backends.base import ChatRequest
from botkit.cli import main
from botkit.config import parse_config
from botkit.evaluation.locomo import parse_session_time, read_locomo, split_evidence
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.memory_eval import PAPER_COUNT, WITH_OBSERVATIONS, evaluate_memory
from botkit.testing import InstantBackend

SMALL = Path(__file__).resolve().parent / "data" / "locomo_small.json"
RANKINGS = [
    "configured (hybrid)",
    "without neighbours",
    "without named speakers",
    "without time matching",
    "lexical only",
    "dense only",
    "lexical baseline (BM25)",
]


def at(text: str) -> datetime:
    """A UTC time from "YYYY-MM-DD HH:MM"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_turns_take_their_session_time_a_minute_apart_in_session_order() -> None:
    first, second = read_locomo(SMALL).conversations
    assert [t.id for t in first.turns] == ["D1:1", "D1:2", "D1:3", "D1:4", "D2:1", "D2:2", "D2:3"]
    assert [t.time for t in first.turns] == [
        at("2023-05-08 13:56"),
        at("2023-05-08 13:57"),
        at("2023-05-08 13:58"),
        at("2023-05-08 13:59"),
        at("2023-06-03 09:05"),
        at("2023-06-03 09:06"),
        at("2023-06-03 09:07"),
    ]
    assert second.turns[-1].time == at("2024-01-01 19:32")
    assert [(t.speaker, t.text) for t in second.turns[:2]] == [
        ("Cal", "Dee, it has been ages!"),
        ("Dee", "I adopted a pet from the shelter."),
    ]


def test_an_image_caption_is_kept_beside_the_text_not_in_it() -> None:
    turn = read_locomo(SMALL).conversations[0].turns[2]
    assert turn.text == "My cousin bought a turquoise kayak last weekend, look."
    assert turn.caption == "a photo of a boat on a lake"
    assert all(t.caption == "" for t in read_locomo(SMALL).conversations[1].turns)


def test_evidence_is_split_unknown_ids_dropped_and_skips_counted() -> None:
    dataset = read_locomo(SMALL)
    first, second = dataset.conversations
    assert [(q.category, q.evidence) for q in first.questions] == [
        (4, ("D1:3",)),
        (1, ("D1:2", "D2:2")),  # "D1:2; D2:2"
        (2, ("D2:1",)),  # "D9:9" matches no turn
    ]
    assert [(q.category, q.evidence) for q in second.questions] == [
        (4, ("D1:3",)),
        (1, ("D1:2", "D2:2")),  # "D1:2 D2:2"
    ]
    skipped = dataset.skipped
    assert skipped.unanswerable == 1  # category 5
    assert skipped.without_evidence == 1  # "evidence": []
    assert skipped.unknown_evidence_only == 1  # ["D7:7"]
    assert skipped.unknown_ids == ("conv-a D9:9", "conv-a D7:7")
    assert dataset.categories[1] == "multi-hop" and dataset.categories[4] == "single-hop"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", "2023-05-08 13:56"),
        ("10:04 am on 19 December, 2023", "2023-12-19 10:04"),
        ("9:05 am on 3 June, 2023", "2023-06-03 09:05"),
        ("12:10 am on 1 January, 2024", "2024-01-01 00:10"),
        ("12:30 pm on 14 June, 2023", "2023-06-14 12:30"),
        ("7:31 p.m. on 1 January, 2024", "2024-01-01 19:31"),
        ("7:31 A.M. on 1 Jan 2024", "2024-01-01 07:31"),
    ],
)
def test_session_times_are_read_in_every_spelling(text: str, expected: str) -> None:
    assert parse_session_time(text) == at(expected)


@pytest.mark.parametrize(
    "text",
    ["yesterday", "13:05 pm on 8 May, 2023", "1:05 pm on 31 June, 2023", "1:05 pm on 8 Mai, 2023"],
)
def test_a_session_time_that_is_no_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_session_time(text)


def test_joined_evidence_entries_count_as_each_id_once() -> None:
    assert split_evidence(["D8:6; D9:17"]) == ("D8:6", "D9:17")
    assert split_evidence(["D9:1 D4:4 D4:6", "D4:4"]) == ("D9:1", "D4:4", "D4:6")
    assert split_evidence(["D2:1, D2:3", ""]) == ("D2:1", "D2:3")


def broken(change: Any) -> list[dict[str, Any]]:
    """The small LoCoMo file's samples after ``change`` (which edits them in place)."""
    samples: list[dict[str, Any]] = json.loads(SMALL.read_text())
    change(samples)
    return samples


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"conversations": []}, "expected a non-empty list of samples"),
        (broken(lambda s: s[0].pop("conversation")), "sample 0 (conv-a): conversation: missing"),
        (broken(lambda s: s[1].pop("qa")), "sample 1 (conv-b): qa: missing"),
        (
            broken(lambda s: s[1]["conversation"].update(session_2_date_time="new year's day")),
            "sample 1 (conv-b): conversation.session_2_date_time: expected a time such as",
        ),
        (
            broken(lambda s: s[0]["conversation"].pop("session_1_date_time")),
            "sample 0 (conv-a): conversation.session_1_date_time: missing",
        ),
        (
            broken(lambda s: s[0]["qa"][1].update(category=7)),
            "sample 0 (conv-a): qa[1].category: expected 1 to 5, got 7",
        ),
        (
            broken(lambda s: s[1]["conversation"]["session_2"][0].update(dia_id="D1:1")),
            "sample 1 (conv-b): conversation.session_2[0].dia_id: 'D1:1' is used twice",
        ),
        (broken(lambda s: s[1].pop("sample_id")), "sample 1: sample_id: expected a non-empty"),
        (
            broken(lambda s: s[0]["qa"][2].pop("question")),
            "sample 0 (conv-a): qa[2].question: expected a non-empty string",
        ),
        (
            broken(lambda s: s[0]["conversation"]["session_1"][1].update(text=7)),
            "sample 0 (conv-a): conversation.session_1[1].text: expected a non-empty string",
        ),
        ([{"sample_id": "x", "conversation": {}, "qa": []}], "sample 0 (x): conversation: no"),
    ],
)
def test_a_malformed_file_is_one_line_naming_the_sample_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: object, message: str
) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError) as caught:
        read_locomo(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert main(["eval", "memory", "--format", "locomo", str(path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_the_botkit_format_stays_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "memory", str(SMALL)]) == 1
    assert "conversations: expected a non-empty list" in capsys.readouterr().err


def test_a_split_must_leave_conversations_on_both_sides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "memory", "--format", "locomo", str(SMALL), "--split", "2"]) == 1
    assert "--split: expected 1 to 1 for 2 conversations, got 2" in capsys.readouterr().err


def weighted(parts: list[tuple[int, float]]) -> float:
    """The question-weighted mean of (questions, recall) parts."""
    return sum(n * r for n, r in parts) / sum(n for n, _ in parts)


def test_json_reports_every_ranking_by_split_and_category_and_what_was_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["eval", "memory", "--format", "locomo", str(SMALL), "--split", "1", "--json"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    data = json.loads(out)
    assert set(data) >= {"conversations", "turns", "questions", "index_seconds", "rankings"}
    assert set(data) - {"conversations", "turns", "questions", "index_seconds", "rankings"} == {
        "turns_per_second",
        "skipped",
        "unknown_evidence",
        "splits",
        "categories",
        "observations",
    }
    assert data["observations"] is None
    assert (data["conversations"], data["turns"], data["questions"]) == (2, 12, 5)
    assert data["index_seconds"] > 0 and data["turns_per_second"] > 0
    assert [r["name"] for r in data["rankings"]] == RANKINGS
    for ranking in data["rankings"]:
        assert set(ranking) == {"name", "recall", "p50_ms", "p99_ms"}
        assert list(ranking["recall"]) == ["1", "5", "10"]
        assert 0.0 <= ranking["recall"]["1"] <= ranking["recall"]["5"] <= 1.0
        assert 0.0 < ranking["p50_ms"] <= ranking["p99_ms"]
    assert data["skipped"] == {
        "unanswerable_questions": 1,
        "questions_without_evidence": 1,
        "questions_with_unknown_evidence_only": 1,
        "unknown_evidence_ids": 2,
    }
    assert data["unknown_evidence"] == ["conv-a D9:9", "conv-a D7:7"]

    splits, categories = data["splits"], data["categories"]
    assert {k: (v["conversations"], v["questions"]) for k, v in splits.items()} == {
        "fit": (["conv-a"], 3),
        "report": (["conv-b"], 2),
    }
    assert {k: (v["name"], v["questions"]) for k, v in categories.items()} == {
        "1": ("multi-hop", 2),
        "2": ("temporal", 1),
        "4": ("single-hop", 2),
    }
    overall = {r["name"]: r["recall"] for r in data["rankings"]}
    for name in RANKINGS:
        for k in ("1", "5", "10"):
            for groups in (splits, categories):
                parts = [(g["questions"], g["recall"][name][k]) for g in groups.values()]
                assert weighted(parts) == pytest.approx(overall[name][k])
        # Multi-hop questions cite two turns, so one recalled turn finds half at most.
        assert categories["1"]["recall"][name]["1"] <= 0.5
    # Every conversation is shorter than ten turns, and dense-only recalls them all.
    assert overall["dense only"]["10"] == 1.0
    assert categories["4"]["recall"]["lexical baseline (BM25)"]["1"] == 1.0


def test_text_output_has_a_table_for_all_each_split_and_each_category(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["eval", "memory", "--format", "locomo", str(SMALL), "--split", "1", "--k", "5"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("memory eval: 2 conversations, 12 turns, 5 questions; indexed in")
    assert lines[0].endswith(" turns/s)")
    assert lines[1] == (
        "skipped: 1 unanswerable question (category 5), 1 question listing no evidence, "
        "1 question whose evidence matches no turn; left out 2 evidence ids matching no "
        "turn: conv-a D9:9, conv-a D7:7"
    )
    titles = [lines[i + 1] for i, line in enumerate(lines) if line == ""]
    assert titles == [
        "fit: conversation 0 (conv-a), 3 questions",
        "report: conversation 1 (conv-b), 2 questions",
        "category 1 (multi-hop): 2 questions",
        "category 2 (temporal): 1 question",
        "category 4 (single-hop): 2 questions",
    ]
    rows = [line[:32].strip() for line in lines if line[:32].strip() in RANKINGS]
    assert rows == RANKINGS * 6


async def test_observations_count_their_turns_in_their_own_place_or_the_places_after() -> None:
    def summary(request: ChatRequest) -> str:
        said = [line.split(": ", 1)[1] for line in request.messages[1].content.splitlines()]
        return " ".join(said)

    dataset = read_locomo(SMALL)
    settings = parse_config({}).memory
    result = await evaluate_memory(
        dataset, ks=[1, 5], settings=settings, observer=InstantBackend(summary)
    )
    assert result.observations is not None
    assert (result.observations.sessions, result.observations.observations) == (4, 4)
    recall = {v.name: v.recall for v in result.variants}
    assert list(recall)[-2:] == [WITH_OBSERVATIONS, PAPER_COUNT]
    for k in (1, 5):
        assert recall[PAPER_COUNT][k] >= recall[WITH_OBSERVATIONS][k] > 0.0
