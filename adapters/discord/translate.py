"""Pure translations between discord.py objects and botkit's events and identities."""

from __future__ import annotations

import discord

from botkit.events import Author, ChannelKey, MessageEvent

__all__ = ["channel_key", "message_event", "webhook_name"]

_FORBIDDEN = ("clyde", "discord")
_HAIR_SPACE = "\u200a"
_NAME_LIMIT = 80


def channel_key(channel: discord.abc.Messageable, guild_id: int | None) -> ChannelKey:
    """The conversation a Discord channel or thread belongs to (threads keep their parent)."""
    server = str(guild_id) if guild_id is not None else "dm"
    if isinstance(channel, discord.Thread):
        return ChannelKey("discord", server, str(channel.parent_id), str(channel.id))
    return ChannelKey("discord", server, str(getattr(channel, "id", "dm")))


def message_event(message: discord.Message) -> MessageEvent:
    """A botkit event for a member's message (mentions resolved to display names)."""
    reply_to = message.reference.message_id if message.reference else None
    return MessageEvent(
        event_id=f"discord:{message.id}",
        channel=channel_key(message.channel, message.guild.id if message.guild else None),
        author=Author(str(message.author.id), message.author.display_name, message.author.bot),
        text=message.clean_content,
        message_id=str(message.id),
        time=message.created_at,
        mentions=tuple(member.display_name for member in message.mentions),
        reply_to=str(reply_to) if reply_to else None,
    )


def webhook_name(name: str) -> str:
    """``name`` adjusted to what Discord accepts for a webhook author, visibly close.

    Discord refuses names containing "clyde" or "discord" (a hair space is inserted),
    longer than 80 characters (cut), or a single character (padded).
    """
    adjusted = name.strip() or "?"
    for word in _FORBIDDEN:
        lowered = adjusted.lower()
        start = lowered.find(word)
        while start != -1:
            adjusted = adjusted[: start + 1] + _HAIR_SPACE + adjusted[start + 1 :]
            lowered = adjusted.lower()
            start = lowered.find(word, start + 2)
    adjusted = adjusted[:_NAME_LIMIT]
    return adjusted + "\u17b5" if len(adjusted) == 1 else adjusted
