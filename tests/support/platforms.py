"""One way to drive botkit on each platform: run a command, say something, read the menu.

Each :class:`Platform` runs an App with its adapter (the console, or the real Discord,
Slack or Telegram library against its loopback fake) and invokes commands the way that
platform does: a ``/line`` on the console, a slash command with options (and a
sub-command for a group) on Discord, ``/botkit words`` on Slack, a ``/word`` message on
Telegram, always as a caller with the manage permission.
"""

from __future__ import annotations

import html
import io
import queue
import shlex
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from botkit.adapters.console import ConsoleAdapter
from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.slack import SlackAdapter
from botkit.adapters.telegram import TelegramAdapter

from botkit.adapter import Adapter
from botkit.app import App
from botkit.config import parse_config
from botkit.plugin import Argument
from botkit.plugin_loader import LoadedPlugin
from botkit.testing import InstantBackend
from tests.support import discord_server, slack_server, telegram_server
from tests.support.apps import until
from tests.support.discord_server import FakeDiscord
from tests.support.slack_server import FakeSlack
from tests.support.telegram_server import FakeTelegram, Member

__all__ = ["PLATFORMS", "Platform", "running_platform"]

SAMPLE_CHARACTER = "mira"
"""A character of the test pack (tests/conftest.py), by id."""
SAMPLE_TEXT = "word"
SAMPLE_INTEGER = "3"
WAIT = 15.0
"""Seconds to wait for an answer or a reply before failing (a bound, not a timing test)."""


