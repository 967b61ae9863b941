"""Discord's slash commands, built from the declarations of botkit's commands."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands

from botkit.events import Permission
from botkit.plugin import Argument, Command

__all__ = ["CommandRunner", "build_command_tree"]

CommandRunner = Callable[[discord.Interaction, str, tuple[str, ...]], Awaitable[None]]
"""Runs a botkit command (first word and the words after it) for an interaction."""
MAX_CHOICES = 25
"""Discord shows at most this many fixed choices (or autocomplete suggestions)."""
_ANNOTATIONS: dict[str, Any] = {
    "text": str,
    "choice": str,
    "character": str,
    "integer": int,
    "member": discord.User,
}


def build_command_tree(
    client: discord.Client,
    run: CommandRunner,
    commands: Sequence[Command],
    names: Callable[[], Sequence[str]],
) -> app_commands.CommandTree[discord.Client]:
    """A command tree with one slash command per botkit command; grouped ones become
    sub-commands (``/character add``).

    Commands that need the manage permission carry Manage Server as their default
    permission (a hint to server admins; botkit checks the caller's rights itself when
    the command runs). Characters are autocompleted from ``names``.
    """
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def complete(
        _interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.casefold()
        found = [name for name in names() if wanted in name.casefold()]
        return [app_commands.Choice(name=name, value=name) for name in found[:MAX_CHOICES]]

    groups: dict[str, app_commands.Group] = {}
    for command in commands:
        parent = None
        if command.group is not None:
            parent = groups.get(command.group)
            if parent is None:
                summary = ", ".join(c.name for c in commands if c.group == command.group)
                parent = app_commands.Group(name=command.group, description=summary[:100])
                groups[command.group] = parent
                tree.add_command(parent)
        slash = app_commands.Command(
            name=command.name,
            description=command.summary[:100],
            callback=_callback(command, run, complete),
            parent=parent,
        )
        if command.needs & Permission.MANAGE:
            slash.default_permissions = discord.Permissions(manage_guild=True)
        if parent is None:
            tree.add_command(slash)
        else:
            parent.add_command(slash)
    return tree


def _callback(command: Command, run: CommandRunner, complete: Any) -> Any:
    """A callback whose signature declares ``command``'s arguments to Discord."""
    first, *rest = command.words

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        words: list[str] = list(rest)
        for argument in command.arguments:
            value = values.get(argument.name)
            if value is None or value == "":
                continue
            words += _words(argument, value)
        await run(interaction, first, tuple(words))

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for argument in command.arguments:
        parameters.append(
            inspect.Parameter(
                argument.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_ANNOTATIONS[argument.kind],
                default=inspect.Parameter.empty if argument.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = f"botkit_{'_'.join(command.words)}"
    described = {a.name: a.summary[:100] for a in command.arguments}
    app_commands.describe(**described)(callback)
    choices = {
        a.name: [app_commands.Choice(name=o, value=o) for o in a.fixed_choices]
        for a in command.arguments
        if a.kind == "choice" and 0 < len(a.fixed_choices) <= MAX_CHOICES
    }
    if choices:
        app_commands.choices(**choices)(callback)
    completed = {a.name: complete for a in command.arguments if a.kind == "character"}
    if completed:
        app_commands.autocomplete(**completed)(callback)
    return callback


def _words(argument: Argument, value: Any) -> list[str]:
    """The words a botkit command reads for one Discord option's value."""
    if isinstance(value, discord.abc.User):
        return [str(value.id)]
    if argument.many:
        return [part.strip() for part in str(value).split(",") if part.strip()]
    return [str(value)]
