"""The console adapter: reads lines from a terminal or a pipe, prints the cast's replies."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import re
import shlex
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TextIO

from botkit.adapters.console.colors import DIM, RESET, ansi_color

from botkit.adapter import MAX_MESSAGE_CHARS, AdapterContext, Capabilities, EventSink
from botkit.events import Author, ChannelKey, CommandEvent, Identity, MessageEvent, Permission
from botkit.options import Option
from botkit.plugin import Command

__all__ = ["ConsoleAdapter"]

log = logging.getLogger(__name__)

CHANNEL = ChannelKey("console", "local", "main")
QUIT = {"/quit", "/exit"}
DEFAULT_USER_NAME = "Traveller"
TYPING = "{name} is writing…"
"""The line a terminal shows while a reply is on its way, until its first words arrive."""
_CLEAR_LINE = "\r\x1b[K"
"""Back to the start of the line, and erase it (ANSI)."""
_SURROGATE = re.compile("[\ud800-\udfff]")
"""Bytes of input that are not UTF-8, as Python's ``surrogateescape`` decoding leaves them."""


class ConsoleAdapter:
    """A group chat in the terminal for one local user, who may run every command.

    Interactive (a TTY): shows the cast, lets it greet, prompts for each line. Scripted
    (stdin is a pipe or file): reads lines, prints replies, and closes at end of input.
    Each line is answered fully before the next is read, as a person would wait.

    Replies stream in as they are generated. When the output is a terminal, a dimmed
    "Mira is writing…" line shows while a reply is on its way and gives way to the reply
    when its first words arrive; written to a pipe or file, the output stays plain lines,
    with no such transient line.
    """

    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "user_name": Option("text"),
        "color": Option("flag"),
    }
    """What ``adapters.console`` takes; checked with the rest of the config."""
    name = "console"
    capabilities = Capabilities(personas=True, streaming=True, max_text_len=1_000_000)

    def __init__(
        self,
        *,
        wait_idle: Callable[[], Awaitable[None]],
        user_name: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
        color: bool | None = None,
        live: bool | None = None,
    ) -> None:
        self._wait_idle = wait_idle
        self._stdin = stdin or sys.stdin
        if isinstance(self._stdin, io.TextIOWrapper):
            self._stdin.reconfigure(errors="surrogateescape")
        self._stdout = stdout or sys.stdout
        self._interactive = self._stdin.isatty() if interactive is None else interactive
        self._color = _wants_color(self._stdout) if color is None else color
        self._live = _is_live(self._stdout) if live is None else live
        """Whether to show the transient typing line (the output is a capable terminal)."""
        self._user = Author(id="console-user", name=user_name or DEFAULT_USER_NAME)
        self._run = uuid.uuid4().hex[:12]
        """Part of every reply id, so that ids never repeat across runs on the same data."""
        self._ids = itertools.count(1)
        self._closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> ConsoleAdapter:
        """Build from the ``adapters.console`` config section (``user_name``, ``color``)."""
        return cls(
            wait_idle=context.wait_idle,
            user_name=options.get("user_name"),
            color=options.get("color"),
        )

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Begin reading lines and handing them to ``sink``; ``/name args`` lines are
        commands (the terminal has no menu: ``/help`` lists ``commands``)."""
        self._reader = asyncio.create_task(self._read(sink), name="botkit: console input")

    async def wait_closed(self) -> None:
        """Return at end of input (or /quit)."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Stop reading input."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._closed.set()

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Print ``identity``'s name and the whole reply."""
        self._write(self._paint(identity.name + ":", ansi_color(identity.color)) + f" {text}\n")
        return f"console-{self._run}-{next(self._ids)}"

    async def stream_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Print ``identity``'s name, then the reply as it streams in.

        On a live terminal the typing line shows until the first fragment and is erased
        then, or when the reply ends (or fails) without one.
        """
        typing = self._live
        if typing:
            self._write(self._paint(TYPING.format(name=identity.name), DIM))
        started = False
        try:
            async for fragment in fragments:
                if not started:
                    if typing:
                        self._write(_CLEAR_LINE)
                        typing = False
                    self._write(self._paint(identity.name + ":", ansi_color(identity.color)) + " ")
                    started = True
                self._write(fragment)
        finally:
            if started:
                self._write("\n")
            elif typing:
                self._write(_CLEAR_LINE)
        return f"console-{self._run}-{next(self._ids)}" if started else None

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Print a system message, dimmed."""
        if text:
            self._write(self._paint(text, DIM) + "\n")

    async def _read(self, sink: EventSink) -> None:
        try:
            if self._interactive:
                self._write(self._paint("Type to chat, /help for commands, Ctrl-D to leave.", DIM))
                self._write("\n")
                for opening in ("cast", "greet"):
                    await sink(self._command(opening, ()))
                    await self._wait_idle()
            while True:
                if self._interactive:
                    self._write(self._paint(f"{self._user.name}> ", ansi_color("bright_white")))
                line, length = await asyncio.to_thread(self._read_line)
                if not line:
                    break
                if length > MAX_MESSAGE_CHARS:
                    self._refuse_long_line(length)
                    continue
                line, replaced = _SURROGATE.subn("\ufffd", line)
                if replaced:
                    self._write(
                        self._paint(
                            "Part of that line was not UTF-8 text; it shows as \ufffd.", DIM
                        )
                        + "\n"
                    )
                text = line.strip()
                if text in QUIT:
                    break
                if not text:
                    continue
                await sink(self._event(text))
                await self._wait_idle()
        except Exception:
            log.exception("console input stopped")
        finally:
            self._closed.set()

    def _read_line(self) -> tuple[str, int]:
        """The next line (at most ``MAX_MESSAGE_CHARS`` of it kept) and its full length."""
        line = self._stdin.readline(MAX_MESSAGE_CHARS + 1)
        length = len(line.rstrip("\n"))
        if length <= MAX_MESSAGE_CHARS:
            return line, length
        while not line.endswith("\n"):
            line = self._stdin.readline(MAX_MESSAGE_CHARS + 1)
            if not line:
                break
            length += len(line.rstrip("\n"))
        return "\n", length

    def _refuse_long_line(self, length: int) -> None:
        log.info("console: refused a line of %d characters", length)
        self._write(
            self._paint(
                f"That line has {length:,} characters; a message may have at most "
                f"{MAX_MESSAGE_CHARS:,}. It was not sent.",
                DIM,
            )
            + "\n"
        )

    def _event(self, text: str) -> MessageEvent | CommandEvent:
        if text.startswith("/") and len(text) > 1:
            try:
                words = shlex.split(text[1:])
            except ValueError:
                words = text[1:].split()
            if words:
                return self._command(words[0], tuple(words[1:]))
        message_id = uuid.uuid4().hex
        return MessageEvent(
            event_id=f"console:{message_id}",
            channel=CHANNEL,
            author=self._user,
            text=text,
            message_id=message_id,
        )

    def _command(self, name: str, args: tuple[str, ...]) -> CommandEvent:
        return CommandEvent(
            event_id=f"console:{uuid.uuid4().hex}",
            channel=CHANNEL,
            author=self._user,
            name=name,
            args=args,
            permissions=Permission.MANAGE | Permission.OWNER,
        )

    def _paint(self, text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if self._color else text

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()


def _is_live(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()
