"""``botkit eval memory`` on the shipped dev set, and its input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.cli import main

DEV_SET = Path(__file__).resolve().parents[2] / "bench" / "data" / "memory-dev.json"


def test_eval_memory_prints_recall_latency_and_the_lexical_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "memory", "--data", str(DEV_SET), "--k", "5,10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("memory eval: 4 conversations, 416 turns, 32 questions;")
    assert lines[1].split() == ["ranking", "recall@5", "recall@10", "p50", "ms", "p99", "ms"]
    rows = {line[:26].strip(): line[26:].split() for line in lines[2:]}
    assert list(rows) == ["configured (hybrid)", "dense only", "lexical baseline (BM25)"]
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
