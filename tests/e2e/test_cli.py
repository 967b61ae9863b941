"""The command line: `botkit run --config`, `botkit characters check`, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from botkit.characters import default_pack_path


def botkit(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=600,
        check=False,
    )


def test_check_reports_every_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Bad\nname: Bad\npersona: one\n")
    result = botkit("characters", "check", str(bad), str(default_pack_path()))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}:1: id: expected a lowercase slug (letters, digits, '-' or '_', at most 40), "
        "found 'Bad'",
        f"{bad}:3: persona: expected a list, found text",
    ]
    assert "2 problem(s) found" in result.stderr


def test_check_passes_the_default_pack() -> None:
    result = botkit("characters", "check", str(default_pack_path()))
    assert result.returncode == 0
    assert "all characters are valid" in result.stderr


def test_run_reports_config_problems_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "botkit.yaml"
    config.write_text("adapters:\n  matrix:\n    token: x\n")
    result = botkit("run", "--config", str(config))
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith(f"botkit: error: {config}: adapters.matrix: no adapter called 'matrix'")
    assert "(installed: console, discord" in last


def test_run_names_a_missing_platform_token(tmp_path: Path) -> None:
    config = tmp_path / "botkit.yaml"
    config.write_text(
        f"data_dir: {tmp_path}\nadapters:\n  discord:\n    token: ${{DISCORD_TOKEN}}\n"
    )
    result = botkit("run", "--config", str(config), env={"DISCORD_TOKEN": ""})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"botkit: error: {config}: adapters.discord.token: required for discord"
    )


def test_run_names_a_missing_environment_variable(tmp_path: Path) -> None:
    config = tmp_path / "botkit.yaml"
    config.write_text("adapters:\n  console:\n    user_name: ${PLAYER_NAME}\n")
    environment = {key: value for key, value in os.environ.items() if key != "PLAYER_NAME"}
    result = subprocess.run(
        [sys.executable, "-m", "botkit", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"botkit: error: {config}: adapters.console.user_name: "
        "environment variable PLAYER_NAME is not set"
    )


@pytest.mark.model
def test_run_starts_the_console_adapter_a_config_names(tmp_path: Path) -> None:
    config = tmp_path / "botkit.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "backends:\n  local: {type: llamacpp, seed: 5, max_tokens: 40}\n"
        "conversation: {cast: [mira, nell], max_hops: 0}\n"
        "adapters:\n  console:\n    user_name: ${PLAYER_NAME}\n"
    )
    result = botkit(
        "run",
        "--config",
        str(config),
        stdin="Nell, are you all right?\n",
        env={"PLAYER_NAME": "Ash"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Nell: "), result.stdout
