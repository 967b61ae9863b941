"""The slash commands botkit registers on Discord, each turned into a botkit command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands

from botkit.policy_catalog import POLICY_SUMMARIES

__all__ = ["CommandRunner", "build_command_tree"]

CommandRunner = Callable[[discord.Interaction, str, tuple[str, ...]], Awaitable[None]]
"""Runs a botkit command (name and arguments) for an interaction."""


def build_command_tree(
    client: discord.Client, run: CommandRunner, names: Callable[[], Sequence[str]]
) -> app_commands.CommandTree[discord.Client]:
    """A command tree: ``/character``, ``/scene``, ``/say``, ``/policy``, ``/memory``, ``/pack``,
    ``/botkit``.

    Cast and scene changes carry Manage Server as their default permission (a hint to
    server admins; botkit checks the caller's rights itself when the command runs).
    """
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def complete(
        _interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.casefold()
        found = [name for name in names() if wanted in name.casefold()]
        return [app_commands.Choice(name=name, value=name) for name in found[:25]]

    character = app_commands.Group(name="character", description="Who is in this channel")

    @character.command(name="list", description="Every character that can join")
    async def list_characters(interaction: discord.Interaction) -> None:
        await run(interaction, "characters", ())

    @character.command(name="add", description="Bring a character into this channel")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def add(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "add", (character,))

    @character.command(name="remove", description="Send a character away")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def remove(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "remove", (character,))

    @character.command(name="swap", description="Replace one character by another")
    @app_commands.autocomplete(leaving=complete, joining=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def swap(interaction: discord.Interaction, leaving: str, joining: str) -> None:
        await run(interaction, "swap", (leaving, joining))

    @character.command(name="info", description="Describe a character")
    @app_commands.autocomplete(character=complete)
    async def info(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "info", (character,))

    @character.command(name="mute", description="Keep a character silent in this channel")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def mute(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "mute", (character,))

    @character.command(name="unmute", description="Let a muted character speak again")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def unmute(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "unmute", (character,))

    @app_commands.command(
        name="policy", description="Show or choose how characters take turns in this channel"
    )
    @app_commands.choices(
        policy=[app_commands.Choice(name=name, value=name) for name in POLICY_SUMMARIES]
    )
    async def policy(
        interaction: discord.Interaction, policy: app_commands.Choice[str] | None = None
    ) -> None:
        await run(interaction, "policy", (policy.value,) if policy else ())

    @app_commands.command(name="scene", description="Set the scene (leave empty to clear it)")
    @app_commands.default_permissions(manage_guild=True)
    async def scene(interaction: discord.Interaction, text: str = "") -> None:
        await run(interaction, "scene", (text,) if text else ())

    @app_commands.command(name="say", description="Make a character speak next")
    @app_commands.autocomplete(character=complete)
    async def say(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "say", (character,))

    memory = app_commands.Group(name="memory", description="What the characters remember")

    @memory.command(name="recall", description="What a character recalls about a topic")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def recall(interaction: discord.Interaction, character: str, topic: str) -> None:
        await run(interaction, "memory", (character, *topic.split()))

    @memory.command(name="forget-me", description="Erase your messages on this server")
    async def forget_me(interaction: discord.Interaction) -> None:
        await run(interaction, "forget", ("me",))

    @memory.command(name="forget-channel", description="Erase everything said in this channel")
    @app_commands.default_permissions(manage_guild=True)
    async def forget_channel(interaction: discord.Interaction) -> None:
        await run(interaction, "forget", ("channel",))

    @memory.command(name="forget-user", description="Erase a member's messages on this server")
    @app_commands.default_permissions(manage_guild=True)
    async def forget_user(interaction: discord.Interaction, member: discord.User) -> None:
        await run(interaction, "forget", ("user", str(member.id)))

    @memory.command(name="forget-character", description="Make a character forget this channel")
    @app_commands.autocomplete(character=complete)
    @app_commands.default_permissions(manage_guild=True)
    async def forget_character(interaction: discord.Interaction, character: str) -> None:
        await run(interaction, "forget", ("character", character))

    pack = app_commands.Group(name="pack", description="Installed character packs")

    @pack.command(name="list", description="The installed packs")
    async def list_packs(interaction: discord.Interaction) -> None:
        await run(interaction, "pack", ("list",))

    @pack.command(name="install", description="Install a pack from a git URL (SOURCE[@REF])")
    async def install_pack(interaction: discord.Interaction, source: str) -> None:
        await run(interaction, "pack", ("install", source))

    @pack.command(name="update", description="Update a pack (NAME, or NAME@REF to move it)")
    async def update_pack(interaction: discord.Interaction, name: str) -> None:
        await run(interaction, "pack", ("update", name))

    @pack.command(name="remove", description="Uninstall a pack")
    async def remove_pack(interaction: discord.Interaction, name: str) -> None:
        await run(interaction, "pack", ("remove", name))

    botkit = app_commands.Group(name="botkit", description="botkit itself")

    @botkit.command(name="status", description="Cast, backends and limits")
    async def status(interaction: discord.Interaction) -> None:
        await run(interaction, "status", ())

    @botkit.command(name="cast", description="Who is in this channel")
    async def cast(interaction: discord.Interaction) -> None:
        await run(interaction, "cast", ())

    @botkit.command(name="help", description="What the commands do")
    async def help_command(interaction: discord.Interaction) -> None:
        await run(interaction, "help", ())

    commands: tuple[app_commands.Group | app_commands.Command[Any, ..., None], ...] = (
        character,
        scene,
        say,
        policy,
        memory,
        pack,
        botkit,
    )
    for command in commands:
        tree.add_command(command)
    return tree
