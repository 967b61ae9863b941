"""The console adapter: scripted input, streamed coloured output, commands."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

from botkit.adapters.console import ConsoleAdapter
from botkit.adapters.console.colors import ansi_color

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import ChannelKey
from botkit.store import Store
from botkit.testing import InstantBackend

CLEAR = "\r\x1b[K"
"""What a terminal is sent to erase the typing line."""


def by_speaker(request: ChatRequest) -> str:
    return {"Mira:": "Come in, love!", "Bram:": "Hmph."}.get(request.prefix, "Hello.")


async def run_console(
    tmp_path: Path,
    pack_dir: Path,
    text: str,
    *,
    color: bool = False,
    live: bool = False,
    backend: InstantBackend | None = None,
    out: io.StringIO | None = None,
) -> str:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
        }
    )
    out = io.StringIO() if out is None else out
    adapters: dict[str, ConsoleAdapter] = {}
    backend = InstantBackend(by_speaker) if backend is None else backend
    app = App(config, backends={"instant": backend}, adapters=adapters)
    adapters["console"] = ConsoleAdapter(
        wait_idle=app.wait_idle,
        stdin=io.StringIO(text),
        stdout=out,
        interactive=False,
        color=color,
        live=live,
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


async def test_replies_of_earlier_runs_are_kept_in_order(tmp_path: Path, pack_dir: Path) -> None:
    await run_console(tmp_path, pack_dir, "Mira, hello!\n")
    await run_console(tmp_path, pack_dir, "Bram, any fish?\n")
    async with await Store.open(tmp_path / "data" / "botkit.sqlite3") as store:
        turns = await store.recent_turns(ChannelKey("console", "local", "main"), 10)
    assert [(t.speaker_name, t.text) for t in turns] == [
        ("Traveller", "Mira, hello!"),
        ("Mira", "Come in, love!"),
        ("Traveller", "Bram, any fish?"),
        ("Bram", "Hmph."),
    ]


SENTENCES = ("Come in, love! ", "The fog is thick. ")
"""A reply in two fragments; the reply filter lets each through once its sentence ends."""


class WatchedBackend(InstantBackend):
    """Streams ``pieces`` one by one, noting what the console showed before each."""

    def __init__(self, out: io.StringIO, pieces: tuple[str, ...]) -> None:
        super().__init__()
        self._out = out
        self._pieces = pieces
        self.shown: list[str] = []

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        for piece in self._pieces:
            self.shown.append(self._out.getvalue())
            yield piece
        self.shown.append(self._out.getvalue())


async def test_a_terminal_shows_who_is_writing_then_the_reply_as_it_streams(
    tmp_path: Path, pack_dir: Path
) -> None:
    out = io.StringIO()
    backend = WatchedBackend(out, SENTENCES)
    output = await run_console(
        tmp_path, pack_dir, "Mira, hello!\n", live=True, backend=backend, out=out
    )
    typing = "Mira is writing…"
    assert backend.shown[:2] == [typing, typing + CLEAR + "Mira: Come in, love!"]
    assert output == typing + CLEAR + "Mira: Come in, love! The fog is thick.\n"


async def test_a_terminal_erases_the_typing_line_when_nothing_is_said(
    tmp_path: Path, pack_dir: Path
) -> None:
    out = io.StringIO()
    backend = WatchedBackend(out, ())
    output = await run_console(
        tmp_path, pack_dir, "Mira, hello!\n", live=True, backend=backend, out=out
    )
    assert output == "Mira is writing…" + CLEAR


async def test_piped_output_streams_plain_lines_without_a_typing_line(
    tmp_path: Path, pack_dir: Path
) -> None:
    out = io.StringIO()
    backend = WatchedBackend(out, SENTENCES)
    output = await run_console(tmp_path, pack_dir, "Mira, hello!\n", backend=backend, out=out)
    assert backend.shown[:2] == ["", "Mira: Come in, love!"]
    assert output == "Mira: Come in, love! The fog is thick.\n"
