"""``botkit eval turns``: the metrics on a small known dataset, the dev set, input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.cli import main
from botkit.evaluation.turns_data import load_turns
from botkit.evaluation.turns_eval import evaluate_turns
from botkit.scheduler import Decision, TurnContext

DEV_SET = Path(__file__).resolve().parents[2] / "bench" / "data" / "turns-dev.jsonl"

CONVERSATION = {
    "id": "inn",
    "characters": [
        {"name": "Mira", "persona": "The innkeeper."},
        {"name": "Bram", "persona": "A fisherman.", "talkativeness": 0.2},
    ],
    "turns": [
        {"speaker": "Ann", "text": "Mira, a room?"},
        {"speaker": "Mira", "text": "Room three, love."},
        {"speaker": "Ann", "text": "brb"},
        {"speaker": None},
        {"speaker": "Ann", "text": "back. Bram, a boat tomorrow?"},
        {"speaker": "Bram", "text": "Hmph. At dawn."},
        {"speaker": "Tom", "text": "I'll come too."},
    ],
}


class AlwaysMira:
    """Picks Mira every time."""

    name = "mira"

    async def decide(self, context: TurnContext) -> Decision:
        return Decision(("mira",), "always")


class NeverAnyone:
    """Picks nobody every time."""

    name = "none"

    async def decide(self, context: TurnContext) -> Decision:
        return Decision((), "never")


def write(tmp_path: Path, *conversations: object) -> Path:
    path = tmp_path / "turns.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in conversations) + "\n")
    return path


async def test_the_metrics_count_what_they_say(tmp_path: Path) -> None:
    conversations = load_turns(write(tmp_path, CONVERSATION))
    result = await evaluate_turns(conversations, [("mira", AlwaysMira()), ("none", NeverAnyone())])
    assert (result.conversations, result.turns, result.decisions, result.silences) == (1, 6, 3, 1)
    always, never = result.scores
    assert always.decisions == 3
    assert always.accuracy == pytest.approx(1 / 3)
    assert always.nobody_precision is None and always.nobody_recall == 0.0
    assert always.dominance == 1.0
    assert always.shares == (1.0, 0.0, 0.0) and always.gold_shares == (0.5, 0.5, 0.0)
    assert never.accuracy == pytest.approx(1 / 3)
    assert never.nobody_precision == pytest.approx(1 / 3) and never.nobody_recall == 1.0
    assert never.shares == (0.0, 0.0, 0.0) and never.dominance == 0.0
    assert 0 <= always.p50_ms <= always.p99_ms


def test_eval_turns_prints_each_policy_beside_the_baselines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "turns", "--data", str(DEV_SET), "--policy", "scoring,manual"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("turn-taking eval: 24 conversations, 365 turns, ")
    assert lines[1].split() == [
        "policy",
        "accuracy",
        "NOBODY",
        "P",
        "NOBODY",
        "R",
        "top",
        "share",
        "p50",
        "ms",
        "p99",
        "ms",
    ]
    rows = {line[:22].strip(): line[22:].split() for line in lines[2:6]}
    assert list(rows) == ["scoring", "manual", "random", "round-robin baseline"]
    for values in rows.values():
        accuracy, precision, recall, top, p50, p99 = values
        for ratio in (accuracy, precision, recall, top):
            assert ratio == "n/a" or 0 <= float(ratio) <= 1
        assert 0 <= float(p50) <= float(p99)
    assert float(rows["scoring"][0]) > float(rows["random"][0])
    assert float(rows["scoring"][0]) > float(rows["round-robin baseline"][0])
    assert float(rows["manual"][2]) > float(rows["scoring"][2])
    shares = {line[:23].strip(): line[23:].split(" / ") for line in lines[8:]}
    assert list(shares) == [
        "the data itself",
        "scoring",
        "manual",
        "random",
        "round-robin baseline",
    ]
    assert all(len(row) == 3 for row in shares.values())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "turns.jsonl:1: not valid JSON"),
        ('{"id": "a", "turns": [{"speaker": "Ann", "text": "hi"}]}', ":1: characters: expected"),
        (
            '{"id": "a", "characters": [{"name": "Mira"}], "turns": []}',
            ":1: characters[0].persona: expected a non-empty string",
        ),
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p", "talkativeness": 3}],'
            ' "turns": [{"speaker": "Ann", "text": "hi"}]}',
            ":1: characters[0].talkativeness: expected a number from 0 to 1",
        ),
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p"}, {"name": "M", '
            '"persona": "q"}], "turns": [{"speaker": "Ann", "text": "hi"}]}',
            ":1: characters: names must be unique",
        ),
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p"}],'
            ' "turns": [{"speaker": "Ann"}]}',
            ":1: turns[0].text: expected a non-empty string",
        ),
        ("", "no conversations"),
    ],
)
def test_a_bad_dataset_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text(line + "\n")
    assert main(["eval", "turns", "--data", str(path), "--policy", "scoring"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_an_unknown_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "turns", "--data", str(DEV_SET), "--policy", "loudest"]) == 1
    assert "--policy: expected scoring, model, round-robin, manual, got loudest" in (
        capsys.readouterr().err
    )
