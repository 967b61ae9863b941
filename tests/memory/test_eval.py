"""``botkit eval memory`` on the shipped dev set, its input errors, and its progress bar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from botkit.cli import main
from botkit.evaluation.memory_eval import ProgressBar

DEV_SET = Path(__file__).resolve().parents[2] / "bench" / "data" / "memory-dev.json"


def test_eval_memory_prints_recall_latency_and_the_lexical_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "memory", str(DEV_SET), "--k", "5,10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("memory eval: 4 conversations, 416 turns, 32 questions;")
    assert lines[1].split() == ["ranking", "recall@5", "recall@10", "p50", "ms", "p99", "ms"]
    rows = {line[:32].strip(): line[32:].split() for line in lines[2:]}
    assert list(rows) == [
        "configured (hybrid)",
        "without neighbours",
        "without named speakers",
        "without time matching",
        "lexical only",
        "dense only",
        "lexical baseline (BM25)",
    ]
    for values in rows.values():
        at5, at10, p50, p99 = map(float, values)
        assert 0.0 <= at5 <= at10 <= 1.0 and 0.0 < p50 <= p99
    assert float(rows["configured (hybrid)"][1]) >= 0.75


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[]", "conversations: expected a non-empty list"),
        ('{"conversations": [{"id": "a", "turns": []}]}', "conversations[0].turns: expected"),
        (
            '{"conversations": [{"id": "a", "turns": [{"id": "t1", "speaker": "Ann",'
            ' "text": "hi"}], "questions": [{"question": "q?", "evidence": ["t9"]}]}]}',
            "conversations[0].questions[0].evidence: no turn with id 't9'",
        ),
        (
            '{"conversations": [{"id": "a", "turns": [{"id": "t1", "speaker": "Ann",'
            ' "text": "hi", "time": "yesterday"}]}]}',
            "conversations[0].turns[0].time: not an ISO 8601 time",
        ),
        ('{"conversations": [', "line 1: not valid JSON"),
    ],
)
def test_a_bad_dataset_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str, message: str
) -> None:
    path = tmp_path / "data.json"
    path.write_text(data)
    assert main(["eval", "memory", "--data", str(path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_bad_cut_offs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"conversations": []}))
    assert main(["eval", "memory", "--data", str(path), "--k", "0,x"]) == 1
    assert "--k: expected whole numbers above 0" in capsys.readouterr().err


def tiny_dataset(path: Path, conversations: int = 1) -> Path:
    """A botkit-format dataset of ``conversations`` three-turn conversations, one question each."""
    path.write_text(
        json.dumps(
            {
                "conversations": [
                    {
                        "id": f"c{n}",
                        "turns": [
                            {"id": "t1", "speaker": "Ann", "text": "The ferry leaves at dawn."},
                            {"id": "t2", "speaker": "Bo", "text": "I packed the red umbrella."},
                            {"id": "t3", "speaker": "Ann", "text": "See you at the pier."},
                        ],
                        "questions": [
                            {"question": "When does the ferry leave?", "evidence": ["t1"]}
                        ],
                    }
                    for n in range(conversations)
                ]
            }
        )
    )
    return path


def test_the_file_may_be_given_as_an_argument_and_cut_offs_default_to_1_5_10(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_dataset(tmp_path / "data.json", conversations=2)
    assert main(["eval", "memory", str(path), "--split", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["conversations"], data["turns"], data["questions"]) == (2, 6, 2)
    assert [list(r["recall"]) for r in data["rankings"]] == [["1", "5", "10"]] * 7
    assert {k: (v["conversations"], v["questions"]) for k, v in data["splits"].items()} == {
        "fit": (["c0"], 1),
        "report": (["c1"], 1),
    }
    assert data["categories"] == {} and data["unknown_evidence"] == []
    assert set(data["skipped"].values()) == {0}


@pytest.mark.parametrize("extra", [[], ["--data"]])
def test_the_file_is_given_exactly_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    path = str(tiny_dataset(tmp_path / "data.json"))
    args = [path, *extra, path] if extra else []
    assert main(["eval", "memory", *args]) == 1
    assert "FILE: give the dataset file once" in capsys.readouterr().err


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_a_line_a_tenth_with_the_time_left() -> None:
    stream, clock = io.StringIO(), Clock()
    show = ProgressBar(stream, clock=clock)
    for done in range(0, 201):
        clock.now = 100.0 + done * 0.1
        show("indexing turns", done, 200)
        if done < 20:
            show("indexing turns", 0, 200)
    show("indexing turns", 200, 200)
    show("asking (dense only)", 0, 5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12
    assert lines[0] == "indexing turns [........................]   0% 0/200 in 0 s"
    assert lines[5] == (
        "indexing turns [############............]  50% 100/200 in 10 s, about 10 s left"
    )
    assert lines[10] == "indexing turns [########################] 100% 200/200 in 20 s"
    assert lines[11].startswith("asking (dense only) [....")


def test_progress_on_a_terminal_redraws_one_line_at_most_ten_times_a_second() -> None:
    stream, clock = Terminal(), Clock()
    show = ProgressBar(stream, clock=clock)
    for done in range(0, 101):
        clock.now = 100.0 + done * 0.01
        show("asking (dense only)", done, 100)
    out = stream.getvalue()
    draws = out.split("\r")[1:]
    assert out.count("\n") == 1 and out.endswith("100/100 in 1 s\x1b[K\n")
    assert 10 <= len(draws) <= 13
    assert "about" in draws[5] and "left" in draws[5]
