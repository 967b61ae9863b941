"""Commands that list, mix and direct a channel's cast, with permission checks."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from botkit.characters.model import Character
from botkit.characters.registry import CharacterRegistry
from botkit.conversation import Conversation
from botkit.events import CommandEvent, Permission
from botkit.memory.provider import describe_age
from botkit.memory.records import Scope
from botkit.memory.service import Forgotten, MemoryService
from botkit.pack_install import PackError, PackInstaller, is_local_source
from botkit.policy_catalog import POLICY_SUMMARIES

__all__ = [
    "COMMANDS",
    "CommandError",
    "CommandService",
    "CommandSpec",
    "PackControl",
    "is_owner",
    "may_change_packs",
]

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command was refused or malformed; the message tells the caller what to do."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command's name, usage line, one-line help and the permission it needs."""

    name: str
    usage: str
    summary: str
    needs: Permission = Permission.NONE


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("help", "/help", "list the commands"),
    CommandSpec("cast", "/cast", "who is in this channel"),
    CommandSpec("characters", "/characters", "every character that can join"),
    CommandSpec("info", "/info <character>", "describe a character"),
    CommandSpec("add", "/add <character> [...]", "bring characters in", Permission.MANAGE),
    CommandSpec("remove", "/remove <character>", "send a character away", Permission.MANAGE),
    CommandSpec("swap", "/swap <out> <in>", "replace one character by another", Permission.MANAGE),
    CommandSpec("scene", "/scene [text]", "set the scene (no text clears it)", Permission.MANAGE),
    CommandSpec("say", "/say <character>", "make a character speak next"),
    CommandSpec(
        "policy",
        "/policy [" + "|".join(POLICY_SUMMARIES) + "]",
        "show or choose how characters take turns here (choosing needs the manage permission)",
    ),
    CommandSpec("mute", "/mute <character>", "keep a character silent here", Permission.MANAGE),
    CommandSpec("unmute", "/unmute <character>", "let a muted character speak", Permission.MANAGE),
    CommandSpec("greet", "/greet", "let the cast say hello"),
    CommandSpec("status", "/status", "cast, scene, backends and limits"),
    CommandSpec(
        "forget",
        "/forget channel|me|user <who>|character <name>",
        "erase this channel's history, your messages, a member's, or what a character "
        "remembers here (all but 'me' need the manage permission)",
    ),
    CommandSpec(
        "memory",
        "/memory <character> <topic>",
        "what a character recalls about a topic",
        Permission.MANAGE,
    ),
    CommandSpec(
        "pack",
        "/pack list|install <source>[@ref]|update <name>[@ref]|remove <name>",
        "installed character packs (changing them is for packs.installers in the config)",
    ),
)
_SPECS = {spec.name: spec for spec in COMMANDS}
_ALIASES = {"describe": "info", "list": "characters", "mix": "add", "recall": "memory"}
_MENTION = re.compile(r"^<@!?(\w+)>$|^@")

Interrupted = Callable[[], bool]
StatusLines = Callable[[Conversation], Awaitable[list[str]]]
PACK_ACTIONS = ("list", "install", "update", "remove")
MAX_ANSWER_LINES = 25
"""The most lines a command's answer or error posts to a channel; the rest goes to the log."""


@dataclass(frozen=True, slots=True)
class PackControl:
    """What ``/pack`` works with: the installer, who may change packs, and what to call after
    a change (it reloads the characters and returns any problems loading them). ``owners``
    are the configured owners (``platform:user-id``) besides the console's user."""

    installer: PackInstaller
    installers: frozenset[str]
    changed: Callable[[], Awaitable[list[str]]]
    owners: frozenset[str] = frozenset()


def is_owner(event: CommandEvent, owners: frozenset[str]) -> bool:
    """Whether the caller is the bot's owner: the adapter says so (the console's user), or
    ``platform:user-id`` is among the configured ``owners``."""
    if Permission.OWNER & event.permissions:
        return True
    return f"{event.channel.platform}:{event.author.id}" in owners


