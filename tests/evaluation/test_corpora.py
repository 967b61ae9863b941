"""The corpus readers: MELD, EmoryNLP and Molweni files as released, and JSON Lines reply_to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.evaluation.corpora import CORPUS_FORMATS, load_corpus
from botkit.evaluation.corpora.molweni import PERSONA
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation, TurnsTurn

DATA = Path(__file__).resolve().parent / "data"
MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode"
EMORY_HEADER = "Utterance,Speaker,Emotion,Scene_ID,Utterance_ID,Season,Episode"


def lines(conversation: TurnsConversation) -> list[tuple[str | None, str]]:
    return [(t.speaker, t.text) for t in conversation.turns]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_formats_are_named() -> None:
    assert CORPUS_FORMATS == ("jsonl", "meld", "emorynlp", "molweni")


def test_meld_dialogues_become_conversations_of_the_friends_present() -> None:
    first, second = load_corpus(DATA / "meld_dev_sent_emo.csv", "meld")

    assert [first.id, second.id] == ["meld-dev-0", "meld-dev-2"]
    assert lines(first) == [
        ("Chandler", "So let's talk."),
        ("Mr. Geller", "Hello, it\u2019s your father."),
        ("Monica", 'Dad! Hi. "Sit down."'),
    ]
    assert lines(second) == [
        ("Joey", "How you doin\u2019?"),
        ("All", "Hey Joey!"),
        ("Phoebe", "Hi."),
    ]
    assert [c.name for c in first.characters] == ["Monica", "Chandler"]
    assert [c.name for c in second.characters] == ["Joey", "Phoebe"]
    for conversation in (first, second):
        assert [c.id for c in conversation.characters] == [
            c.name.lower() for c in conversation.characters
        ]
        assert all(len(c.persona) == 1 and c.persona[0] for c in conversation.characters)
    assert first.character_named("Mr. Geller") is None
    assert second.character_named("All") is None
    assert all(t.reply_to is None for t in first.turns + second.turns)


def test_emorynlp_scenes_map_full_names_to_the_friends() -> None:
    first, second = load_corpus(DATA / "emorynlp_dev_final.csv", "emorynlp")

    assert [first.id, second.id] == ["emorynlp-dev-s1e15c1", "emorynlp-dev-s1e15c2"]
    assert lines(first) == [
        ("Rachel", "Coffee."),
        ("Joey", "Thank you."),
        ("Chandler", "Hey!"),
        ("Unknown", "Who's there?"),
        ("Gunther", "Me, Gunther."),
    ]
    assert lines(second) == [
        ("Ross", "Hi."),
        ("Carol Willick", "Ross!"),
        ("Ross", "Carol. Um."),
        ("Phoebe Abbott", "I'm Phoebe Abbott."),
        ("Phoebe", "No, I'm Phoebe."),
    ]
    assert [c.name for c in first.characters] == ["Rachel", "Chandler", "Joey"]
    assert [c.name for c in second.characters] == ["Ross", "Phoebe"]
    meld = load_corpus(DATA / "meld_dev_sent_emo.csv", "meld")[1]
    assert second.characters[1] == meld.characters[1]
    assert second.character_named("Phoebe Abbott") is None


def test_molweni_keeps_the_reply_structure_and_casts_every_named_speaker() -> None:
    first, second = load_corpus(DATA / "molweni_dev.json", "molweni")

    assert [first.id, second.id] == ["molweni-101", "molweni-102"]
    assert first.turns == (
        TurnsTurn("_jason", "how do i mount an iso ?"),
        TurnsTurn("ikonia", "use mount -o loop as root", reply_to=0),
        TurnsTurn("blue42", "or use furius iso mount", reply_to=0),
        TurnsTurn("_jason", "thanks both", reply_to=2),
    )
    assert [(c.id, c.name) for c in first.characters] == [
        ("jason", "_jason"),
        ("ikonia", "ikonia"),
        ("blue42", "blue42"),
    ]
    assert all(c.persona == (PERSONA,) for c in first.characters)
    assert second.turns == (
        TurnsTurn("sethk", "hi all"),
        TurnsTurn("Unknown", "anyone know grub ?"),
        TurnsTurn("nalioth", "just ask your question", reply_to=1),
    )
    assert [c.name for c in second.characters] == ["sethk", "nalioth"]


def test_jsonl_turns_may_answer_an_earlier_turn(tmp_path: Path) -> None:
    conversation = {
        "id": "inn",
        "characters": [{"name": "Mira", "persona": "The innkeeper."}],
        "turns": [
            {"speaker": "Ann", "text": "A room?"},
            {"speaker": None},
            {"speaker": "Mira", "text": "Room three.", "reply_to": 0},
        ],
    }
    path = write(tmp_path, "turns.jsonl", json.dumps(conversation) + "\n")

    (loaded,) = load_corpus(path, "jsonl")

    assert loaded.turns == (
        TurnsTurn("Ann", "A room?"),
        TurnsTurn(None),
        TurnsTurn("Mira", "Room three.", reply_to=0),
    )


@pytest.mark.parametrize("reply_to", [2, 1, -1, True, "0"])
def test_jsonl_reply_to_must_point_to_an_earlier_spoken_turn(
    tmp_path: Path, reply_to: object
) -> None:
    conversation = {
        "id": "inn",
        "characters": [{"name": "Mira", "persona": "The innkeeper."}],
        "turns": [
            {"speaker": "Ann", "text": "A room?"},
            {"speaker": None},
            {"speaker": "Mira", "text": "Room three.", "reply_to": reply_to},
        ],
    }
    path = write(tmp_path, "turns.jsonl", json.dumps(conversation) + "\n")

    with pytest.raises(DatasetError) as error:
        load_corpus(path, "jsonl")
    assert str(error.value) == (
        f"{path}:1: turns[2].reply_to: expected the index of an earlier turn that is not a silence"
    )


def test_a_silence_answers_no_turn(tmp_path: Path) -> None:
    conversation = {
        "id": "inn",
        "characters": [{"name": "Mira", "persona": "The innkeeper."}],
        "turns": [{"speaker": "Ann", "text": "A room?"}, {"speaker": None, "reply_to": 0}],
    }
    path = write(tmp_path, "turns.jsonl", json.dumps(conversation) + "\n")

    with pytest.raises(DatasetError, match=r"turns\[1\]\.reply_to: a silence answers no turn$"):
        load_corpus(path, "jsonl")


@pytest.mark.parametrize(
    ("name", "format", "text", "message"),
    [
        (
            "dev_sent_emo.csv",
            "meld",
            "Sr No.,Utterance,Speaker,Utterance_ID\n1,Hi.,Ross,0\n",
            "{path}: Dialogue_ID: missing column",
        ),
        (
            "dev_sent_emo.csv",
            "meld",
            f"{MELD_HEADER}\n1,Hi.,Ross,neutral,neutral,0,first,1,1\n",
            "{path}:2: Utterance_ID: expected a whole number, got 'first'",
        ),
        (
            "dev_sent_emo.csv",
            "meld",
            f"{MELD_HEADER}\n1,Hi.,Ross,neutral,neutral,0\n",
            "{path}:2: Utterance_ID: missing value",
        ),
        (
            "emorynlp_dev_final.csv",
            "emorynlp",
            f"{EMORY_HEADER}\nHi.,Rachel Green,Neutral,1,1,1,1\n",
            "{path}:2: Speaker: expected a list of names, got 'Rachel Green'",
        ),
        (
            "emorynlp_dev_final.csv",
            "emorynlp",
            f"{EMORY_HEADER}\nHi.,\"['Rachel Green']\",Neutral,1,1,one,1\n",
            "{path}:2: Season: expected a whole number, got 'one'",
        ),
        ("dev.json", "molweni", "[nope]", "{path}: line 1: not valid JSON: Expecting value"),
        ("dev.json", "molweni", '{"edus": []}', "{path}: expected a list of dialogues"),
        (
            "dev.json",
            "molweni",
            '[{"id": "1", "edus": [{"text": "hi", "speaker": 3}], "relations": []}]',
            "{path}: [0].edus[0].speaker: expected a string",
        ),
        (
            "dev.json",
            "molweni",
            '[{"id": "1", "edus": [{"text": "hi", "speaker": "a"}], "relations": [{"x": 0}]}]',
            "{path}: [0].relations[0].y: expected an index into edus",
        ),
        (
            "dev.json",
            "molweni",
            '[{"id": "1", "relations": []}]',
            "{path}: [0].edus: expected a list",
        ),
    ],
)
def test_malformed_files_are_named_with_the_field(
    tmp_path: Path, name: str, format: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)

    with pytest.raises(DatasetError) as error:
        load_corpus(path, format)
    assert str(error.value) == message.format(path=path)


@pytest.mark.parametrize("format", ["meld", "emorynlp", "molweni"])
def test_an_unreadable_file_is_named(tmp_path: Path, format: str) -> None:
    path = tmp_path / "missing.csv"

    with pytest.raises(DatasetError) as error:
        load_corpus(path, format)
    assert str(error.value) == f"{path}: cannot read: No such file or directory"


def test_a_file_of_dyads_holds_no_conversation(tmp_path: Path) -> None:
    path = write(tmp_path, "dev_sent_emo.csv", f"{MELD_HEADER}\n1,Hi.,Ross,x,x,0,0,1,1\n")

    with pytest.raises(DatasetError) as error:
        load_corpus(path, "meld")
    assert str(error.value) == f"{path}: no conversation with 3 or more speakers"


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no corpus format called 'csv'"):
        load_corpus(tmp_path / "x.csv", "csv")
