"""The turn-taking eval: its metrics on a small known dataset, reply_to, the dev set, input
errors. (``botkit eval turns`` itself is tested in tests/evaluation/test_turns_eval_cli.py.)"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation, load_turns
from botkit.evaluation.turns_eval import decision_points, evaluate_turns
from botkit.evaluation.turns_policies import BASELINES, build_policy
from botkit.scheduler import Decision, Ranking, Scheduler, TurnContext

DEV_SET = Path(__file__).resolve().parents[2] / "bench" / "data" / "turns-dev.jsonl"

CONVERSATION = {
    "id": "inn",
    "characters": [
        {"name": "Mira", "persona": "The innkeeper."},
        {"name": "Bram", "persona": "A fisherman.", "talkativeness": 0.2},
    ],
    "turns": [
        {"speaker": "Ann", "text": "Mira, a room?"},  # point: Mira speaks next
        {"speaker": "Mira", "text": "Room three, love."},  # a person next: not scored
        {"speaker": "Ann", "text": "brb"},  # point: a marked silence
        {"speaker": None},
        {"speaker": "Ann", "text": "back. Bram, a boat tomorrow?"},  # point: Bram next
        {"speaker": "Bram", "text": "Hmph. At dawn."},  # a person next: not scored
        {"speaker": "Tom", "text": "I'll come too."},  # the end: not scored
    ],
}
ROOM, BRB, BOAT = "Mira, a room?", "brb", "back. Bram, a boat tomorrow?"


class Scripted:
    """A policy that ranks and decides as told for each trigger text, and records what it
    was asked."""

    def __init__(
        self,
        name: str,
        *,
        ranks: Mapping[str, tuple[str, ...]] | tuple[str, ...],
        decides: Mapping[str, tuple[str, ...]] | tuple[str, ...],
    ) -> None:
        self.name = name
        self._ranks = ranks
        self._decides = decides
        self.ranked: list[str] = []
        self.decided: list[TurnContext] = []

    async def rank(self, context: TurnContext) -> Ranking:
        self.ranked.append(context.trigger.text)
        speakers = _for(self._ranks, context)
        return Ranking(speakers, tuple(-float(i) for i in range(len(speakers))))

    async def decide(self, context: TurnContext) -> Decision:
        self.decided.append(context)
        return Decision(_for(self._decides, context), "scripted")


def _for(
    script: Mapping[str, tuple[str, ...]] | tuple[str, ...], context: TurnContext
) -> tuple[str, ...]:
    return script if isinstance(script, tuple) else script[context.trigger.text]


def write(tmp_path: Path, *conversations: object) -> Path:
    """The conversations as a JSON Lines file."""
    path = tmp_path / "turns.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in conversations) + "\n")
    return path


def conversations(tmp_path: Path, *data: object) -> list[TurnsConversation]:
    """The conversations, written out and read back as the eval reads them."""
    return load_turns(write(tmp_path, *data))


async def test_the_metrics_count_what_they_say(tmp_path: Path) -> None:
    always_mira = Scripted("mira", ranks=("mira", "bram"), decides=("mira",))
    never = Scripted("never", ranks=("bram", "mira"), decides=())
    close = Scripted(
        "close",
        ranks={ROOM: ("mira", "bram"), BOAT: ("bram", "mira")},
        decides={ROOM: (), BRB: (), BOAT: ("bram",)},
    )
    contrary = Scripted(
        "contrary",
        ranks=("bram", "mira"),
        decides={ROOM: (), BRB: ("mira",), BOAT: ("mira",)},
    )
    policies: list[tuple[str, Scheduler]] = [
        (p.name, p) for p in (always_mira, never, close, contrary)
    ]
    result = await evaluate_turns(conversations(tmp_path, CONVERSATION), policies)

    assert (result.conversations, result.turns, result.decisions, result.silences) == (1, 6, 3, 1)
    assert result.data_top_share == 0.5
    scores = {s.name: s for s in result.scores}
    assert list(scores) == ["mira", "never", "close", "contrary"]
    assert all(s.decisions == 3 for s in scores.values())

    mira = scores["mira"]
    assert (mira.who_accuracy, mira.accuracy) == (0.5, pytest.approx(1 / 3))
    assert (mira.nobody_precision, mira.nobody_recall, mira.nobody_f1) == (None, 0.0, None)
    assert mira.top_share == 1.0

    never_ = scores["never"]
    assert (never_.who_accuracy, never_.accuracy) == (0.5, pytest.approx(1 / 3))
    assert never_.nobody_precision == pytest.approx(1 / 3)
    assert never_.nobody_recall == 1.0
    assert never_.nobody_f1 == pytest.approx(0.5)
    assert never_.top_share is None

    close_ = scores["close"]
    assert (close_.who_accuracy, close_.accuracy) == (1.0, pytest.approx(2 / 3))
    assert (close_.nobody_precision, close_.nobody_recall) == (0.5, 1.0)
    assert close_.nobody_f1 == pytest.approx(2 / 3)

    contrary_ = scores["contrary"]
    assert (contrary_.who_accuracy, contrary_.accuracy) == (0.5, 0.0)
    assert (contrary_.nobody_precision, contrary_.nobody_recall) == (0.0, 0.0)
    assert contrary_.nobody_f1 is None
    for score in result.scores:
        assert 0 <= score.p50_ms <= score.p99_ms


async def test_rank_is_asked_only_where_a_character_speaks_next(tmp_path: Path) -> None:
    policy = Scripted("p", ranks=("mira", "bram"), decides=())
    await evaluate_turns(conversations(tmp_path, CONVERSATION), [("p", policy)])
    assert policy.ranked == [ROOM, BOAT]
    assert [c.trigger.text for c in policy.decided] == [ROOM, BRB, BOAT]
    room, brb, boat = policy.decided
    assert [t.text for t in boat.transcript] == [
        ROOM,
        "Room three, love.",
        BRB,
        BOAT,
    ]
    assert [c.id for c in room.cast] == ["mira", "bram"]
    assert room.cast[1].talkativeness == 0.2
    assert not brb.trigger.is_character and boat.hops == 0


async def test_nothing_to_divide_by_gives_none(tmp_path: Path) -> None:
    only_silence = {
        "id": "quiet",
        "characters": [{"name": "Mira", "persona": "The innkeeper."}],
        "turns": [{"speaker": "Ann", "text": "brb"}, {"speaker": None}],
    }
    policy = Scripted("p", ranks=("mira",), decides=("mira",))
    [score] = (await evaluate_turns(conversations(tmp_path, only_silence), [("p", policy)])).scores
    assert score.who_accuracy is None
    assert score.accuracy == 0.0
    assert (score.nobody_precision, score.nobody_recall, score.nobody_f1) == (None, 0.0, None)

    no_silence = {**only_silence, "turns": [{"speaker": "Ann", "text": "Hi"}]}
    no_silence["turns"].append({"speaker": "Mira", "text": "Hello, love."})
    [score] = (await evaluate_turns(conversations(tmp_path, no_silence), [("p", policy)])).scores
    assert (score.who_accuracy, score.accuracy) == (1.0, 1.0)
    assert score.nobody_recall is None and score.nobody_f1 is None


REPLIES = {
    "id": "replies",
    "characters": [
        {"name": "Mira", "persona": "The innkeeper."},
        {"name": "Bram", "persona": "A fisherman."},
    ],
    "turns": [
        {"speaker": "Ann", "text": "Evening."},
        {"speaker": "Mira", "text": "Room three, love."},
        {"speaker": "Tom", "text": "Nice."},
        {"speaker": "Ann", "text": "brb"},
        {"speaker": None},
        {"speaker": "Ann", "text": "Is it warm?", "reply_to": 1},
        {"speaker": "Mira", "text": "Very."},
        {"speaker": "Ann", "text": "ok", "reply_to": 2},
        {"speaker": "Bram", "text": "Aye."},
    ],
}


def test_reply_to_reaches_the_context(tmp_path: Path) -> None:
    [conversation] = conversations(tmp_path, REPLIES)
    assert conversation.turns[5].reply_to == 1
    points = {p.context.trigger.text: p for p in decision_points(conversation)}
    assert list(points) == ["Evening.", "brb", "Is it warm?", "ok"]
    warm, ok = points["Is it warm?"], points["ok"]
    # A reply to a character's line names that character; a reply to a person's, nobody.
    assert warm.context.reply_to_character == "mira"
    assert warm.context.trigger.reply_to == "m1"
    assert [t.message_id for t in warm.context.transcript][-2:] == ["m3", "m5"]
    assert ok.context.reply_to_character is None
    assert ok.context.trigger.reply_to == "m2"
    assert points["Evening."].context.reply_to_character is None
    assert (warm.expected, ok.expected, points["brb"].expected) == ("mira", "bram", None)


async def test_a_reply_to_a_character_counts_as_addressing_it(tmp_path: Path) -> None:
    data = {
        **REPLIES,
        "turns": [
            {"speaker": "Ann", "text": "Evening."},
            {"speaker": "Bram", "text": "Hmph."},
            {"speaker": "Mira", "text": "Room three, love."},
            {"speaker": "Ann", "text": "And the fish?", "reply_to": 1},
            {"speaker": "Bram", "text": "Fresh."},
        ],
    }
    point = decision_points(conversations(tmp_path, data)[0])[-1]
    assert point.context.trigger.text == "And the fish?"
    assert point.context.reply_to_character == "bram"
    for name in ("scoring", "round-robin", "manual"):
        policy = build_policy(name, seed=0, backend=_no_backend, timeout=1.0)
        assert (await policy.decide(point.context)).speakers == ("bram",), name
        assert (await policy.rank(point.context)).first == "bram", name


def _no_backend() -> object:
    raise AssertionError("no policy here calls a backend")


def test_the_baselines_are_built_by_name() -> None:
    assert BASELINES == ("random", "A-B-A", "most-frequent")
    for name in BASELINES:
        assert build_policy(name, seed=0, backend=_no_backend, timeout=1.0).name == name
    with pytest.raises(ValueError, match="no turn-taking policy called 'loudest'"):
        build_policy("loudest", seed=0, backend=_no_backend, timeout=1.0)


async def test_on_the_dev_set_scoring_beats_a_b_a_and_finds_the_silences() -> None:
    data = load_turns(DEV_SET)
    names = ("scoring", "A-B-A", "most-frequent")
    policies: Sequence[tuple[str, Scheduler]] = [
        (n, build_policy(n, seed=0, backend=_no_backend, timeout=1.0)) for n in names
    ]
    result = await evaluate_turns(data, policies)
    assert result.silences > 0 and result.decisions > result.silences
    scores = {s.name: s for s in result.scores}
    scoring, alternation = scores["scoring"], scores["A-B-A"]
    assert scoring.who_accuracy is not None and alternation.who_accuracy is not None
    assert scoring.who_accuracy > alternation.who_accuracy
    assert scoring.nobody_recall is not None and scoring.nobody_recall >= 0.80
    # The baselines never say NOBODY.
    for name in ("A-B-A", "most-frequent"):
        assert scores[name].nobody_precision is None and scores[name].nobody_recall == 0.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "turns.jsonl:1: not valid JSON"),
        ("[]", "turns.jsonl:1: expected an object per line"),
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
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p"}],'
            ' "turns": [{"speaker": "Ann", "text": "hi"}, {"speaker": null},'
            ' {"speaker": "M", "text": "yo", "reply_to": 1}]}',
            ":1: turns[2].reply_to: expected the index of an earlier turn that is not a silence",
        ),
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p"}],'
            ' "turns": [{"speaker": "Ann", "text": "hi", "reply_to": 0}]}',
            ":1: turns[0].reply_to: expected the index of an earlier turn",
        ),
        (
            '{"id": "a", "characters": [{"name": "M", "persona": "p"}],'
            ' "turns": [{"speaker": "Ann", "text": "hi"}, {"speaker": null, "reply_to": 0}]}',
            ":1: turns[1].reply_to: a silence answers no turn",
        ),
        ("", "no conversations"),
    ],
)
def test_a_bad_dataset_is_one_clear_error(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "turns.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(DatasetError) as error:
        load_turns(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
