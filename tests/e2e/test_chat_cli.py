"""`botkit chat` as a user runs it: piped input, the default pack, the real local model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from botkit.characters import default_pack_path, load_pack

pytestmark = pytest.mark.model

GREETING = "Hello everyone! Who wants to tell me about this place?\n"


def run_chat(data_dir: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "botkit", "chat", "--data-dir", str(data_dir), "--seed", "3", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def speakers(output: str) -> list[str]:
    names = {c.name for c in load_pack(default_pack_path()).characters}
    found = []
    for line in output.splitlines():
        match = re.match(r"^([^:]{1,40}): (.+)$", line)
        if match and match.group(1) in names and match.group(2).strip():
            found.append(match.group(1))
    return found


def test_a_greeting_to_everyone_gets_replies_from_two_characters(tmp_path: Path) -> None:
    result = run_chat(tmp_path / "data", GREETING)
    assert result.returncode == 0, result.stderr
    assert len(set(speakers(result.stdout))) >= 2, result.stdout
    assert "Model ready" in result.stderr
    assert "\r" not in result.stdout and "is writing" not in result.stdout, result.stdout


def test_history_survives_a_restart(tmp_path: Path) -> None:
    first = run_chat(tmp_path / "data", "/remove " + _first_id() + "\n/cast\n")
    assert first.returncode == 0, first.stderr
    second = run_chat(tmp_path / "data", "/cast\n")
    assert _first_name() not in second.stdout.split("Here:", 1)[1]


def test_bad_cast_is_one_clear_line(tmp_path: Path) -> None:
    result = run_chat(tmp_path / "data", "", "--cast", "nobody-at-all")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "botkit: error: conversation.cast: no character with id 'nobody-at-all'"
    )


def _first_id() -> str:
    return load_pack(default_pack_path()).characters[0].id


def _first_name() -> str:
    return load_pack(default_pack_path()).characters[0].name
