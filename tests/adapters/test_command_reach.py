"""Every declared command is reachable on every platform, with its arguments, and plugins
from a folder or an installed package add commands and change replies everywhere."""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from botkit.backends.base import ChatRequest
from botkit.characters.model import Character
from botkit.events import Permission
from botkit.plugin import Argument, Command, CommandCall, Plugin, PluginHost, menu_entries
from botkit.plugin_loader import LoadedPlugin, load_plugins
from tests.support.platforms import PLATFORMS, Discord, Platform, Telegram, running_platform
from tests.support.plugin_packages import install_plugin_package

ANSWER = "reached"
TEXT_PLATFORMS = ("console", "slack", "telegram")
"""Platforms where a command is a typed line, so aliases work too."""

Reached = list[tuple[tuple[str, ...], dict[str, Any]]]
"""Each run of a recorded command: its words and the arguments it was given."""


def _policies(host: PluginHost) -> Sequence[str]:
    return host.policy_names


def every_kind() -> LoadedPlugin:
    """A plugin whose commands take an argument of every kind (the built-in ones take no
    integer and no required choice), grouped and not."""
    plugin = Plugin("kinds", "an argument of every kind")
    arguments = (
        Argument("count", "a whole number", "integer"),
        Argument("speed", "a fixed choice", "choice", choices=("fast", "slow")),
        Argument("policy", "a choice read from the bot", "choice", choices=_policies),
        Argument("who", "a member", "member"),
        Argument("character", "a character", "character"),
        Argument("note", "some text"),
        Argument("extra", "an optional word", required=False),
    )

    async def unused(call: CommandCall) -> str:
        raise AssertionError("replaced by a recorder")

    plugin.command("every", "every kind of argument", *arguments, group="kinds")(unused)
    plugin.command("kinds_all", "every kind of argument", *arguments, needs=Permission.MANAGE)(
        unused
    )
    return LoadedPlugin(plugin, "this test")


def _plain(value: Any) -> Any:
    """An argument's value with characters as their ids, for comparing."""
    if isinstance(value, Character):
        return value.id
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def recording(loaded: Sequence[LoadedPlugin], reached: Reached) -> list[LoadedPlugin]:
    """Copies of ``loaded`` whose commands note their words and arguments in ``reached``
    and answer :data:`ANSWER` (the plugins themselves are left as they are)."""

    def recorder(command: Command) -> Any:
        async def handler(call: CommandCall) -> str:
            reached.append((command.words, {k: _plain(v) for k, v in call.args.items()}))
            return ANSWER

        return handler

    return [
        LoadedPlugin(
            dataclasses.replace(
                entry.plugin,
                commands=[
                    dataclasses.replace(command, handler=recorder(command))
                    for command in entry.plugin.commands
                ],
            ),
            entry.source,
        )
        for entry in loaded
    ]


def expected_value(argument: Argument, value: str) -> Any:
    """What a command's handler is given for ``value`` of ``argument``."""
    read: Any = int(value) if argument.kind == "integer" else value
    return [read] if argument.many else read


def samples(platform: Platform, command: Command) -> list[tuple[Argument, str]]:
    """A valid value for each required argument of ``command``."""
    return [
        (argument, platform.sample(argument)) for argument in command.arguments if argument.required
    ]


async def answer_or_failure(
    platform: Platform, words: Sequence[str], values: Sequence[tuple[Argument, str]]
) -> str:
    """The answer to a command, or why none came (so that one miss hides no other)."""
    try:
        return await platform.command(words, values)
    except AssertionError as error:
        return f"<{error}>"


@pytest.mark.parametrize("name", list(PLATFORMS))
async def test_every_command_reaches_its_handler_with_its_arguments(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pack_dir: Path
) -> None:
    reached: Reached = []
    plugins = recording([*load_plugins(), every_kind()], reached)
    async with running_platform(name, monkeypatch, tmp_path, pack_dir, plugins=plugins) as platform:
        commands = platform.app.command_list
        assert len(commands) == sum(len(p.plugin.commands) for p in plugins)
        menu = platform.menu()
        if menu is not None:
            assert menu == set(menu_entries(commands))
        if isinstance(platform, Telegram):
            assert platform.menu_entries() == menu_entries(commands)
        if isinstance(platform, Discord):
            groups = {c.group for c in commands if c.group is not None}
            for group in groups:
                wanted = {c.name for c in commands if c.group == group}
                assert platform.subcommands(group) == wanted, group
        answers: dict[str, str] = {}
        given: Reached = []
        for command in commands:
            values = samples(platform, command)
            answers[command.path] = await answer_or_failure(platform, command.words, values)
            given.append((command.words, {a.name: expected_value(a, v) for a, v in values}))
    assert answers == {command.path: ANSWER for command in commands}
    assert reached == given


