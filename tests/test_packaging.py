"""The package's shape: the core stays platform-free and the mapped folders import once."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import botkit

PLATFORM_SDKS = {"discord", "slack_bolt", "slack_sdk", "telegram", "aiohttp"}
CORE = Path(botkit.__file__).parent
REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_core_never_imports_a_platform_sdk() -> None:
    offenders = {
        str(path.relative_to(CORE)): sorted(imported_modules(path) & PLATFORM_SDKS)
        for path in CORE.rglob("*.py")
        if imported_modules(path) & PLATFORM_SDKS
    }
    assert offenders == {}


def test_mapped_folders_install_under_botkit() -> None:
    import botkit.adapters.console
    import botkit.plugins

    assert botkit.adapters.console.ConsoleAdapter.name == "console"
    assert botkit.plugins.__name__ == "botkit.plugins"
    assert (files("botkit.packs") / "default" / "pack.yaml").is_file()


def test_the_repository_folders_refuse_a_second_import_path() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import adapters"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "import botkit.adapters" in result.stderr


def test_the_console_adapter_is_registered_as_an_entry_point() -> None:
    names = {ep.name for ep in entry_points(group="botkit.adapters")}
    assert "console" in names