def may_change_packs(
    event: CommandEvent, installers: frozenset[str], owners: frozenset[str] = frozenset()
) -> bool:
    """Whether the caller may install, update or remove packs: the bot's owner, or a
    ``platform:user-id`` (or ``platform:*``) entry of ``packs.installers``."""
    if is_owner(event, owners):
        return True
    platform = event.channel.platform
    return bool({f"{platform}:{event.author.id}", f"{platform}:*"} & installers)


class CommandService:
    """Runs a command against a channel's conversation and returns the answer to show."""

    def __init__(
        self,
        *,
        characters: Callable[[], CharacterRegistry],
        status: StatusLines,
        memory: Callable[[], MemoryService | None] = lambda: None,
        forgotten: Callable[[Conversation], Awaitable[None]] | None = None,
        packs: PackControl | None = None,
    ) -> None:
        self._characters = characters
        self._status = status
        self._memory = memory
        self._forgotten = forgotten
        self._packs = packs

    async def handle(
        self, event: CommandEvent, conversation: Conversation, interrupted: Interrupted
    ) -> str:
        """Run ``event``; the answer is empty when the command's effect speaks for itself.

        Answers and errors are cut to :data:`MAX_ANSWER_LINES` lines for the channel.

        Raises:
            CommandError: the command is unknown, malformed, or the caller lacks permission.
        """
        try:
            return _bounded(await self._run(event, conversation, interrupted))
        except CommandError as error:
            raise CommandError(_bounded(str(error))) from error

    async def _run(
        self, event: CommandEvent, conversation: Conversation, interrupted: Interrupted
    ) -> str:
        name = _ALIASES.get(event.name.lower(), event.name.lower())
        spec = _SPECS.get(name)
        if spec is None:
            raise CommandError(f"unknown command /{event.name}; try /help")
        if spec.needs and not spec.needs & event.permissions:
            raise CommandError(f"/{spec.name} changes this channel and needs the manage permission")
        args = event.args
        match name:
            case "help":
                return "\n".join(f"{s.usage:<26} {s.summary}" for s in COMMANDS)
            case "cast":
                return _describe_cast(conversation.cast)
            case "characters":
                return "\n".join(_line(c) for c in self._characters().all())
            case "info":
                return _describe(self._one(args, spec))
            case "add":
                return await self._add(conversation, args, spec)
            case "remove":
                return await self._remove(conversation, args, spec)
            case "swap":
                return await self._swap(conversation, args, spec)
            case "scene":
                await conversation.set_scene(" ".join(args).strip())
                return f"Scene: {conversation.scene}" if conversation.scene else "Scene cleared."
            case "say":
                character = self._one(args[:1], spec)
                if character.id not in {c.id for c in conversation.cast}:
                    raise CommandError(f"{character.name} is not here; /add {character.id} first")
                if character.id in conversation.muted:
                    raise CommandError(f"{character.name} is muted here; /unmute {character.id}")
                await conversation.speak_now(character, interrupted=interrupted)
                return ""
            case "policy":
                return await self._policy(event, conversation)
            case "mute" | "unmute":
                return await self._mute(conversation, self._one(args, spec), name == "mute")
            case "greet":
                await conversation.post_greetings()
                return ""
            case "forget":
                return await self._forget(event, conversation, spec)
            case "memory":
                return await self._recall(event, conversation, spec)
            case "pack":
                return await self._pack(event, spec)
            case _:
                return "\n".join(
                    [_describe_cast(conversation.cast), *await self._status(conversation)]
                )

    def _find(self, name: str) -> Character:
        character = self._characters().find(name)
        if character is None:
            raise CommandError(f"no character called {name!r}; /characters lists them")
        return character

    def _one(self, args: Sequence[str], spec: CommandSpec) -> Character:
        if not args:
            raise CommandError(f"usage: {spec.usage}")
        return self._find(" ".join(args))

    async def _add(self, conversation: Conversation, args: Sequence[str], spec: CommandSpec) -> str:
        if not args:
            raise CommandError(f"usage: {spec.usage}")
        cast = [c.id for c in conversation.cast]
        joining = [self._find(name) for name in args]
        new = [c for c in dict.fromkeys(joining) if c.id not in cast]
        if not new:
            return "Already here: " + ", ".join(c.name for c in joining)
        limit = conversation.max_cast
        if len(cast) + len(new) > limit:
            raise CommandError(f"a channel holds at most {limit} characters; /remove one first")
        await conversation.set_cast([*cast, *(c.id for c in new)])
        return "Joined: " + ", ".join(c.name for c in new)

    async def _remove(
        self, conversation: Conversation, args: Sequence[str], spec: CommandSpec
    ) -> str:
        leaving = self._one(args, spec)
        cast = [c.id for c in conversation.cast]
        if leaving.id not in cast:
            raise CommandError(f"{leaving.name} is not in this channel")
        await conversation.set_cast([cid for cid in cast if cid != leaving.id])
        return f"{leaving.name} left."

    async def _swap(
        self, conversation: Conversation, args: Sequence[str], spec: CommandSpec
    ) -> str:
        if len(args) != 2:
            raise CommandError(f"usage: {spec.usage}")
        leaving, joining = self._find(args[0]), self._find(args[1])
        cast = [c.id for c in conversation.cast]
        if leaving.id not in cast:
            raise CommandError(f"{leaving.name} is not in this channel")
        if joining.id in cast:
            raise CommandError(f"{joining.name} is already here")
        await conversation.set_cast([joining.id if cid == leaving.id else cid for cid in cast])
        return f"{leaving.name} left; {joining.name} joined."

    async def _policy(self, event: CommandEvent, conversation: Conversation) -> str:
        choices = ", ".join(conversation.policies)
        if not event.args:
            return f"Turn-taking here: {conversation.policy} (choose from {choices})."
        wanted = event.args[0].lower()
        if not Permission.MANAGE & event.permissions:
            raise CommandError("/policy changes this channel and needs the manage permission")
        if len(event.args) != 1 or wanted not in conversation.policies:
            raise CommandError(f"no turn-taking policy called {' '.join(event.args)!r}; {choices}")
        await conversation.set_policy(wanted)
        summary = POLICY_SUMMARIES.get(wanted)
        return f"Turn-taking here is now {wanted}" + (f": {summary}." if summary else ".")

    async def _mute(self, conversation: Conversation, character: Character, mute: bool) -> str:
        if mute and character.id not in {c.id for c in conversation.cast}:
            raise CommandError(f"{character.name} is not in this channel")
        muted = conversation.muted
        if mute == (character.id in muted):
            return f"{character.name} is {'already' if mute else 'not'} muted."
        await conversation.set_muted(muted | {character.id} if mute else muted - {character.id})
        if mute:
            return f"{character.name} is muted here and stays silent until /unmute."
        return f"{character.name} may speak again."

    def _service(self) -> MemoryService:
        memory = self._memory()
        if memory is None:
            raise CommandError("long-term memory is off (memory.enabled in the config)")
        return memory

    async def _forget(
        self, event: CommandEvent, conversation: Conversation, spec: CommandSpec
    ) -> str:
        memory = self._service()
        what = event.args[0].lower() if event.args else ""
        rest = " ".join(event.args[1:]).strip()
        if what != "me" and not Permission.MANAGE & event.permissions:
            raise CommandError("/forget needs the manage permission (anyone may /forget me)")
        channel = conversation.channel
        match what:
            case "channel" if not rest:
                done = await memory.forget_channel(channel)
                said = "everything said in this channel"
            case "me" if not rest:
                done = await memory.forget_author(channel, event.author.id)
                said = "your messages on this server"
            case "user" if rest:
                who = _MENTION.sub(lambda m: m.group(1) or "", rest)
                author = await memory.ledger.find_author(channel, who)
                if author is None:
                    raise CommandError(f"nobody called {rest!r} has written on this server")
                done = await memory.forget_author(channel, author[0])
                said = f"{author[1]}'s messages on this server"
            case "character" if rest:
                character = self._find(rest)
                done = await memory.forget_character(channel, character.id)
                said = f"what {character.name} remembers of this channel"
            case _:
                raise CommandError(f"usage: {spec.usage}")
        if self._forgotten is not None:
            await self._forgotten(conversation)
        return f"Forgot {said}: {_counted(done)}."

    async def _pack(self, event: CommandEvent, spec: CommandSpec) -> str:
        """``/pack``: anyone may list; installing, updating and removing need the allowlist.

        The git work runs in subprocesses, so other channels carry on meanwhile.
        """
        control = self._packs
        if control is None:
            raise CommandError("packs cannot be managed from this bot")
        action = event.args[0].lower() if event.args else "list"
        if action not in PACK_ACTIONS or len(event.args[1:]) != (0 if action == "list" else 1):
            raise CommandError(f"usage: {spec.usage}")
        installer = control.installer
        try:
            if action == "list":
                installed = installer.installed()
                if not installed:
                    return "No packs are installed; /pack install <source>[@ref] adds one."
                return "\n".join(entry.describe() for entry in installed)
            if not may_change_packs(event, control.installers, control.owners):
                raise CommandError(
                    f"/pack {action} is only for the bot's owner and the users listed in "
                    "packs.installers in the config"
                )
            target = event.args[1]
            local = action == "install" and is_local_source(target)
            if local and not is_owner(event, control.owners):
                raise CommandError(
                    "/pack install from a folder or repository on this machine is only for "
                    "the bot's owner (owners in the config); others install from a git URL"
                )
            if action == "install":
                done = [(await installer.install(target)).describe()]
            elif action == "update":
                done = [result.describe() for result in await installer.update(target)]
            else:
                removed = await installer.remove(target)
                done = [f"removed {removed.name} {removed.version}"]
        except PackError as error:
            raise CommandError("\n".join([f"/pack {action} refused:", *error.problems])) from error
        return "\n".join([*done, *await control.changed()])

    async def _recall(
        self, event: CommandEvent, conversation: Conversation, spec: CommandSpec
    ) -> str:
        memory = self._service()
        if len(event.args) < 2:
            raise CommandError(f"usage: {spec.usage}")
        character = self._find(event.args[0])
        topic = " ".join(event.args[1:])
        scope = Scope.of(
            conversation.channel,
            character=character.id,
            whole_server=memory.settings.share == "server",
        )
        now = datetime.now(UTC)
        found = await memory.recall(topic, scope, now=now)
        if not found:
            return f"{character.name} recalls nothing about {topic!r} here."
        lines = [f"{character.name} recalls about {topic!r}:"]
        for r in found:
            m = r.memory
            lines.append(
                f"  {r.score:.2f} [{describe_age(m.time, now)}] {m.speaker_name}: {m.text}"
            )
        return "\n".join(lines)


