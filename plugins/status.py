"""``/status`` and ``/help``: what the bot runs and what its commands are."""

from __future__ import annotations

from collections.abc import Sequence

from botkit.plugins.cast import describe_cast

from botkit.plugin import Argument, Command, CommandCall, CommandError, Plugin

__all__ = ["plugin"]

plugin = Plugin("status", "what the bot runs, and the list of commands")


@plugin.command("status", "cast, scene, backends and limits")
async def status(call: CommandCall) -> str:
    """``/status``."""
    conversation, host = call.conversation, call.host
    settings = host.conversation_settings
    backends = ", ".join(
        f"{b.name} ({type(b).__name__}, {b.context_window} tokens)" for b in host.backends
    )
    muted = f"; muted: {', '.join(sorted(conversation.muted))}" if conversation.muted else ""
    return "\n".join(
        [
            describe_cast(conversation.cast),
            f"Backends: {backends}",
            f"Turn-taking: {conversation.policy} (of {', '.join(host.policy_names)}); at most"
            f" {settings.max_hops} character follow-ups and {settings.turn_budget} character"
            f" turns per message{muted}",
            f"Active channels: {host.active_channels}",
        ]
    )


@plugin.command(
    "help",
    "list the commands, or those of one group (/help character)",
    Argument("topic", "a command group", required=False),
)
async def help_command(call: CommandCall) -> str:
    """``/help``: a line per command or group; ``/help group`` lists the group's commands."""
    return "\n".join(help_lines(call.host.command_list, call.args.get("topic")))


def help_lines(commands: Sequence[Command], topic: str | None = None) -> list[str]:
    """A line per ungrouped command and per group, or with ``topic`` a line per command of
    that group; each line shows how to type it and what it does."""
    if topic is not None:
        wanted = topic.lower().lstrip("/")
        shown = [c for c in commands if wanted in (c.group, c.name)]
        if not shown:
            raise CommandError(f"no command or group called {topic!r}; /help lists them")
        rows = [(c.usage, c.summary + _also(c)) for c in shown]
    else:
        rows = []
        groups: set[str] = set()
        for command in commands:
            if command.group is None:
                rows.append((command.usage, command.summary + _also(command)))
            elif command.group not in groups:
                groups.add(command.group)
                names = [c.name for c in commands if c.group == command.group]
                rows.append(
                    (f"/{command.group} {'|'.join(names)}", f"/help {command.group} for more")
                )
    width = min(34, max(len(usage) for usage, _ in rows))
    return [f"{usage:<{width}} {summary}" for usage, summary in rows]


def _also(command: Command) -> str:
    return f" (also /{', /'.join(command.aliases)})" if command.aliases else ""
