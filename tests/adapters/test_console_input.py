"""Console input that is not clean text: bytes that are not UTF-8, lines far too long."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from botkit.adapters.console import ConsoleAdapter
from botkit.adapters.console.adapter import CHANNEL

from botkit.adapter import MAX_MESSAGE_CHARS
from botkit.app import App
from botkit.config import parse_config
from botkit.store import Store
from botkit.testing import InstantBackend
from tests.adapters.test_console import by_speaker

NOT_UTF8 = "Part of that line was not UTF-8 text; it shows as \ufffd."


class CountingReader(io.StringIO):
    """A text stream that remembers the most it was ever asked to read at once."""

    largest = 0

    def readline(self, size: int = -1, /) -> str:
        asked = size if size >= 0 else len(self.getvalue())
        self.largest = max(self.largest, asked)
        return super().readline(size)


async def run_console(tmp_path: Path, pack_dir: Path, stdin: IO[str]) -> tuple[str, list[str]]:
    """What the console printed, and the texts of the turns it stored."""
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
        wait_idle=app.wait_idle, stdin=stdin, stdout=out, interactive=False, color=False
    )
    async with app:
        await app.run()
    async with await Store.open(tmp_path / "data" / "botkit.sqlite3") as store:
        turns = await store.recent_turns(CHANNEL, 100)
    return out.getvalue(), [turn.text for turn in turns]


async def test_bytes_that_are_not_utf8_are_replaced_and_the_console_goes_on(
    tmp_path: Path, pack_dir: Path
) -> None:
    data = b"Mira, hello!\n\xff\xfe Bram, any fish?\nMira, again?\n"
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    output, turns = await run_console(tmp_path, pack_dir, stdin)
    assert output.splitlines() == [
        "Mira: Come in, love!",
        NOT_UTF8,
        "Bram: Hmph.",
        "Mira: Come in, love!",
    ]
    assert "\ufffd\ufffd Bram, any fish?" in turns


async def test_escaped_bytes_from_a_c_locale_stdin_never_reach_the_store(
    tmp_path: Path, pack_dir: Path
) -> None:
    stdin = io.StringIO("\udcff Bram, any fish?\nMira, hello!\n")
    output, turns = await run_console(tmp_path, pack_dir, stdin)
    assert output.splitlines() == [NOT_UTF8, "Bram: Hmph.", "Mira: Come in, love!"]
    assert turns[0] == "\ufffd Bram, any fish?"


async def test_a_line_over_the_limit_is_refused_with_a_notice_and_never_read_whole(
    tmp_path: Path, pack_dir: Path
) -> None:
    long_line = "Mira, " + "a" * (10 * MAX_MESSAGE_CHARS)
    stdin = CountingReader(f"{long_line}\nMira, hello!\n")
    output, turns = await run_console(tmp_path, pack_dir, stdin)
    assert output.splitlines() == [
        f"That line has {len(long_line):,} characters; a message may have at most "
        f"{MAX_MESSAGE_CHARS:,}. It was not sent.",
        "Mira: Come in, love!",
    ]
    assert stdin.largest <= MAX_MESSAGE_CHARS + 1
    assert max(len(text) for text in turns) < 100


async def test_a_line_at_the_limit_is_sent(tmp_path: Path, pack_dir: Path) -> None:
    line = "Mira, " + "a" * (MAX_MESSAGE_CHARS - 6)
    output, turns = await run_console(tmp_path, pack_dir, io.StringIO(line + "\n"))
    assert output.splitlines() == ["Mira: Come in, love!"]
    assert line in turns
