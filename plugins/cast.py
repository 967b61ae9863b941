"""The cast, the scene and turn-taking: who is in a channel, what they do, who speaks."""

from __future__ import annotations

from collections.abc import Sequence

from botkit.characters.model import Character
from botkit.events import Permission
from botkit.plugin import Argument, CommandCall, CommandError, Plugin, PluginHost
from botkit.policy_catalog import POLICY_SUMMARIES

__all__ = ["plugin"]

plugin = Plugin("cast", "who is in a channel, the scene, and how the cast takes turns")

_CHARACTER = Argument("character", "a character's name or id", "character")
_MANAGE = Permission.MANAGE


def _policy_names(host: PluginHost) -> Sequence[str]:
    return host.policy_names


@plugin.command("cast", "who is in this channel")
async def cast(call: CommandCall) -> str:
    """``/cast``."""
    return describe_cast(call.conversation.cast)


@plugin.command(
    "list", "every character that can join", group="character", aliases=("characters", "list")
)
async def list_characters(call: CommandCall) -> str:
    """``/character list``."""
    return "\n".join(line_of(c) for c in call.host.characters.all())


@plugin.command(
    "info", "describe a character", _CHARACTER, group="character", aliases=("info", "describe")
)
async def info(call: CommandCall) -> str:
    """``/character info``."""
    return describe(call.args["character"])


@plugin.command(
    "add",
    "bring characters in",
    Argument("characters", "the characters' names or ids", "character", many=True),
    needs=_MANAGE,
    group="character",
    aliases=("add", "mix"),
)
async def add(call: CommandCall) -> str:
    """``/character add``."""
    conversation = call.conversation
    cast = [c.id for c in conversation.cast]
    joining: list[Character] = call.args["characters"]
    new = [c for c in dict.fromkeys(joining) if c.id not in cast]
    if not new:
        return "Already here: " + ", ".join(c.name for c in joining)
    limit = conversation.max_cast
    if len(cast) + len(new) > limit:
        raise CommandError(f"a channel holds at most {limit} characters; /remove one first")
    await conversation.set_cast([*cast, *(c.id for c in new)])
    return "Joined: " + ", ".join(c.name for c in new)


@plugin.command(
    "remove",
    "send a character away",
    _CHARACTER,
    needs=_MANAGE,
    group="character",
    aliases=("remove",),
)
async def remove(call: CommandCall) -> str:
    """``/character remove``."""
    leaving: Character = call.args["character"]
    cast = [c.id for c in call.conversation.cast]
    if leaving.id not in cast:
        raise CommandError(f"{leaving.name} is not in this channel")
    await call.conversation.set_cast([cid for cid in cast if cid != leaving.id])
    return f"{leaving.name} left."


@plugin.command(
    "swap",
    "replace one character by another",
    Argument("leaving", "who leaves", "character"),
    Argument("joining", "who joins", "character"),
    needs=_MANAGE,
    group="character",
    aliases=("swap",),
)
async def swap(call: CommandCall) -> str:
    """``/character swap``."""
    leaving: Character = call.args["leaving"]
    joining: Character = call.args["joining"]
    cast = [c.id for c in call.conversation.cast]
    if leaving.id not in cast:
        raise CommandError(f"{leaving.name} is not in this channel")
    if joining.id in cast:
        raise CommandError(f"{joining.name} is already here")
    await call.conversation.set_cast([joining.id if cid == leaving.id else cid for cid in cast])
    return f"{leaving.name} left; {joining.name} joined."


@plugin.command(
    "mute",
    "keep a character silent here",
    _CHARACTER,
    needs=_MANAGE,
    group="character",
    aliases=("mute",),
)
async def mute(call: CommandCall) -> str:
    """``/character mute``."""
    return await _mute(call, mute=True)


@plugin.command(
    "unmute",
    "let a muted character speak",
    _CHARACTER,
    needs=_MANAGE,
    group="character",
    aliases=("unmute",),
)
async def unmute(call: CommandCall) -> str:
    """``/character unmute``."""
    return await _mute(call, mute=False)


async def _mute(call: CommandCall, *, mute: bool) -> str:
    character: Character = call.args["character"]
    conversation = call.conversation
    if mute and character.id not in {c.id for c in conversation.cast}:
        raise CommandError(f"{character.name} is not in this channel")
    muted = conversation.muted
    if mute == (character.id in muted):
        return f"{character.name} is {'already' if mute else 'not'} muted."
    await conversation.set_muted(muted | {character.id} if mute else muted - {character.id})
    if mute:
        return f"{character.name} is muted here and stays silent until /unmute."
    return f"{character.name} may speak again."


@plugin.command(
    "scene",
    "set the scene (no text clears it)",
    Argument("text", "where and when the scene plays", required=False),
    needs=_MANAGE,
)
async def scene(call: CommandCall) -> str:
    """``/scene``."""
    conversation = call.conversation
    await conversation.set_scene(str(call.args.get("text", "")).strip())
    return f"Scene: {conversation.scene}" if conversation.scene else "Scene cleared."


@plugin.command("say", "make a character speak next", _CHARACTER)
async def say(call: CommandCall) -> str:
    """``/say``."""
    character: Character = call.args["character"]
    conversation = call.conversation
    if character.id not in {c.id for c in conversation.cast}:
        raise CommandError(f"{character.name} is not here; /add {character.id} first")
    if character.id in conversation.muted:
        raise CommandError(f"{character.name} is muted here; /unmute {character.id}")
    await conversation.speak_now(character, interrupted=call.interrupted)
    return ""


@plugin.command(
    "policy",
    "show or choose how characters take turns here (choosing needs the manage permission)",
    Argument(
        "policy",
        "the policy to use",
        "choice",
        required=False,
        choices=_policy_names,
        needs=_MANAGE,
    ),
)
async def policy(call: CommandCall) -> str:
    """``/policy``."""
    conversation = call.conversation
    wanted = call.args.get("policy")
    if wanted is None:
        choices = ", ".join(conversation.policies)
        return f"Turn-taking here: {conversation.policy} (choose from {choices})."
    await conversation.set_policy(wanted)
    summary = POLICY_SUMMARIES.get(wanted)
    return f"Turn-taking here is now {wanted}" + (f": {summary}." if summary else ".")


@plugin.command("greet", "let the cast say hello")
async def greet(call: CommandCall) -> str:
    """``/greet``."""
    await call.conversation.post_greetings()
    return ""


def line_of(character: Character) -> str:
    """A character as one line: name, id and summary."""
    summary = f" — {character.summary}" if character.summary else ""
    return f"{character.name} ({character.id}){summary}"


def describe_cast(cast: Sequence[Character]) -> str:
    """Who is here, or how to bring someone in."""
    if not cast:
        return "Nobody is here. /characters lists who can join; /add <character> brings one in."
    return "Here: " + "; ".join(line_of(c) for c in cast)


def describe(character: Character) -> str:
    """A character's persona, style and nicknames, a line each."""
    lines = [line_of(character)]
    lines += [f"  {line}" for line in character.persona]
    if character.style:
        lines.append(f"  Talks: {character.style}")
    if character.nicknames:
        lines.append("  Answers to: " + ", ".join(character.nicknames))
    return "\n".join(lines)
