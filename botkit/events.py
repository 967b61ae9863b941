"""botkit's own event types: what adapters hand in and what the core hands back out."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "Author",
    "ChannelKey",
    "CommandEvent",
    "Event",
    "Identity",
    "MessageEvent",
    "Permission",
]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, order=True)
class ChannelKey:
    """Where a conversation happens: one platform channel (or thread) on one server."""

    platform: str
    server: str
    channel: str
    thread: str | None = None

    def __str__(self) -> str:
        base = f"{self.platform}:{self.server}:{self.channel}"
        return f"{base}:{self.thread}" if self.thread else base

    @classmethod
    def parse(cls, text: str) -> ChannelKey:
        """Rebuild a key from its ``str()`` form."""
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"not a channel key: {text!r}")
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a message or invoked a command, as the platform identifies them."""

    id: str
    name: str
    is_bot: bool = False


class Permission(enum.Flag):
    """What a command caller may do in the channel the command was sent from."""

    NONE = 0
    MANAGE = enum.auto()
    """Change the channel's cast, scene or memory (Manage Server, workspace admin, ...)."""
    OWNER = enum.auto()
    """The bot's owner, as configured for the adapter."""


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message someone posted in a channel the bot can see.

    ``event_id`` identifies the delivery for de-duplication (platforms redeliver);
    ``message_id`` is the platform's id of the message itself. ``mentions`` holds the
    display names the platform resolved as mentions; ``reply_to`` is the message id
    this one answers, if any.
    """

    event_id: str
    channel: ChannelKey
    author: Author
    text: str
    message_id: str
    time: datetime = field(default_factory=_now)
    mentions: tuple[str, ...] = ()
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class CommandEvent:
    """A command invocation (slash command or ``/name args`` line) with the caller's rights."""

    event_id: str
    channel: ChannelKey
    author: Author
    name: str
    args: tuple[str, ...] = ()
    permissions: Permission = Permission.NONE
    time: datetime = field(default_factory=_now)


Event = MessageEvent | CommandEvent


@dataclass(frozen=True, slots=True)
class Identity:
    """How a character appears on a platform: display name, avatar and console colour."""

    character_id: str
    name: str
    avatar: str | None = None
    color: str | None = None
