"""What a plugin declares: commands, hooks on messages, prompts and replies, and parts.

A plugin is a :class:`Plugin` object that botkit finds through the ``botkit.plugins``
entry-point group or as the ``plugin`` attribute of a module in a configured folder::

    from botkit.plugin import Argument, CommandCall, Plugin

    plugin = Plugin("coin", "flip a coin")

    @plugin.command("flip", "flip a coin", Argument("times", "how many", "integer", required=False))
    async def flip(call: CommandCall) -> str:
        return "heads"

Every command, with its arguments, permission and summary, is declared once; each
platform builds its menu (Discord's slash commands, Telegram's command list, Slack's
``/botkit`` words, the console's ``/help``) from those declarations.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from botkit.events import ChannelKey, CommandEvent, MessageEvent, Permission

if TYPE_CHECKING:
    from botkit.backends.base import ChatBackend, ChatMessage
    from botkit.characters.model import Character
    from botkit.characters.registry import CharacterRegistry
    from botkit.config import BackendConfig
    from botkit.context import ContextProvider
    from botkit.conversation import Conversation, ConversationSettings
    from botkit.memory.service import MemoryService
    from botkit.pack_install import PackInstaller
    from botkit.scheduler import Scheduler, ScoringPolicy
    from botkit.store import Store

__all__ = [
    "STOP",
    "Argument",
    "ArgumentKind",
    "BackendFactory",
    "Command",
    "CommandCall",
    "CommandError",
    "MessageCall",
    "Plugin",
    "PluginHost",
    "PolicyFactory",
    "PolicyTools",
    "PromptCall",
    "ProviderFactory",
    "ReplyCall",
    "Stop",
    "first_words",
    "menu_entries",
]


class CommandError(Exception):
    """A command was refused or malformed; the message tells the caller what to do."""


class Stop(enum.Enum):
    """What a hook returns to stop a message, or to veto a reply."""

    STOP = "stop"


STOP = Stop.STOP
"""Returned by a message hook, the message goes no further; by a reply hook, nothing is
posted."""

_TOP_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SUB_NAME = re.compile(r"[a-z0-9_-]{1,32}")
_ARGUMENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

ArgumentKind = Literal["text", "integer", "character", "member", "choice"]
"""How an argument is read: a word or free text, a whole number, one of the characters, a
member of the server (a mention or an id), or one of ``choices``."""


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of a command, as every platform's menu shows it.

    The last argument takes the rest of the line (a character's name may have spaces,
    a topic many words); with ``many`` it takes the rest as a list of words instead.
    ``needs``: the permission that giving this argument takes (``/policy`` shows the
    policy to anyone, but choosing one needs :attr:`Permission.MANAGE`). ``choices`` may
    be a function of the running bot, read when menus are built and when the command runs.
    """

    name: str
    summary: str
    kind: ArgumentKind = "text"
    required: bool = True
    many: bool = False
    choices: Sequence[str] | Callable[[PluginHost], Sequence[str]] = ()
    needs: Permission = Permission.NONE

    def __post_init__(self) -> None:
        if not _ARGUMENT_NAME.fullmatch(self.name):
            raise ValueError(f"argument name {self.name!r}: use 1-32 of a-z, 0-9 and _")

    @property
    def fixed_choices(self) -> tuple[str, ...]:
        """The allowed values when they are fixed (as in a platform's menu), else none."""
        return () if callable(self.choices) else tuple(self.choices)

    def options(self, host: PluginHost) -> tuple[str, ...]:
        """The allowed values of a ``choice`` argument in ``host``, now."""
        return tuple(self.choices(host) if callable(self.choices) else self.choices)

    def resolved(self, host: PluginHost) -> Argument:
        """This argument with its choices read from ``host`` (for a platform's menu)."""
        return replace(self, choices=self.options(host)) if callable(self.choices) else self

    @property
    def usage(self) -> str:
        """The argument as a usage line shows it: ``<topic>``, ``[text]``, ``<character> [...]``."""
        if self.kind == "choice" and self.fixed_choices:
            label = "|".join(self.fixed_choices)
        else:
            label = self.name
        shown = f"<{label}>" if self.required else f"[{label}]"
        return f"{shown} [...]" if self.many else shown


@dataclass(frozen=True, slots=True)
class CommandCall:
    """One run of a command: who asked, where, the arguments read, and the bot it runs in.

    ``args`` holds each given argument under its name, read as its kind says (a
    :class:`Character`, an ``int``, a ``str``, or a list of those with ``many``).
    """

    event: CommandEvent
    conversation: Conversation
    args: Mapping[str, Any]
    host: PluginHost
    interrupted: Callable[[], bool]

    @property
    def channel(self) -> ChannelKey:
        """The channel the command was sent in."""
        return self.event.channel


