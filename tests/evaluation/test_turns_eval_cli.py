"""``botkit eval turns``: the JSON and table output, public corpus formats, input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.cli import main
from botkit.evaluation.turns_policies import BASELINES

DATA = Path(__file__).resolve().parent / "data"
DEV_SET = Path(__file__).resolve().parents[2] / "bench" / "data" / "turns-dev.jsonl"
POLICY_KEYS = {
    "name",
    "who_accuracy",
    "accuracy",
    "nobody_precision",
    "nobody_recall",
    "nobody_f1",
    "p50_ms",
    "p99_ms",
}
RATIOS = POLICY_KEYS - {"name", "p50_ms", "p99_ms"}
NO_SILENCE = {
    "id": "inn",
    "characters": [
        {"name": "Mira", "persona": "The innkeeper."},
        {"name": "Bram", "persona": "A fisherman."},
    ],
    "turns": [
        {"speaker": "Ann", "text": "Mira, a room?"},
        {"speaker": "Mira", "text": "Room three, love."},
        {"speaker": "Bram", "text": "Take the one by the stairs."},
    ],
}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    """The one JSON object ``botkit eval turns ... --json`` prints (exit status 0)."""
    assert main(["eval", "turns", *args, "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    data: dict[str, object] = json.loads(out)
    return data


def policies(data: dict[str, object]) -> dict[str, dict[str, object]]:
    """The per-policy objects of an eval's JSON, by name."""
    listed = data["policies"]
    assert isinstance(listed, list)
    return {str(p["name"]): p for p in listed}


def test_json_has_exactly_the_schema_keys(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--data", str(DEV_SET), "--policy", "scoring,round-robin")
    assert set(data) == {"conversations", "decisions", "policies"}
    assert data["conversations"] == sum(1 for line in DEV_SET.open() if line.strip())
    assert isinstance(data["decisions"], int) and data["decisions"] > 0
    found = policies(data)
    assert list(found) == ["scoring", "round-robin", *BASELINES]
    for policy in found.values():
        assert set(policy) == POLICY_KEYS
        for key in RATIOS:
            value = policy[key]
            assert value is None or (isinstance(value, float) and 0 <= value <= 1), key
        p50, p99 = policy["p50_ms"], policy["p99_ms"]
        assert isinstance(p50, float) and isinstance(p99, float)
        assert 0 <= p50 <= p99
    scoring = found["scoring"]
    assert isinstance(scoring["who_accuracy"], float)
    assert isinstance(scoring["nobody_recall"], float) and scoring["nobody_recall"] >= 0.8
    # The A-B-A baseline never says NOBODY: its precision has nothing to divide by.
    assert found["A-B-A"]["nobody_precision"] is None
    assert found["A-B-A"]["nobody_f1"] is None
    assert found["A-B-A"]["nobody_recall"] == 0.0


def test_json_has_null_where_nothing_divides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text(json.dumps(NO_SILENCE) + "\n")
    data = run_json(capsys, "--data", str(path), "--policy", "manual")
    assert (data["conversations"], data["decisions"]) == (1, 2)
    found = policies(data)
    assert list(found) == ["manual", *BASELINES]
    for policy in found.values():
        # No marked silence: NOBODY recall and F1 divide by nothing.
        assert policy["nobody_recall"] is None and policy["nobody_f1"] is None
        assert isinstance(policy["who_accuracy"], float)
    # Manual lets the addressed Mira answer, then says NOBODY where Bram spoke: one of two
    # decisions right, and its one NOBODY wrong.
    assert found["manual"]["accuracy"] == 0.5
    assert found["manual"]["nobody_precision"] == 0.0


def test_a_policy_named_twice_is_measured_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text(json.dumps(NO_SILENCE) + "\n")
    data = run_json(capsys, "--data", str(path), "--policy", "manual, manual", "--policy", "manual")
    assert list(policies(data)) == ["manual", *BASELINES]


def test_a_meld_file_is_read_as_released(capsys: pytest.CaptureFixture[str]) -> None:
    meld = DATA / "meld_dev_sent_emo.csv"
    data = run_json(capsys, "--data", str(meld), "--format", "meld", "--policy", "scoring")
    # Two dialogues with three speakers; in each, one friend speaks after a person.
    assert (data["conversations"], data["decisions"]) == (2, 2)
    found = policies(data)
    assert list(found) == ["scoring", *BASELINES]
    for policy in found.values():
        assert policy["nobody_recall"] is None
        assert isinstance(policy["who_accuracy"], float)


def test_the_table_lists_each_policy_beside_the_baselines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "turns", "--data", str(DEV_SET), "--policy", "scoring,manual"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("turn-taking eval: ")
    assert "conversations" in lines[0] and "marked silences" in lines[0]
    assert lines[1].split() == [
        "policy",
        *("who", "acc", "accuracy"),
        *("NOBODY", "P", "NOBODY", "R", "NOBODY", "F1"),
        *("top", "share", "p50", "ms", "p99", "ms"),
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:7]}
    assert list(rows) == ["scoring", "manual", *BASELINES]
    for values in rows.values():
        assert len(values) == 8
        *ratios, p50, p99 = values
        for ratio in ratios:
            assert ratio == "n/a" or 0 <= float(ratio) <= 1
        assert 0 <= float(p50) <= float(p99)
    assert float(rows["scoring"][0]) > float(rows["A-B-A"][0])
    assert rows["A-B-A"][2] == "n/a"


def test_an_unknown_policy_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "turns", "--data", str(DEV_SET), "--policy", "scoring,loudest"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("botkit: error: eval turns: --policy: expected scoring, ")
    assert line.endswith("got loudest")


def test_an_unknown_format_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "turns", "--data", str(DEV_SET), "--format", "csv", "--policy", "scoring"])
    assert exit_.value.code == 2
    assert "--format: invalid choice: 'csv'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("format", "text", "message"),
    [
        ("jsonl", "{\n", "turns.jsonl:1: not valid JSON"),
        ("meld", "Speaker,Dialogue_ID\nRoss,0\n", "dev_sent_emo.csv: Utterance: missing column"),
    ],
)
def test_a_bad_data_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], format: str, text: str, message: str
) -> None:
    path = tmp_path / ("turns.jsonl" if format == "jsonl" else "dev_sent_emo.csv")
    path.write_text(text)
    args = ["eval", "turns", "--data", str(path), "--format", format, "--policy", "scoring"]
    assert main(args) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("botkit: error: ") and message in line


def test_limit_measures_only_the_first_conversations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    meld = DATA / "meld_dev_sent_emo.csv"
    args = ("--data", str(meld), "--format", "meld", "--policy", "manual")
    data = run_json(capsys, *args, "--limit", "1")
    assert (data["conversations"], data["decisions"]) == (1, 1)
    assert main(["eval", "turns", *args, "--limit", "0"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == "botkit: error: eval turns: --limit: expected a positive number, got 0"
