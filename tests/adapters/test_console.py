"""The console adapter: scripted input, streamed coloured output, commands."""

from __future__ import annotations

import io
from pathlib import Path

from botkit.adapters.console import ConsoleAdapter
from botkit.adapters.console.colors import ansi_color

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.testing import InstantBackend


def by_speaker(request: ChatRequest) -> str:
    return {"Mira:": "Come in, love!", "Bram:": "Hmph."}.get(request.prefix, "Hello.")


async def run_console(tmp_path: Path, pack_dir: Path, text: str, *, color: bool = False) -> str:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
        }
    )
    out = io.StringIO()
    adapters: dict[str, ConsoleAdapter] = {}
    app = App(config, backends={"instant": InstantBackend(by_speaker)}, adapters=adapters)
    adapters["console"] = ConsoleAdapter(
        wait_idle=app.wait_idle, stdin=io.StringIO(text), stdout=out, interactive=False, color=color
    )
    async with app:
        await app.run()
    return out.getvalue()


async def test_piped_lines_are_answered_in_order_and_it_exits_at_eof(
    tmp_path: Path, pack_dir: Path
) -> None:
    output = await run_console(tmp_path, pack_dir, "Mira, hello!\n\nBram, any fish?\n")
    assert output.splitlines() == ["Mira: Come in, love!", "Bram: Hmph."]


async def test_commands_answer_and_permissions_are_the_local_users(
    tmp_path: Path, pack_dir: Path
) -> None:
    output = await run_console(tmp_path, pack_dir, "/remove bram\n/cast\n/say bram\n/quit\nlost\n")
    lines = output.splitlines()
    assert lines[0] == "Bram left."
    assert lines[1].startswith("Here: Mira (mira)")
    assert lines[2] == "Cannot do that: Bram is not here; /add bram first"
    assert len(lines) == 3


async def test_names_are_coloured_when_colour_is_on(tmp_path: Path, pack_dir: Path) -> None:
    output = await run_console(tmp_path, pack_dir, "Mira, hello!\n", color=True)
    assert output.startswith(ansi_color(None) + "Mira:")


def test_colour_names_map_to_ansi() -> None:
    assert ansi_color("red") == "\x1b[1;31m"
    assert ansi_color("bright_cyan") == "\x1b[1;96m"
    assert ansi_color("#ff8000") == "\x1b[1;38;2;255;128;0m"
    assert ansi_color("chartreuse") == "\x1b[1m"


async def test_policy_switches_turn_taking_in_the_terminal(tmp_path: Path, pack_dir: Path) -> None:
    output = await run_console(
        tmp_path, pack_dir, "/policy manual\nHello everyone!\n/policy\nBram, any fish?\n"
    )
    assert output.splitlines() == [
        "Turn-taking here is now manual: characters answer only when addressed or asked with /say.",
        "Turn-taking here: manual (choose from scoring, likelihood, model, round-robin, manual).",
        "Bram: Hmph.",
    ]