CommandHandler = Callable[[CommandCall], Awaitable[str]]
"""Runs a command; returns the answer to post (empty when the effect speaks for itself)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command: its name (and group), summary, arguments, permission and handler.

    With a ``group`` the command is ``/group name`` (Discord shows it as a sub-command).
    ``aliases`` are other word sequences that run it on text platforms (``"add"`` for
    ``/character add``); the first word of each is also a command name on Telegram.
    """

    name: str
    summary: str
    handler: CommandHandler
    arguments: tuple[Argument, ...] = ()
    needs: Permission = Permission.NONE
    group: str | None = None
    aliases: tuple[str, ...] = ()
    plugin: str = ""

    def __post_init__(self) -> None:
        first_words = [self.group or self.name, *(a.split()[0] for a in self.aliases if a.split())]
        for word in first_words:
            if not _TOP_NAME.fullmatch(word):
                raise ValueError(f"command /{word}: use 1-32 of a-z, 0-9 and _ (Telegram's rule)")
        if self.group is not None and not _SUB_NAME.fullmatch(self.name):
            raise ValueError(f"command /{self.group} {self.name}: use 1-32 of a-z, 0-9, _ and -")
        if any(len(alias.split()) not in (1, 2) for alias in self.aliases):
            raise ValueError(f"command {self.path}: an alias is one or two words")
        if not 1 <= len(self.summary) <= 100:
            raise ValueError(f"command {self.path}: the summary takes 1-100 characters")
        required = [a.required for a in self.arguments]
        if required != sorted(required, reverse=True):
            raise ValueError(f"command {self.path}: optional arguments come last")

    @property
    def words(self) -> tuple[str, ...]:
        """The words that name the command: ``("character", "add")`` or ``("roll",)``."""
        return (self.name,) if self.group is None else (self.group, self.name)

    @property
    def path(self) -> str:
        """The command as typed, without arguments: ``/character add``."""
        return "/" + " ".join(self.words)

    @property
    def usage(self) -> str:
        """The command as typed, with its arguments: ``/character add <character> [...]``."""
        return " ".join([self.path, *(argument.usage for argument in self.arguments)])

    def resolved(self, host: PluginHost) -> Command:
        """This command with its arguments' choices read from ``host``."""
        return replace(self, arguments=tuple(a.resolved(host) for a in self.arguments))


def menu_entries(commands: Sequence[Command]) -> dict[str, str]:
    """The top level of a flat command menu (Telegram's): each ungrouped command with its
    summary, and each group with the names of its sub-commands."""
    entries: dict[str, str] = {}
    for command in commands:
        if command.group is None:
            entries.setdefault(command.name, command.summary)
        else:
            subs = ", ".join(c.name for c in commands if c.group == command.group)
            entries.setdefault(command.group, subs[:100])
    return entries


def first_words(commands: Sequence[Command]) -> set[str]:
    """Every word a command line may start with: names, groups and aliases' first words."""
    words = set(menu_entries(commands))
    words.update(alias.split()[0] for command in commands for alias in command.aliases)
    return words


@dataclass(frozen=True, slots=True)
class MessageCall:
    """A person's message on its way to the conversation (not yet answered or stored)."""

    event: MessageEvent
    host: PluginHost


@dataclass(frozen=True, slots=True)
class PromptCall:
    """The prompt about to go to the backend for ``character``'s next reply."""

    channel: ChannelKey
    character: Character
    messages: Sequence[ChatMessage]
    host: PluginHost


@dataclass(frozen=True, slots=True)
class ReplyCall:
    """A character's finished reply, before it is posted."""

    channel: ChannelKey
    character: Character
    text: str
    host: PluginHost


MessageHook = Callable[[MessageCall], Awaitable[Stop | None]]
"""Sees each person's message first; returns :data:`STOP` to keep it from the cast."""
PromptHook = Callable[[PromptCall], Awaitable[Sequence["ChatMessage"] | None]]
"""Returns the messages to send instead, or None to leave the prompt as it is."""
ReplyHook = Callable[[ReplyCall], Awaitable[str | Stop | None]]
"""Returns the text to post instead, :data:`STOP` to post nothing, or None to leave it."""
ReplyHookWanted = Callable[[ChannelKey, "PluginHost"], Awaitable[bool]]
"""Whether a reply hook has anything to do in a channel; replies stream when none has."""


@dataclass(frozen=True, slots=True)
class ReplyHookEntry:
    """A reply hook, and the check whether it has work in a channel (None: always)."""

    hook: ReplyHook
    wanted: ReplyHookWanted | None


@dataclass(frozen=True, slots=True)
class PolicyTools:
    """What a turn-taking policy may build on: the backend the scheduler uses, the
    structure-aware scoring policy, and the configured time limit for backend calls."""

    backend: ChatBackend
    scoring: ScoringPolicy
    timeout: float


PolicyFactory = Callable[[PolicyTools], "Scheduler"]
"""Builds a turn-taking policy once the backends are ready."""
ProviderFactory = Callable[["PluginHost"], "ContextProvider"]
"""Builds a context provider once the store and memory are open."""
BackendFactory = Callable[["BackendConfig"], "ChatBackend"]
"""Builds a chat backend from a ``backends:`` entry whose ``type`` is the registered one."""