@pytest.mark.parametrize("name", TEXT_PLATFORMS)
async def test_every_alias_reaches_its_command(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pack_dir: Path
) -> None:
    reached: Reached = []
    plugins = recording(load_plugins(), reached)
    async with running_platform(name, monkeypatch, tmp_path, pack_dir, plugins=plugins) as platform:
        aliased = [c for c in platform.app.command_list if c.aliases]
        assert aliased, "the built-in plugins declare aliases"
        answers: dict[str, str] = {}
        called: list[tuple[str, ...]] = []
        for command in aliased:
            for alias in command.aliases:
                values = samples(platform, command)
                answers[alias] = await answer_or_failure(platform, alias.split(), values)
                called.append(command.words)
    assert answers == {alias: ANSWER for c in aliased for alias in c.aliases}
    assert [words for words, _ in reached] == called


FOLDER_PLUGIN = '''
"""A coin to flip, and a mark on every reply."""

from botkit.plugin import CommandCall, Plugin, ReplyCall

plugin = Plugin("coin", "flip a coin")


@plugin.command("flip", "flip a coin")
async def flip(call: CommandCall) -> str:
    return "The coin lands heads."


@plugin.on_reply
async def mark(call: ReplyCall) -> str:
    return call.text.strip() + " [coin]"
'''

PACKAGE_PLUGIN = '''
"""Answers a ping, and marks every reply."""

from botkit.plugin import CommandCall, Plugin, ReplyCall

plugin = Plugin("pinger", "answers /ping")


@plugin.command("ping", "see whether the bot is there")
async def ping(call: CommandCall) -> str:
    return "pong"


@plugin.on_reply
async def mark(call: ReplyCall) -> str:
    return call.text.strip() + " [ping]"
'''
PACKAGE_MODULE = "botkit_test_pinger"


@pytest.fixture(scope="module")
def pinger_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the package ``botkit-test-pinger`` installed by pip (built once)."""
    return install_plugin_package(
        tmp_path_factory.mktemp("pinger"),
        distribution="botkit-test-pinger",
        module=PACKAGE_MODULE,
        source=PACKAGE_PLUGIN,
        entry="pinger",
    )


@pytest.fixture
def pinger_installed(pinger_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The package on ``sys.path``, so that its entry point is found (imported afresh)."""
    monkeypatch.syspath_prepend(str(pinger_site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop(PACKAGE_MODULE, None)


@pytest.mark.parametrize("name", list(PLATFORMS))
@pytest.mark.usefixtures("pinger_installed")
async def test_plugins_from_a_folder_and_a_package_add_commands_and_change_replies(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pack_dir: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "coin.py").write_text(FOLDER_PLUGIN.lstrip())
    settings = {"plugins": {"folders": [str(folder)]}}
    async with running_platform(
        name, monkeypatch, tmp_path, pack_dir, script="Aye.", settings=settings
    ) as platform:
        sources = {loaded.plugin.name: loaded.source for loaded in platform.app.plugins}
        assert sources["pinger"].startswith("entry point pinger of botkit-test-pinger 1.0")
        assert sources["coin"] == f"folder {folder / 'coin.py'}"
        menu = platform.menu()
        if menu is not None:
            assert {"flip", "ping"} <= menu
        assert await platform.command(["flip"], []) == "The coin lands heads."
        assert await platform.command(["ping"], []) == "pong"
        assert await platform.reply("Mira, any news from the harbour?") == "Aye. [ping] [coin]"


@pytest.mark.parametrize("name", list(PLATFORMS))
async def test_a_roll_is_answered_on_every_platform_and_is_in_the_next_prompt(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pack_dir: Path
) -> None:
    prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        prompts.append("\n".join(message.content for message in request.messages))
        return "Aye."

    async with running_platform(name, monkeypatch, tmp_path, pack_dir, script=reply) as platform:
        [roll] = [c for c in platform.app.commands.commands if c.words == ("roll",)]
        rolled = await platform.command(["roll"], [(roll.arguments[0], "2d6+3")])
        found = re.fullmatch(r".+ rolls (2d6\+3: \[\d, \d\] \+ 3 = \d+)", rolled)
        assert found is not None, rolled
        assert await platform.reply("Mira, what did I roll?") == "Aye."
        assert f"(rolls {found.group(1)})" in prompts[-1]
