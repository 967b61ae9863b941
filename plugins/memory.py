"""What the characters remember: recalling a topic, and forgetting on request."""

from __future__ import annotations

from datetime import UTC, datetime

from botkit.characters.model import Character
from botkit.events import Permission
from botkit.memory.provider import describe_age
from botkit.memory.records import Scope
from botkit.memory.service import Forgotten, MemoryService
from botkit.plugin import Argument, CommandCall, CommandError, Plugin

__all__ = ["plugin"]

plugin = Plugin("memory", "what the characters remember, and forgetting on request")

_MANAGE = Permission.MANAGE


def _service(call: CommandCall) -> MemoryService:
    memory = call.host.memory
    if memory is None:
        raise CommandError("long-term memory is off (memory.enabled in the config)")
    return memory


@plugin.command(
    "recall",
    "what a character recalls about a topic",
    Argument("character", "a character's name or id", "character"),
    Argument("topic", "what to recall"),
    needs=_MANAGE,
    group="memory",
    aliases=("memory", "recall"),
)
async def recall(call: CommandCall) -> str:
    """``/memory recall``."""
    memory = _service(call)
    character: Character = call.args["character"]
    topic: str = call.args["topic"]
    scope = Scope.of(
        call.channel, character=character.id, whole_server=memory.settings.share == "server"
    )
    now = datetime.now(UTC)
    found = await memory.recall(topic, scope, now=now)
    if not found:
        return f"{character.name} recalls nothing about {topic!r} here."
    lines = [f"{character.name} recalls about {topic!r}:"]
    for result in found:
        m = result.memory
        lines.append(
            f"  {result.score:.2f} [{describe_age(m.time, now)}] {m.speaker_name}: {m.text}"
        )
    return "\n".join(lines)


@plugin.command(
    "forget-me", "erase your messages on this server", group="memory", aliases=("forget me",)
)
async def forget_me(call: CommandCall) -> str:
    """``/memory forget-me``: anyone may erase their own messages."""
    memory = _service(call)
    done = await memory.forget_author(call.channel, call.event.author.id)
    return await _forgot(call, "your messages on this server", done)


@plugin.command(
    "forget-channel",
    "erase everything said in this channel",
    needs=_MANAGE,
    group="memory",
    aliases=("forget channel",),
)
async def forget_channel(call: CommandCall) -> str:
    """``/memory forget-channel``."""
    done = await _service(call).forget_channel(call.channel)
    return await _forgot(call, "everything said in this channel", done)


@plugin.command(
    "forget-user",
    "erase a member's messages on this server",
    Argument("member", "a member: a mention, an id or a name", "member"),
    needs=_MANAGE,
    group="memory",
    aliases=("forget user",),
)
async def forget_user(call: CommandCall) -> str:
    """``/memory forget-user``."""
    memory = _service(call)
    who: str = call.args["member"]
    author = await memory.ledger.find_author(call.channel, who)
    if author is None:
        raise CommandError(f"nobody called {who!r} has written on this server")
    done = await memory.forget_author(call.channel, author[0])
    return await _forgot(call, f"{author[1]}'s messages on this server", done)


@plugin.command(
    "forget-character",
    "make a character forget this channel",
    Argument("character", "a character's name or id", "character"),
    needs=_MANAGE,
    group="memory",
    aliases=("forget character",),
)
async def forget_character(call: CommandCall) -> str:
    """``/memory forget-character``."""
    character: Character = call.args["character"]
    done = await _service(call).forget_character(call.channel, character.id)
    return await _forgot(call, f"what {character.name} remembers of this channel", done)


async def _forgot(call: CommandCall, said: str, done: Forgotten) -> str:
    await call.host.forgotten(call.conversation)
    parts = []
    if done.turns:
        parts.append(f"{done.turns} message{'s' if done.turns != 1 else ''}")
    parts.append(f"{done.memories} memor{'ies' if done.memories != 1 else 'y'}")
    return f"Forgot {said}: {' and '.join(parts)}."
