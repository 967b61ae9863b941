"""Every command the loaded plugins declare: finding one from words, reading its
arguments, checking the caller's permission, and running it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from botkit.characters.model import Character
from botkit.characters.registry import CharacterRegistry
from botkit.conversation import Conversation
from botkit.events import CommandEvent, Permission
from botkit.plugin import Argument, Command, CommandCall, CommandError, Plugin, PluginHost

__all__ = ["MAX_ANSWER_LINES", "CommandRegistry", "bounded", "read_arguments"]

log = logging.getLogger(__name__)

MAX_ANSWER_LINES = 25
"""The most lines a command's answer or error posts to a channel; the rest goes to the log."""
_MENTION = re.compile(r"^<@!?(\w+)>$|^@")


class CommandRegistry:
    """The commands of every loaded plugin, found by name, group or alias.

    A group's name alone may be the alias of one of its own commands (``/memory`` for
    ``/memory recall``). Raises ValueError when two commands would answer to the same
    words.
    """

    @classmethod
    def of(cls, plugins: Iterable[Plugin]) -> CommandRegistry:
        """The commands of ``plugins``, in their order."""
        return cls(command for plugin in plugins for command in plugin.commands)

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: list[Command] = []
        self._by_words: dict[tuple[str, ...], Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        """Register ``command``; its name and aliases must be free."""
        names = [command.words, *(tuple(alias.lower().split()) for alias in command.aliases)]
        for words in names:
            taken = self._by_words.get(words)
            if taken is not None:
                raise ValueError(
                    f"/{' '.join(words)} of plugin {command.plugin!r} is already a command"
                    f" of plugin {taken.plugin!r}"
                )
            if len(words) == 1 and words[0] != command.group and words in self._groups():
                raise ValueError(f"/{words[0]} of plugin {command.plugin!r} names a group")
        shortcut = self._by_words.get((command.group,)) if command.group else None
        if shortcut is not None and shortcut.group != command.group:
            raise ValueError(
                f"the group /{command.group} of plugin {command.plugin!r} is already a command"
            )
        for words in names:
            self._by_words[words] = command
        self._commands.append(command)

    def _groups(self) -> set[tuple[str]]:
        return {(c.group,) for c in self._commands if c.group is not None}

    @property
    def commands(self) -> tuple[Command, ...]:
        """Every command, in the order the plugins declared them."""
        return tuple(self._commands)

    def find(self, words: Sequence[str]) -> tuple[Command, tuple[str, ...]]:
        """The command ``words`` name (the longest match wins) and the words after it.

        Raises:
            CommandError: no command starts that way.
        """
        lowered = [word.lower() for word in words]
        for size in (2, 1):
            command = self._by_words.get(tuple(lowered[:size]))
            if command is not None and len(lowered) >= size:
                return command, tuple(words[size:])
        following = sorted(
            w[1] for w in self._by_words if len(w) == 2 and w[:1] == tuple(lowered[:1])
        )
        if following:
            raise CommandError(f"/{lowered[0]} needs one of: {', '.join(following)}")
        shown = f"/{words[0]}" if words else "an empty command"
        raise CommandError(f"unknown command {shown}; try /help")

    async def run(
        self,
        event: CommandEvent,
        conversation: Conversation,
        host: PluginHost,
        interrupted: Callable[[], bool],
    ) -> str:
        """Run the command ``event`` names; the answer is cut to :data:`MAX_ANSWER_LINES`.

        A handler that fails unexpectedly is logged with its plugin's name, and the caller
        is told the command failed.

        Raises:
            CommandError: unknown command, bad arguments, missing permission, or the
                command refused.
        """
        try:
            words = [event.name, *event.args]
            command, rest = self.find(words)
            typed = "/" + " ".join(words[: len(words) - len(rest)]).lower()
            if command.needs and not command.needs & event.permissions:
                raise CommandError(f"{typed} {_needs(command.needs)}")
            args = read_arguments(command, rest, event.permissions, host, typed=typed)
            call = CommandCall(event, conversation, args, host, interrupted)
            try:
                answer = await command.handler(call)
            except CommandError:
                raise
            except Exception as error:
                log.warning(
                    "plugin %s: %s failed: %s: %s",
                    command.plugin,
                    command.path,
                    type(error).__name__,
                    error,
                )
                log.debug("details", exc_info=True)
                raise CommandError(
                    f"{command.path} failed inside plugin {command.plugin}; the log says why"
                ) from error
            return bounded(answer)
        except CommandError as error:
            raise CommandError(bounded(str(error))) from error

    def menu(self, host: PluginHost) -> tuple[Command, ...]:
        """Every command with its choices read from ``host``, as platforms' menus show them."""
        return tuple(command.resolved(host) for command in self._commands)


def read_arguments(
    command: Command,
    words: Sequence[str],
    permissions: Permission,
    host: PluginHost,
    *,
    typed: str | None = None,
) -> dict[str, Any]:
    """The values of ``command``'s arguments from ``words``, read as each argument's kind.

    The last argument takes the remaining words (joined, or as a list with ``many``).
    ``typed`` is the command as the caller named it (an alias, say), for errors.

    Raises:
        CommandError: an argument is missing or not what its kind allows, or the caller
            may not give it.
    """
    typed = typed or command.path
    usage = " ".join([typed, *(argument.usage for argument in command.arguments)])
    values: dict[str, Any] = {}
    remaining = list(words)
    arguments = command.arguments
    for index, argument in enumerate(arguments):
        last = index == len(arguments) - 1
        if not remaining:
            if argument.required:
                raise CommandError(f"usage: {usage}")
            continue
        if argument.needs and not argument.needs & permissions:
            raise CommandError(f"{typed} {_needs(argument.needs)}")
        if argument.many:
            taken, remaining = remaining, []
            values[argument.name] = [_read(argument, w, host) for w in taken]
        elif last:
            taken, remaining = remaining, []
            values[argument.name] = _read(argument, " ".join(taken), host)
        else:
            values[argument.name] = _read(argument, remaining.pop(0), host)
    if remaining:
        raise CommandError(f"usage: {usage}")
    return values


def _read(argument: Argument, word: str, host: PluginHost) -> Any:
    """One argument's value from its text."""
    match argument.kind:
        case "integer":
            try:
                return int(word)
            except ValueError:
                raise CommandError(f"{argument.name}: {word!r} is not a whole number") from None
        case "character":
            return _character(word, host.characters)
        case "member":
            return _MENTION.sub(lambda m: m.group(1) or "", word)
        case "choice":
            options = argument.options(host)
            found = next((o for o in options if o.lower() == word.lower()), None)
            if found is None:
                raise CommandError(
                    f"no {argument.name} called {word!r}; choose from {', '.join(options)}"
                )
            return found
        case _:
            return word


def _character(name: str, characters: CharacterRegistry) -> Character:
    character = characters.find(name)
    if character is None:
        raise CommandError(f"no character called {name!r}; /characters lists them")
    return character


def _needs(permission: Permission) -> str:
    if Permission.OWNER & permission and not Permission.MANAGE & permission:
        return "is only for the bot's owner"
    return "changes this channel and needs the manage permission"


def bounded(text: str) -> str:
    """``text`` cut to :data:`MAX_ANSWER_LINES` lines, saying how many more the log holds."""
    lines = text.splitlines()
    if len(lines) <= MAX_ANSWER_LINES:
        return text
    log.debug("command answer in full:\n%s", text)
    kept = lines[: MAX_ANSWER_LINES - 1]
    return "\n".join([*kept, f"… and {len(lines) - len(kept):,} more lines (in the debug log)"])
