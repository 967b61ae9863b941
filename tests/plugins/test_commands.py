"""Commands declared once: reading arguments, permissions, aliases, groups, failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from botkit.app import ConfigurationError
from botkit.command_registry import CommandRegistry
from botkit.events import Permission
from botkit.plugin import Argument, CommandCall, CommandError, Plugin
from botkit.testing import InstantBackend
from tests.plugins.helpers import answer, with_builtins

AppFactory = Any


def probe_plugin() -> Plugin:
    plugin = Plugin("probe", "commands that show what they were given")

    @plugin.command(
        "probe",
        "show the arguments",
        Argument("count", "a number", "integer"),
        Argument("who", "a character", "character"),
        Argument("rest", "free text", required=False),
        aliases=("inspect", "look closer"),
    )
    async def probe(call: CommandCall) -> str:
        who = call.args["who"]
        return f"{call.args['count']}|{who.name}|{call.args.get('rest', '-')}"

    @plugin.command(
        "pick",
        "choose a colour",
        Argument("colour", "a colour", "choice", choices=("red", "green")),
        Argument("target", "a member", "member", required=False, needs=Permission.MANAGE),
        group="paint",
    )
    async def pick(call: CommandCall) -> str:
        return f"{call.args['colour']}>{call.args.get('target', 'nobody')}"

    @plugin.command("many", "list words", Argument("words", "words", many=True))
    async def many(call: CommandCall) -> str:
        return ",".join(call.args["words"])

    @plugin.command("guarded", "needs manage", needs=Permission.MANAGE)
    async def guarded(call: CommandCall) -> str:
        return "done"

    @plugin.command("boom", "always fails")
    async def boom(call: CommandCall) -> str:
        raise RuntimeError("the fuse was lit")

    @plugin.command("refuse", "refuses politely")
    async def refuse(call: CommandCall) -> str:
        raise CommandError("not today")

    return plugin


async def test_arguments_are_read_by_kind_and_the_last_takes_the_rest(
    make_app: AppFactory,
) -> None:
    plugins = with_builtins(probe_plugin())
    async with make_app(InstantBackend("Hm."), plugins=plugins) as (app, adapter):
        assert await answer(app, adapter, "probe", "3", "Mira", "the", "old", "mill") == (
            "3|Mira|the old mill"
        )
        assert await answer(app, adapter, "probe", "3", "bram") == "3|Bram|-"
        assert await answer(app, adapter, "probe", "x", "bram") == (
            "Cannot do that: count: 'x' is not a whole number"
        )
        assert await answer(app, adapter, "probe", "2", "nobody") == (
            "Cannot do that: no character called 'nobody'; /characters lists them"
        )
        assert await answer(app, adapter, "probe", "2") == (
            "Cannot do that: usage: /probe <count> <who> [rest]"
        )
        assert await answer(app, adapter, "many", "a", "b", "c") == "a,b,c"


async def test_aliases_groups_and_choices(make_app: AppFactory) -> None:
    plugins = with_builtins(probe_plugin())
    async with make_app(InstantBackend("Hm."), plugins=plugins) as (app, adapter):
        assert await answer(app, adapter, "inspect", "1", "mira") == "1|Mira|-"
        assert await answer(app, adapter, "look", "closer", "1", "mira") == "1|Mira|-"
        assert await answer(app, adapter, "look") == "Cannot do that: /look needs one of: closer"
        assert await answer(app, adapter, "paint") == "Cannot do that: /paint needs one of: pick"
        assert await answer(app, adapter, "paint", "pick", "GREEN") == "green>nobody"
        assert await answer(app, adapter, "paint", "pick", "blue") == (
            "Cannot do that: no colour called 'blue'; choose from red, green"
        )
        assert await answer(app, adapter, "paint", "pick", "red", "<@42>") == "red>42"
        assert await answer(app, adapter, "nonsense") == (
            "Cannot do that: unknown command /nonsense; try /help"
        )
        overview = (await answer(app, adapter, "help")).splitlines()
        assert len(overview) <= 25
        assert any(line.startswith("/paint pick ") for line in overview)
        assert any(line.startswith("/roll <dice> ") for line in overview)
        assert any(line.startswith("/character list|info|add|") for line in overview)
        paint = await answer(app, adapter, "help", "paint")
        assert paint.startswith("/paint pick <red|green> [target]")
        characters = await answer(app, adapter, "help", "character")
        assert "/character add <characters> [...] bring characters in (also /add, /mix)" in [
            " ".join(line.split()) for line in characters.splitlines()
        ]


async def test_permissions_come_from_the_declarations(make_app: AppFactory) -> None:
    plugins = with_builtins(probe_plugin())
    async with make_app(InstantBackend("Hm."), plugins=plugins) as (app, adapter):
        assert await answer(app, adapter, "guarded", manage=False) == (
            "Cannot do that: /guarded changes this channel and needs the manage permission"
        )
        assert await answer(app, adapter, "guarded") == "done"
        assert await answer(app, adapter, "paint", "pick", "red", manage=False) == "red>nobody"
        assert await answer(app, adapter, "paint", "pick", "red", "42", manage=False) == (
            "Cannot do that: /paint pick changes this channel and needs the manage permission"
        )


async def test_a_failing_command_names_its_plugin_and_others_go_on(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = with_builtins(probe_plugin())
    async with make_app(InstantBackend("Hm."), plugins=plugins) as (app, adapter):
        with caplog.at_level(logging.WARNING):
            assert await answer(app, adapter, "boom") == (
                "Cannot do that: /boom failed inside plugin probe; the log says why"
            )
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warned == ["plugin probe: /boom failed: RuntimeError: the fuse was lit"]
        assert await answer(app, adapter, "refuse") == "Cannot do that: not today"
        assert await answer(app, adapter, "many", "still", "here") == "still,here"


def test_two_commands_may_not_answer_to_the_same_words() -> None:
    first, second = Plugin("first"), Plugin("second")

    async def handler(call: CommandCall) -> str:
        return ""

    first.command("hello", "say hello")(handler)
    second.command("greet", "say hello too", aliases=("hello",))(handler)
    with pytest.raises(ValueError, match="/hello of plugin 'second' is already a command"):
        CommandRegistry([*first.commands, *second.commands])
    third = Plugin("third")
    third.command("x", "one of a group", group="hello")(handler)
    with pytest.raises(ValueError, match="names a group"):
        CommandRegistry([*third.commands, *first.commands])
    with pytest.raises(ValueError, match="the group /hello of plugin 'third' is already a command"):
        CommandRegistry([*first.commands, *third.commands])


async def test_an_app_whose_plugins_clash_does_not_start(make_app: AppFactory) -> None:
    clash = Plugin("clash")

    @clash.command("roll", "roll differently")
    async def roll(call: CommandCall) -> str:
        return ""

    with pytest.raises(ConfigurationError, match="/roll of plugin 'clash' is already a command"):
        async with make_app(InstantBackend("Hm."), plugins=with_builtins(clash)):
            pass


@pytest.mark.parametrize(
    ("declare", "problem"),
    [
        (lambda p, h: p.command("Bad Name", "x")(h), "use 1-32 of a-z, 0-9 and _"),
        (lambda p, h: p.command("ok", "x", group="has-dash")(h), "Telegram's rule"),
        (lambda p, h: p.command("ok", "")(h), "summary takes 1-100 characters"),
        (
            lambda p, h: p.command(
                "ok", "x", Argument("a", "a", required=False), Argument("b", "b")
            )(h),
            "optional arguments come last",
        ),
        (lambda p, h: p.command("ok", "x", Argument("Bad", "b"))(h), "argument name 'Bad'"),
        (lambda p, h: p.command("ok", "x", aliases=("a b c",))(h), "one or two words"),
    ],
)
def test_a_bad_declaration_is_refused_when_it_is_made(declare: Any, problem: str) -> None:
    async def handler(call: CommandCall) -> str:
        return ""

    with pytest.raises(ValueError, match=problem):
        declare(Plugin("bad"), handler)