class PluginHost(Protocol):
    """The running bot as plugins see it."""

    @property
    def characters(self) -> CharacterRegistry:
        """Every character that can join a channel."""
        ...

    @property
    def memory(self) -> MemoryService | None:
        """Long-term memory, or None when it is off."""
        ...

    @property
    def store(self) -> Store:
        """The store: transcripts, casts, and settings (per channel or server)."""
        ...

    @property
    def packs(self) -> PackInstaller:
        """The character-pack installer."""
        ...

    @property
    def pack_installers(self) -> frozenset[str]:
        """Who besides the owners may change packs (``platform:user-id``, ``platform:*``)."""
        ...

    @property
    def owners(self) -> frozenset[str]:
        """The configured owners (``platform:user-id``)."""
        ...

    @property
    def command_list(self) -> Sequence[Command]:
        """Every command, in menu order, with choices read as of now."""
        ...

    @property
    def policy_names(self) -> Sequence[str]:
        """The turn-taking policies a channel may choose."""
        ...

    async def reload_characters(self) -> list[str]:
        """Load the packs again; returns what went wrong, one line each."""
        ...

    @property
    def backends(self) -> Sequence[ChatBackend]:
        """Every backend in use."""
        ...

    @property
    def conversation_settings(self) -> ConversationSettings:
        """The conversation settings in use: limits, hops, the default cast."""
        ...

    @property
    def active_channels(self) -> int:
        """How many channels have work queued or in hand."""
        ...

    async def forgotten(self, conversation: Conversation) -> None:
        """Re-read the transcripts of the server's open channels after a forget."""
        ...


@dataclass
class Plugin:
    """A named set of commands, hooks and parts; see the module's docstring for an example."""

    name: str
    summary: str = ""
    commands: list[Command] = field(default_factory=list)
    message_hooks: list[MessageHook] = field(default_factory=list)
    prompt_hooks: list[PromptHook] = field(default_factory=list)
    reply_hooks: list[ReplyHookEntry] = field(default_factory=list)
    policies: dict[str, PolicyFactory] = field(default_factory=dict)
    providers: list[ProviderFactory] = field(default_factory=list)
    backends: dict[str, BackendFactory] = field(default_factory=dict)

    def command(
        self,
        name: str,
        summary: str,
        *arguments: Argument,
        needs: Permission = Permission.NONE,
        group: str | None = None,
        aliases: Sequence[str] = (),
    ) -> Callable[[CommandHandler], CommandHandler]:
        """Declare the decorated function as the handler of command ``name``."""

        def register(handler: CommandHandler) -> CommandHandler:
            self.commands.append(
                Command(
                    name=name,
                    summary=summary,
                    handler=handler,
                    arguments=arguments,
                    needs=needs,
                    group=group,
                    aliases=tuple(aliases),
                    plugin=self.name,
                )
            )
            return handler

        return register

    def on_message(self, hook: MessageHook) -> MessageHook:
        """Declare a hook that sees each person's message before the conversation does."""
        self.message_hooks.append(hook)
        return hook

    def on_prompt(self, hook: PromptHook) -> PromptHook:
        """Declare a hook that may change a prompt before the backend call."""
        self.prompt_hooks.append(hook)
        return hook

    @overload
    def on_reply(self, hook: ReplyHook) -> ReplyHook: ...

    @overload
    def on_reply(
        self, hook: None = None, *, wanted: ReplyHookWanted | None = None
    ) -> Callable[[ReplyHook], ReplyHook]: ...

    def on_reply(
        self, hook: ReplyHook | None = None, *, wanted: ReplyHookWanted | None = None
    ) -> ReplyHook | Callable[[ReplyHook], ReplyHook]:
        """Declare a hook that may change or veto a reply before it is posted.

        ``wanted`` tells whether the hook has work in a channel; where no reply hook
        has, replies stream as they are written instead of being posted whole.
        """

        def register(function: ReplyHook) -> ReplyHook:
            self.reply_hooks.append(ReplyHookEntry(function, wanted))
            return function

        return register if hook is None else register(hook)

    def policy(self, name: str, factory: PolicyFactory) -> None:
        """Offer a turn-taking policy under ``name`` (``/policy name`` chooses it)."""
        self.policies[name] = factory

    def context_provider(self, factory: ProviderFactory) -> None:
        """Add a source of context snippets to every prompt."""
        self.providers.append(factory)

    def backend(self, type_name: str, factory: BackendFactory) -> None:
        """Let ``backends:`` entries use ``type: <type_name>``."""
        self.backends[type_name] = factory

    def registrations(self) -> list[str]:
        """What the plugin adds, as short labels (for ``botkit plugins list``)."""
        found = [
            command.path + "".join(f", /{alias}" for alias in command.aliases)
            for command in self.commands
        ]
        found += [f"policy {name}" for name in self.policies]
        found += [f"backend type {name}" for name in self.backends]
        counted = {
            "message hook": len(self.message_hooks),
            "prompt hook": len(self.prompt_hooks),
            "reply hook": len(self.reply_hooks),
            "context provider": len(self.providers),
        }
        found += [f"{n} {what}{'s' if n > 1 else ''}" for what, n in counted.items() if n]
        return found