def _bounded(text: str) -> str:
    """``text`` cut to :data:`MAX_ANSWER_LINES` lines, saying how many more the log holds."""
    lines = text.splitlines()
    if len(lines) <= MAX_ANSWER_LINES:
        return text
    log.debug("command answer in full:\n%s", text)
    kept = lines[: MAX_ANSWER_LINES - 1]
    return "\n".join([*kept, f"… and {len(lines) - len(kept):,} more lines (in the debug log)"])


def _counted(done: Forgotten) -> str:
    parts = []
    if done.turns:
        parts.append(f"{done.turns} message{'s' if done.turns != 1 else ''}")
    parts.append(f"{done.memories} memor{'ies' if done.memories != 1 else 'y'}")
    return " and ".join(parts)


def _line(character: Character) -> str:
    summary = f" — {character.summary}" if character.summary else ""
    return f"{character.name} ({character.id}){summary}"


def _describe_cast(cast: Sequence[Character]) -> str:
    if not cast:
        return "Nobody is here. /characters lists who can join; /add <character> brings one in."
    return "Here: " + "; ".join(_line(c) for c in cast)


def _describe(character: Character) -> str:
    lines = [_line(character)]
    lines += [f"  {line}" for line in character.persona]
    if character.style:
        lines.append(f"  Talks: {character.style}")
    if character.nicknames:
        lines.append("  Answers to: " + ", ".join(character.nicknames))
    return "\n".join(lines)