class Platform(ABC):
    """A running App on one platform, and a member with the manage permission to drive it."""

    name: str
    member_id: str
    """A member of the channel: the sample value of ``member`` arguments."""

    def __init__(self) -> None:
        self._app: App | None = None

    @property
    def app(self) -> App:
        assert self._app is not None, "the platform is not running"
        return self._app

    async def open(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Start the fake platform server, if any."""
        return None

    async def close(self) -> None:
        """Stop the fake platform server, if any."""
        return None

    @abstractmethod
    def adapter(self, app: App) -> Adapter:
        """A new adapter for ``app``, pointed at the fake."""

    async def started(self, app: App) -> None:
        """Called once ``app`` has started with the adapter."""
        self._app = app

    def finish(self) -> None:
        """Called once the app has stopped, or failed to start (ends the console's input,
        so that no thread stays blocked reading it)."""
        return None

    async def _until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait for ``condition``; fail naming the platform and ``what`` was awaited."""
        try:
            await until(condition, timeout=WAIT)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {what} within {WAIT:.0f} s") from None

    def menu(self) -> set[str] | None:
        """The top-level command names the platform's menu shows (None: it has no menu)."""
        return None

    def sample(self, argument: Argument) -> str:
        """A valid value for ``argument`` (its choices read as the menu shows them)."""
        match argument.kind:
            case "character":
                return SAMPLE_CHARACTER
            case "integer":
                return SAMPLE_INTEGER
            case "member":
                return self.member_id
            case "choice":
                return argument.fixed_choices[0]
            case _:
                return SAMPLE_TEXT

    @abstractmethod
    async def command(self, words: Sequence[str], values: Sequence[tuple[Argument, str]]) -> str:
        """Run the command ``words`` with ``values`` for its arguments, as a member with
        the manage permission, and return the answer the platform shows."""

    @abstractmethod
    async def reply(self, text: str) -> str:
        """Say ``text`` in the channel and return the text of the character's reply
        (without the name a platform puts in front of it)."""


class LineInput(io.TextIOBase):
    """A console's standard input fed line by line by the test (``readline`` blocks)."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def feed(self, line: str) -> None:
        self._lines.put(line + "\n")

    def end(self) -> None:
        self._lines.put("")

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def readline(self, size: int | None = -1, /) -> str:
        return self._lines.get()


class Console(Platform):
    name = "console"
    member_id = "console-user"

    def __init__(self) -> None:
        super().__init__()
        self._input = LineInput()
        self._output = io.StringIO()

    def adapter(self, app: App) -> Adapter:
        return ConsoleAdapter(
            wait_idle=app.wait_idle,
            stdin=self._input,
            stdout=self._output,
            interactive=False,
            color=False,
            live=False,
        )

    def finish(self) -> None:
        self._input.end()

    async def _line(self, line: str) -> str:
        before = len(self._output.getvalue())

        def answered() -> bool:
            shown = self._output.getvalue()
            return len(shown) > before and shown.endswith("\n")

        self._input.feed(line)
        await self._until(answered, f"answer to {line!r}")
        await self.app.wait_idle()
        return self._output.getvalue()[before:].strip()

    async def command(self, words: Sequence[str], values: Sequence[tuple[Argument, str]]) -> str:
        return await self._line("/" + shlex.join([*words, *(value for _, value in values)]))

    async def reply(self, text: str) -> str:
        shown = await self._line(text)
        name, _, said = shown.partition(": ")
        assert name == "Mira", shown
        return said


DISCORD_MEMBER = discord_server.user("100000000000000001", "Ann")
MANAGE_SERVER = discord_server.MANAGE_GUILD | (1 << 11)
"""Manage Server (and Send Messages)."""
_DISCORD_OPTION_TYPES = {"text": 3, "choice": 3, "character": 3, "integer": 4, "member": 6}


class Discord(Platform):
    name = "discord"
    member_id = DISCORD_MEMBER["id"]

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeDiscord()

    async def open(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.fake.start()
        monkeypatch.setattr(discord.http.Route, "BASE", self.fake.rest_url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.fake.gateway_url)
        )

    async def close(self) -> None:
        await self.fake.close()

    def adapter(self, app: App) -> Adapter:
        return DiscordAdapter(token="test-token", character_names=lambda: ["Mira", "Bram", "Wren"])

    def menu(self) -> set[str] | None:
        return {c["name"] for c in self.fake.commands}

    def subcommands(self, group: str) -> set[str]:
        """The names of the sub-commands registered under the slash command ``group``."""
        registered = next(c for c in self.fake.commands if c["name"] == group)
        return {o["name"] for o in registered.get("options", []) if o["type"] == 1}

    def _answers(self) -> list[str]:
        return [p.content for p in self.fake.posted if p.kind == "followup"]

    async def command(self, words: Sequence[str], values: Sequence[tuple[Argument, str]]) -> str:
        options: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for argument, value in values:
            kind = _DISCORD_OPTION_TYPES[argument.kind]
            options.append(
                {"name": argument.name, "type": kind, "value": int(value) if kind == 4 else value}
            )
            if argument.kind == "member":
                member = _discord_member(DISCORD_MEMBER, MANAGE_SERVER)
                del member["user"]
                resolved.setdefault("users", {})[value] = DISCORD_MEMBER
                resolved.setdefault("members", {})[value] = member
        before = len(self._answers())
        await self.fake.command(
            DISCORD_MEMBER,
            words[0],
            options,
            permissions=MANAGE_SERVER,
            subcommand=words[1] if len(words) == 2 else None,
            resolved=resolved,
        )
        await self._until(lambda: len(self._answers()) > before, f"answer to /{' '.join(words)}")
        await self.app.wait_idle()
        return self._answers()[-1]

    async def reply(self, text: str) -> str:
        def posts() -> list[str]:
            return [p.content for p in self.fake.posted if p.kind == "webhook"]

        before = len(posts())
        await self.fake.say(DISCORD_MEMBER, text)
        await self._until(lambda: len(posts()) > before, f"reply to {text!r}")
        await self.app.wait_idle()
        [said] = posts()[before:]
        return said


def _discord_member(user: dict[str, Any], permissions: int) -> dict[str, Any]:
    return {
        "user": user,
        "roles": [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions),
    }


SLACK_ADMIN, SLACK_MEMBER = "U0ADMIN", "U0ANN"


class Slack(Platform):
    name = "slack"
    member_id = SLACK_MEMBER

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeSlack()
        self.fake.admins.add(SLACK_ADMIN)
        self._adapter: SlackAdapter | None = None

    async def open(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.fake.start()

    async def close(self) -> None:
        await self.fake.close()

    def adapter(self, app: App) -> Adapter:
        self._adapter = SlackAdapter(
            bot_token="xoxb-test",
            signing_secret=slack_server.SIGNING_SECRET,
            port=0,
            base_url=self.fake.api_url,
        )
        return self._adapter

    async def started(self, app: App) -> None:
        await super().started(app)
        assert self._adapter is not None
        self.fake.app_url = self._adapter.url

    async def command(self, words: Sequence[str], values: Sequence[tuple[Argument, str]]) -> str:
        before = len(self.fake.responses)
        text = " ".join([*words, *(value for _, value in values)])
        assert await self.fake.command(SLACK_ADMIN, text) == 200
        await self._until(lambda: len(self.fake.responses) > before, f"answer to /botkit {text}")
        await self.app.wait_idle()
        return str(self.fake.responses[-1]["text"])

    async def reply(self, text: str) -> str:
        before = len(self.fake.posted)
        await self.fake.say(SLACK_MEMBER, text)
        await self._until(lambda: len(self.fake.posted) > before, f"reply to {text!r}")
        await self.app.wait_idle()
        [post] = self.fake.posted[before:]
        assert post.username == "Mira", post
        return post.text


TELEGRAM_ADMIN = Member(7002, "Captain")
TELEGRAM_MEMBER = Member(7001, "Ann")


class Telegram(Platform):
    name = "telegram"
    member_id = str(TELEGRAM_MEMBER.id)

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeTelegram()
        self.fake.statuses[TELEGRAM_ADMIN.id] = "administrator"

    async def open(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.fake.start()

    async def close(self) -> None:
        await self.fake.close()

    def adapter(self, app: App) -> Adapter:
        return TelegramAdapter(
            token=telegram_server.SHARED_TOKEN, base_url=self.fake.base_url, poll_timeout=1
        )

    def menu_entries(self) -> dict[str, str]:
        """The shared bot's command menu (``setMyCommands``): command → description."""
        listed = self.fake.commands[telegram_server.SHARED_TOKEN]
        return {c["command"]: c["description"] for c in listed}

    def menu(self) -> set[str] | None:
        return set(self.menu_entries())

    def _sent(self, *, replies: bool) -> list[telegram_server.Sent]:
        """The shared bot's command answers (plain) or characters' replies (HTML)."""
        return [s for s in self.fake.sent if (s.parse_mode == "HTML") == replies]

    async def command(self, words: Sequence[str], values: Sequence[tuple[Argument, str]]) -> str:
        before = len(self._sent(replies=False))
        line = "/" + " ".join([*words, *(value for _, value in values)])
        self.fake.push_message(telegram_server.GROUP_ID, TELEGRAM_ADMIN, line)
        await self._until(lambda: len(self._sent(replies=False)) > before, f"answer to {line}")
        await self.app.wait_idle()
        return self._sent(replies=False)[-1].text

    async def reply(self, text: str) -> str:
        before = len(self._sent(replies=True))
        self.fake.push_message(telegram_server.GROUP_ID, TELEGRAM_MEMBER, text)
        await self._until(lambda: len(self._sent(replies=True)) > before, f"reply to {text!r}")
        await self.app.wait_idle()
        [sent] = self._sent(replies=True)[before:]
        prefix = "<b>Mira:</b> "
        assert sent.text.startswith(prefix), sent
        return html.unescape(sent.text.removeprefix(prefix))


PLATFORMS: dict[str, type[Platform]] = {
    platform.name: platform for platform in (Console, Discord, Slack, Telegram)
}


@asynccontextmanager
async def running_platform(
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pack_dir: Path,
    *,
    script: str | Any = "Aye.",
    plugins: Sequence[LoadedPlugin] | None = None,
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[Platform]:
    """An App on the test pack (cast Mira and Bram, one reply per message, memory off)
    with an instant backend answering ``script``, on platform ``name``.

    ``plugins`` replaces the plugins the config names; ``settings`` adds to the config.
    """
    platform = PLATFORMS[name]()
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
            **(settings or {}),
        }
    )
    await platform.open(monkeypatch)
    try:
        adapters: dict[str, Adapter] = {}
        backends = {"instant": InstantBackend(script)}
        app = App(config, backends=backends, adapters=adapters, plugins=plugins)
        adapters[platform.name] = platform.adapter(app)
        try:
            async with app:
                await platform.started(app)
                yield platform
        finally:
            platform.finish()
    finally:
        await platform.close()
