"""Installed character packs: listing them, and installing, updating or removing one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from botkit.events import CommandEvent, Permission
from botkit.pack_install import PackError, is_local_source
from botkit.plugin import Argument, CommandCall, CommandError, Plugin

__all__ = ["is_owner", "may_change_packs", "plugin"]

plugin = Plugin("packs", "install, update and remove character packs from chat")


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


@plugin.command("list", "the installed packs", group="pack", aliases=("pack",))
async def list_packs(call: CommandCall) -> str:
    """``/pack list``: anyone may list."""
    try:
        installed = call.host.packs.installed()
    except PackError as error:
        raise CommandError("\n".join(["/pack list refused:", *error.problems])) from error
    if not installed:
        return "No packs are installed; /pack install <source>[@ref] adds one."
    return "\n".join(entry.describe() for entry in installed)


@plugin.command(
    "install",
    "install a pack from a git URL (source[@ref])",
    Argument("source", "a git URL, optionally @ref"),
    group="pack",
)
async def install(call: CommandCall) -> str:
    """``/pack install``: from this machine's folders and repositories, owners only."""
    source: str = call.args["source"]
    _may_change(call, "install")
    if is_local_source(source) and not is_owner(call.event, call.host.owners):
        raise CommandError(
            "/pack install from a folder or repository on this machine is only for "
            "the bot's owner (owners in the config); others install from a git URL"
        )

    async def work() -> list[str]:
        return [(await call.host.packs.install(source)).describe()]

    return await _change(call, "install", work)


@plugin.command(
    "update",
    "update a pack (name, or name@ref to move it)",
    Argument("name", "the pack, optionally @ref"),
    group="pack",
)
async def update(call: CommandCall) -> str:
    """``/pack update``."""
    _may_change(call, "update")

    async def work() -> list[str]:
        return [result.describe() for result in await call.host.packs.update(call.args["name"])]

    return await _change(call, "update", work)


@plugin.command("remove", "uninstall a pack", Argument("name", "the pack"), group="pack")
async def remove(call: CommandCall) -> str:
    """``/pack remove``."""
    _may_change(call, "remove")

    async def work() -> list[str]:
        removed = await call.host.packs.remove(call.args["name"])
        return [f"removed {removed.name} {removed.version}"]

    return await _change(call, "remove", work)


def _may_change(call: CommandCall, action: str) -> None:
    """Installing, updating and removing are for the owners and ``packs.installers``."""
    host = call.host
    if not may_change_packs(call.event, host.pack_installers, host.owners):
        raise CommandError(
            f"/pack {action} is only for the bot's owner and the users listed in "
            "packs.installers in the config"
        )


async def _change(call: CommandCall, action: str, work: Callable[[], Awaitable[list[str]]]) -> str:
    """Run the git work (in subprocesses, so other channels carry on), then reload."""
    try:
        done = await work()
    except PackError as error:
        raise CommandError("\n".join([f"/pack {action} refused:", *error.problems])) from error
    return "\n".join([*done, *await call.host.reload_characters()])
