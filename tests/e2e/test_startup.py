"""Start-up: the command line loads only what the command it runs needs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from botkit import cli

HEAVY = (
    "asyncio",
    "chromadb",
    "discord",
    "httpx",
    "llama_cpp",
    "numpy",
    "re2",
    "safetensors",
    "scipy",
    "slack_bolt",
    "slack_sdk",
    "telegram",
    "tiktoken",
    "tokenizers",
    "yaml",
    "botkit.app",
    "botkit.backends",
    "botkit.cards.convert",
    "botkit.characters",
    "botkit.config",
    "botkit.conversation",
    "botkit.evaluation.corpora",
    "botkit.memory",
    "botkit.scheduler",
)
"""Libraries and parts of botkit that printing help has no use for."""

ONLY_WHEN_USED = ("chromadb", "discord", "httpx", "llama_cpp", "scipy", "slack_bolt", "telegram")
"""Libraries the app needs only once a backend, memory or platform that uses them is opened."""


def loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh interpreter has imported after running ``code``."""
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps([n for n in {names!r} if n in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    found: list[str] = json.loads(result.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["chat", "--help"], ["eval", "turns", "--help"], ["--version"]],
    ids=" ".join,
)
def test_help_loads_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from botkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})"
    )
    assert loaded_after(code, HEAVY) == []


def test_the_app_leaves_optional_libraries_until_they_are_used() -> None:
    assert loaded_after("import botkit.app", ONLY_WHEN_USED) == []


def test_an_error_from_a_part_loaded_on_use_is_one_clear_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botkit", "eval", "turns", "--data", "x", "--policy", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "botkit: error: eval turns: --policy: expected scoring, likelihood, model, round-robin, "
        "manual, got nope"
    ]


def test_every_error_the_command_line_reports_is_a_real_class() -> None:
    for module_name, class_name in cli._OPERATOR_ERRORS:
        error = getattr(importlib.import_module(module_name), class_name)
        assert isinstance(error, type) and issubclass(error, Exception), class_name
